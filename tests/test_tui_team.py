"""Pilot: two annotators in two app instances on one project folder, a reviewer in a third."""

from __future__ import annotations

from pathlib import Path

from studio.ops.team import adjudicate as adj
from studio.store import Store
from studio.tui.app import make_app
from studio.tui.screens.adjudicate import AdjudicateScreen
from studio.tui.screens.review import ReviewScreen
from tests import team_sim

SIZE = (100, 30)


def _status(app: object) -> str:
    return str(app.screen.query_one("#status").render())  # type: ignore[attr-defined]


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
        sa, sb = ana.screen, ben.screen
        assert isinstance(sa, ReviewScreen) and isinstance(sb, ReviewScreen)
        # both see the same first proposal: each decides it for their own version
        assert sa.current() is not None and sa.current().id == sb.current().id
        first = sb.current()
        await pb.press("x")  # ben rejects the first proposal ...
        for _ in range(total):  # ... while ana accepts every one, key by key, in her window
            await pa.press("a")
        for _ in range(total - 1):
            await pb.press("a")
        await pa.pause()
        await pb.pause()
        assert sa.current() is None and sb.current() is None  # both queues are done
        assert "No pending" in _status(ana) or sa.pending_total == 0
        # nothing is the project's yet: the accepts are versions
        assert ana.store.approved_spans(int(first.document_id or 0)) == []
        ana_spans = ana.store.conn.execute("SELECT COUNT(*) FROM version_spans WHERE annotator = 'ana'").fetchone()[0]
        ben_spans = ben.store.conn.execute("SELECT COUNT(*) FROM version_spans WHERE annotator = 'ben'").fetchone()[0]
        assert (ana_spans, ben_spans) == (total, total - 1)

    rev = make_app(root, user="rev", screen="adjudicate")
    async with rev.run_test(size=SIZE) as pr:
        screen = rev.screen
        assert isinstance(screen, AdjudicateScreen) and screen.case is not None
        doc = screen.case.document_id
        assert doc == first.document_id  # the document where the versions differ is first in the queue
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
