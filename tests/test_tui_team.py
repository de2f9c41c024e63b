"""Pilot: two annotators in two app instances on one project folder, a reviewer in a third."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from studio.ops.review.documents import DocumentQueue
from studio.ops.team import adjudicate as adj
from studio.store import Store
from studio.tui.app import StudioApp, make_app
from studio.tui.screens.adjudicate import AdjudicateScreen
from studio.tui.screens.review import ReviewScreen
from tests import team_sim

SIZE = (100, 30)


def _status(app: StudioApp) -> str:
    return str(app.screen.query_one("#status").render())


async def _press(app: StudioApp, pilot: Pilot[None], *keys: str) -> None:
    """Press keys, then wait for the changes and reads they started (the screen works in workers)."""
    await pilot.press(*keys)
    for _ in range(40):
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        if not getattr(screen, "busy", False) and not any(w.is_running for w in app.workers):
            return


async def test_two_annotators_and_a_reviewer_in_three_apps(tmp_path: Path) -> None:
    root = tmp_path / "p"
    with Store.init(root) as store:
        store.start_session("setup")
        gold = team_sim.setup(store, n_docs=2)
        team_sim.assign(store, "ana,ben", overlap=2)
        pending = {d: [p.id for p in store.proposals(kind="span", document_id=d)] for d in gold}
    total = sum(len(v) for v in pending.values())
    ana, ben = make_app(root, user="ana", screen="review"), make_app(root, user="ben", screen="review")
    async with ana.run_test(size=SIZE) as pa, ben.run_test(size=SIZE) as pb:
        await _press(ana, pa)
        await _press(ben, pb)
        sa, sb = ana.screen, ben.screen
        assert isinstance(sa, ReviewScreen) and isinstance(sb, ReviewScreen)
        # both open the same first document, each to annotate their own version of it
        first = sa.view.document_id
        assert sb.view.document_id == first and len(sa.view.pending) == len(pending[first])
        # in turns, as two people at two terminals: ben rejects the first proposal, ana accepts all
        await _press(ben, pb, "x")
        await _press(ana, pa, "A", "d")
        assert len(sb.view.pending) == len(pending[first]) - 1  # ana's accepts do not touch ben's view
        await _press(ben, pb, "A", "d")
        for app, pilot in ((ana, pa), (ben, pb)):  # the second document: both accept everything
            assert app.screen.view.document_id != first
            await _press(app, pilot, "A", "d")
        for app in (ana, ben):  # both queues are done: every version is complete
            assert DocumentQueue(app.store, actor=app.actor).next_document() is None
            assert app.screen.view is None or app.screen.view.status == "complete"
        # nothing is the project's yet: the accepts are versions
        assert ana.store.approved_spans(first) == []
        count = "SELECT COUNT(*) FROM version_spans WHERE annotator = ?"
        assert ana.store.conn.execute(count, ("ana",)).fetchone()[0] == total
        assert ben.store.conn.execute(count, ("ben",)).fetchone()[0] == total - 1

    rev = make_app(root, user="rev", screen="adjudicate")
    async with rev.run_test(size=SIZE) as pr:
        screen = rev.screen
        assert isinstance(screen, AdjudicateScreen) and screen.case is not None
        doc = screen.case.document_id
        assert doc == first  # the document where the versions differ is first in the queue
        shown = str(screen.query_one("#adj-versions").render())
        assert "ana" in shown and "ben" in shown
        rows = str(screen.query_one("#adj-candidates").render())
        assert "*" in rows  # the span only ana has is marked
        await pr.press("1")  # take ana's version (versions are numbered in name order)
        await pr.press("enter")
        await pr.pause()
        assert "saved" in _status(rev)
        assert {(s.start, s.end, s.label) for s in rev.store.approved_spans(doc)} == {
            tuple(p["span"][k] for k in ("start", "end", "label"))
            for p in (rev.store.proposal(i).payload for i in pending[doc])
        }
        # the other document agrees exactly: settled in bulk after a confirmation
        await pr.press("A")
        await pr.pause()
        await pr.press("y")
        await rev.workers.wait_for_complete()
        await pr.pause()
        assert "Accepted 1 documents" in _status(rev)
        assert adj.queue(rev.store) == []
        decision = rev.store.decisions(action="document.adjudicate")[0]
        assert decision.actor == "human:rev" and decision.payload["method"] == "take:ana"
        assert set(decision.payload["versions"]) == {"ana", "ben"}
