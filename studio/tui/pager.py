"""The review queue, one document at a time, without loading every pending proposal.

`studio.ops.review.review_queue` sorts all pending proposals in memory, which is fine for the
headless command but too slow to open with 100k of them. The pager keeps the same order
(documents of the newest query first, in rank order; then the rest by document id; inside a
document by span start) and asks SQLite for one document's proposals at a time, using the
`proposals_pending(status, kind, document_id)` index. No textual here: it is plain store reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.ops.review import query_order
from studio.schema import Proposal
from studio.store import Store


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
    def __init__(self, store: Store, kind: str = "span") -> None:
        self.store = store
        self.kind = kind
        self.ranked = ranked_documents(store)
        self._ranked_set = set(self.ranked)

    def pending_count(self) -> int:
        row = self.store.conn.execute(
            "SELECT COUNT(*) FROM proposals WHERE status = 'pending' AND kind = ?", (self.kind,)
        ).fetchone()
        return int(row[0])

    def has_pending(self, doc_id: int) -> bool:
        row = self.store.conn.execute(
            "SELECT 1 FROM proposals WHERE status = 'pending' AND kind = ? AND document_id = ? LIMIT 1",
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
                "SELECT MIN(document_id) FROM proposals WHERE status = 'pending' AND kind = ? AND document_id > ?",
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
            "SELECT id FROM proposals WHERE status = 'pending' AND kind = ? AND document_id = ?"
            " ORDER BY json_extract(payload, '$.span.start'), id",
            (self.kind, doc_id),
        ).fetchall()
        return [self.store.proposal(int(r[0])) for r in rows]
