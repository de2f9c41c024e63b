"""Record a session as it is used, and replay it deterministically.

A recording is the session's event stream: every tool run (name and arguments), every LLM
call, every HTTP response and every human decision, in order, plus a closing `result` line
with the decision log and the release checksums. Replay re-executes it in a fresh project:
tool runs run again (their model calls served from the recording, their fetches from the
recorded responses), human decisions are applied again as recorded, and the resulting
decision log and release checksums are compared with the recording's. The first difference
is reported in words.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.llm import LLM, open_llm
from studio.llm.session import export_session
from studio.store import Store

Progress = Callable[[str, float | None], None]
# Payload keys that depend on the clock, the machine or the model endpoint, not on the data.
VOLATILE = {
    "elapsed_s",
    "pages_per_s",
    "ts",
    "latency_ms",
    "created_at",
    "seconds",
    "model",
    "duration_s",
    "cache_hits",
    "llm_calls",
}


class ReplayDivergence(StudioError):
    """A replay did not reproduce the recording."""


# -- tools a session can run ------------------------------------------------------------------
def _t_plan(r: Runner, goal: str, task_hint: str = "") -> dict[str, Any]:
    from studio.agent.guideline import propose_guideline

    return {"version": propose_guideline(r.store, r.llm, goal, task_hint=task_hint)}


def _t_revise(r: Runner, version: int, reason: str, actor: str) -> dict[str, Any]:
    from studio.agent.guideline import revise_guideline

    return {"version": revise_guideline(r.store, r.llm, version, reason, actor)}


def _t_crawl(r: Runner, seeds: list[str], max_pages: int = 50, depth: int = 2, rate: float = 1.0) -> dict[str, Any]:
    from studio.ops.collect.crawl import CrawlSettings, run_crawl

    res = run_crawl(
        r.store, seeds, CrawlSettings(max_pages=max_pages, max_depth=depth, rate=rate), transport=r.transport()
    )
    return {"crawl_id": res.crawl_id, "outcome": res.outcome, "counts": res.counts}


def _t_import(r: Runner, paths: list[str]) -> dict[str, Any]:
    from studio.ops.collect.importer import import_paths

    res = import_paths(r.store, [r.path(p) for p in paths])
    return {"imported": res.imported, "duplicates": res.duplicates, "errors": len(res.errors)}


def _t_weak_label(r: Runner, limit: int | None = None, samples: int = 1) -> dict[str, Any]:
    from studio.ops.ner.label import LabelSettings, label_documents

    return label_documents(
        r.store, r.llm, limit=limit, settings=LabelSettings(samples=samples), on_progress=r.on_progress
    ).as_dict()


def _t_cleanse(r: Runner, dataset: str) -> dict[str, Any]:
    from studio.ops.boxes.cleanse import CleanseOptions, run_cleanse

    res = run_cleanse(r.store, CleanseOptions(dataset=str(r.path(dataset))))
    return {"findings": len(res.findings), "new": res.new, "counts": res.counts}


def _t_cleanse_apply(r: Runner, dataset: str, out: str, actor: str) -> dict[str, Any]:
    from studio.ops.boxes.apply import apply_fixes

    res = apply_fixes(r.store, r.path(out), str(r.path(dataset)), requested_by=actor)
    return {"applied": len(res.applied), "skipped": len(res.skipped)}


def _t_query(r: Runner, strategy: str = "margin", batch: int = 10) -> dict[str, Any]:
    from studio.ops.active.query import QuerySettings, run_query

    res = run_query(r.store, QuerySettings(strategy=strategy, batch=batch))
    return {"query_id": res.query_id, "used": res.used, "items": [i.document_id for i in res.items]}


def _t_release(r: Runner, actor: str, version: str | None = None, license: str | None = None) -> dict[str, Any]:
    from studio.ops.release.build import build_release
    from studio.ops.release.models import ReleaseOptions

    res = build_release(r.store, ReleaseOptions(version=version, license=license), actor)
    return {
        "version": res.version,
        "manifest_sha256": res.manifest_sha256,
        "documents": res.documents,
        "spans": res.spans,
    }


def _t_agent_propose(r: Runner) -> dict[str, Any]:
    from studio.agent.loop import propose_next_action

    return {"proposal_id": propose_next_action(r.store, r.llm)}


def _t_agent_run(r: Runner, proposal_id: int, actor: str) -> dict[str, Any]:
    from studio.agent.loop import run_action

    return {"result": run_action(r.store, r.llm, proposal_id, actor)}


TOOLS: dict[str, Callable[..., dict[str, Any]]] = {
    "plan": _t_plan, "revise": _t_revise, "crawl": _t_crawl, "import": _t_import, "weak_label": _t_weak_label,
    "cleanse": _t_cleanse, "cleanse_apply": _t_cleanse_apply, "query": _t_query, "release": _t_release,
    "agent_propose": _t_agent_propose, "agent_run": _t_agent_run,
}  # fmt: skip


@dataclass
class Runner:
    """Runs tools and human decisions against a store, recording them (or replaying a recording)."""

    store: Store
    llm_spec: str | None = None
    http_events: list[dict[str, Any]] | None = None  # replaying: the recorded responses
    on_progress: Progress | None = None
    _llm: LLM | None = field(default=None, repr=False)

    @property
    def replaying(self) -> bool:
        return self.http_events is not None

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            self._llm = open_llm(self.store, self.llm_spec)
        return self._llm

    def transport(self) -> Any:
        from studio.ops.collect.recording import RecordingTransport, ReplayTransport

        return ReplayTransport(self.http_events or []) if self.replaying else RecordingTransport(self.store)

    def path(self, p: str) -> Path:
        """Tool arguments name paths relative to the project, so a recording replays anywhere."""
        q = Path(p)
        return q if q.is_absolute() else self.store.root / q

    def tool(self, name: str, **args: Any) -> dict[str, Any]:
        if name not in TOOLS:
            raise StudioError(f"unknown session tool {name!r}")
        self.store.add_event("tool", name, {"name": name, "args": args})
        with self.store.quiet_human_events():
            return TOOLS[name](self, **args)


def replay_events(store: Store, events: list[dict[str, Any]], on_progress: Progress | None = None) -> None:
    """Re-execute a recording's tool runs and human decisions, in order."""
    from studio.llm.spec import ProviderSpec

    header = events[0] if events and events[0].get("type") == "header" else {}
    path = header.get("_path")
    runner = Runner(
        store, llm_spec=f"replay:{path}" if path else None, http_events=[e for e in events if e.get("type") == "http"]
    )
    if path:
        runner._llm = LLM(store, ProviderSpec("replay", "replay", path=Path(path)))
    steps = [e for e in events if e.get("type") in ("tool", "decision")]
    for i, ev in enumerate(steps, 1):
        if on_progress:
            on_progress(f"{ev['type']} {ev.get('name') or ev.get('action')}", i / len(steps))
        if ev["type"] == "tool":
            runner.tool(ev["name"], **ev["args"])
        else:
            store.record(
                ev["actor"], ev["action"], ev.get("subject_ids", []), ev.get("payload", {}), ev.get("rationale", "")
            )


# -- comparing outcomes -------------------------------------------------------------------------
def _normalize(obj: Any, root: str) -> Any:
    if isinstance(obj, dict):
        return {k: _normalize(v, root) for k, v in sorted(obj.items()) if k not in VOLATILE}
    if isinstance(obj, list):
        return [_normalize(v, root) for v in obj]
    if isinstance(obj, str):
        return obj.replace(root, "<project>")
    return obj


def outcome(store: Store) -> dict[str, Any]:
    """What a replay must reproduce: the decision log (normalized) and the release checksums."""
    root = str(store.root)
    decisions = [
        {"actor": d.actor, "action": d.action, "subjects": _normalize(d.subject_ids, root), "payload": _normalize(d.payload, root), "rationale": _normalize(d.rationale, root)}
        for d in store.decisions()
    ]  # fmt: skip
    releases = {
        d.payload.get("version"): d.payload.get("manifest_sha256") for d in store.decisions(action="release.create")
    }
    return {"decisions": decisions, "releases": releases}


def first_divergence(expected: dict[str, Any], got: dict[str, Any]) -> str | None:
    a, b = expected["decisions"], got["decisions"]
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            keys = sorted(
                k for k in set(x["payload"]) | set(y["payload"]) if x["payload"].get(k) != y["payload"].get(k)
            )
            detail = "; ".join(
                f"{k}: recorded {json.dumps(x['payload'].get(k))[:120]} / replayed {json.dumps(y['payload'].get(k))[:120]}"
                for k in keys[:3]
            )
            return (
                f"decision {i + 1} differs: recorded {x['actor']} {x['action']}, replayed {y['actor']} {y['action']}"
                + (f" ({detail})" if detail else "")
            )
    if len(a) != len(b):
        extra = a[len(b)] if len(a) > len(b) else b[len(a)]
        return f"the recording has {len(a)} decisions, the replay {len(b)}; first unmatched: {extra['actor']} {extra['action']}"
    for version, sha in expected["releases"].items():
        if got["releases"].get(version) != sha:
            return f"release {version}: recorded manifest sha256 {str(sha)[:16]}..., replayed {str(got['releases'].get(version))[:16]}..."
    return None


# -- files --------------------------------------------------------------------------------------
def save_recording(store: Store, out: Path, name: str, meta: dict[str, Any] | None = None) -> int:
    from studio.ops.embed import similarity_backend

    # The similarity backend shapes outcomes (few-shot choice, query batches, near-copy checks),
    # so the recording names it and a replay uses the same one.
    meta = {"similarity": similarity_backend(store).name, **(meta or {})}
    n = export_session(store, out, [store.session_id or ""], name=name, meta=meta)
    with out.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"type": "result", **outcome(store)}, ensure_ascii=False, sort_keys=True) + "\n")
    return n


def load_recording(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise StudioError(f"no recorded session at {path}")
    events = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise StudioError(f"{path}:{n}: not a JSON line ({exc.msg})") from exc
    if not events or events[0].get("type") != "header":
        raise StudioError(f"{path} is not a Studio session (no header line)")
    events[0]["_path"] = str(path.resolve())
    return events


def replay_file(path: Path, project: Path, on_progress: Progress | None = None) -> dict[str, Any]:
    """Replay a recording into `project` (a new folder) and verify it. Raises ReplayDivergence."""
    events = load_recording(path)
    result = next((e for e in reversed(events) if e.get("type") == "result"), None)
    if result is None:
        raise StudioError(f"{path} has no result line to verify against (was the recording finished?)")
    if (project / "studio.db").exists():
        raise StudioError(f"{project} already holds a project; replay into a new folder")
    store = Store.init(project)
    store.start_session(f"replay:{path.name}")
    _copy_sample(events[0], store)
    with recorded_similarity(events[0], store):
        replay_events(store, events, on_progress)
    got = outcome(store)
    store.close()
    problem = first_divergence(result, got)
    if problem:
        raise ReplayDivergence(f"the replay of {path.name} diverged: {problem}")
    return {"decisions": len(got["decisions"]), "releases": got["releases"], "project": str(project)}


@contextlib.contextmanager
def recorded_similarity(header: dict[str, Any], store: Store) -> Iterator[None]:
    """Use the similarity backend the recording was made with (recordings older than this field
    were made without embeddings: `hashed`). Replaying a MiniLM recording without the embed
    extra fails here, with what to install, rather than diverging later."""
    from studio.ops.embed import similarity_backend

    choice = str(header.get("similarity") or "hashed")
    similarity_backend(store, prefer=choice)  # raises with the install hint if it cannot load
    before = os.environ.get("STUDIO_EMBED")
    os.environ["STUDIO_EMBED"] = choice
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("STUDIO_EMBED", None)
        else:
            os.environ["STUDIO_EMBED"] = before


def _copy_sample(header: dict[str, Any], store: Store) -> None:
    """A recording of the demo names the shipped sample it copied into its project."""
    sample = header.get("sample")
    if sample:
        from studio.flows.demo import copy_sample

        copy_sample(store.root, sample)


_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_name(name: str) -> str:
    if not _SAFE.match(name):
        raise StudioError(f"a session name may hold letters, digits, '.', '_' and '-' only, not {name!r}")
    return name
