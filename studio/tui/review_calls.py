"""The Labels screen's calls into the core, in one place.

Every decision goes through one of these; each calls one core function. They stay thin:
validation (labels in the guideline, snapping to tokens, overlaps, refusing `done` while
proposals are pending) is the core's (`studio.ops.review`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.errors import InvalidState
from studio.schema import Decision, Proposal, Span
from studio.store import Store


@dataclass
class Item:
    """One span on screen: a pending proposal (pid set) or an approved label."""

    start: int
    end: int
    label: str
    kind: str  # "pending" | "approved"
    pid: int | None = None
    proposal: Proposal | None = None
    doc_id: int = 0

    @property
    def span(self) -> Span:
        return Span(start=self.start, end=self.end, label=self.label)


@dataclass
class DocView:
    doc_id: int
    text: str
    items: list[Item]
    status: str  # untouched | partial | complete | withdrawn
    tokens: list[tuple[int, int]] | None = None  # read in a worker (the tokenizer takes seconds to load)
    labels: list[str] = field(default_factory=list)

    @property
    def pending(self) -> list[Item]:
        return [i for i in self.items if i.kind == "pending"]


def _proposal_span(p: Proposal) -> dict:
    return p.payload.get("span") or {}


def document_status(store: Store, doc_id: int) -> str:
    last = store.conn.execute(
        "SELECT action FROM decisions WHERE action LIKE 'document.%' AND json_extract(payload, '$.document_id') = ?"
        " ORDER BY id DESC LIMIT 1",
        (doc_id,),
    ).fetchone()
    if last is not None and last[0] == "document.complete":
        return "complete"
    if last is not None and last[0] == "document.withdraw":
        return "withdrawn"
    decided = store.conn.execute(
        "SELECT 1 FROM proposals WHERE document_id = ? AND kind = 'span' AND status != 'pending' LIMIT 1", (doc_id,)
    ).fetchone()
    labelled = store.conn.execute("SELECT 1 FROM labels WHERE document_id = ? LIMIT 1", (doc_id,)).fetchone()
    return "partial" if decided or labelled else "untouched"


def document_view(store: Store, doc_id: int, pending: list[Proposal]) -> DocView:
    """What the screen shows of one document, without tokens (cheap: a few indexed reads)."""
    doc = store.document(doc_id)
    items = [Item(s.start, s.end, s.label, "approved", doc_id=doc_id) for s in store.approved_spans(doc_id)]
    for p in pending:
        sp = _proposal_span(p)
        start = min(max(0, int(sp.get("start", 0))), max(0, len(doc.text) - 1))
        end = min(max(start + 1, int(sp.get("end", start + 1))), max(1, len(doc.text)))
        items.append(Item(start, end, str(sp.get("label") or "?"), "pending", p.id, p, doc_id))
    items.sort(key=lambda i: (i.start, i.end, i.kind))
    return DocView(doc_id, doc.text, items, document_status(store, doc_id))


def document_tokens(text: str, lang: str = "en") -> list[tuple[int, int]]:
    """(start, end) of each word token, as the core snaps spans to them."""
    from studio.ops.ner.tokens import get_nlp

    return [(t.idx, t.idx + len(t.text)) for t in get_nlp(lang)(text) if not t.is_space]


def accept(store: Store, item: Item, actor: str) -> Decision:
    if item.proposal is not None:
        # A proposal whose span does not fit the text would become a broken label: refuse it.
        Span.model_validate(_proposal_span(item.proposal)).check_against(store.document(item.doc_id).text)
    return store.accept_span(int(item.pid or 0), actor)


def reject(store: Store, item: Item, actor: str) -> Decision:
    if item.pid is None:
        return store.record(
            actor, "label.remove", [f"doc:{item.doc_id}"], {"document_id": item.doc_id, "span": _stored(store, item)}
        )
    return store.decide(item.pid, actor, "reject")


def accept_all(store: Store, doc_id: int, actor: str) -> list[Decision]:
    return [store.accept_span(int(p.id or 0), actor) for p in store.proposals("span", "pending", document_id=doc_id)]


def add_span(store: Store, doc_id: int, span: Span, actor: str) -> Decision:
    text = store.document(doc_id).text
    span.check_against(text)
    payload = {"document_id": doc_id, "span": {**span.model_dump(), "text": text[span.start : span.end]}}
    return store.record(actor, "label.add", [f"doc:{doc_id}"], payload)


def _stored(store: Store, item: Item) -> dict:
    return {**item.span.model_dump(), "text": store.document(item.doc_id).text[item.start : item.end]}


def edit(store: Store, item: Item, span: Span, actor: str) -> list[Decision]:
    if item.pid is not None:
        return [store.accept_span(item.pid, actor, edited=span)]
    removed = reject(store, item, actor)
    return [removed, add_span(store, item.doc_id, span, actor)]


def complete(store: Store, doc_id: int, actor: str) -> Decision:
    n = len(store.proposals("span", "pending", document_id=doc_id))
    if n:
        raise InvalidState(f"{n} proposals on this document are still pending")
    return store.record(actor, "document.complete", [f"doc:{doc_id}"], {"document_id": doc_id})


def undo(store: Store, decision_id: int, actor: str) -> Decision:
    row = store.conn.execute("SELECT action, payload FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    if row is not None and row[0] == "document.complete":
        doc = row[1] and __import__("json").loads(row[1])["document_id"]
        return store.record(actor, "document.reopen", [f"doc:{doc}"], {"document_id": doc})
    return store.undo(decision_id, actor)


def move_edge(
    text: str, tokens: list[tuple[int, int]], start: int, end: int, edge: str, step: int, by_token: bool
) -> tuple[int, int]:
    """Move one edge of [start, end) by a token (or a character); ValueError when it does not fit."""
    if by_token:
        edges = sorted({t[0] for t in tokens}) if edge == "start" else sorted({t[1] for t in tokens})
        at = start if edge == "start" else end
        moved = [e for e in edges if (e < at if step < 0 else e > at)]
        if not moved:
            raise ValueError(f"the {edge} cannot go past the edge of the document")
        new = moved[-1] if step < 0 else moved[0]
    else:
        new = (start if edge == "start" else end) + step
        if not 0 <= new <= len(text):
            raise ValueError(f"the {edge} cannot go past the edge of the document")
    s, e = (new, end) if edge == "start" else (start, new)
    if e <= s:
        other = "end" if edge == "start" else "start"
        raise ValueError(f"the span would be empty: move the {other} first")
    return s, e
