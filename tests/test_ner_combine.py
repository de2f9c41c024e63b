"""Combining weak sources into one confidence, estimating accuracies, calibration."""

from __future__ import annotations

import pytest

from studio.errors import StudioError
from studio.ops.ner.align import align_mentions
from studio.ops.ner.combine import (
    accuracies_from_store,
    combine_spans,
    estimate_accuracies,
    fit_calibrator,
    prior_accuracy,
    reliability,
)
from studio.ops.ner.parse import Mention
from studio.schema import Document, Proposal, Span
from studio.store import Store

TEXT = "Apple Music launched while Google watched Paris."
A = Span(start=27, end=33, label="ORG", text="Google")
B = Span(start=0, end=11, label="PRODUCT", text="Apple Music")
C = Span(start=0, end=5, label="ORG", text="Apple")
D = Span(start=42, end=47, label="LOC", text="Paris")


def by_text(result) -> dict[str, tuple[float, dict[str, float]]]:
    return {z.span.text: (round(z.confidence, 4), z.sources) for z in result.spans}


def test_one_source_saying_yes_gets_its_accuracy() -> None:
    r = combine_spans(TEXT, [[A]], llm_name="llm:ner.v1")
    assert by_text(r) == {"Google": (0.8, {"llm:ner.v1": 1.0})}
    assert r.spans[0].main_source == "llm:ner.v1"


def test_self_consistency_and_gazetteer_hand_computed() -> None:
    # k = 5 samples: A in all 5, B in 3, C in 1; the gazetteer says A and D (p = 2/3 each).
    samples = [[A, B], [A, B], [A, B, C], [A], [A]]
    weak = {"gazetteer": [(A, 2 / 3), (D, 2 / 3)]}
    r = combine_spans(TEXT, samples, weak, resolve_overlaps=False)
    got = by_text(r)
    # A: logit(.8) * (2*1 - 1) + logit(.7) * (2*(2/3) - 1) = 1.3863 + 0.2824 = 1.6687 -> 0.8414
    assert got["Google"] == (0.8414, {"gazetteer": pytest.approx(2 / 3), "llm": 1.0})
    # B: logit(.8) * (2*0.6 - 1) = 0.2773 -> 0.5689
    assert got["Apple Music"] == (0.5689, {"llm": 0.6})
    # C: logit(.8) * (2*0.2 - 1) = -0.8318 -> 0.3033
    assert got["Apple"][0] == 0.3033
    # D: the LLM votes no (share 0): -1.3863 + 0.2824 = -1.1039 -> 0.2490
    assert got["Paris"] == (0.249, {"gazetteer": pytest.approx(2 / 3), "llm": 0.0})
    # overlaps: B (0.5689) beats C (0.3033)
    r = combine_spans(TEXT, samples, weak)
    assert [z.span.text for z in r.spans] == ["Apple Music", "Google", "Paris"]
    assert [z.span.text for z in r.overlapping] == ["Apple"]


def test_accuracies_change_the_weights() -> None:
    # a source at chance has no weight; a gazetteer alone gets base rate + its vote
    r = combine_spans(TEXT, [], {"gazetteer": [(A, 1.0)]}, accuracies={"gazetteer": 0.5})
    assert by_text(r)["Google"][0] == 0.5
    r = combine_spans(TEXT, [], {"gazetteer": [(A, 1.0)]}, accuracies={"gazetteer": 0.9})
    assert by_text(r)["Google"][0] == 0.9
    # aligned spans are accepted as LLM samples directly
    aligned = align_mentions(TEXT, [Mention(text="Google", label="ORG")]).spans
    assert by_text(combine_spans(TEXT, [aligned]))["Google"][0] == 0.8


def test_prior_by_longest_prefix() -> None:
    assert prior_accuracy("llm:ner.v1") == 0.8
    assert prior_accuracy("spacy:en_core_web_sm") == 0.65
    assert prior_accuracy("something-else") == 0.6
    assert prior_accuracy("llm:big", {"llm": 0.8, "llm:big": 0.9}) == 0.9


def test_estimate_accuracies_needs_enough_decisions(store: Store) -> None:
    doc, _ = store.add_document(Document(text="Apple Apple Apple"))

    def prop(sources: dict[str, float]) -> Proposal:
        span = {"start": 0, "end": 5, "label": "ORG", "text": "Apple"}
        return Proposal(kind="span", document_id=doc, payload={"span": span, "sources": sources}, confidence=0.8)

    llm_ids = store.add_proposals([prop({"llm": 1.0}) for _ in range(25)])
    gaz_ids = store.add_proposals([prop({"gazetteer": 0.9, "llm": 0.2}) for _ in range(3)])
    for i, pid in enumerate(llm_ids):
        if i < 20:
            store.decide(pid, "human:ann", "accept")
        elif i < 23:
            store.decide(pid, "human:ann", "reject")
        else:  # an edit means the proposal was wrong as proposed
            store.accept_span(pid, "human:ann", edited=Span(start=6, end=11, label="ORG"))
    for pid in gaz_ids:
        store.decide(pid, "human:ann", "accept")
    stats = accuracies_from_store(store, ["spacy:x"])
    # llm: 25 decided with p >= 0.5, 20 accepted -> (20 + 1) / (25 + 2); its p = 0.2 votes do not count
    assert stats["llm"].estimated and stats["llm"].decided == 25 and stats["llm"].accepted == 20
    assert stats["llm"].accuracy == pytest.approx(21 / 27)
    # gazetteer: 3 decisions < 20 -> the prior
    assert not stats["gazetteer"].estimated and stats["gazetteer"].accuracy == 0.7 and stats["gazetteer"].decided == 3
    assert stats["spacy:x"].accuracy == 0.65 and stats["spacy:x"].decided == 0
    # pending proposals are ignored
    assert estimate_accuracies([prop({"llm": 1.0})], ["llm"])["llm"].decided == 0


def test_reliability_bins_and_ece() -> None:
    rel = reliability([0.1, 0.15, 0.9, 0.95, 1.0], [False, True, True, True, True], n_bins=2)
    lo, hi = rel.bins
    assert (lo.count, lo.mean_confidence, lo.accuracy) == (2, pytest.approx(0.125), 0.5)
    assert (hi.count, hi.mean_confidence, hi.accuracy) == (3, pytest.approx(0.95), 1.0)  # 1.0 falls in the last bin
    # ECE = 2/5 * |0.5 - 0.125| + 3/5 * |1 - 0.95| = 0.15 + 0.03
    assert rel.ece == pytest.approx(0.18)
    assert reliability([], [], n_bins=3).ece == 0.0


def test_fit_calibrators() -> None:
    conf = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]
    out = [False, False, True, False, True, False, True, True]
    iso = fit_calibrator(conf, out, "isotonic")
    # pooled adjacent violators: [0, 0, (1, 0) -> .5, .5, (1, 0) -> .5, .5, 1, 1]
    assert iso.apply(0.1) == 0.0 and iso.apply(0.35) == pytest.approx(0.5) and iso.apply(0.95) == 1.0
    assert [iso.apply(c) for c in conf] == sorted(iso.apply(c) for c in conf)
    platt = fit_calibrator(conf, out, "platt")
    assert platt.a > 0 and platt.apply(0.9) > platt.apply(0.5) > platt.apply(0.1)
    # stored as plain numbers and applied without sklearn
    again = type(platt).model_validate_json(platt.model_dump_json())
    assert again.apply(0.7) == pytest.approx(platt.apply(0.7))
    with pytest.raises(StudioError, match="both accepted and rejected"):
        fit_calibrator([0.2, 0.9], [True, True])
