"""The crawl tables (migration 0002): crawls, their frontier, and robots.txt per host.

Plain functions over a Store. The frontier is a tool's work queue; project data (documents)
and the run decision go through the Store's own methods.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from studio.schema import utcnow
from studio.store import Store

OPEN = ("running", "paused")


def seeds_key(seeds: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(set(seeds))).encode("utf-8")).hexdigest()


def find_open(store: Store, seeds: list[str] | None = None) -> sqlite3.Row | None:
    """The newest crawl that has not finished (for these seeds, if given)."""
    sql = "SELECT * FROM crawls WHERE status IN ('running', 'paused')"
    args: list[Any] = []
    if seeds is not None:
        sql += " AND seeds_key = ?"
        args.append(seeds_key(seeds))
    return store.conn.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()


def get(store: Store, crawl_id: int) -> sqlite3.Row | None:
    return store.conn.execute("SELECT * FROM crawls WHERE id = ?", (crawl_id,)).fetchone()


def create(store: Store, seeds: list[str], settings: dict[str, Any]) -> int:
    now = utcnow()
    seeds = sorted(set(seeds))
    with store.transaction() as c:
        cur = c.execute(
            "INSERT INTO crawls (seeds, seeds_key, settings, status, started_at, updated_at)"
            " VALUES (?, ?, ?, 'running', ?, ?)",
            (json.dumps(seeds), seeds_key(seeds), json.dumps(settings, sort_keys=True), now, now),
        )
        crawl_id = int(cur.lastrowid or 0)
        c.executemany(
            "INSERT OR IGNORE INTO frontier (crawl_id, url, depth) VALUES (?, ?, 0)", [(crawl_id, s) for s in seeds]
        )
    return crawl_id


def set_status(store: Store, crawl_id: int, status: str, settings: dict[str, Any] | None = None) -> None:
    with store.transaction() as c:
        c.execute("UPDATE crawls SET status = ?, updated_at = ? WHERE id = ?", (status, utcnow(), crawl_id))
        if settings is not None:
            c.execute("UPDATE crawls SET settings = ? WHERE id = ?", (json.dumps(settings, sort_keys=True), crawl_id))


def queued(store: Store, crawl_id: int) -> list[sqlite3.Row]:
    return store.conn.execute(
        "SELECT url, depth, referrer, attempts FROM frontier WHERE crawl_id = ? AND status = 'queued'"
        " ORDER BY depth, id",
        (crawl_id,),
    ).fetchall()


def known_urls(store: Store, crawl_id: int) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT url FROM frontier WHERE crawl_id = ?", (crawl_id,))}


def fetched_count(store: Store, crawl_id: int) -> int:
    """Pages this crawl has requested (robots-blocked URLs cost no request and are not counted)."""
    row = store.conn.execute(
        "SELECT COUNT(*) FROM frontier WHERE crawl_id = ? AND status NOT IN ('queued', 'blocked')", (crawl_id,)
    ).fetchone()
    return int(row[0])


def documents(store: Store, crawl_id: int) -> list[tuple[str, int, str]]:
    """(url, document id, text) of every document this crawl stored, for the near-dup index."""
    rows = store.conn.execute(
        "SELECT f.url, d.id, d.text FROM frontier f JOIN documents d ON d.id = f.document_id"
        " WHERE f.crawl_id = ? AND f.status = 'stored' ORDER BY f.id",
        (crawl_id,),
    )
    return [(r[0], int(r[1]), r[2]) for r in rows]


def other_documents(store: Store, crawl_id: int) -> list[tuple[int, str]]:
    """(document id, text) of every stored document this crawl did not store (imports, synthetic
    sentences, other crawls), for the near-dup index."""
    rows = store.conn.execute(
        "SELECT id, text FROM documents WHERE id NOT IN"
        " (SELECT document_id FROM frontier WHERE crawl_id = ? AND status = 'stored' AND document_id IS NOT NULL)"
        " ORDER BY id",
        (crawl_id,),
    )
    return [(int(r[0]), r[1]) for r in rows]


def counts(store: Store, crawl_id: int) -> dict[str, int]:
    rows = store.conn.execute("SELECT status, COUNT(*) FROM frontier WHERE crawl_id = ? GROUP BY status", (crawl_id,))
    return {r[0]: int(r[1]) for r in rows}


def rows(store: Store, crawl_id: int, status: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT * FROM frontier WHERE crawl_id = ?"
    args: list[Any] = [crawl_id]
    if status:
        sql += " AND status = ?"
        args.append(status)
    return [dict(r) for r in store.conn.execute(sql + " ORDER BY id", args)]


def list_crawls(store: Store) -> list[dict[str, Any]]:
    out = []
    for r in store.conn.execute("SELECT * FROM crawls ORDER BY id"):
        d = dict(r)
        d["seeds"] = json.loads(d["seeds"])
        d["settings"] = json.loads(d["settings"])
        d["frontier"] = counts(store, int(r["id"]))
        out.append(d)
    return out


_RESULT_COLS = (
    "status",
    "reason",
    "attempts",
    "error",
    "robots",
    "http_status",
    "final_url",
    "content_type",
    "document_id",
    "duplicate_of",
    "fetched_at",
)

_DEFAULTS: dict[str, Any] = {"reason": "", "attempts": 0}


def write(store: Store, crawl_id: int, new_links: list[tuple[str, int, str]], results: list[dict[str, Any]]) -> None:
    """Add newly found links (url, depth, referrer) and record results; call inside a transaction."""
    c = store.conn
    c.executemany(
        "INSERT OR IGNORE INTO frontier (crawl_id, url, depth, referrer) VALUES (?, ?, ?, ?)",
        [(crawl_id, u, d, r) for u, d, r in new_links],
    )
    cols = ", ".join(_RESULT_COLS)
    marks = ", ".join("?" for _ in _RESULT_COLS)
    updates = ", ".join(f"{k} = excluded.{k}" for k in _RESULT_COLS)
    c.executemany(
        f"INSERT INTO frontier (crawl_id, url, depth, referrer, {cols}) VALUES (?, ?, ?, ?, {marks})"
        f" ON CONFLICT (crawl_id, url) DO UPDATE SET {updates}",
        [
            (
                crawl_id,
                r["url"],
                r.get("depth", 0),
                r.get("referrer"),
                *(r.get(k, _DEFAULTS.get(k)) for k in _RESULT_COLS),
            )
            for r in results
        ],
    )
    c.execute("UPDATE crawls SET updated_at = ? WHERE id = ?", (utcnow(), crawl_id))


def get_robots(store: Store, crawl_id: int, host: str) -> tuple[int | None, str] | None:
    row = store.conn.execute(
        "SELECT status, body FROM crawl_robots WHERE crawl_id = ? AND host = ?", (crawl_id, host)
    ).fetchone()
    return None if row is None else (row[0], row[1])


def put_robots(store: Store, crawl_id: int, host: str, status: int | None, body: str) -> None:
    with store.transaction() as c:
        c.execute(
            "INSERT OR REPLACE INTO crawl_robots (crawl_id, host, status, body, fetched_at) VALUES (?, ?, ?, ?, ?)",
            (crawl_id, host, status, body, utcnow()),
        )
