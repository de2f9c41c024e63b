"""Export a session's recording (LLM calls, fetches, tool runs, decisions) as JSONL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio import __version__
from studio.llm.prompts import available
from studio.llm.secrets import redact_obj
from studio.store import Store

FORMAT = "studio-session/1"


def list_sessions(store: Store) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        "SELECT s.id, s.name, s.started_at, s.ended_at, COUNT(e.id) AS events FROM sessions s"
        " LEFT JOIN session_events e ON e.session_id = s.id GROUP BY s.id ORDER BY s.started_at"
    )
    return [dict(r) for r in rows]


def export_session(
    store: Store, out: Path, session_ids: list[str], name: str = "", meta: dict[str, Any] | None = None
) -> int:
    """Write a header line, then every event of the sessions in order. Returns the event count."""
    models = sorted(
        {r[0] for r in store.conn.execute(
            f"SELECT DISTINCT model FROM llm_calls WHERE session_id IN ({','.join('?' * len(session_ids))})", session_ids
        )}
    )  # fmt: skip
    header = {
        "type": "header", "format": FORMAT, "name": name, "sessions": session_ids, "studio_version": __version__,
        "models": models, "prompts": available(), **(meta or {}),
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
    return n
