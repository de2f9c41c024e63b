"""Stopping by stabilizing predictions, and the hybrid strategy's parts."""

from __future__ import annotations

import numpy as np
import pytest

from studio.ops.active import hybrid, stopping


def test_kappa_known_values() -> None:
    assert stopping.kappa(list("aabb"), list("aabb")) == 1.0
    # observed 0.5, expected 0.5 (both 50/50): no better than chance
    assert stopping.kappa(list("aabb"), list("abab")) == pytest.approx(0.0)
    # observed 0.8; both sides 60% a, 40% b: expected 0.6*0.6 + 0.4*0.4 = 0.52 -> (0.8 - 0.52) / 0.48
    a = list("aaaaaabbbb")
    b = list("aaaaabbbba")
    assert stopping.kappa(a, b) == pytest.approx((0.8 - 0.52) / 0.48)
    assert stopping.kappa(["x"] * 5, ["x"] * 5) == 1.0  # one class on both sides: identical
    with pytest.raises(ValueError):
        stopping.kappa(["a"], ["a", "b"])


def test_stop_state_needs_three_rounds_at_099() -> None:
    s = stopping.StopState()
    assert not s.stop and "too early" in s.message()
    preds = [list("aabbaabbab"), list("aabbaabbab"), list("aabbaabbab"), list("aabbaabbab")]
    prev = None
    for p in preds:
        s = stopping.add_round(s, prev, p)
        prev = p
    assert s.agreements == [1.0, 1.0, 1.0] and s.stop
    assert s.message().startswith("more labels are unlikely to change the model much (agreement 1.00 over the last 3")
    s = stopping.add_round(s, prev, list("bbbbaabbab"))  # a change: the window's mean drops below 0.99
    assert not s.stop and s.message().startswith("keep labeling")


def test_stop_set_is_seeded_and_capped() -> None:
    assert stopping.stop_set(5, seed=1) == [0, 1, 2, 3, 4]
    a = stopping.stop_set(5000, seed=1)
    assert len(a) == stopping.STOP_SET_SIZE and a == sorted(set(a)) and a == stopping.stop_set(5000, seed=1)
    assert a != stopping.stop_set(5000, seed=2)


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four tight, far-apart groups of unequal size (50, 20, 10, 5 rows) on the unit sphere."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[:4]
    sizes = [50, 20, 10, 5]
    rows = np.vstack([c + 0.02 * rng.standard_normal((n, 8)) for c, n in zip(centres, sizes, strict=True)])
    group = np.repeat(np.arange(4), sizes)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True), group


def test_hybrid_cold_start_covers_every_group() -> None:
    rows, group = _blobs()
    picked = hybrid.pick(rows, batch=4, n_labeled=0, seed=0)
    assert sorted(group[picked].tolist()) == [0, 1, 2, 3]  # random picks would mostly miss the small groups
    assert picked == hybrid.pick(rows, batch=4, n_labeled=0, seed=0)


def test_hybrid_later_follows_uncertainty_but_spreads_the_batch() -> None:
    rows, group = _blobs()
    u = np.zeros(len(rows))
    u[group == 0] = np.linspace(0.5, 0.9, 50)  # the big group is uncertain, the rest is not
    picked = hybrid.pick(rows, batch=4, n_labeled=10_000, seed=0, uncertainty=u)
    # with many labels the weight is almost all uncertainty: every pick from the uncertain group,
    # ordered by uncertainty, and no two the same row
    assert set(group[picked].tolist()) == {0} and len(set(picked)) == 4
    assert [u[i] for i in picked] == sorted((u[i] for i in picked), reverse=True)


def test_diversity_weight_schedule() -> None:
    assert hybrid.diversity_weight(0) == 1.0
    assert hybrid.diversity_weight(hybrid.HALF) == 0.5
    assert hybrid.diversity_weight(10 * hybrid.HALF) < 0.1
