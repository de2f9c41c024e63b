"""Are the learned confidences calibrated? Synthetic but realistic trials: documents a person finished in a real
store, their proposals made by sources of known (seeded) reliability; the weights learned there are judged on new
documents drawn the same way."""

from __future__ import annotations

import random

import pytest

from studio.ops.ner.combine import reliability
from studio.ops.ner.weights import DocTrials, Key, estimate_weights, gazetteer_heldout, weights_from
from studio.schema import Document, Proposal, Span
from studio.store import Store
from tests.ner_helpers import complete_like_gold, news_project

LABELS = ["PER", "ORG", "LOC", "MISC"]
BASE = {"PER": 0.7, "ORG": 0.5, "LOC": 0.6, "MISC": 0.3}  # share of candidates that are right
# (P(yes | right), P(yes | wrong)) of each source, per label where it differs
RATES = {
    "student:s": {"*": (0.85, 0.25), "MISC": (0.5, 0.1)},
    "spacy:x": {"*": (0.6, 0.45)},
    "llm": {"*": (0.9, 0.3), "PER": (0.95, 0.1)},
}


def _draw(rng: random.Random, doc: int, words: int = 8) -> tuple[str, dict[Key, dict[str, float]], set[Key]]:
    """One document: a text of made-up words, each a candidate of one label; every source votes on it."""
    text, votes, gold = "", {}, set()
    for j in range(words):
        word = f"Qw{doc}x{j}"
        key = (len(text), len(text) + len(word), rng.choice(LABELS))
        text += word + " "
        right = rng.random() < BASE[key[2]]
        v = {}
        for name, rates in RATES.items():
            t, f = rates.get(key[2], rates["*"])
            if rng.random() < (t if right else f):
                v[name] = 1.0
        if right:
            gold.add(key)
        if v:
            votes[key] = v
    return text.strip(), votes, gold


def _fresh(seed: int, n: int) -> list[DocTrials]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        _, votes, gold = _draw(rng, 10_000 + i)
        out.append(DocTrials(votes=votes, ran=set(RATES), gold=gold))
    return out


def _ece(w, docs: list[DocTrials]) -> float:  # type: ignore[no-untyped-def]
    conf, ok = [], []
    for d in docs:
        for (a, b, label), v in d.votes.items():
            conf.append(w.confidence(label, w.votes(label, {n: 0.0 for n in d.ran} | v))[0])
            ok.append((a, b, label) in d.gold)
    return reliability(conf, ok).ece


@pytest.fixture
def finished(store: Store) -> Store:
    """60 documents proposed by the three sources and finished by a careful person."""
    news_project(store)
    rng = random.Random(7)
    for i in range(60):
        text, votes, gold = _draw(rng, i)
        doc_id, _ = store.add_document(Document(text=text, source="import"))
        props = [Proposal(kind="span", document_id=doc_id, source=max(v), confidence=0.8,
                          payload={"span": Span(start=a, end=b, label=lab, text=text[a:b]).model_dump(),
                                   "sources": v, "ran": sorted(RATES)})
                 for (a, b, lab), v in sorted(votes.items())]  # fmt: skip
        if props:
            store.add_proposals(props, actor="agent")
        spans = [Span(start=a, end=b, label=lab, text=text[a:b]).model_dump() for a, b, lab in sorted(gold)]
        complete_like_gold(store, doc_id, spans)
    return store


def test_weights_learned_on_finished_documents_are_calibrated_on_new_ones(finished: Store) -> None:
    w = estimate_weights(finished)
    assert w.documents == 60 and w.ece_heldout is not None
    fresh = _fresh(1, 300)
    learned, prior = _ece(w, fresh), _ece(weights_from([]), fresh)
    # the stored confidences (0.8 for everything) and the fixed priors are off; the learned weights are not,
    # and the cross-validated ECE on the finished documents says so before any new document is seen
    assert w.ece is not None and w.ece > 0.15 and prior > 0.1
    assert learned < 0.06 and w.ece_heldout < 0.1
    # the per-label rates were learned: the LLM's yes is worth more on PER, the student's less on MISC
    assert w.rates("llm", "PER")[1] < w.rates("llm", "ORG")[1]
    assert w.rates("student:s", "MISC")[0] < w.rates("student:s", "ORG")[0]


def test_vote_patterns_correct_sources_counted_as_independent_that_are_not() -> None:
    """A second student trained on the same decisions votes as the first: naive Bayes counts the same evidence twice
    and is overconfident; the record of each vote pattern on the finished documents takes it back."""

    def twins(docs: list[DocTrials]) -> list[DocTrials]:
        return [DocTrials(votes={k: v | ({"student:t": v["student:s"]} if "student:s" in v else {})
                                 for k, v in d.votes.items()},
                          ran=d.ran | {"student:t"}, gold=d.gold) for d in docs]  # fmt: skip

    train, fresh = twins(_fresh(2, 80)), twins(_fresh(3, 300))
    naive, w = weights_from(train, pattern_strength=0), weights_from(train)
    assert not naive.patterns and w.patterns and w.pattern_strength == 8.0
    assert _ece(naive, fresh) > 0.1 and _ece(w, fresh) < 0.06
    # the cross-validated ECE on the finished documents tells the same before any new document is seen
    assert naive.ece_heldout is not None and naive.ece_heldout > 0.1
    assert w.ece_heldout is not None and w.ece_heldout < 0.06
    # where both students say yes and the LLM no, naive Bayes adds the students' evidence twice
    votes = {"student:s": 1.0, "student:t": 1.0, "llm": 0.0, "spacy:x": 0.0}
    assert w.pattern_shift(votes) < -0.2


def test_gazetteer_votes_are_those_of_the_current_gazetteer_without_the_document(store: Store) -> None:
    """The gazetteer that proposed on a document knew only the documents finished before it, and where it proposed
    nothing nothing says it ran: its held-out votes are those of today's gazetteer less the document's own
    decisions, on every complete document."""
    news_project(store)
    texts = ["Amara Balogun met Meridex Steel.", "Amara Balogun left Ardenport.", "Tobin Vale spoke."]
    golds = [[("Amara Balogun", "PER"), ("Meridex Steel", "ORG")], [("Amara Balogun", "PER"), ("Ardenport", "LOC")],
             [("Tobin Vale", "PER")]]  # fmt: skip
    ids = []
    for text, gold in zip(texts, golds, strict=True):
        doc_id, _ = store.add_document(Document(text=text, source="import"))
        spans = [Span(start=text.index(s), end=text.index(s) + len(s), label=lab, text=s) for s, lab in gold]
        # the LLM proposed every right span; the gazetteer (empty then) nothing
        store.add_proposals([Proposal(kind="span", document_id=doc_id, source="llm", confidence=0.8,
                                      payload={"span": s.model_dump(), "sources": {"llm": 1.0}, "ran": ["llm"]})
                             for s in spans])  # fmt: skip
        complete_like_gold(store, doc_id, [s.model_dump() for s in spans])
        ids.append(doc_id)
    held = gazetteer_heldout(store, ids)
    # each document's Amara Balogun is known from the other one; Meridex Steel, Ardenport, Tobin Vale only from
    # their own document: not found
    assert {k: [(lab, round(p, 3)) for *_, lab, p in v] for k, v in held.items()} == {
        ids[0]: [("PER", 0.667)],
        ids[1]: [("PER", 0.667)],
        ids[2]: [],
    }
    w = estimate_weights(store)
    st = w.pooled("gazetteer")
    assert (st.tp, st.fn, st.fp) == (2, 3, 0)  # silent on the third document too: it ran there
