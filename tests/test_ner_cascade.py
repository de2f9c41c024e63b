"""The cascade: once a student exists, documents it is sure of skip the LLM; the LLM is asked where the student
is unsure or another source disagrees. Real store, real spaCy student trained on tiny data, the LLM an
OpenAI-compatible stub server answering what a careful model would (the gold entities)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from studio.llm import open_llm
from studio.ops import registry
from studio.ops.ner.label import (
    CASCADE_BOUND,
    LabelSettings,
    _predict_weak,
    cascade_gain,
    cascade_skips,
    label_documents,
    labeling_weights,
)
from studio.ops.ner.sources import Gazetteer, StudentSource, newest_student
from studio.schema import Span
from studio.store import Store
from tests.ner_helpers import add_docs, complete_like_gold, news_project, write_card
from tests.openai_stub import OpenAIStub

PER = ["Amara Okafor", "Lena Berg", "Tomas Reyes", "Ivo Marin", "Sara Lund", "Nadia Kerr"]
LOC = ["Lisbon", "Oslo", "Nairobi", "Quito", "Hanoi"]


def _doc(parts: list[tuple[str, str | None]]) -> dict[str, Any]:
    text, spans = "", []
    for part, label in parts:
        if label:
            spans.append({"start": len(text), "end": len(text) + len(part), "label": label, "text": part})
        text += part
    return {"text": text, "spans": spans}


def _met(i: int) -> dict[str, Any]:
    a, b = PER[i % 6], PER[(i + 1 + i // 6) % 6]
    b = PER[(i + 2) % 6] if b == a else b
    return _doc([(a, "PER"), (" met ", None), (b, "PER"), (" in ", None), (LOC[i % 5], "LOC"), (".", None)])


ORGS = ["Halcyra Insurance", "Meridex Steel", "Trelawny Holdings", "Zephyra Bank", "Oakhurst Mills", "Brixholm Foods"]
# the LLM's record also holds names only it found: a company the student (a different sentence) and the
# gazetteer (each name once) miss, so the learned weights let a span only the LLM proposes through
# each in a sentence of its own: from one frame for all ("Shares of X fell sharply") the student learned to find
# every company, and the LLM's votes changed nothing
FRAMES = [
    ("Shares of ", " fell sharply"),
    ("analysts expect ", " to cut jobs"),
    ("a deal with ", " is near"),
    ("the union says ", " must pay more"),
    ("regulators fined ", " on friday"),
    ("why ", " matters now"),
]
TRAIN = [_met(i) for i in range(30)] + [
    _doc([(a, None), (org, "ORG"), (b, None)]) for org, (a, b) in zip(ORGS, FRAMES, strict=True)
]
# a sentence like those the student learned from, and one unlike them where the gazetteer finds a place the
# student does not (a disagreement) and the student hesitates
SURE = _doc([("Lena Berg", "PER"), (" met ", None), ("Ivo Marin", "PER"), (" in ", None), ("Oslo", "LOC"), (".", None)])
ODD = _doc([("Yesterday the weather around ", None), ("Hanoi", "LOC"), (" and ", None), ("Sara Lund", "PER"),
            (" was odd", None)])  # fmt: skip
GOLD = {d["text"]: d["spans"] for d in [*TRAIN, SURE, ODD]}


def _answer(req: dict[str, Any]) -> str:
    """The gold entities of the document the prompt asks about (the model's answer on the chunk)."""
    content = req["messages"][-1]["content"]
    for text, spans in GOLD.items():
        if text in content:
            return json.dumps({"entities": [{"text": s["text"], "label": s["label"]} for s in spans]})
    return '{"entities": []}'


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """30 documents the LLM (and the gazetteer) proposed on and a person completed, and a student trained on
    them: the LLM has a record (right on every span), the student held-out doubts."""
    store = Store.init(tmp_path_factory.mktemp("cascade") / "proj")
    news_project(store)
    with OpenAIStub(respond=_answer) as stub:
        llm = open_llm(store, f"{stub.url}#stub", use_cache=False)
        ids = add_docs(store, TRAIN)
        label_documents(store, llm, ids, settings=LabelSettings(few_shot=0, student=False))
    for i, d in zip(ids, TRAIN, strict=True):
        complete_like_gold(store, i, d["spans"])
    registry.run("train", {"base": "blank", "max_epochs": 10, "patience": 3, "cv_folds": 2},
                 registry.OpContext(store=store))  # fmt: skip
    yield store
    store.close()


def _weak(store: Store, texts: list[str]) -> tuple[StudentSource, list[dict[str, list[tuple[Span, float]]]]]:
    student = newest_student(store.root)
    assert student is not None
    approved = store.approved_guideline()
    assert approved is not None
    return student, _predict_weak([Gazetteer.build(approved[0], store), student], texts)


def test_the_student_card_keeps_its_held_out_doubt_and_errors(project: Store) -> None:
    card = json.loads((project.root / "models/student/card.json").read_text())
    assert set(card["heldout_doubt"]) == set(card["heldout"]) == {str(i) for i in card["document_ids"]}
    assert all(x >= 0 and isinstance(e, int) and e >= 0 for x, e in card["heldout_doubt"].values())
    assert "heldout_doubt" not in project.decisions(action="train.run")[-1].payload  # ids stay out of the log
    student, weak = _weak(project, [SURE["text"], ODD["text"]])
    doubts = student.doubts([SURE["text"], ODD["text"]], [w[student.name] for w in weak])
    assert doubts == student.doubts([SURE["text"], ODD["text"]], [w[student.name] for w in weak])  # deterministic
    assert 0 <= doubts[0] < doubts[1]  # the sentence unlike its training data is the one it doubts
    scores = student.scores_many([SURE["text"]])[0]
    assert all(0 <= p <= 1 for p in scores.values())
    mine = {(s.start, s.end, s.label) for s, _ in weak[0][student.name]}
    assert mine and all(scores.get(k, 0) > 0.5 for k in mine)  # what it predicts, its beam mostly agrees with


def test_cascade_skips_the_sure_document_and_asks_about_the_disagreeing_one(project: Store) -> None:
    student, weak = _weak(project, [SURE["text"], ODD["text"]])
    weights = labeling_weights(project, student)
    labels = ["PER", "ORG", "LOC", "MISC"]
    assert weights is not None and weights.rates("llm", "PER")[0] > 0.9  # the LLM's record: right every time
    # the old rule alone skips nothing: a span only the LLM proposes would pass the threshold anywhere
    assert all(weights.llm_can_change(w, labels) for w in weak)
    assert cascade_skips(weights, student, weak, labels) == set()
    errors = [student.expected_errors(x) for x in student.doubts([SURE["text"], ODD["text"]],
                                                                 [w[student.name] for w in weak])]  # fmt: skip
    gains = [cascade_gain(weights, w, e, labels) for w, e in zip(weak, errors, strict=True)]
    assert gains[0] < CASCADE_BOUND <= gains[1]
    with OpenAIStub(respond=_answer) as stub:
        llm = open_llm(project, f"{stub.url}#stub", use_cache=False)
        ids = add_docs(project, [SURE, ODD])
        report = label_documents(project, llm, ids, settings=LabelSettings(few_shot=0))  # on by default
        assert report.llm_skipped == 1 and len(stub.hits) == 1  # asked once: about the odd sentence only
        assert ODD["text"] in stub.hits[0]["messages"][-1]["content"]
    sure = project.proposals(kind="span", document_id=ids[0])
    odd = project.proposals(kind="span", document_id=ids[1])
    assert {(p.payload["span"]["text"], p.payload["span"]["label"]) for p in sure} == {
        (s["text"], s["label"]) for s in SURE["spans"]
    }  # the student and the gazetteer alone propose the right spans
    assert all("llm" not in p.payload["ran"] and "llm" not in p.payload["sources"] for p in sure)
    assert all("llm" in p.payload["ran"] for p in odd)
    assert ("Hanoi", "LOC") in {(p.payload["span"]["text"], p.payload["span"]["label"]) for p in odd}
    run = project.decisions(action="weak_label.run")[-1].payload
    assert run["llm_skipped"] == 1 and 0 < run["cascade_scale"] <= 1
    assert run["settings"]["cascade"] is True and run["settings"]["cascade_bound"] == "auto"  # chosen from evidence
    assert run["cascade_bound"] == run["cascade_bound_evidence"]["bound"]


def test_without_the_skip_rule_or_the_cascade_the_llm_is_asked_about_every_document(project: Store) -> None:
    with OpenAIStub(respond=_answer) as stub:
        llm = open_llm(project, f"{stub.url}#stub", use_cache=False)
        ids = add_docs(project, [SURE, ODD])
        report = label_documents(project, llm, ids, settings=LabelSettings(few_shot=0, cascade_bound=0))
        assert report.llm_skipped == 0 and len(stub.hits) == 2
        run = project.decisions(action="weak_label.run")[-1].payload
        assert run["settings"]["cascade_bound"] == 0 == run["cascade_bound"]  # given: no evidence looked at
        assert "cascade_bound_evidence" not in run
        off = label_documents(
            project, llm, add_docs(project, [SURE]), settings=LabelSettings(few_shot=0, cascade=False)
        )
        assert off.llm_skipped == 0 and len(stub.hits) == 3 and off.cascade_scale is None
    settings = project.decisions(action="weak_label.run")[-1].payload["settings"]
    assert "cascade" not in settings and "cascade_bound" not in settings  # as runs looked before the cascade


def test_the_gain_counts_disagreements_and_the_students_expected_errors(project: Store) -> None:
    student, weak = _weak(project, [SURE["text"], ODD["text"]])
    weights = labeling_weights(project, student)
    assert weights is not None
    labels = ["PER", "ORG", "LOC", "MISC"]
    sure, odd = weak
    assert cascade_gain(weights, sure, 0.0, labels) < CASCADE_BOUND / 5  # all sources agree: the LLM tips little
    assert cascade_gain(weights, odd, 0.0, labels) > CASCADE_BOUND  # the gazetteer's Hanoi, the student silent
    # each expected error of the student is worth what the LLM makes of a span only it finds
    one, two = cascade_gain(weights, sure, 1.0, labels), cascade_gain(weights, sure, 2.0, labels)
    assert 0 < one < two and two - one == pytest.approx(one - cascade_gain(weights, sure, 0.0, labels))
    # an LLM whose spans alone stay under the threshold gains nothing from the student's errors
    t = weights.threshold
    assert any(weights.decides(lab, {n: 0.0 for n in sure} | {"llm": 1.0}) for lab in labels)
    weights.threshold = 0.999
    try:
        assert cascade_gain(weights, sure, 5.0, labels) == cascade_gain(weights, sure, 0.0, labels)
    finally:
        weights.threshold = t


def test_expected_errors_from_the_held_out_doubts_and_an_old_card_without_them(tmp_path: Path) -> None:
    def student(pairs: dict[str, list[float]] | None) -> StudentSource:
        folder = tmp_path / f"s{len(list(tmp_path.iterdir()))}"
        card = {"labels": ["PER"], "language": "en", "scores": {"recall": 0.99, "per_label": {}}}
        write_card(folder, **card, **({"heldout_doubt": pairs} if pairs is not None else {}))
        return StudentSource(folder)

    # isotonic: (0.02, 1) and (0.03, 0) violate the order and pool into a block of 2 documents with 1 error
    s = student({"1": [0.02, 1], "2": [0.01, 0], "3": [0.03, 0], "4": [1.0, 2], "5": [2.5, 5]})
    assert s.error_blocks() == [(0.01, 0.0, 1), (0.03, 1.0, 2), (1.0, 2.0, 1), (2.5, 5.0, 1)]
    mean = 8 / 5  # one pseudo-document at the mean errors of all held-out documents
    assert s.expected_errors(0.0) == pytest.approx(mean / 2)  # one error-free document promises little
    assert s.expected_errors(0.02) == s.expected_errors(0.03) == pytest.approx((1 + mean) / 3)
    assert s.expected_errors(0.5) == pytest.approx((2 + mean) / 2)
    assert s.expected_errors(9.0) == pytest.approx((5 + mean) / 2)  # beyond them: the last block
    assert s.expected_errors(0.0) < s.expected_errors(0.5) < s.expected_errors(9.0)
    flat = student({"1": [0.0, 2], "2": [1.0, 1], "3": [2.0, 0]})  # more doubt, fewer errors: one block
    assert flat.error_blocks() == [(2.0, 3.0, 3)] and flat.expected_errors(0.0) == pytest.approx(1.0)
    old = student(None)  # no held-out doubts: never trusted to skip
    assert old.error_blocks() is None and math.isinf(old.expected_errors(0.0))


def test_the_gain_is_scaled_by_what_the_llm_kept_on_finished_documents(project: Store) -> None:
    from studio.ops.ner.label import cascade_evidence, cascade_scale, realized_gain, weak_of
    from studio.ops.ner.weights import DocTrials

    student = newest_student(project.root)
    assert student is not None
    weights = labeling_weights(project, student)
    assert weights is not None
    labels = ["PER", "ORG", "LOC", "MISC"]
    t = weights.threshold
    me = student.name
    ran = {me, "gazetteer", "llm"}
    found, invented = (0, 5, "ORG"), (10, 15, "ORG")  # a company only the LLM found; one it made up
    both = (20, 25, "LOC")  # a place every source found
    votes = {found: {"llm": 1.0}, invented: {"llm": 1.0}, both: {me: 0.9, "gazetteer": 0.8, "llm": 1.0}}
    assert weights.decides("ORG", {me: 0.0, "gazetteer": 0.0, "llm": 1.0})  # its record makes such spans proposals
    assert realized_gain(weights, votes, ran, {found, both}) == pytest.approx((1 - t) - t)
    assert realized_gain(weights, {both: votes[both]}, ran, {both}) == 0  # nothing it changed
    assert weak_of(votes, ran) == {me: [(Span(start=20, end=25, label="LOC"), 0.9)],
                                   "gazetteer": [(Span(start=20, end=25, label="LOC"), 0.8)]}  # fmt: skip
    # promised: its expected gain with the student expecting one error; kept: one right and one wrong proposal
    doc = DocTrials(votes=votes, ran=ran, gold={found, both})
    promised = cascade_gain(weights, weak_of(votes, ran), 1.0, labels)
    assert cascade_scale(weights, [(doc, 1.0)], labels) == pytest.approx(min(1.0, (1 - 2 * t + 1) / (promised + 1)))
    liar = DocTrials(votes=votes, ran=ran, gold={both})  # both of its own spans wrong: it kept nothing
    assert cascade_scale(weights, [(liar, 1.0)] * 20, labels) < 0.05
    assert cascade_scale(weights, [], labels) == 1.0  # no record: the promise as it is
    # the project's finished documents: the LLM voted on each, the student's card has their held-out doubt
    docs, errors = cascade_evidence(project, student)
    finished = [(d, e) for d, e in zip(docs, errors, strict=True) if e is not None]
    assert len(finished) == len(TRAIN) and all("llm" in d.ran and e >= 0 for d, e in finished)
    assert 0 < cascade_scale(weights, finished, labels) <= 1


def _changed(weights: Any, d: Any, llm: str = "llm") -> bool:
    """Did the LLM's votes change a decision on this finished document (a span proposed with them and not without,
    or the reverse)?"""
    silent = {name: 0.0 for name in d.ran}
    for key in set(d.votes) | d.gold:
        full = silent | d.votes.get(key, {})
        without = {n: p for n, p in full.items() if n != llm}
        if any(p > 0 for p in full.values()) and weights.decides(key[2], full) != (
            any(p > 0 for p in without.values()) and weights.decides(key[2], without)
        ):
            return True
    return False


def test_the_bound_from_evidence_skips_more_where_the_llm_never_changed_a_decision(project: Store) -> None:
    from studio.ops.ner.label import cascade_evidence, choose_cascade_bound
    from studio.ops.ner.weights import weights_from

    student = newest_student(project.root)
    assert student is not None
    labels = ["PER", "ORG", "LOC", "MISC"]
    docs, errors = cascade_evidence(project, student)
    weights = weights_from(docs)
    assert len(docs) == len(TRAIN) and all(e is not None for e in errors)
    changed = [_changed(weights, d) for d in docs]
    assert 0 < sum(changed) < len(docs) - 10  # the LLM's right votes changed decisions on some documents, not on most
    every = choose_cascade_bound(docs, errors, labels, weights)
    # the same project, its evidence only the documents where the LLM's votes changed no decision (the others still
    # fit the weights): nothing to lose by skipping it
    quiet = choose_cascade_bound(
        docs, [None if c else e for c, e in zip(changed, errors, strict=True)], labels, weights
    )
    assert quiet.documents == len(docs) - sum(changed) and every.documents == len(docs)
    skipped = {b: n for b, n, _, _ in every.rows}
    skipped_quiet = {b: n for b, n, _, _ in quiet.rows}
    # never changed a decision: nothing lost at any bound, and the bound is where every one of them skips
    assert quiet.chosen_from == "evidence" and all(loss <= quiet.tolerance + 1e-9 for *_, loss in quiet.rows)
    assert skipped_quiet[quiet.bound] == quiet.documents
    # with the documents where its votes made right proposals: skipping them too costs F1, so they are still asked
    assert all(loss > every.tolerance for _, n, _, loss in every.rows if n == every.documents)
    assert every.chosen_from == "evidence" and skipped[every.bound] < every.documents
    assert every.bound <= quiet.bound
    gains = [cascade_gain(weights, w, e, labels) for w, e in zip(_weak(project, [SURE["text"], ODD["text"]])[1],
             [1.0, 1.0], strict=True)]  # fmt: skip
    assert sum(g < quiet.bound for g in gains) >= sum(g < every.bound for g in gains)


def test_too_few_finished_documents_the_llm_labelled_fall_back_to_the_fixed_bound(project: Store) -> None:
    from studio.ops.ner.label import CASCADE_MIN_DOCS, cascade_evidence, choose_cascade_bound
    from studio.ops.ner.weights import weights_from

    student = newest_student(project.root)
    assert student is not None
    docs, errors = cascade_evidence(project, student)
    weights = weights_from(docs)
    few = [e if i < CASCADE_MIN_DOCS - 1 else None for i, e in enumerate(errors)]
    choice = choose_cascade_bound(docs, few, ["PER", "ORG", "LOC", "MISC"], weights)
    assert (choice.bound, choice.chosen_from, choice.documents) == (CASCADE_BOUND, "fixed", CASCADE_MIN_DOCS - 1)
    assert choice.rows == [] and choice.logged() == {"bound": CASCADE_BOUND, "chosen_from": "fixed",
                                                     "documents": CASCADE_MIN_DOCS - 1}  # fmt: skip
    # a student card without held-out doubts gives no evidence either
    docs_no_llm = [d.model_copy(update={"ran": d.ran - {"llm"}}) for d in docs]
    assert choose_cascade_bound(docs_no_llm, errors, ["PER"], weights).chosen_from == "fixed"


def test_the_chosen_bound_is_logged_and_a_replay_chooses_it_again(project: Store) -> None:
    from studio.ops.ner.label import cascade_evidence, choose_cascade_bound
    from studio.ops.ner.weights import weights_from

    runs = []
    for _ in range(2):  # the same project labeled twice: the same evidence, the same bound (nothing time-based)
        with OpenAIStub(respond=_answer) as stub:
            llm = open_llm(project, f"{stub.url}#stub", use_cache=False)
            report = label_documents(project, llm, add_docs(project, [SURE, ODD]), settings=LabelSettings(few_shot=0))
        runs.append(project.decisions(action="weak_label.run")[-1].payload)
        assert report.cascade_bound == runs[-1]["cascade_bound"]
    assert runs[0]["cascade_bound_evidence"] == runs[1]["cascade_bound_evidence"]
    logged = runs[0]["cascade_bound_evidence"]
    assert logged["documents"] == len(TRAIN) and len(logged["rows"]) == 10
    student = newest_student(project.root)
    assert student is not None
    docs, errors = cascade_evidence(project, student)
    again = choose_cascade_bound(docs, errors, ["PER", "ORG", "LOC", "MISC"], weights_from(docs))
    assert again.logged() == logged and again.bound == runs[0]["cascade_bound"]
