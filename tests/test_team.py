"""Several annotators on one project: assignment, versions, agreement, adjudication, release."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score

from studio.errors import InvalidState
from studio.ops import registry
from studio.ops.review import accept, complete, document_view, reject
from studio.ops.review.documents import DocumentQueue
from studio.ops.team import adjudicate as adj
from studio.ops.team import metrics
from studio.ops.team.versions import load
from studio.schema import Document
from studio.store import Store
from tests import team_sim
from tests.conftest import run_cli


def _ctx(store: Store, actor: str = "human:lead") -> registry.OpContext:
    return registry.OpContext(store=store, actor=actor)


# -- the measures, checked by hand on tiny cases -------------------------------------------------
def test_span_f1_strict_and_partial_by_hand() -> None:
    ana = [(0, 5, "ORG"), (10, 18, "PERSON"), (30, 35, "LOC")]
    ben = [(0, 5, "ORG"), (10, 14, "PERSON"), (30, 35, "ORG"), (40, 44, "LOC")]
    # strict: only ORG [0:5] is the same -> F1 = 2*1 / (3+4)
    assert metrics.f1(metrics.span_matches(ana, ben), 3, 4) == pytest.approx(2 / 7)
    # partial: PERSON [10:18] overlaps [10:14] with the same label -> 2 matches; LOC vs ORG is no match
    assert metrics.f1(metrics.span_matches(ana, ben, partial=True), 3, 4) == pytest.approx(4 / 7)
    # one long span cannot match two short ones
    assert metrics.span_matches([(0, 10, "X")], [(0, 4, "X"), (5, 10, "X")], partial=True) == 1


def test_cohen_kappa_by_hand_and_against_scikit_learn() -> None:
    a = ["O", "ORG", "ORG", "O", "PER", "O", "O", "PER"]
    b = ["O", "ORG", "O", "O", "PER", "O", "PER", "PER"]
    # observed 6/8; expected: O 4/8*4/8 + ORG 2/8*1/8 + PER 2/8*3/8 = (16 + 2 + 6) / 64 = 24/64
    by_hand = (6 / 8 - 24 / 64) / (1 - 24 / 64)
    assert metrics.cohen_kappa(a, b) == pytest.approx(by_hand) == pytest.approx(0.6)
    assert metrics.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert metrics.cohen_kappa(["O", "O"], ["O", "O"]) is None  # chance agreement is total: undefined


def test_krippendorff_alpha_on_the_published_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 4 coders x 12 units, nominal: 0.743
    rows = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [[v for v in col if v is not None] for col in zip(*rows, strict=True)]
    assert metrics.krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)
    # two coders, no missing values: alpha = 1 - (n-1) * disagreements / expected
    a, b = ["x", "x", "y", "y"], ["x", "y", "y", "y"]
    # coincidences: x-x 2, y-y 4, x-y 1, y-x 1; n_x = 3, n_y = 5, n = 8 -> 1 - 7 * 2 / 30
    assert metrics.krippendorff_alpha(list(zip(a, b, strict=True))) == pytest.approx(1 - 7 * 2 / 30)


# -- assignment ---------------------------------------------------------------------------------
def test_assignment_is_balanced_seeded_and_extends_to_new_documents(store: Store) -> None:
    store.add_documents([Document(text=f"REUTERS {i}: Kestrel Bank results") for i in range(60)])
    r = registry.run("assign", {"annotators": "ana,ben,cho", "overlap": 2, "seed": 3}, _ctx(store))
    assert r.documents == 60 and r.per_annotator == {"ana": 40, "ben": 40, "cho": 40}
    assert r.pairs == {"ana+ben": 20, "ana+cho": 20, "ben+cho": 20}
    first = {d: sorted(vs) for d, vs in load(store).items()}
    # the same seed on a fresh project gives the same assignment
    other = Store.init(store.root.parent / "other")
    other.add_documents([Document(text=f"REUTERS {i}: Kestrel Bank results") for i in range(60)])
    registry.run("assign", {"annotators": "ana,ben,cho", "overlap": 2, "seed": 3}, _ctx(other))
    assert {d: sorted(vs) for d, vs in load(other).items()} == first
    other.close()
    # documents that come later are assigned on top, balanced with what is there
    store.add_documents([Document(text=f"부산 {i}: 한빛로보틱스 실적") for i in range(7)])
    r2 = registry.run("assign", {"annotators": "ana,ben,cho", "overlap": 2, "seed": 3}, _ctx(store))
    assert r2.documents == 7 and sum(r2.per_annotator.values()) == 14
    assert max(r2.total_per_annotator.values()) - min(r2.total_per_annotator.values()) <= 1
    again = registry.run("assign", {"annotators": "ana,ben,cho", "overlap": 2, "seed": 3}, _ctx(store))
    assert again.documents == 0 and again.decision_id is None
    store.rebuild_state()
    assert sum(len(v) for v in load(store).values()) == 67 * 2


def test_assignment_refuses_bad_input(store: Store) -> None:
    store.add_documents([Document(text="one"), Document(text="two")])
    with pytest.raises(Exception, match="needs at least 3 annotators"):
        registry.run("assign", {"annotators": "ana,ben", "overlap": 3}, _ctx(store))
    with pytest.raises(Exception, match="single words"):
        registry.run("assign", {"annotators": "ana ben"}, _ctx(store))
    with pytest.raises(Exception, match="no such documents: 9"):
        registry.run("assign", {"annotators": "ana,ben", "documents": "1-2,9"}, _ctx(store))
    assert not store.decisions(action="team.assign")


# -- versions: what an annotator decides is theirs ------------------------------------------------
def test_each_annotator_decides_their_own_version(store: Store) -> None:
    gold = team_sim.setup(store, n_docs=4)
    team_sim.assign(store, "ana,ben", overlap=2)
    doc = min(gold)
    ana_view = document_view(store, doc, "human:ana")
    assert ana_view.pending and not ana_view.approved
    accept(store, doc, ana_view.pending[0].key, "human:ana")
    # ana's accept is her version: the proposal is still pending for ben and the project has no label
    assert store.approved_spans(doc) == []
    assert len(document_view(store, doc, "human:ben").pending) == len(ana_view.pending)
    assert len(document_view(store, doc, "human:ana").pending) == len(ana_view.pending) - 1
    assert len(document_view(store, doc, "human:ana").approved) == 1
    # a person not assigned to the document is told who is, and nothing is written
    n = len(store.decisions())
    with pytest.raises(InvalidState, match="assigned to ana, ben, not to cho"):
        accept(store, doc, ana_view.pending[1].key, "human:cho")
    assert len(store.decisions()) == n
    # done is refused while ana has undecided proposals, then accepted; ben's queue still has it
    with pytest.raises(Exception, match="pending proposal"):
        complete(store, doc, "human:ana")
    for v in document_view(store, doc, "human:ana").pending:
        reject(store, doc, v.key, "human:ana")
    complete(store, doc, "human:ana")
    assert DocumentQueue(store, actor="human:ana").next_document() != doc
    assert DocumentQueue(store, actor="human:ben").next_document() == doc
    assert DocumentQueue(store, actor="human:lead").next_document() is None  # every document is assigned
    # undo is a new decision in ana's version; rebuilding from the log gives the same state
    last = store.decisions(actor="human:ana")[-1]
    store.undo(last.id or 0, "human:ana")
    assert document_view(store, doc, "human:ana").status == "partial"
    with pytest.raises(InvalidState, match="only ana can undo"):
        store.undo(store.decisions(actor="human:ana")[-2].id or 0, "human:ben")
    before = _team_state(store)
    store.rebuild_state()
    assert _team_state(store) == before


def _team_state(store: Store) -> dict[str, list[tuple]]:
    tables = ["assignments", "version_spans", "version_verdicts", "versions", "adjudications", "labels"]
    return {t: [tuple(r) for r in store.conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables}


# -- the scripted run: three annotators, 60 documents, overlap 2 ----------------------------------
ERROR_RATES = {"ana": 0.05, "ben": 0.15, "cho": 0.30}


@pytest.fixture(scope="module")
def team_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    root = tmp_path_factory.mktemp("team") / "proj"
    with Store.init(root) as store:
        store.start_session("sim")
        gold = team_sim.setup(store)
        team_sim.assign(store)
        versions = {n: team_sim.annotate(store, n, e, gold) for n, e in ERROR_RATES.items()}
    return root, gold, versions


def test_agreement_matches_a_hand_computation(team_project: tuple[Path, dict, dict]) -> None:
    from studio.ops.ner.tokens import get_nlp

    root, gold, versions = team_project
    with Store.open(root) as store:
        r = registry.run("agreement", {"top": 5}, _ctx(store))
        texts = {d: store.document(d) for d in gold}
    assert r.documents == 60 and r.annotators == ["ana", "ben", "cho"]
    by_pair = {p.pair: p for p in r.pairs}
    for a, b in combinations(sorted(versions), 2):
        shared = sorted(set(versions[a]) & set(versions[b]))
        same = sum(len(versions[a][d] & versions[b][d]) for d in shared)
        total = sum(len(versions[a][d]) + len(versions[b][d]) for d in shared)
        tags_a, tags_b = [], []
        for d in shared:
            toks = [t for t in get_nlp(texts[d].lang).make_doc(texts[d].text) if not t.is_space]
            for t in toks:
                for tags, spans in ((tags_a, versions[a][d]), (tags_b, versions[b][d])):
                    inside = [lab for s, e, lab in spans if s <= t.idx and t.idx + len(t.text) <= e]
                    tags.append(inside[0] if inside else "O")
        p = by_pair[f"{a}+{b}"]
        assert p.documents == len(shared) == 20
        assert p.strict_f1 == pytest.approx(2 * same / total, abs=1e-4)
        assert p.token_kappa == pytest.approx(cohen_kappa_score(tags_a, tags_b), abs=1e-4)
    # the known error rates show: the two careful annotators agree most, the two careless least
    assert by_pair["ana+ben"].strict_f1 > by_pair["ana+cho"].strict_f1 > by_pair["ben+cho"].strict_f1
    assert r.overall["alpha"] is not None and 0.5 < r.overall["alpha"] < 1
    worst = r.disagreements[0]
    assert worst["mean_strict_f1"] == min(d["mean_strict_f1"] for d in r.disagreements) < 1
    assert {p["kind"] for p in r.patterns} <= {"missing", "label", "boundary"} and r.patterns


def _reviewer_script(store: Store, gold: dict) -> str:
    """The protocol lines a reviewer who follows the gold types, document by document."""
    lines = []
    for d in adj.queue(store):
        c = adj.case(store, d)
        same = [n for n, v in sorted(c.versions.items()) if set(v.spans) == gold[d]]
        if same:
            lines.append(f"t {same[0]}")
            continue
        draft = set(c.agreed)
        picks = [str(i) for i, cand in enumerate(c.candidates, 1) if cand.span in gold[d] and cand.span not in draft]
        if picks:
            lines.append("y " + ",".join(picks))
        lines += [f"- {s}:{e} {lab}" for s, e, lab in sorted(draft - gold[d])]
        have = draft | {cand.span for cand in c.candidates if cand.span in gold[d]}
        lines += [f"+ {s}:{e} {lab}" for s, e, lab in sorted(gold[d] - have)]
        lines.append("d")
    return "\n".join(lines) + "\n"


def test_adjudicated_release_equals_gold(team_project: tuple[Path, dict, dict]) -> None:
    root, gold, _ = team_project
    with Store.open(root) as store:
        script = _reviewer_script(store, gold)
    code, out, err = run_cli("--project", str(root), "--user", "rev", "adjudicate", input=script)
    assert code == 0, err
    assert "Adjudicated 60." in out
    with Store.open(root) as store:
        assert adj.queue(store) == []
        methods = [d.payload["method"] for d in store.decisions(action="document.adjudicate")]
        assert all(d.actor == "human:rev" for d in store.decisions(action="document.adjudicate"))
        assert {m.split(":")[0] for m in methods} >= {"agreed", "take", "spans"}
        # the reviewer's decision links the versions it came from
        d = store.decisions(action="document.adjudicate")[0]
        assert set(d.payload["versions"]) == set(load(store)[d.payload["document_id"]])
    code, stdout, err = run_cli("--project", str(root), "--user", "lead", "release", "--license", "CC-BY-4.0", "--json")
    assert code == 0, err
    out = json.loads(stdout)
    released = {}
    for f in sorted((Path(out["path"]) / "data").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            released[row["id"]] = {(s["start"], s["end"], s["label"]) for s in row["spans"]}
    assert released == gold  # strict F1 1.0 against gold, every document in
    # the card reports how the documents were settled and the agreement per label
    card = (Path(out["path"]) / "README.md").read_text(encoding="utf-8")
    assert "## Annotators and agreement" in card and "60 of the released documents were settled" in card
    team = json.loads((Path(out["path"]) / "release.json").read_text(encoding="utf-8"))["team"]
    assert team["adjudicated"] == 60 and team["agreement"]["documents"] == 60
    assert set(team["agreement"]["per_label"]) == set(team_sim.LABELS)


def test_bulk_accept_where_all_agree_and_why_shows_the_versions(store: Store) -> None:
    gold = team_sim.setup(store, n_docs=6)
    team_sim.assign(store, "ana,ben", overlap=2)
    for name in ("ana", "ben"):
        team_sim.annotate(store, name, 0.0, gold)  # careful annotators: every version equals the gold
    first = min(gold)
    # ben changes his mind on one document: it no longer agrees and waits for a reviewer
    reopened = registry.run("adjudicate_agreed", {"dry_run": True}, _ctx(store))
    assert reopened.accepted == 0 and len(reopened.documents) == 6
    from studio.ops.review import reopen

    reopen(store, first, "human:ben")
    spans = sorted(gold[first])
    view = document_view(store, first, "human:ben")
    reject(store, first, next(v.key for v in view.approved if (v.start, v.end, v.label) == spans[0]), "human:ben")
    complete(store, first, "human:ben")
    r = registry.run("adjudicate_agreed", {}, _ctx(store, "human:rev"))
    assert r.accepted == 5 and r.waiting == 1 and first not in r.documents
    for d in r.documents:
        assert {(s.start, s.end, s.label) for s in store.approved_spans(d)} == gold[d]
    assert store.approved_spans(first) == []
    # the reviewer takes ana's version span by span: `why` shows the versions and the decision
    d = adj.settle(store, "human:rev", first, sorted(gold[first]))
    assert d.payload["method"] == "take:ana"
    from studio.ops.release.lineage import render, why

    chains = why(store, first)
    text = render(chains)
    assert "approved: document.adjudicate by human:rev" in text and "(take:ana)" in text
    assert "version ana:" in text and "version ben:" in text
    # undo of the adjudication takes the labels back and reopens the proposals
    store.undo(d.id or 0, "human:rev")
    assert store.approved_spans(first) == [] and adj.queue(store) == [first]
    with pytest.raises(Exception, match="not adjudicated yet"):
        why(store, first)


def test_the_guideline_learns_from_disagreement(store: Store) -> None:
    gold = team_sim.setup(store, n_docs=12)
    team_sim.assign(store, "ana,ben", overlap=2)
    team_sim.annotate(store, "ana", 0.0, gold)
    team_sim.annotate(store, "ben", 0.5, gold, seed=3)
    before = store.approved_guideline()
    r = registry.run("guideline_from_disagreement", {"top": 3}, _ctx(store))
    assert r.version == 2 and r.parent == 1 and len(r.edge_cases) == 3
    assert all("decide the rule" in e for e in r.edge_cases)  # nothing settled yet: open questions
    g, status, _ = store.guideline(2)
    assert status == "draft" and g.edge_cases[-3:] == r.edge_cases
    assert store.approved_guideline() == before  # nothing changes until a person approves it
    assert store.decisions(action="guideline.propose")[-1].actor == "tool"
    # once a reviewer settles the documents (following the gold), the edge cases state the answer
    for d in adj.queue(store):
        adj.settle(store, "human:rev", d, sorted(gold[d]))
    r2 = registry.run("guideline_from_disagreement", {"top": 3}, _ctx(store))
    assert r2.version == 3 and not any("decide the rule" in e for e in r2.edge_cases)
    assert any(" is " in e or e.startswith("Label ") for e in r2.edge_cases)
    store.decide_guideline(3, "human:lead", "approve")
    assert store.approved_guideline()[0].edge_cases[-3:] == r2.edge_cases


def test_classification_and_box_fix_kappa_match_scikit_learn(store: Store) -> None:
    from studio.schema import Guideline, LabelDef, Proposal, Span

    g = Guideline(goal="ticket topics", task_type="classification",
                  labels=[LabelDef(name=n) for n in ("BILLING", "OUTAGE", "LOGIN")])  # fmt: skip
    store.decide_guideline(store.add_guideline(g, "agent"), "human:lead", "approve")
    texts = [f"TICKET {i}: customer writes about case {i}" for i in range(8)]
    ids = [d for d, _ in store.add_documents([Document(text=t) for t in texts])]
    fixes = store.add_proposals(
        [Proposal(kind="box_fix", document_id=d, payload={"check": "iou", "fix": {"drop": 1}}) for d in ids]
    )
    registry.run("assign", {"annotators": "ana,ben", "overlap": 2}, _ctx(store))
    ana = ["BILLING", "BILLING", "OUTAGE", "LOGIN", "OUTAGE", "BILLING", "LOGIN", "LOGIN"]
    ben = ["BILLING", "OUTAGE", "OUTAGE", "LOGIN", "OUTAGE", "BILLING", "BILLING", "LOGIN"]
    ana_fix = ["accept", "accept", "reject", "accept", "reject", "accept", "accept", "reject"]
    ben_fix = ["accept", "reject", "reject", "accept", "accept", "accept", "accept", "reject"]
    for name, classes, verdicts in (("ana", ana, ana_fix), ("ben", ben, ben_fix)):
        for d, text, cls, fix, verdict in zip(ids, texts, classes, fixes, verdicts, strict=True):
            span = Span(start=0, end=len(text), label=cls, text=text).model_dump()
            store.record(f"human:{name}", "label.add", [], {"document_id": d, "span": span})
            store.decide(fix, f"human:{name}", verdict)
            store.record(f"human:{name}", "document.complete", [], {"document_id": d})
    r = registry.run("agreement", {}, _ctx(store))
    assert r.task == "classification" and r.documents == 8
    assert r.classification["pairs"]["ana+ben"]["kappa"] == pytest.approx(cohen_kappa_score(ana, ben), abs=1e-4)
    assert r.box_fixes["pairs"]["ana+ben"]["kappa"] == pytest.approx(cohen_kappa_score(ana_fix, ben_fix), abs=1e-4)
    units = list(zip(ana, ben, strict=True))
    assert r.classification["alpha"] == pytest.approx(metrics.krippendorff_alpha(units), abs=1e-4)
    assert store.proposals(kind="box_fix", status="pending") and not store.approved_spans(ids[0])
