"""Learned source weights, checked by hand on one complete document, and `studio sources`."""

from __future__ import annotations

import json
import math

import pytest

from studio.ops.ner.combine import combine_spans
from studio.ops.ner.weights import estimate_weights
from studio.schema import Document, Proposal, Span
from studio.store import Store
from tests.conftest import run_cli
from tests.ner_helpers import complete_like_gold, news_project

TEXT = "Amara Balogun met Meridex Steel in Ardenport."


def _span(sub: str, label: str) -> dict:
    s = TEXT.index(sub)
    return Span(start=s, end=s + len(sub), label=label, text=sub).model_dump()


@pytest.fixture
def decided(store: Store) -> Store:
    """One weak-labeled document the person finished: two right proposals, one wrong label, one missed span."""
    news_project(store)
    doc_id, _ = store.add_document(Document(text=TEXT))
    ran = ["gazetteer", "llm"]
    store.add_proposals([
        Proposal(kind="span", document_id=doc_id, source="llm:ner.v2", confidence=0.9,
                 payload={"span": _span("Amara Balogun", "PER"), "sources": {"gazetteer": 0.67, "llm": 1.0}, "ran": ran}),
        Proposal(kind="span", document_id=doc_id, source="llm:ner.v2", confidence=0.8,
                 payload={"span": _span("Meridex Steel", "ORG"), "sources": {"llm": 1.0}, "ran": ran}),
        Proposal(kind="span", document_id=doc_id, source="llm:ner.v2", confidence=0.8,
                 payload={"span": _span("Ardenport", "ORG"), "sources": {"llm": 1.0}, "ran": ran}),
    ])  # fmt: skip
    gold = [_span("Amara Balogun", "PER"), _span("Meridex Steel", "ORG"), _span("Ardenport", "LOC")]
    complete_like_gold(store, doc_id, gold)  # accepts 2, rejects ORG Ardenport, adds LOC Ardenport
    return store


def test_counts_rates_and_confidence_by_hand(decided: Store) -> None:
    w = estimate_weights(decided, gazetteer=False)  # the stored votes (the gazetteer's held-out ones: below)
    assert w.documents == 1 and w.candidates == 4  # PER, ORG Meridex, ORG Ardenport (false), LOC Ardenport
    llm_org = w.stats["llm|ORG"]
    assert (llm_org.tp, llm_org.fp, llm_org.fn, llm_org.tn) == (1, 1, 0, 0)
    llm_loc = w.stats["llm|LOC"]
    assert (llm_loc.tp, llm_loc.fn) == (0, 1)  # the person's added span: the LLM missed it
    gaz_org = w.stats["gazetteer|ORG"]
    assert (gaz_org.tp, gaz_org.fp, gaz_org.fn, gaz_org.tn) == (0, 0, 1, 1)
    # rates, prior accuracy a = 0.8 for llm, r0 = 0.7, f0 = 0.7 * 0.2 / 0.8 = 0.175, k = 4:
    # P(yes|true) = (1 + 2.8) / (1 + 4) = 0.76;  P(yes|false) = (1 + 0.7) / (1 + 4) = 0.34
    t, f = llm_org.rates()
    assert t == pytest.approx(0.76) and f == pytest.approx(0.34)
    yes, no = llm_org.log_lr()
    assert yes == pytest.approx(math.log(0.76 / 0.34)) and no == pytest.approx(math.log(0.24 / 0.66))
    # one document: nothing to cross-validate, so the default back-off m = 8 and threshold 0.5
    assert (w.label_strength, w.threshold) == (8.0, 0.5)
    # the weights decide among spans some source proposed (LOC Ardenport was not: a miss, not a trial):
    # base rates backed off toward all labels' (2 + 1) / (3 + 2) = 0.6: PER (1 + 8 * 0.6) / 9, ORG (1 + 4.8) / 10
    assert w.base_rates["PER"] == pytest.approx(5.8 / 9) and w.base_rates["ORG"] == pytest.approx(0.58)
    # the LLM over all labels: tp 2, fp 1, fn 0 among proposed spans -> (2 + 2.8) / (2 + 4) = 0.8,
    # (1 + 0.7) / (1 + 4) = 0.34; ORG backed off toward them: (1 + 8 * 0.8) / 9, (1 + 8 * 0.34) / 9
    t, f = w.rates("llm", "ORG")
    assert t == pytest.approx(7.4 / 9) and f == pytest.approx(3.72 / 9)
    # a new ORG span the LLM is sure of, the gazetteer silent (it abstains: it has seen 3 true spans, fewer than 5):
    # naive Bayes logit(0.58) + ln(7.4 / 3.72) = 0.32277 + 0.68776 -> 0.7331
    assert w.log_odds("ORG", {"llm": 1.0})[0] == pytest.approx(1.01053, abs=1e-4)
    # the record of that vote pattern (the LLM alone said yes; on Amara Balogun the gazetteer said yes too): the two
    # ORG candidates, 1 right, naive-Bayes confidence 0.7331 each; the share right smoothed toward it with 8
    # pseudo-trials: (1 + 8 * 0.7331) / 10 = 0.68648, the confidence of such a candidate now
    assert w.patterns["llm=1"][:2] == (2, 1) and w.patterns["llm=1"][2] == pytest.approx(2 * 0.7331, abs=1e-4)
    conf, by = w.confidence("ORG", {"llm": 1.0})
    assert conf == pytest.approx(0.6865, abs=1e-4) and by == "llm"
    res = combine_spans("Quellon Bank", [[Span(start=0, end=12, label="ORG", text="Quellon Bank")]], {"gazetteer": []},
                        weights=w)  # fmt: skip
    assert res.spans[0].confidence == pytest.approx(conf, abs=1e-6)
    # both sources said PER for Amara Balogun: overlap; no source proposed a competing span there
    per = w.stats["llm|PER"].row()
    assert per["overlap"] == 1.0 and per["conflict"] == 0.0 and per["coverage"] == 1.0
    # stored confidences 0.9 (right), 0.8 (right), 0.8 (wrong): ECE = 1/3 * 0.1 + 2/3 * |0.5 - 0.8| = 0.2333
    assert w.ece == pytest.approx(0.1 / 3 + 2 / 3 * 0.3, abs=1e-4)
    # by default the gazetteer's votes are those of today's gazetteer less this document's decisions: it knows only
    # the guideline's examples and finds nothing here (its stored yes on Amara Balogun is not counted)
    gaz = estimate_weights(decided).pooled("gazetteer")
    assert (gaz.tp, gaz.fp, gaz.fn, gaz.tn) == (0, 0, 3, 1)


def test_no_data_means_prior_weights(store: Store) -> None:
    w = estimate_weights(store)
    assert w.documents == 0 and w.ece is None
    conf, _ = w.confidence("PER", {"llm": 1.0})
    assert conf == pytest.approx(0.8)  # a sure yes from a source of prior accuracy 0.8 at base rate 0.5


def test_with_nothing_reviewed_a_span_the_llm_did_not_find_can_still_be_proposed(store: Store) -> None:
    """Before any document is complete the LLM's silence is not evidence against another source's span: the prior
    weights let the pretrained pipeline's span through (the fixed priors let the LLM veto it)."""
    from studio.ops.ner.label import labeling_weights

    news_project(store)
    w = labeling_weights(store, None)
    assert w is not None and w.documents == 0
    llm = [Span(**_span("Amara Balogun", "PER"))]
    pretrained = {"spacy:en_core_web_sm": [(Span(**_span("Ardenport", "LOC")), 0.7)]}
    got = {z.span.text: z.confidence for z in combine_spans(TEXT, [llm], pretrained, weights=w).spans}
    assert got["Amara Balogun"] >= w.threshold and got["Ardenport"] >= w.threshold
    fixed = {z.span.text: z.confidence for z in combine_spans(TEXT, [llm], pretrained).spans}
    assert fixed["Ardenport"] < 0.5  # what the fixed priors did


def test_studio_sources_cli(decided: Store) -> None:
    code, out, err = run_cli("--project", str(decided.root), "sources", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["documents"] == 1 and {(r["source"], r["label"]) for r in res["sources"]} >= {
        ("llm", "ORG"),
        ("gazetteer", "PER"),
    }
    row = next(r for r in res["sources"] if (r["source"], r["label"]) == ("llm", "ORG"))
    assert row["precision"] == 0.5 and row["recall"] == 1.0
    code, out, err = run_cli("--project", str(decided.root), "sources")
    assert code == 0 and "ECE" in out and "llm" in out


LABELS = ["PER", "ORG", "LOC", "MISC"]


def _finished(n: int = 10) -> list:
    """n finished documents: a precise, complete student; a gazetteer with one right and (in 3) one wrong span;
    an LLM that finds the person and invents a MISC."""
    from studio.ops.ner.weights import DocTrials

    out = []
    for i in range(n):
        gold = {(0, 5, "PER"), (10, 17, "ORG"), (20, 27, "LOC")}
        votes = {k: {"student:s": 1.0} for k in gold}
        votes[(0, 5, "PER")] |= {"llm": 1.0, "gazetteer": 0.67}
        votes[(40, 45, "MISC")] = {"llm": 1.0}
        if i < 3:
            votes[(30, 35, "ORG")] = {"gazetteer": 0.67} | ({"student:s": 1.0} if i == 0 else {})
        out.append(DocTrials(votes=votes, ran={"student:s", "gazetteer", "llm"}, gold=gold))
    return out


def test_combination_is_not_below_its_best_source_on_the_finished_documents() -> None:
    from studio.ops.ner.evaluate import Counts
    from studio.ops.ner.weights import _tally, weights_from

    docs = _finished()
    w = weights_from(docs)
    trials = _tally(docs).trials
    assert w.label_strength in (0.5, 2.0, 8.0, 32.0) and w.threshold in (0.1, 0.2, 0.3, 0.4, 0.5)

    def f1(decide) -> float:  # type: ignore[no-untyped-def]
        c = Counts(
            tp=sum(decide(lab, v) and t for lab, v, t in trials),
            fp=sum(decide(lab, v) and not t for lab, v, t in trials),
            fn=sum(t and not decide(lab, v) for lab, v, t in trials),
        )
        return c.f1

    combined = f1(lambda lab, v: any(v.values()) and w.decides(lab, v))
    alone = {name: f1(lambda lab, v, name=name: v[name] >= 0.5) for name in ("student:s", "gazetteer", "llm")}
    assert alone == pytest.approx({"student:s": 60 / 61, "gazetteer": 20 / 43, "llm": 0.4})
    assert combined >= max(alone.values())


def test_cascade_asks_the_llm_only_where_its_answer_could_change_a_proposal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from studio.ops.ner.label import cascade_skips
    from studio.ops.ner.sources import StudentSource
    from studio.ops.ner.weights import weights_from
    from tests.ner_helpers import write_card

    w = weights_from(_finished())
    per, org = Span(start=0, end=5, label="PER", text="Amara"), Span(start=30, end=35, label="ORG", text="Nexo")
    sure = {"student:s": [(per, 0.9)], "gazetteer": []}
    wrong = {"student:s": [], "gazetteer": [(org, 0.67)]}
    # with the LLM's record (right on PER, an invented MISC in every document): no answer of it could lift a span
    # the student missed over the threshold, nor sink the student's PER, nor save the gazetteer's ORG
    assert not w.llm_can_change(sure, LABELS) and not w.llm_can_change(wrong, LABELS)
    assert w.confidence("PER", w.votes("PER", {"student:s": 0.0, "gazetteer": 0.0, "llm": 1.0}))[0] < w.threshold
    # before any record the LLM's prior makes a span only it finds a proposal: it is always asked
    assert weights_from([]).llm_can_change(sure, LABELS)
    write_card(tmp_path / "s", labels=LABELS, language="en", scores={"recall": 0.5, "per_label": {}})
    student = StudentSource(tmp_path / "s")
    assert cascade_skips(w, student, [sure, wrong], LABELS) == {0, 1}
    assert cascade_skips(weights_from([]), student, [sure, wrong], LABELS) == set()
    # without learned weights the student's own held-out scores decide (recall 0.5 < 0.9: never sure)
    assert cascade_skips(None, student, [sure, wrong], LABELS) == set()


def test_student_heldout_votes_count_where_it_did_not_vote(decided: Store) -> None:
    from studio.ops.ner.sources import StudentSource
    from tests.ner_helpers import write_card

    doc_id = decided.conn.execute("SELECT MAX(id) FROM documents").fetchone()[0]
    per, loc, org = _span("Amara Balogun", "PER"), _span("Ardenport", "LOC"), _span("Meridex Steel", "ORG")
    heldout = {str(doc_id): [[per["start"], per["end"], "PER"], [loc["start"], loc["end"], "LOC"]]}
    write_card(decided.root / "models" / "student", labels=LABELS, language="en", heldout_from="cv5", heldout=heldout,
               heldout_scores={"per_label": {"PER": {"tp": 3, "fp": 1}}}, scores={"per_label": {}})  # fmt: skip
    student = StudentSource(decided.root / "models" / "student")
    assert student.prob("PER") == pytest.approx(4 / 6)  # (tp + 1) / (tp + fp + 2) of the held-out votes
    assert student.prob("ORG") == 0.5  # nothing known
    w = estimate_weights(decided, student=student)
    st = w.stats["student:student|PER"]
    assert (st.tp, st.fp, st.fn) == (1, 0, 0)
    assert (w.stats["student:student|LOC"].tp, w.stats["student:student|ORG"].fn) == (1, 1)
    assert org["label"] == "ORG" and "student:student|PER" not in estimate_weights(decided).stats
