"""Document review in the app: keys record decisions in the store; bad input is refused, never saved.

Doc 1 of the fixture: "Apple hired Tim Cook in Cupertino. Apple later opened an office in Berlin."
with pending proposals Apple ORG, Tim Cook PERSON, Cupertino LOC; labels 1 ORG, 2 PERSON, 3 LOC.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from studio.ops.review import status_counts
from studio.schema import Document, Proposal
from studio.store import Store
from studio.tui.app import StudioApp, make_app
from studio.tui.dialogs import ConfirmDialog
from studio.tui.pager import ReviewPager
from studio.tui.screens.review import ReviewScreen
from tests.test_tui_fixtures import DOCS, build_project, settle

SIZE = (80, 24)


def _app(tmp_path: Path) -> StudioApp:
    return make_app(build_project(tmp_path / "p"), user="ann", screen="review")


def _review(app: StudioApp) -> ReviewScreen:
    assert isinstance(app.screen, ReviewScreen)
    return app.screen


def _status(app: StudioApp) -> str:
    return str(app.screen.query_one("#status").render())


def _text(screen: ReviewScreen) -> str:
    it = screen.current()
    assert it is not None and screen.view is not None
    return screen.view.text[it.start : it.end]


async def _press(app: StudioApp, pilot: Pilot[None], *keys: str) -> None:
    """Press keys as fast as a person types, then wait for the changes and reads they started."""
    await pilot.press(*keys)
    await settle(pilot, lambda: not _review(app).busy)


async def _words_ready(app: StudioApp, pilot: Pilot[None]) -> None:
    """The word tokens are read in a worker (the tokenizer loads once); wait for them."""
    await _press(app, pilot)
    assert _review(app).view is not None and _review(app).view.tokens  # type: ignore[union-attr]


def _labels(app: StudioApp, doc: int) -> list[tuple[str, str]]:
    return [(s.text, s.label) for s in app.store.approved_spans(doc)]


async def test_tab_accept_reject_undo(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        assert _text(screen) == "Apple"
        doc = screen.view.document_id  # type: ignore[union-attr]
        await _press(app, pilot, "tab")
        assert _text(screen) == "Tim Cook"
        await _press(app, pilot, "shift+tab", "a")  # accept Apple; the next pending span becomes current
        assert [d.action for d in app.store.decisions(actor="human:ann", action="label")] == ["label.accept"]
        assert _labels(app, doc) == [("Apple", "ORG")]
        assert _text(screen) == "Tim Cook"
        await _press(app, pilot, "x")
        tim = app.store.proposals(kind="span", status=None, document_id=doc)[1]
        assert tim.status == "rejected" and _text(screen) == "Cupertino"
        await _press(app, pilot, "u")  # undo the rejection: Tim Cook is pending again
        assert app.store.proposal(int(tim.id or 0)).status == "pending"
        assert app.store.decisions(action="label.undo")[-1].actor == "human:ann"
        await _press(app, pilot, "u", "u")  # undo the accept; then nothing left to undo
        assert _labels(app, doc) == []
        assert "Nothing to undo" in _status(app)
        rendered = str(screen.query_one("#review-doc").render())
        assert "Apple ORG hired Tim Cook PERSON in Cupertino LOC." in rendered  # label names follow spans


async def test_add_a_span_by_word_selection(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        doc = screen.view.document_id  # type: ignore[union-attr]
        await _words_ready(app, pilot)
        await _press(app, pilot, "tab", "x")  # reject "Tim Cook" PERSON ...
        await _press(app, pilot, "shift+tab")  # ... back on Apple, then select words from there
        await _press(app, pilot, "right", "right")  # the word after Apple (hired), then Tim
        await _press(app, pilot, "shift+right")  # extend to Cook: the text is shown before it is saved
        assert "'Tim Cook'" in str(screen.query_one("#review-edit").render())
        await _press(app, pilot, "2")
        add = app.store.decisions(action="label.add")[-1]
        assert add.actor == "human:ann"
        assert add.payload["span"] == {"start": 12, "end": 20, "label": "PERSON", "text": "Tim Cook"}
        assert ("Tim Cook", "PERSON") in _labels(app, doc)
        # Berlin was missed by the model: 13 words right of Apple.
        await _press(app, pilot, "shift+tab", *["right"] * 13, "3")
        assert ("Berlin", "LOC") in _labels(app, doc)
        # A selection past the last word is refused, and a character fine-tune works.
        await _press(app, pilot, "right", "shift+right")  # "." after Berlin is the last word
        assert "past the edge" in _status(app)
        await _press(app, pilot, "escape", "left", "3")  # left of Berlin: "in"; added as shown
        assert ("in", "LOC") in _labels(app, doc)
        await _press(app, pilot, "u")
        await _press(app, pilot, "escape", "u")  # undo the Berlin add
        assert ("Berlin", "LOC") not in _labels(app, doc)


async def test_relabel_with_a_number(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        doc = screen.view.document_id  # type: ignore[union-attr]
        await _press(app, pilot, "2")  # Apple ORG -> PERSON, saved as an edit
        d = app.store.decisions(action="label.edit")[-1]
        assert d.payload["span"]["label"] == "PERSON" and d.payload["before"]["label"] == "ORG"
        assert _labels(app, doc) == [("Apple", "PERSON")]
        await _press(app, pilot, "shift+tab")  # back to the approved Apple
        assert _text(screen) == "Apple" and screen.current().kind == "approved"  # type: ignore[union-attr]
        await _press(app, pilot, "1")  # an approved span can be relabelled too
        assert _labels(app, doc) == [("Apple", "ORG")]
        await pilot.press("5")  # no label 5: the number goes to the app (Boxes)
        assert app.current_mode == "boxes"


async def test_accept_all_then_done_refused_done_and_undo_reopens(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        doc = screen.view.document_id  # type: ignore[union-attr]
        await _press(app, pilot, "d")
        assert "3 pending proposal" in _status(app)
        assert not app.store.decisions(action="document.complete")
        await _press(app, pilot, "A")
        assert sorted(_labels(app, doc)) == [("Apple", "ORG"), ("Cupertino", "LOC"), ("Tim Cook", "PERSON")]
        assert screen.view.document_id == doc and not screen.view.pending  # type: ignore[union-attr]
        await _press(app, pilot, "d")
        [done] = app.store.decisions(action="document.complete")
        assert done.actor == "human:ann" and done.payload["document_id"] == doc
        assert screen.view.document_id != doc  # type: ignore[union-attr]  # on to the next document
        await _press(app, pilot, "u")  # reopens the document, and shows it again
        assert screen.view.document_id == doc and screen.view.status != "complete"  # type: ignore[union-attr]
        assert app.store.decisions(action="document")[-1].action != "document.complete"
        await _press(app, pilot, "u")  # then the accept-all is undone as one step
        assert _labels(app, doc) == [] and len(screen.view.pending) == 3  # type: ignore[union-attr]


async def test_edit_moves_by_word_and_refuses_what_does_not_fit(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        await _words_ready(app, pilot)
        await _press(app, pilot, "tab", "e", "shift+left")  # Tim Cook -> Tim
        assert screen.draft is not None and (screen.draft.start, screen.draft.end) == (12, 15)
        await _press(app, pilot, "shift+left")  # would be empty: refused, the span is unchanged (not clamped)
        assert "empty" in _status(app)
        assert (screen.draft.start, screen.draft.end) == (12, 15)
        await _press(app, pilot, "ctrl+shift+right", "ctrl+shift+right")  # the end by characters: "Tim C"
        assert "'Tim C'" in str(screen.query_one("#review-edit").render())
        await _press(app, pilot, "shift+right", "left", "enter")  # end to a word again; start back past Tim
        d = app.store.decisions(action="label.edit")[-1]
        assert d.payload["span"] == {"start": 6, "end": 20, "label": "PERSON", "text": "hired Tim Cook"}
        await _press(app, pilot, "tab", "e", "escape")  # escape leaves an edit, nothing saved
        assert screen.draft is None and len(app.store.decisions(action="label.edit")) == 1


async def test_bad_span_is_refused_and_approved_labels_are_kept(tmp_path: Path) -> None:
    root = build_project(tmp_path / "p")
    with Store.open(root) as store:
        store.start_session("setup")
        [doc] = [i for i, _ in store.add_documents([Document(text="Short text.")])]
        bad = Proposal(
            kind="span",
            document_id=doc,
            payload={"span": {"start": 6, "end": 40, "label": "ORG", "text": "text. and more"}},
        )
        [bad_id] = store.add_proposals([bad], actor="tool")
        store.record(
            "tool", "query.run", [], {"items": [{"rank": 1, "document_id": doc, "item": str(doc), "score": 1.0}]}
        )
    app = make_app(root, user="ann", screen="review")
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        assert screen.current().proposal_id == bad_id  # type: ignore[union-attr]  # the query puts it first
        await _press(app, pilot, "a")
        assert "is not a range of document" in _status(app)
        assert app.store.proposal(bad_id).status == "pending"
        assert app.store.approved_spans(doc) == []
        # Its end can be moved back into the text by words, and saved.
        await _words_ready(app, pilot)
        await _press(app, pilot, "e", "shift+left", "shift+left", "enter")
        d = app.store.decisions(action="label.edit")[-1]
        assert d.payload["span"]["text"] == "text"


async def test_decided_elsewhere_is_reported_not_crashed(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        pid = int(screen.current().proposal_id or 0)  # type: ignore[union-attr]
        with Store.open(app.store.root) as other:  # another window decides first
            other.decide(pid, "human:bob", "reject")
        await _press(app, pilot, "a")
        assert "decided elsewhere" in _status(app)
        assert screen.current().proposal_id != pid  # type: ignore[union-attr]
        assert not app.store.approved_spans(int(app.store.proposal(pid).document_id or 0))


async def test_end_of_queue_and_empty_state(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(len(DOCS)):
            await _press(app, pilot, "A", "d")
        assert app.store.status()["pending_by_kind"].get("span") is None
        assert len(app.store.decisions(action="document.complete")) == len(DOCS)
        screen = _review(app)
        assert screen.view is not None and screen.view.status == "complete"  # the last one stays in view
        await _press(app, pilot, "x")  # a complete document is not changed ...
        assert "reopen it first" in _status(app) and len(app.store.decisions(action="label.remove")) == 0
        await _press(app, pilot, "r")  # ... until it is reopened
        assert screen.view.status == "partial" and app.store.decisions(action="document.reopen")
        await pilot.press("g", "7")  # the number keys are labels here; g then a number changes screen
        assert app.current_mode == "log"


def test_pager_order_follows_the_query_then_ids(store: Store) -> None:
    ids = [i for i, _ in store.add_documents([Document(text=f"doc {i} Acme") for i in range(6)])]
    props = [
        Proposal(kind="span", document_id=d, payload={"span": {"start": s, "end": s + 1, "label": "X"}})
        for d in ids
        for s in (4, 0)
    ]
    store.add_proposals(props, actor="tool")
    store.record(
        "tool", "query.run", [], {"items": [{"rank": 1, "document_id": ids[4]}, {"rank": 2, "document_id": ids[1]}]}
    )
    pager = ReviewPager(store)
    order, cur = [], pager.next_document()
    while cur is not None:
        order.append(cur.doc_id)
        cur = pager.next_document(cur)
    assert order == [ids[4], ids[1], ids[0], ids[2], ids[3], ids[5]]
    assert [p.payload["span"]["start"] for p in pager.pending(ids[4])] == [0, 4]  # reading order
    assert pager.pending_count() == 12
    for p in pager.pending(ids[1]):
        store.decide(int(p.id or 0), "human:ann", "reject")
    assert pager.next_document(pager.cursor_of(ids[4])).doc_id == ids[0]  # type: ignore[union-attr]


async def test_a_synthetic_sentence_is_marked(tmp_path: Path) -> None:
    root = build_project(tmp_path / "p")
    store = Store.open(root)
    text = "Lisa Su told reporters the chips ship in May."
    doc_id, _ = store.add_document(Document(text=text, source="synthetic", provenance={"synthetic": True}))
    span = {"start": 0, "end": 7, "label": "PERSON", "text": "Lisa Su"}
    [pid] = store.add_proposals([Proposal(kind="span", document_id=doc_id, source="synth:synth.v2",
                                          payload={"span": span, "synthetic": True})])  # fmt: skip
    store.close()
    app = make_app(root, user="ann", screen="review")
    async with app.run_test(size=(100, 24)) as pilot:
        screen = _review(app)
        while screen.view is not None and screen.view.document_id != doc_id:
            await _press(app, pilot, "n")
        line = str(screen.query_one("#review-edit").render())
        assert "synthetic sentence" in line and "synth:synth.v2" in line and "confidence" not in line
        await _press(app, pilot, "a")
        assert app.store.proposal(pid).status == "accepted"


async def test_withdraw_asks_first_and_undo_brings_the_document_back(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        doc = screen.view.document_id  # type: ignore[union-attr]
        before, here = screen.pending_total, len(screen.view.pending)  # type: ignore[union-attr]
        assert "W               withdraw" in screen.HELP
        assert any(k.key == "W" and k.description == "drop" for k in screen.query(FooterKey))
        await pilot.press("W")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog) and f"Withdraw document {doc}?" in app.screen.question
        await pilot.press("n")  # no: nothing is recorded
        await _press(app, pilot)
        assert not app.store.decisions(action="document.withdraw") and f"Document {doc} kept" in _status(app)
        await pilot.press("W")
        await pilot.pause()
        await pilot.press("y")
        await _press(app, pilot)
        [withdrawn] = app.store.decisions(action="document.withdraw")
        assert withdrawn.actor == "human:ann" and withdrawn.payload["document_id"] == doc
        assert status_counts(app.store)["withdrawn"] == 1
        assert screen.pending_total == before - here  # its proposals no longer wait for anyone
        assert screen.view.document_id != doc and "u brings it back" in _status(app)  # type: ignore[union-attr]
        await _press(app, pilot, "u")  # the undo is a new decision; the document is shown again
        assert screen.view.document_id == doc and screen.view.status != "withdrawn"  # type: ignore[union-attr]
        assert status_counts(app.store)["withdrawn"] == 0 and screen.pending_total == before
        assert app.store.decisions(action="document.undo")[-1].actor == "human:ann"


async def test_korean_word_keys_move_by_word_not_by_syllable(tmp_path: Path) -> None:
    text = "미국 상무부는 3일(현지시간) 한국과학기술원(KAIST)과 협력한다고 밝혔다."
    root = build_project(tmp_path / "p")
    with Store.open(root) as store:
        [(doc, _)] = store.add_documents([Document(text=text, source="fixture", lang="ko")])
        merged = {"start": 0, "end": 6, "label": "ORG", "text": "미국 상무부"}  # a place and a body as one span
        store.add_proposals([Proposal(kind="span", document_id=doc, payload={"span": merged}, source="llm:ner.v5",
                                      confidence=0.8)], actor="tool")  # fmt: skip
    app = make_app(root, user="ann", screen="review")
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        screen.open_document(doc)
        await _words_ready(app, pilot)
        assert _text(screen) == "미국 상무부"
        await _press(app, pilot, "e", "right")  # the start moves one word: past "미국", not one syllable
        assert screen.draft is not None and text[screen.draft.start : screen.draft.end] == "상무부"
        await _press(app, pilot, "enter")
        assert _labels(app, doc) == [("상무부", "ORG")]
        await _press(app, pilot, "escape", "shift+tab")  # back on 상무부; the word before it is 미국
        await _press(app, pilot, "left")
        assert screen.draft is not None and text[screen.draft.start : screen.draft.end] == "미국"
        await _press(app, pilot, "3")
        await _press(app, pilot, *["right"] * 9)  # 상무부 는 3일 ( 현지시간 ) 한국과학기술원 ( KAIST
        assert screen.draft is not None and text[screen.draft.start : screen.draft.end] == "KAIST"
        await _press(app, pilot, "1")
        assert sorted(_labels(app, doc)) == [("KAIST", "ORG"), ("미국", "LOC"), ("상무부", "ORG")]
