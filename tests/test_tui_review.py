"""Label review in the app: keys record decisions in the store; bad input is refused, never saved."""

from __future__ import annotations

from pathlib import Path

from studio.schema import Document, Proposal
from studio.store import Store
from studio.tui.app import StudioApp, make_app
from studio.tui.pager import ReviewPager
from studio.tui.screens.review import ReviewScreen
from tests.test_tui_fixtures import DOCS, build_project

SIZE = (80, 24)


def _app(tmp_path: Path) -> StudioApp:
    return make_app(build_project(tmp_path / "p"), user="ann", screen="review")


def _review(app: StudioApp) -> ReviewScreen:
    assert isinstance(app.screen, ReviewScreen)
    return app.screen


def _status(app: StudioApp) -> str:
    return str(app.screen.query_one("#status").render())


async def test_accept_reject_skip_undo(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        first = screen.current()
        assert first is not None and first.payload["span"]["text"] == "Apple"
        await pilot.press("a")
        assert [d.action for d in app.store.decisions(actor="human:ann", action="label")] == ["label.accept"]
        assert [s.text for s in app.store.approved_spans(int(first.document_id or 0))] == ["Apple"]
        second = screen.current()
        assert second is not None and second.payload["span"]["text"] == "Tim Cook"
        await pilot.press("x")
        assert app.store.proposal(int(second.id or 0)).status == "rejected"
        await pilot.press("space")  # skip Cupertino: no decision
        assert screen.current().payload["span"]["text"] == "Siemens"  # type: ignore[union-attr]
        assert len(app.store.decisions(actor="human:ann", action="label")) == 2
        await pilot.press("backspace")  # undo the rejection of Tim Cook: back to it, pending again
        assert app.store.proposal(int(second.id or 0)).status == "pending"
        assert screen.current().id == second.id  # type: ignore[union-attr]
        assert app.store.decisions(action="label.undo")[-1].actor == "human:ann"
        await pilot.press("backspace", "backspace")  # undo the accept; then nothing left to undo
        assert app.store.approved_spans(int(first.document_id or 0)) == []
        assert "Nothing to undo" in _status(app)


async def test_edit_boundaries_and_label(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        pid = screen.current().id  # type: ignore[union-attr]  # "Apple" [0:5] ORG
        await pilot.press("e", "left")  # the start cannot go before the text
        assert "edge of the document" in _status(app)
        for _ in range(5):
            await pilot.press("shift+left")  # the span keeps at least one character
        assert "at least one character" in _status(app)
        assert screen.editing is not None and (screen.editing.start, screen.editing.end) == (0, 1)
        for _ in range(4):
            await pilot.press("shift+right")
        await pilot.press("right", "9")  # start to 1; there is no label 9
        assert "no label 9" in _status(app)
        await pilot.press("2", "enter")  # PERSON, saved
        d = app.store.decisions(action="label.edit")[-1]
        assert d.payload["span"] == {"start": 1, "end": 5, "label": "PERSON", "text": "pple"}
        assert d.payload["before"]["label"] == "ORG"
        assert app.store.proposal(int(pid or 0)).status == "edited"
        assert screen.editing is None


async def test_escape_cancels_edit_and_numbers_switch_screens_again(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e", "shift+right", "escape")
        assert _review(app).editing is None
        assert not app.store.decisions(action="label.edit")
        await pilot.press("5")  # outside edit mode, numbers belong to the app
        assert app.current_mode == "boxes"


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
        assert screen.current().id == bad_id  # type: ignore[union-attr]  # the query puts it first
        await pilot.press("a")
        assert "Not accepted" in _status(app)
        assert app.store.proposal(bad_id).status == "pending"
        assert app.store.approved_spans(doc) == []
        # Editing starts from the span clamped into the text, so it can be fixed and saved.
        await pilot.press("e", "enter")
        d = app.store.decisions(action="label.edit")[-1]
        assert d.payload["span"]["text"] == "text."


async def test_decided_elsewhere_is_reported_not_crashed(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = _review(app)
        pid = int(screen.current().id or 0)  # type: ignore[union-attr]
        with Store.open(app.store.root) as other:  # another window decides first
            other.decide(pid, "human:bob", "reject")
        await pilot.press("a")
        assert "already rejected" in _status(app)
        assert screen.current().id != pid  # type: ignore[union-attr]
        assert not app.store.approved_spans(int(app.store.proposal(pid).document_id or 0))


async def test_end_of_queue_and_empty_state(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(len(DOCS) * 3):
            await pilot.press("x")
        assert app.store.status()["pending_by_kind"].get("span") is None
        assert "Nothing to review" in str(app.screen.query_one("#review-info").render())
        await pilot.press("a", "space", "e")  # nothing to act on: no crash, no decision
        assert len(app.store.decisions(action="label.reject")) == 6


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
        while screen.current() is not None and screen.current().id != pid:  # type: ignore[union-attr]
            await pilot.press("space")
        info = str(screen.query_one("#review-info").render())
        assert "synthetic sentence" in info and "synth:synth.v2" in info and "confidence" not in info
        await pilot.press("a")
        assert app.store.proposal(pid).status == "accepted"
