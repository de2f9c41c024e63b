"""Document review core: validation, every change a decision, undo, status, rebuild agreement."""

from __future__ import annotations

import pytest

from studio.errors import InvalidState
from studio.ops import review as rv
from studio.schema import Document, Guideline, LabelDef, Proposal, Span
from studio.store import Store

ACTOR = "human:ann"
TEXT = "SEOUL (Reuters) - Samsung Electronics hired Tim Cook in Cupertino.\nApple said nothing."
KO = "삼성전자가 서울에서 갤럭시 S25를 공개했다."


def _guideline(store: Store) -> None:
    labels = [LabelDef(name=n) for n in ("ORG", "PERSON", "PRODUCT", "LOC")]
    v = store.add_guideline(Guideline(goal="tech news", labels=labels), "agent")
    store.decide_guideline(v, ACTOR, "approve")


def _span(text: str, sub: str, label: str, nth: int = 0) -> dict:
    start = -1
    for _ in range(nth + 1):
        start = text.index(sub, start + 1)
    return Span(start=start, end=start + len(sub), label=label, text=sub).model_dump()


@pytest.fixture
def doc(store: Store) -> int:
    _guideline(store)
    doc_id, _ = store.add_document(Document(text=TEXT))
    store.add_proposals(
        [
            Proposal(kind="span", document_id=doc_id, payload={"span": _span(TEXT, "Samsung Electronics", "ORG")}),
            Proposal(kind="span", document_id=doc_id, payload={"span": _span(TEXT, "Cook", "PERSON")}),
            Proposal(kind="span", document_id=doc_id, payload={"span": _span(TEXT, "Cupertino", "ORG")}),
        ]
    )
    return doc_id


def _state(store: Store) -> tuple:
    q = store.conn.execute
    return (
        q('SELECT document_id, start, "end", label, proposal_id FROM labels ORDER BY 1, 2, 3, 4').fetchall(),
        q("SELECT id, status FROM proposals ORDER BY id").fetchall(),
        q("SELECT document_id, status FROM document_status ORDER BY 1").fetchall(),
    )


def _rebuild_agrees(store: Store) -> None:
    before = [list(map(tuple, t)) for t in _state(store)]
    store.rebuild_state()
    assert [list(map(tuple, t)) for t in _state(store)] == before


def test_view_has_tokens_spans_and_status(store: Store, doc: int) -> None:
    view = rv.document_view(store, doc)
    assert view.status == "untouched"
    assert [v.text for v in view.pending] == ["Samsung Electronics", "Cook", "Cupertino"]
    assert view.labels == ["ORG", "PERSON", "PRODUCT", "LOC"]
    assert all(TEXT[t.start : t.end] == t.text for t in view.tokens)
    assert "Reuters" in [t.text for t in view.tokens]


def test_korean_tokens_are_characters(store: Store) -> None:
    _guideline(store)
    doc_id, _ = store.add_document(Document(text=KO, lang="ko"))
    view = rv.document_view(store, doc_id)
    assert [t.text for t in view.tokens[:5]] == ["삼", "성", "전", "자", "가"]
    ch = rv.add_text(store, doc_id, "삼성전자", "org", ACTOR)
    assert ch.span is not None and ch.span.text == "삼성전자" and ch.span.label == "ORG"


def test_add_span_validates_and_snaps(store: Store, doc: int) -> None:
    with pytest.raises(rv.LabelNotInGuideline, match="use one of: ORG, PERSON, PRODUCT, LOC") as e:
        rv.add_span(store, doc, 0, 5, "PLACE", ACTOR)
    assert e.value.labels == ["ORG", "PERSON", "PRODUCT", "LOC"]
    with pytest.raises(rv.BadSpan, match="0 <= START < END"):
        rv.add_span(store, doc, 10, 5, "LOC", ACTOR)
    nl = TEXT.index("\n")
    with pytest.raises(rv.BadSpan, match="line break"):
        rv.add_span(store, doc, nl - 5, nl + 3, "LOC", ACTOR)
    # "EOU" snaps out to the whole word, and the person is told
    chk = rv.check_span(store, doc, 1, 4, "LOC")
    assert (chk.span.start, chk.span.end, chk.text, chk.snapped) == (0, 5, "SEOUL", True)
    ch = rv.add_span(store, doc, 1, 4, "LOC", ACTOR)
    assert ch.span == Span(start=0, end=5, label="LOC", text="SEOUL")
    assert ch.snapped_from == (1, 4) and "snapped" in ch.message and '"SEOUL"' in ch.message
    with pytest.raises(rv.SpanOverlap, match='overlaps the approved span LOC \\[0:5\\] "SEOUL"'):
        rv.add_span(store, doc, 0, 15, "ORG", ACTOR)
    assert [d.action for d in store.decisions(actor=ACTOR)][-1] == "label.add"
    _rebuild_agrees(store)


def test_add_over_a_proposal_replaces_it(store: Store, doc: int) -> None:
    ch = rv.add_text(store, doc, "Tim Cook", "PERSON", ACTOR)
    assert "rejected proposal PERSON" in ch.message
    view = rv.document_view(store, doc)
    assert [v.text for v in view.pending] == ["Samsung Electronics", "Cupertino"]
    assert [(v.text, v.label) for v in view.approved] == [("Tim Cook", "PERSON")]
    # adding exactly a proposal's range accepts it (relabelled)
    rv.add_text(store, doc, "Cupertino", "LOC", ACTOR)
    pid = rv.document_view(store, doc).approved
    assert [(v.text, v.label) for v in pid] == [("Tim Cook", "PERSON"), ("Cupertino", "LOC")]
    rv.undo(store, ch, ACTOR)
    assert [v.text for v in rv.document_view(store, doc).pending] == ["Samsung Electronics", "Cook"]
    _rebuild_agrees(store)


def test_find_text_ambiguous_and_missing(store: Store) -> None:
    _guideline(store)
    text = "APPLE VS APPLE: Apple sued Applebee's and Apple won."
    doc_id, _ = store.add_document(Document(text=text))
    view = rv.document_view(store, doc_id)
    assert rv.find_text(view, "Apple") == [(16, 21), (42, 47)]  # not inside "Applebee's"
    with pytest.raises(rv.AmbiguousText, match="occurs 2 times: 1\\) \\[16:21\\]") as e:
        rv.add_text(store, doc_id, "Apple", "ORG", ACTOR)
    assert e.value.occurrences == [(16, 21), (42, 47)]
    ch = rv.add_text(store, doc_id, "Apple", "ORG", ACTOR, occurrence=2)
    assert ch.span is not None and ch.span.start == 42
    with pytest.raises(rv.TextNotFound, match='did you mean "APPLE VS"'):
        rv.add_text(store, doc_id, "apple vs", "ORG", ACTOR)


def test_relabel_move_and_undo(store: Store, doc: int) -> None:
    view = rv.document_view(store, doc)
    cook = next(v for v in view.pending if v.text == "Cook")
    ch = rv.move_boundary(store, doc, cook.key, "start", -1, ACTOR)
    assert ch.span is not None and ch.span.text == "Tim Cook"
    key = rv.document_view(store, doc).approved[0].key
    assert key == f"l:{ch.span.start}:{ch.span.end}:PERSON"
    with pytest.raises(rv.BadSpan, match="keeps at least one word"):
        rv.move_boundary(store, doc, key, "end", -2, ACTOR)
    ch2 = rv.move_boundary(store, doc, key, "end", -1, ACTOR, unit="char")
    assert ch2.span is not None and ch2.span.text == "Tim Coo"
    ch3 = rv.relabel(store, doc, ch2.span and f"l:{ch2.span.start}:{ch2.span.end}:PERSON", "ORG", ACTOR)
    assert "changed to ORG" in ch3.message
    with pytest.raises(rv.BadSpan, match="start or end with a space"):
        rv.move_boundary(store, doc, f"l:{ch3.span.start}:{ch3.span.end}:ORG", "start", 3, ACTOR, unit="char")
    _rebuild_agrees(store)
    for c in (ch3, ch2, ch):
        rv.undo(store, c, ACTOR)
    view = rv.document_view(store, doc)
    assert view.approved == [] and [v.text for v in view.pending] == ["Samsung Electronics", "Cook", "Cupertino"]
    actions = [d.action for d in store.decisions(actor=ACTOR)][-6:]
    assert actions == ["label.edit", "label.change", "label.change", "label.undo", "label.undo", "label.undo"]
    _rebuild_agrees(store)


def test_accept_all_complete_reopen_withdraw(store: Store, doc: int) -> None:
    with pytest.raises(rv.PendingProposals, match="still has 3 pending proposal") as e:
        rv.complete(store, doc, ACTOR)
    assert e.value.count == 3
    rv.add_text(store, doc, "Apple", "ORG", ACTOR)
    ch = rv.accept_all(store, doc, ACTOR)
    assert len(ch.decision_ids) == 3 and rv.document_status(store, doc) == "partial"
    done = rv.complete(store, doc, ACTOR)
    assert rv.document_status(store, doc) == "complete"
    assert rv.status_counts(store) == {"untouched": 0, "partial": 0, "complete": 1, "withdrawn": 0}
    with pytest.raises(rv.DocumentLocked, match="reopen it first"):
        rv.add_text(store, doc, "SEOUL", "LOC", ACTOR)
    _rebuild_agrees(store)
    rv.undo(store, done, ACTOR)  # undo of done reopens
    assert rv.document_status(store, doc) == "partial"
    rv.complete(store, doc, ACTOR)
    rv.reopen(store, doc, ACTOR)
    assert rv.document_status(store, doc) == "partial"
    rv.complete(store, doc, ACTOR)
    w = rv.withdraw(store, doc, ACTOR, "duplicate wire story")
    assert rv.document_status(store, doc) == "withdrawn"
    with pytest.raises(rv.DocumentLocked, match="withdrawn; undo the withdrawal"):
        rv.complete(store, doc, ACTOR)
    with pytest.raises(InvalidState, match="already withdrawn"):
        rv.withdraw(store, doc, ACTOR)
    _rebuild_agrees(store)
    rv.undo(store, w, ACTOR)  # back to complete, as before the withdrawal
    assert rv.document_status(store, doc) == "complete"
    _rebuild_agrees(store)


def test_accept_all_refuses_overlapping_proposals(store: Store, doc: int) -> None:
    store.add_proposals([Proposal(kind="span", document_id=doc, payload={"span": _span(TEXT, "Samsung", "ORG")})])
    with pytest.raises(rv.SpanOverlap, match='cannot accept all: ORG \\[18:25\\] "Samsung" overlaps ORG \\[18:37\\]'):
        rv.accept_all(store, doc, ACTOR)
    assert len(rv.document_view(store, doc).pending) == 4  # nothing written


def test_document_queue_skips_finished(store: Store, doc: int) -> None:
    other, _ = store.add_document(Document(text="Google opened an office in Berlin."))
    q = rv.DocumentQueue(store)
    assert q.next_document() == doc and q.next_document(doc) == other
    assert rv.DocumentQueue(store, pending_only=True).next_document(doc) is None
    rv.withdraw(store, other, ACTOR)
    assert rv.DocumentQueue(store).next_document(doc) is None
