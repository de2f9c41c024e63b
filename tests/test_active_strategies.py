"""Strategies on tables small enough to check by hand, tie-breaking, QBC, and batch diversity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studio.ops.active import strategies as st
from studio.ops.active.diversity import diverse_batch, tfidf_features
from studio.ops.active.textclf import TextClassifier, TextClfParams, model_version, select

# Four items, three classes.
P = np.array(
    [
        [0.70, 0.20, 0.10],  # confident
        [0.40, 0.35, 0.25],  # spread out
        [0.50, 0.50, 0.00],  # torn between two classes
        [0.34, 0.33, 0.33],  # almost uniform
    ]
)


def test_least_confidence_by_hand() -> None:
    # 1 - max: 0.30, 0.60, 0.50, 0.66
    assert np.allclose(st.least_confidence(P), [0.30, 0.60, 0.50, 0.66])
    s, tie = st.score("least_confidence", probs=P)
    assert st.rank(s, tie).tolist() == [3, 1, 2, 0]


def test_margin_by_hand() -> None:
    # 1 - (top - second): 0.50, 0.95, 1.00, 0.99
    assert np.allclose(st.margin(P), [0.50, 0.95, 1.00, 0.99])
    s, tie = st.score("margin", probs=P)
    assert st.rank(s, tie).tolist() == [2, 3, 1, 0]


def test_entropy_by_hand() -> None:
    # natural-log entropies: 0.8018, 1.0805, 0.6931 (ln 2), 1.0985; normalized by ln 3
    raw = [0.8018, 1.0805, math.log(2), 1.0985]
    assert np.allclose(st.entropy(P, normalize=False), raw, atol=1e-4)
    assert np.allclose(st.entropy(P), [v / math.log(3) for v in raw], atol=1e-4)
    s, tie = st.score("entropy", probs=P)
    # entropy puts the torn item (2) last, unlike margin, which puts it first
    assert st.rank(s, tie).tolist() == [3, 1, 0, 2]


def test_margin_ties_break_by_entropy_then_index() -> None:
    table = np.array(
        [
            [0.60, 0.40, 0.00],  # margin 0.2, entropy 0.673
            [0.50, 0.30, 0.20],  # margin 0.2, entropy 1.030: more confusion elsewhere, goes first
            [0.60, 0.40, 0.00],  # identical to item 0: the lower index wins
            [0.45, 0.25, 0.30],  # margin 0.15 (float noise around 0.15 must not matter)
            [0.55, 0.40, 0.05],  # margin 0.15
        ]
    )
    s, tie = st.score("margin", probs=table)
    # 3 and 4 share a margin of 0.15 (score 0.85); entropies 1.067 vs 0.845 -> 3 first
    assert st.rank(s, tie).tolist() == [3, 4, 1, 0, 2]
    # Same answer on every call: no randomness in ranking.
    assert st.rank(s, tie).tolist() == st.rank(s, tie).tolist()


# Three members, two items, two classes (members x items x classes).
COMMITTEE = np.array(
    [
        [[0.9, 0.1], [0.6, 0.4]],
        [[0.8, 0.2], [0.3, 0.7]],
        [[0.2, 0.8], [0.5, 0.5]],  # a 0.5/0.5 tie votes for class 0 (the lower index)
    ]
)


def test_vote_entropy_by_hand() -> None:
    # item 0 votes: 0, 0, 1; item 1 votes: 0, 1, 0 -> both [2/3, 1/3]
    h = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)) / math.log(2)  # 0.9183
    assert np.allclose(st.vote_entropy(COMMITTEE), [h, h])
    assert h == pytest.approx(0.9183, abs=1e-4)


def test_kl_to_consensus_by_hand() -> None:
    # item 0: consensus [0.6333, 0.3667]; KLs 0.1863, 0.0657, 0.3936 -> mean 0.2152
    # item 1: consensus [0.4667, 0.5333]; KLs 0.0357, 0.0578, 0.0022 -> mean 0.0319
    assert np.allclose(st.kl_to_consensus(COMMITTEE), [0.2152, 0.0319], atol=1e-3)
    # vote entropy ties (both 0.918); the tie goes to the larger KL: item 0
    s, tie = st.score("vote_entropy", committee=COMMITTEE)
    assert st.rank(s, tie).tolist() == [0, 1]


def test_random_is_seeded() -> None:
    a, _ = st.score("random", n=10, seed=3)
    b, _ = st.score("random", n=10, seed=3)
    c, _ = st.score("random", n=10, seed=4)
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()


def test_unknown_strategy_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        st.score("confidence", probs=P)
    with pytest.raises(ValueError, match="committee"):
        st.score("kl", probs=P)
    with pytest.raises(ValueError, match="shape"):
        st.margin(np.array([0.1, 0.9]))


def test_diversity_keeps_near_duplicates_out_of_a_batch() -> None:
    texts = [
        "the parcel is late again",
        "the parcel is late again!",  # same words as 0: cosine 1.0
        "please refund the double charge",
        "the app crashes on start",
        "The parcel is LATE again",  # 0 again, cased differently
        "where can I change my email",
    ]
    feats = tfidf_features(texts)
    chosen, skipped = diverse_batch([0, 1, 2, 3, 4, 5], 4, feats, threshold=0.8)
    assert chosen == [0, 2, 3, 5]
    assert skipped == [1, 4]
    # threshold 1.0 keeps everything
    assert diverse_batch([0, 1, 2], 3, feats, threshold=1.0)[0] == [0, 1, 2]


def test_diversity_takes_any_similarity_function() -> None:
    # A made-up embedding similarity: items in the same tens group are the same thing.
    def same_group(_features: object, a: list[int], b: list[int]) -> np.ndarray:
        return np.array([[1.0 if x // 10 == y // 10 else 0.0 for y in b] for x in a])

    chosen, skipped = diverse_batch([11, 12, 21, 13, 31], 3, None, threshold=0.5, similarity=same_group)
    assert chosen == [11, 21, 31]
    assert skipped == [12, 13]


def test_cold_start_is_random_order_until_every_class_has_a_label() -> None:
    texts = [f"parcel late {i}" for i in range(10)] + [f"refund charge {i}" for i in range(10)]
    clf = TextClassifier(texts, TextClfParams(min_df=1))
    cands = list(range(1, 20))
    sel = select(clf, {0: "shipping"}, cands, "margin", 5, seed=7, classes=["billing", "shipping"])
    assert sel.cold_start and sel.used == "random"
    assert "billing" in sel.reason
    rnd = select(clf, {0: "shipping"}, cands, "random", 5, seed=7, classes=["billing", "shipping"])
    assert sel.indices == rnd.indices  # exactly random's picks: never worse than random
    warm = select(
        clf,
        {0: "shipping", 10: "billing"},
        [c for c in cands if c != 10],
        "margin",
        5,
        seed=7,
        classes=["billing", "shipping"],
    )
    assert not warm.cold_start and warm.used == "margin"


def test_committee_query_runs_and_model_version_tracks_labels() -> None:
    texts = [f"parcel late {i}" for i in range(8)] + [f"refund charge {i}" for i in range(8)] + ["parcel refund"]
    clf = TextClassifier(texts, TextClfParams(min_df=1, committee=3))
    labeled = {0: "shipping", 1: "shipping", 8: "billing", 9: "billing"}
    cands = [i for i in range(len(texts)) if i not in labeled]
    sel = select(clf, labeled, cands, "vote_entropy", 3, seed=1, threshold=1.0)
    assert sel.used == "vote_entropy" and len(sel.indices) == 3
    assert sel.model_version == select(clf, labeled, cands, "vote_entropy", 3, seed=1, threshold=1.0).model_version
    assert model_version(clf.params, labeled) != model_version(clf.params, {**labeled, 2: "shipping"})
