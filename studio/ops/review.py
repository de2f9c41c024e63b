"""The review queue: pending span proposals in the order a person should see them."""

from __future__ import annotations

from collections.abc import Iterator

from studio.schema import Proposal
from studio.store import Store


def review_queue(store: Store, kind: str = "span") -> Iterator[Proposal]:
    """Pending proposals, document by document: the latest query's order first, then by id."""
    order = query_order(store)
    rank = {doc_id: i for i, doc_id in enumerate(order)}
    pending = store.proposals(kind=kind, status="pending")
    pending.sort(
        key=lambda p: (
            rank.get(p.document_id or -1, len(rank)),
            p.document_id or 0,
            (p.payload.get("span") or {}).get("start", 0),
            p.id or 0,
        )
    )
    for p in pending:
        current = store.proposal(p.id or 0)  # decisions made meanwhile (undo, another window)
        if current.status == "pending":
            yield current


def query_order(store: Store) -> list[int]:
    """Document ids in the order of the newest `query.run` decision, if any."""
    runs = store.decisions(action="query.run", limit=1)
    if not runs:
        return []
    payload = runs[-1].payload
    items = sorted(payload.get("items") or [], key=lambda x: x.get("rank", 0))
    return [int(x["document_id"]) for x in items if x.get("document_id") is not None]
