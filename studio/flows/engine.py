"""Run session tools, and replay a recorded session deterministically.

Recording is `studio.llm.session` (the one recorder): every tool run here goes through
`recorded()`, which appends the `tool` event (arguments, then result) and the input files;
LLM calls, HTTP responses and human decisions are appended as they happen. Replay re-executes
a recording in a fresh project: tool runs run again (their model calls served from the
recording, their fetches from the recorded responses, under the recorded prompt versions and
similarity backend), human decisions are applied again as recorded, and the decision log and
release checksums are compared with the recording's `result` line. The first difference is
reported in words.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import ReplayDivergence, StudioError
from studio.llm import LLM, open_llm
from studio.llm.prompts import use_prompts
from studio.llm.session import (
    INPUT_KEYS,
    PROJECT,
    export_session,
    jsonable,
    load_recording,
    normalize,
    outcome,
    recorded,
    recorded_prompts,
    rename_paths,
)
from studio.store import Store

Progress = Callable[[str, float | None], None]
ACTOR = "human:user"  # who runs an operation whose recording does not name anyone
TransportWrap = Callable[[Any], Any]
__all__ = ["ReplayDivergence", "Runner", "load_recording", "outcome", "replay_file", "save_recording"]


# -- tools a session can run ------------------------------------------------------------------
def _t_guideline_load(r: Runner, path: str, actor: str) -> dict[str, Any]:
    """A guideline written as YAML (a file the person brings), stored as a draft version."""
    from studio.agent.guideline import from_yaml

    g = from_yaml(r.path(path).read_text(encoding="utf-8"))
    return {"version": r.store.add_guideline(g, actor, rationale=f"loaded from {Path(path).name}")}


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


def _t_synth(r: Runner, labels: list[str] | None = None, n: int = 5, seed: int = 0) -> Any:
    from studio.ops.synth import SynthSettings, synthesize

    return synthesize(r.store, r.llm, labels, SynthSettings(n=n, seed=seed), on_progress=r.on_progress)


# Session tools of areas not on the registry yet (registry operations of the same name win).
TOOLS: dict[str, Callable[..., Any]] = {
    "import": _t_import, "weak_label": _t_weak_label, "cleanse": _t_cleanse, "cleanse_apply": _t_cleanse_apply,
    "query": _t_query, "release": _t_release, "synth": _t_synth, "guideline_load": _t_guideline_load,
}  # fmt: skip


@dataclass
class Runner:
    """Runs tools and human decisions against a store, recording them (or replaying a recording)."""

    store: Store
    llm_spec: str | None = None
    http_events: list[dict[str, Any]] | None = None  # replaying: the recorded responses
    on_progress: Progress | None = None
    wrap_transport: TransportWrap | None = None  # e.g. a transport that adds delays (tests)
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

        inner = ReplayTransport(self.http_events or []) if self.replaying else None
        if self.wrap_transport is not None:
            inner = self.wrap_transport(inner)
        return inner if self.replaying else RecordingTransport(self.store, inner)

    def path(self, p: str) -> Path:
        """Tool arguments name paths relative to the project, so a recording replays anywhere."""
        q = Path(p.replace(PROJECT, str(self.store.root)))
        return q if q.is_absolute() else self.store.root / q

    def tool(self, name: str, run_as: str | None = None, **args: Any) -> Any:
        """Run a registry operation (or, until every area has moved onto the registry, one of the
        older session tools in TOOLS), recorded."""
        from studio.ops import registry

        op = registry.load_all().get(name)
        if op is not None:
            if "actor" in args and "actor" not in op.args.model_fields:  # older recordings passed it as an argument
                run_as = args.pop("actor")
            ctx = registry.OpContext(
                store=self.store, actor=run_as or ACTOR, llm_factory=lambda: self.llm, transport=self.transport(),
                progress=self._progress(),
            )  # fmt: skip
            return registry.run(name, args, ctx)
        if name not in TOOLS:
            raise StudioError(f"unknown session tool {name!r}")
        # Input paths are made absolute, so the recorder finds (and records) the files.
        for key in INPUT_KEYS & set(args):
            v = args[key]
            args[key] = [str(self.path(x)) for x in v] if isinstance(v, list) else str(self.path(v))
        return recorded(self.store, name, args, lambda: TOOLS[name](self, **args))

    def _progress(self) -> Any:
        if self.on_progress is None:
            return None
        show = self.on_progress

        def progress(stage: str, done: int, total: int | None) -> None:
            show(stage, done / total if total else None)

        return progress


@dataclass
class _Replay:
    """Applies a recording's events to a store, in order."""

    store: Store
    runner: Runner
    inputs: dict[str, str] = field(default_factory=dict)  # recorded path -> path in this project
    results: list[tuple[str, Any, Any]] = field(default_factory=list)  # (tool, recorded, replayed)

    def file(self, ev: dict[str, Any]) -> None:
        """Write a recorded input file into the project; a path outside it goes under inputs/."""
        recorded_path = ev["path"]
        if recorded_path.startswith(PROJECT):
            base = Path(recorded_path.replace(PROJECT, str(self.store.root), 1))
        elif not Path(recorded_path).is_absolute():  # relative to the project, as operations read it
            base = self.store.root / recorded_path
        else:
            base = self.store.root / "inputs" / f"{len(self.inputs) + 1}" / Path(recorded_path).name
            base = Path(self.inputs.setdefault(recorded_path, str(base)))
        target = base / ev["member"] if ev["member"] else base
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(ev["data"]))

    def args(self, args: dict[str, Any]) -> dict[str, Any]:
        def fix(v: Any) -> Any:
            if isinstance(v, list):
                return [fix(x) for x in v]
            if isinstance(v, str):
                return self.inputs.get(v, v).replace(PROJECT, str(self.store.root))
            return v

        return {k: fix(v) for k, v in args.items()}

    def tool(self, ev: dict[str, Any]) -> None:
        missing = [p for p in ev.get("inputs_not_recorded", []) if not self.runner.path(p).exists()]
        if missing:
            raise StudioError(
                f"the recording does not hold the inputs of {ev['name']} ({', '.join(missing)}: too large to keep); "
                "put them there (paths under <project> are inside the replay folder, --into) and replay again"
            )
        try:
            got = self.runner.tool(ev["name"], run_as=ev.get("actor"), **self.args(ev["args"]))
        except StudioError as exc:
            if "error" not in ev:
                raise
            self.results.append((ev["name"], {"error": ev["error"]}, {"error": str(exc)}))
            return
        if "result" in ev or "error" in ev:
            want = {"error": ev["error"]} if "error" in ev else ev["result"]
            self.results.append((ev["name"], want, got))

    def decision(self, ev: dict[str, Any]) -> None:
        self.store.record(
            ev["actor"], ev["action"], ev.get("subject_ids", []), ev.get("payload", {}), ev.get("rationale", "")
        )


def replay_events(
    store: Store,
    events: list[dict[str, Any]],
    on_progress: Progress | None = None,
    wrap_transport: TransportWrap | None = None,
) -> _Replay:
    """Re-execute a recording's tool runs and human decisions, in order."""
    from studio.llm.spec import ProviderSpec

    header = events[0] if events and events[0].get("type") == "header" else {}
    path = header.get("_path")
    runner = Runner(store, http_events=[e for e in events if e.get("type") == "http"], wrap_transport=wrap_transport)
    if path:
        runner._llm = LLM(store, ProviderSpec("replay", "replay", path=Path(path)))
    replay = _Replay(store, runner)
    steps = [e for e in events if e.get("type") in ("tool", "decision", "file") and not e.get("depth")]
    for i, ev in enumerate(steps, 1):
        if on_progress and ev["type"] != "file":
            on_progress(f"{ev['type']} {ev.get('name') or ev.get('action')}", i / len(steps))
        getattr(replay, ev["type"])(ev)
    return replay


def first_result_divergence(replay: _Replay) -> str | None:
    """The first tool run whose result differs from the recorded one (clock-dependent keys aside)."""
    back = {v: k for k, v in replay.inputs.items()}
    for n, (name, want, got) in enumerate(replay.results, 1):
        b = normalize(rename_paths(jsonable(got), back), str(replay.store.root))
        a = normalize(want, PROJECT)
        if a != b:
            keys = (
                sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                if isinstance(a, dict) and isinstance(b, dict)
                else []
            )
            detail = "; ".join(
                f"{k}: recorded {json.dumps(a.get(k))[:120]} / replayed {json.dumps(b.get(k))[:120]}" for k in keys[:3]
            )
            return f"tool run {n} ({name}) returned something else" + (f" ({detail})" if detail else "")
    return None


# -- comparing outcomes -------------------------------------------------------------------------
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
    """Export the store's current session (header, events, result line)."""
    return export_session(store, out, [store.session_id or ""], name=name, meta=meta)


def replay_file(
    path: Path, project: Path, on_progress: Progress | None = None, wrap_transport: TransportWrap | None = None
) -> dict[str, Any]:
    """Replay a recording into `project` (a new folder) and verify it. Raises ReplayDivergence."""
    events = load_recording(path)
    result = next((e for e in reversed(events) if e.get("type") == "result"), None)
    if result is None:
        raise StudioError(
            f"{path} has no result line to verify against: it was not exported by `studio session export` "
            "or `studio record` (or the export was cut off); export the session again"
        )
    if (project / "studio.db").exists():
        raise StudioError(f"{project} already holds a project; replay into a new folder")
    store = Store.init(project)
    store.start_session(f"replay:{path.name}")
    try:
        _copy_sample(events[0], store)
        with recorded_similarity(events[0], store), use_prompts(recorded_prompts(events[0])):
            replay = replay_events(store, events, on_progress, wrap_transport)
        got = outcome(store, rename={v: k for k, v in replay.inputs.items()})
        problem = first_divergence(result, got) or first_result_divergence(replay)
    finally:
        store.close()
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
