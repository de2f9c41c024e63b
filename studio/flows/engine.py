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
    PROJECT,
    export_session,
    jsonable,
    load_recording,
    normalize,
    outcome,
    recorded_prompts,
    rename_paths,
)
from studio.store import Store

Progress = Callable[[str, float | None], None]
ACTOR = "human:user"  # who runs an operation whose recording does not name anyone
TransportWrap = Callable[[Any], Any]
__all__ = ["ReplayDivergence", "Runner", "load_recording", "outcome", "replay_file", "save_recording"]


# -- session tools recorded under older names -----------------------------------------------------
@dataclass(frozen=True)
class Legacy:
    """How a tool run recorded before its area moved onto the registry replays: the operation it
    is now, its arguments' new names, and its result keys' new names (older results held fewer
    keys, and counts where results now hold lists: see `same_result`)."""

    op: str
    args: dict[str, str] = field(default_factory=dict)
    result: dict[str, str] = field(default_factory=dict)


LEGACY: dict[str, Legacy] = {
    "weak_label": Legacy("label"),
    "cleanse": Legacy("box_cleanse", result={"new": "proposed"}),
    "cleanse_apply": Legacy("box_apply"),
    "synth": Legacy("synth", args={"labels": "label"}),
}


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
        """Run a registry operation (or a tool recorded under an older name: LEGACY), recorded."""
        from studio.ops import registry

        legacy = LEGACY.get(name)
        if legacy is not None:
            name = legacy.op
            for old, new in legacy.args.items():
                if old in args and new not in args:
                    args[new] = args.pop(old)
        op = registry.get(name)
        if "actor" in args and "actor" not in op.args.model_fields:  # older recordings passed it as an argument
            run_as = args.pop("actor")
        ctx = registry.OpContext(
            store=self.store, actor=run_as or ACTOR, llm_factory=lambda: self.llm, transport=self.transport(),
            progress=self._progress(),
        )  # fmt: skip
        return registry.run(name, args, ctx)

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
        """Apply a human decision again. Decisions whose change is more than the log row (a guideline
        version a person wrote, a setting) are made again the way the person made them, from what
        the event carries (`replay`: the guideline's body)."""
        actor, action, payload = ev["actor"], ev["action"], ev.get("payload", {})
        rationale = ev.get("rationale", "")
        body = (ev.get("replay") or {}).get("guideline")
        if body is not None:
            from studio.schema import Guideline

            self.store.add_guideline(
                Guideline.model_validate(body), actor, parent=payload.get("parent"), rationale=rationale, action=action
            )
        elif action == "settings.set":
            self.store.set_setting(payload["key"], payload["value"], actor=actor)
        else:
            self.store.record(actor, action, ev.get("subject_ids", []), payload, rationale)


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
        a = normalize(want, PROJECT)
        legacy = LEGACY.get(name)
        b = same_shape(a, normalize(rename_paths(jsonable(got), back), str(replay.store.root)), legacy)
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


def same_shape(want: Any, got: Any, legacy: Legacy | None = None) -> Any:
    """The replayed result in the recorded one's shape: the keys the recording holds (under their
    old names for a LEGACY tool), and a count where the recording holds a number and the result
    now a list. Results recorded before an operation moved onto the registry held less."""
    if not isinstance(want, dict) or not isinstance(got, dict):
        return got
    renamed = legacy.result if legacy is not None else {}
    out: dict[str, Any] = {}
    for key, recorded_value in want.items():
        new = renamed.get(key, key)
        if new not in got:
            continue  # missing: reported as a difference
        value = got[new]
        if isinstance(recorded_value, int) and not isinstance(recorded_value, bool) and isinstance(value, list):
            value = len(value)
        out[key] = value
    return out


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
