"""The session recorder: what a session did, as one event stream, in one file format.

A session (an app session, one CLI command, an agent or flow run) appends events to
`session_events`, in order:
- `tool`: an operation run through `recorded()` (the registry's `run` and the flows engine):
  name, arguments (the project folder written `<project>`), actor, then its result or error.
  A run inside a run (an agent action's tool) is part of the outer one and is not recorded:
  the replay runs the outer one again.
- `file`: an input file a tool was given (path argument, bytes), so a replay in a fresh folder
  reads the same input.
- `llm`: a model call (appended by the LLM seam), `http`: a fetched response (the crawler's
  recording transport), `decision`: a human decision made outside any tool run.

`export_session` writes a header (format, models, pinned prompt versions, similarity
backend), the events, and a closing `result` line: the decisions of the exported sessions
(normalized) and their release checksums. `load_recording` is the one reader of that file;
`studio replay` (studio.flows.engine) re-executes it and compares.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from studio import __version__
from studio.errors import StudioError
from studio.llm.prompts import pinned_versions
from studio.llm.secrets import redact_obj
from studio.store import Store

FORMAT = "studio-session/1"
PROJECT = "<project>"
# Payload keys that depend on the clock, the machine or the model endpoint, not on the data.
VOLATILE = frozenset(
    {"elapsed_s", "pages_per_s", "ts", "latency_ms", "created_at", "seconds", "model", "duration_s", "cache_hits",
     "llm_calls", "fetched_at"}
)  # fmt: skip
# Tool arguments that name input files or folders; their bytes are recorded (`file` events).
INPUT_KEYS = frozenset({"paths", "path", "dataset", "data"})
MAX_INPUT_BYTES = 64 * 1024 * 1024  # a recording is a file people keep; larger inputs are named, not inlined
T = TypeVar("T")
_depth: ContextVar[int] = ContextVar("studio_tool_depth", default=0)


# -- recording ------------------------------------------------------------------------------
def recorded(
    store: Store,
    name: str,
    args: dict[str, Any],
    fn: Callable[[], T],
    actor: str | None = None,
    inputs: list[str] | None = None,
) -> T:
    """Run `fn` (the operation `name` with `args`, for `actor`) as a recorded tool run.

    The `tool` event is appended before the run (so later events follow it) and completed with
    the result or the error after it; the files named by the `inputs` arguments (default: the
    usual path argument names) are recorded first. A run inside a run is part of the outer one
    and is not recorded. Human decisions the run makes are part of it, not separate events.
    """
    depth = _depth.get()
    if depth > 0:
        with store.quiet_human_events():
            return fn()
    left_out = capture_inputs(store, args, inputs)
    root = str(store.root)
    event: dict[str, Any] = {"name": name, "args": normalize(jsonable(args), root, drop=())}
    if actor:
        event["actor"] = actor
    if left_out:
        event["inputs_not_recorded"] = left_out  # too large to keep: a replay elsewhere needs them
    seq = store.add_event("tool", name, event)
    token = _depth.set(depth + 1)
    try:
        with store.quiet_human_events():
            out = fn()
    except StudioError as exc:
        _complete(store, seq, {"error": normalize(str(exc), root)})
        raise
    finally:
        _depth.reset(token)
    _complete(store, seq, {"result": normalize(jsonable(out), root, drop=())})
    return out


def _complete(store: Store, seq: int, extra: dict[str, Any]) -> None:
    """Add the outcome to a tool event (events are the session's own notes, not the decision log)."""
    row = store.conn.execute(
        "SELECT payload FROM session_events WHERE session_id = ? AND seq = ?", (store.session_id, seq)
    ).fetchone()
    if row is None:
        return
    payload = {**json.loads(row[0]), **extra}
    with store.transaction() as c:
        c.execute(
            "UPDATE session_events SET payload = ? WHERE session_id = ? AND seq = ?",
            (json.dumps(payload, ensure_ascii=False, default=str), store.session_id, seq),
        )


def jsonable(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def input_paths(args: dict[str, Any], keys: list[str] | None = None) -> list[str]:
    out: list[str] = []
    for key in sorted((INPUT_KEYS if keys is None else set(keys)) & set(args)):
        value = args[key]
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, (str, Path)) and str(v):
                out.append(str(v))
    return out


def capture_inputs(store: Store, args: dict[str, Any], keys: list[str] | None = None) -> list[str]:
    """Append a `file` event for each input file the arguments name (folders: every file in them),
    unless this session already holds the same bytes for it. Relative paths are relative to the
    project, as operations read them. Inputs over MAX_INPUT_BYTES in all are not recorded (the
    run goes on; a replay elsewhere then misses them): returns the paths left out."""
    root = str(store.root)
    have = {(e["key"], e["payload"]["sha256"]) for e in store.events(kind="file")}
    total = 0
    left_out: list[str] = []
    for arg in input_paths(args, keys):
        if "://" in arg:
            continue
        base = Path(arg).expanduser()
        base = base if base.is_absolute() else store.root / base
        if base.is_file():
            members = [(base, "")]
        elif base.is_dir():
            members = [(f, f.relative_to(base).as_posix()) for f in sorted(base.rglob("*")) if f.is_file()]
        else:
            continue  # the tool says what is missing
        shown = normalize(arg, root)
        size = sum(f.stat().st_size for f, _ in members)
        if total + size > MAX_INPUT_BYTES:
            left_out.append(shown)
            continue
        total += size
        for f, member in members:
            data = f.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            key = f"{shown}::{member}"
            if (key, sha) in have:
                continue
            have.add((key, sha))
            payload = {"path": shown, "member": member, "sha256": sha, "data": base64.b64encode(data).decode("ascii")}
            store.add_event("file", key, payload)
    return left_out


# -- outcomes --------------------------------------------------------------------------------
def normalize(obj: Any, root: str, drop: frozenset[str] | tuple[str, ...] = VOLATILE) -> Any:
    """The project folder written `<project>`, keys in order, volatile keys dropped."""
    if isinstance(obj, dict):
        return {k: normalize(v, root, drop) for k, v in sorted(obj.items()) if k not in drop}
    if isinstance(obj, list):
        return [normalize(v, root, drop) for v in obj]
    if isinstance(obj, str):
        return obj.replace(root, PROJECT)
    return obj


def outcome(store: Store, session_ids: list[str] | None = None, rename: dict[str, str] | None = None) -> dict[str, Any]:
    """What a replay must reproduce: the decision log (normalized) and the release checksums.

    `session_ids` limits it to those sessions' decisions; `rename` maps paths a replay used back
    to the ones the recording named (inputs written into the replay project).
    """
    root = str(store.root)

    def norm(obj: Any) -> Any:
        if rename:
            obj = rename_paths(obj, rename)
        return normalize(obj, root)

    decisions = [d for d in store.decisions() if session_ids is None or d.session_id in session_ids]
    return {
        "decisions": [
            {"actor": d.actor, "action": d.action, "subjects": norm(d.subject_ids), "payload": norm(d.payload),
             "rationale": norm(d.rationale)}
            for d in decisions
        ],
        "releases": {
            d.payload.get("version"): d.payload.get("manifest_sha256") for d in decisions if d.action == "release.create"
        },
    }  # fmt: skip


def rename_paths(obj: Any, mapping: dict[str, str]) -> Any:
    if isinstance(obj, dict):
        return {k: rename_paths(v, mapping) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rename_paths(v, mapping) for v in obj]
    if isinstance(obj, str):
        for new, old in mapping.items():
            obj = obj.replace(new, old)
    return obj


# -- files ------------------------------------------------------------------------------------
def list_sessions(store: Store) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        "SELECT s.id, s.name, s.started_at, s.ended_at, COUNT(e.id) AS events FROM sessions s"
        " LEFT JOIN session_events e ON e.session_id = s.id GROUP BY s.id ORDER BY s.rowid"
    )
    return [dict(r) for r in rows]


def export_session(
    store: Store, out: Path, session_ids: list[str], name: str = "", meta: dict[str, Any] | None = None
) -> int:
    """Write the header, every event of the sessions in order, and the closing `result` line.
    Returns the event count."""
    from studio.ops.embed import similarity_backend

    marks = ",".join("?" * len(session_ids))
    models = sorted(
        r[0]
        for r in store.conn.execute(f"SELECT DISTINCT model FROM llm_calls WHERE session_id IN ({marks})", session_ids)
    )
    header = {
        "type": "header", "format": FORMAT, "name": name or out.stem, "sessions": session_ids,
        "studio_version": __version__, "models": models, "prompts": pinned_versions(),
        # The similarity backend shapes outcomes (few-shot choice, query batches, near copies),
        # so the recording names it and a replay uses the same one.
        "similarity": similarity_backend(store).name, **(meta or {}),
    }  # fmt: skip
    n = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        f.write(json.dumps(header, ensure_ascii=False, sort_keys=True) + "\n")
        for sid in session_ids:
            for ev in store.events(sid):
                line = {"type": ev["kind"], "session": sid, "seq": ev["seq"], "key": ev["key"], **ev["payload"]}
                f.write(json.dumps(redact_obj(line), ensure_ascii=False, sort_keys=True) + "\n")
                n += 1
        result = {"type": "result", **outcome(store, session_ids)}
        f.write(json.dumps(result, ensure_ascii=False, sort_keys=True) + "\n")
    return n


def earlier_sessions(store: Store, session_ids: list[str]) -> list[str]:
    """Sessions before the first exported one that changed the project (a replay starts empty)."""
    ordered = [s["id"] for s in list_sessions(store)]
    first = min((ordered.index(s) for s in session_ids if s in ordered), default=0)
    before = set(ordered[:first]) - set(session_ids)
    return sorted({d.session_id for d in store.decisions() if d.session_id in before and d.session_id})


def load_recording(path: Path) -> list[dict[str, Any]]:
    """The events of a session file, header first (with `_path`, the file's absolute path)."""
    path = Path(path)
    if not path.is_file():
        raise StudioError(f"no recorded session at {path}")
    events = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise StudioError(f"{path}:{n}: not a JSON line ({exc.msg}); export the session again") from exc
    if not events or events[0].get("type") != "header":
        raise StudioError(f"{path} is not a Studio session (no header line)")
    events[0]["_path"] = str(path.resolve())
    return events


def recorded_prompts(header: dict[str, Any]) -> dict[str, int]:
    """The prompt versions a recording was made with. Older files list every version that
    existed (`{"ner": [1, 2]}`); the newest of them was the one used."""
    out: dict[str, int] = {}
    for name, v in (header.get("prompts") or {}).items():
        if isinstance(v, list):
            if v:
                out[name] = max(int(x) for x in v)
        elif v is not None:
            out[name] = int(v)
    return out
