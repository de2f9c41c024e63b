"""SQLite connection and numbered migrations.

Migrations are the files `migrations/NNNN_name.sql` shipped with the package, applied in
order, each in its own transaction, and recorded in `schema_migrations`. Numbers are unique and
increasing; gaps are allowed (areas of the code reserve their own numbers).
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Callable
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


class StoreLocked(StudioError):
    """Another process held the project's write lock for longer than we are willing to wait."""


# Several people (or app windows) may write one project at once. SQLite lets one writer in at a
# time; a writer that finds the lock taken waits up to BUSY_TIMEOUT_MS inside SQLite, and
# `begin_write` retries that wait up to LOCK_ATTEMPTS times with a growing pause before it gives
# up with a StoreLocked message, so a stuck process is reported instead of hanging the others.
BUSY_TIMEOUT_MS = 5_000
LOCK_ATTEMPTS = 6


def is_locked_error(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


def with_lock_retry(
    fn: Callable[[], object], path: object = "the project store", attempts: int | None = None
) -> object:
    """Run `fn` (a statement that takes the write lock), retrying while another writer holds it."""
    attempts = attempts or LOCK_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_locked_error(exc):
                raise
            if attempt == attempts:
                raise StoreLocked(
                    f"{path} stayed locked by another Studio process for {attempts} tries of "
                    f"{BUSY_TIMEOUT_MS / 1000:g} s: nothing was written; finish or close the other app "
                    "window or command on this project (a long import, release or training) and try again"
                ) from exc
            # Jitter only spreads the retries of several waiting writers; it never reaches the log.
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def begin_write(conn: sqlite3.Connection, path: object = "the project store") -> None:
    """BEGIN IMMEDIATE: take the write lock now (waiting, then retrying, while another writer has it)."""
    with_lock_retry(lambda: conn.execute("BEGIN IMMEDIATE"), path)


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
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Switching to WAL needs a moment alone with the file; a project already in WAL is not touched.
    with_lock_retry(lambda: conn.execute("PRAGMA journal_mode=WAL"), path)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
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
        begin_write(conn, path)
        try:
            # Another process opening the project at the same moment may have applied it first.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                conn.execute("COMMIT")
                continue
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
