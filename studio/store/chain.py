"""A hash chain over the decision log, and the triggers that keep the log append-only.

Every decision row stores `prev_hash` (the `hash` of the row before it, `GENESIS` for the first)
and `hash` = sha256 of `prev_hash` and the row's content (id, time, session, actor, action,
subjects, payload, rationale, as stored). Changing, deleting, inserting or reordering a row
breaks the link at that row; `verify` finds the first broken link.

What this does not protect against (see docs/architecture.md): someone who can write the file
can recompute the whole chain, and removing the newest rows leaves a shorter valid chain. Keep
the head hash that `verify` prints somewhere else to detect those.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from typing import Any

from pydantic import BaseModel

GENESIS = "0" * 64
CONTENT_COLUMNS = ("id", "ts", "session_id", "actor", "action", "subject_ids", "payload", "rationale")

# The append-only triggers. Checked on every open (`ensure_triggers`): a database whose triggers
# were dropped or changed gets them back, and the store says so.
TRIGGERS = {
    "decisions_no_update": (
        "CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions BEGIN SELECT RAISE(ABORT, "
        "'decisions are append-only: record a new decision instead of updating one'); END"
    ),
    "decisions_no_delete": (
        "CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions BEGIN SELECT RAISE(ABORT, "
        "'decisions are append-only: record a new decision instead of deleting one'); END"
    ),
}


def decision_hash(prev_hash: str, content: tuple[Any, ...]) -> str:
    """The hash of one row: `content` is the row's CONTENT_COLUMNS values, as stored."""
    body = json.dumps(list(content), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def head(conn: sqlite3.Connection) -> tuple[int, str]:
    """(id, hash) of the newest decision: the next row's id is id + 1 and its prev_hash is hash."""
    row = conn.execute("SELECT id, hash FROM decisions ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return 0, GENESIS
    return int(row[0]), row[1] or ""


def backfill(conn: sqlite3.Connection) -> None:
    """Chain the rows of a database written before the chain existed (migration 0012, inside its
    transaction, while the triggers are dropped), then put the triggers back."""
    prev = GENESIS
    cols = ", ".join(CONTENT_COLUMNS)
    for row in conn.execute(f"SELECT {cols} FROM decisions ORDER BY id").fetchall():
        h = decision_hash(prev, tuple(row))
        conn.execute("UPDATE decisions SET prev_hash = ?, hash = ? WHERE id = ?", (prev, h, row[0]))
        prev = h
    for sql in TRIGGERS.values():
        conn.execute(sql)


def _normal(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip().rstrip(";").strip()


def missing_triggers(conn: sqlite3.Connection) -> list[str]:
    """Names of append-only triggers that are absent or not the ones Studio installed."""
    found = {r[0]: r[1] for r in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
    return [name for name, sql in TRIGGERS.items() if _normal(found.get(name)) != _normal(sql)]


def ensure_triggers(conn: sqlite3.Connection) -> list[str]:
    """Re-create append-only triggers that were dropped or changed; returns their names."""
    bad = missing_triggers(conn)
    if not bad:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name in missing_triggers(conn):  # again, inside the write lock
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            conn.execute(TRIGGERS[name])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return bad


class ChainReport(BaseModel):
    ok: bool
    checked: int
    head_id: int
    head_hash: str
    broken_at: int | None = None
    problem: str = ""
    triggers_missing: list[str] = []


def verify(conn: sqlite3.Connection) -> ChainReport:
    """Walk the log oldest first and report the first row whose link does not hold."""
    prev, prev_id, n = GENESIS, 0, 0
    cols = ", ".join(CONTENT_COLUMNS)
    triggers = missing_triggers(conn)
    for row in conn.execute(f"SELECT {cols}, prev_hash, hash FROM decisions ORDER BY id"):
        content, stored_prev, stored = tuple(row)[: len(CONTENT_COLUMNS)], row["prev_hash"], row["hash"]
        did = int(row["id"])
        problem = ""
        if not stored:
            problem = f"decision {did} has no hash: it was written outside Studio"
        elif stored_prev != prev:
            after = f"decision {prev_id}" if prev_id else "the start of the log"
            problem = (
                f"decision {did} does not follow {after}: a decision before it was removed, changed or "
                "inserted, or this one was inserted"
            )
        elif decision_hash(prev, content) != stored:
            problem = f"decision {did} was changed after it was written (its content does not match its hash)"
        if problem:
            return ChainReport(
                ok=False, checked=n, head_id=prev_id, head_hash=prev, broken_at=did, problem=problem,
                triggers_missing=triggers,
            )  # fmt: skip
        prev, prev_id, n = stored, did, n + 1
    return ChainReport(ok=not triggers, checked=n, head_id=prev_id, head_hash=prev, triggers_missing=triggers)
