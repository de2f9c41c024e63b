"""The review queue: pending proposals in the order a person should see them, one document at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from studio.ops.team.queue import proposal_where
from studio.schema import Proposal
from studio.store import Store


def review_queue(store: Store, kind: str = "span", actor: str | None = None) -> Iterator[Proposal]:
    """Pending proposals, document by document: the newest query's order first, then by id.

    One document's proposals are read at a time (see `ReviewPager`), so the first item comes
    at once even with 100k pending; a proposal decided meanwhile (undo, another window) is skipped.
    """
    pager = ReviewPager(store, kind, actor)
    cursor = pager.next_document()
    while cursor is not None:
        for p in pager.pending(cursor.doc_id):
            current = store.proposal(p.id or 0)
            if current.status == "pending":
                yield current
        cursor = pager.next_document(cursor)


def query_order(store: Store) -> list[int]:
    """Document ids in the order of the newest `query.run` decision, if any."""
    runs = store.decisions(action="query.run", limit=1)
    if not runs:
        return []
    payload = runs[-1].payload
    items = sorted(payload.get("items") or [], key=lambda x: x.get("rank", 0))
    return [int(x["document_id"]) for x in items if x.get("document_id") is not None]


@dataclass(frozen=True)
class Cursor:
    """Where a document sits in the queue: `ranked` index into the query order, or by id after it."""

    ranked: int | None
    doc_id: int


def ranked_documents(store: Store) -> list[int]:
    """Document ids in the newest query's order (either payload layout), without repeats."""
    order = query_order(store)
    if not order:
        runs = store.decisions(action="query.run", limit=1)
        items = runs[-1].payload.get("items", []) if runs else []
        order = [int(i["document_id"]) for i in items if isinstance(i, dict) and i.get("document_id") is not None]
    seen: set[int] = set()
    return [d for d in order if not (d in seen or seen.add(d))]


class ReviewPager:
    def __init__(self, store: Store, kind: str = "span", actor: str | None = None) -> None:
        self.store = store
        self.kind = kind
        # In a team project: `actor`'s own assigned proposals, or only unassigned documents' (ops.team.queue).
        self._pending = "status = 'pending' AND kind = ?" + proposal_where(store, actor)
        self.ranked = ranked_documents(store)
        self._ranked_set = set(self.ranked)

    def pending_count(self) -> int:
        row = self.store.conn.execute(f"SELECT COUNT(*) FROM proposals WHERE {self._pending}", (self.kind,)).fetchone()
        return int(row[0])

    def has_pending(self, doc_id: int) -> bool:
        row = self.store.conn.execute(
            f"SELECT 1 FROM proposals WHERE {self._pending} AND document_id = ? LIMIT 1",
            (self.kind, doc_id),
        ).fetchone()
        return row is not None

    def next_document(self, after: Cursor | None = None) -> Cursor | None:
        """The first document after `after` (None: from the top) that has pending proposals."""
        start = 0 if after is None else (after.ranked + 1 if after.ranked is not None else len(self.ranked))
        for i in range(start, len(self.ranked)):
            if self.has_pending(self.ranked[i]):
                return Cursor(i, self.ranked[i])
        last = -1 if after is None or after.ranked is not None else after.doc_id
        while True:
            row = self.store.conn.execute(
                f"SELECT MIN(document_id) FROM proposals WHERE {self._pending} AND document_id > ?",
                (self.kind, last),
            ).fetchone()
            if row is None or row[0] is None:
                return None
            last = int(row[0])
            if last not in self._ranked_set:  # ranked documents were offered above
                return Cursor(None, last)

    def cursor_of(self, doc_id: int) -> Cursor:
        if doc_id in self._ranked_set:
            return Cursor(self.ranked.index(doc_id), doc_id)
        return Cursor(None, doc_id)

    def pending(self, doc_id: int) -> list[Proposal]:
        """The document's pending proposals in reading order."""
        rows = self.store.conn.execute(
            f"SELECT id FROM proposals WHERE {self._pending} AND document_id = ?"
            " ORDER BY json_extract(payload, '$.span.start'), id",
            (self.kind, doc_id),
        ).fetchall()
        return [self.store.proposal(int(r[0])) for r in rows]
