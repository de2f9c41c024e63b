"""SQLite connection and numbered migrations.

Migrations are the files `migrations/NNNN_name.sql` shipped with the package, applied in
order, each in its own transaction, and recorded in `schema_migrations`. Numbers are unique and
increasing; gaps are allowed (areas of the code reserve their own numbers).
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path

from studio.errors import StudioError
from studio.schema import utcnow
from studio.store import chain

_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Steps SQL cannot do, run after a migration's SQL inside its transaction.
_PYTHON_STEPS = {12: chain.backfill}


class DatabaseTooNew(StudioError):
    """The database was written by a newer Studio than this one."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every shipped migration, in order."""
    found = []
    for entry in resources.files("studio.store").joinpath("migrations").iterdir():
        m = _MIGRATION_RE.match(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


def latest_version() -> int:
    return max((v for v, _, _ in migrations()), default=0)


def connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN ourselves, so a transaction is exactly what we say.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the database up to the newest migration; refuse one newer than the code."""
    current_version(conn)  # creates schema_migrations on a new database
    shipped = migrations()
    latest = max((v for v, _, _ in shipped), default=0)
    applied = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
    if applied and max(applied) > latest:
        raise DatabaseTooNew(
            f"{path} is at schema version {max(applied)}, but this Studio knows only up to {latest}: "
            "upgrade Studio (pip install -U studio) to open this project"
        )
    for version, name, sql in shipped:
        if version in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split_sql(sql):
                conn.execute(statement)
            if version in _PYTHON_STEPS:
                _PYTHON_STEPS[version](conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, utcnow()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return latest


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    statements: list[str] = []
    buf: list[str] = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("--")):
            continue
        buf.append(line)
        candidate = "\n".join(buf)
        if stripped.endswith(";") and sqlite3.complete_statement(candidate):
            statements.append(candidate)
            buf = []
    if buf and "\n".join(buf).strip():
        statements.append("\n".join(buf))
    return statements
