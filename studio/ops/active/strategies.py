"""Uncertainty scores over probability tables, and a deterministic ranking.

Every function takes an (n_items, n_classes) array of class probabilities (rows sum to 1) and
returns one score per item where *higher means more worth a human's look*. Scores are rounded to
12 decimals before ranking, so two items that differ only by float noise count as a tie, and ties
are broken by a secondary score and then by the lower index: the same table always gives the same
order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Strategies that need a committee of models rather than one probability table.
COMMITTEE_STRATEGIES = ("vote_entropy", "kl")
# hybrid: margin uncertainty mixed with diversity by label count (hybrid.py); alone, it scores as margin.
STRATEGIES = ("random", "least_confidence", "margin", "entropy", *COMMITTEE_STRATEGIES, "hybrid")
_DECIMALS = 12


def _check(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"expected an (items, classes) probability table, got shape {p.shape}")
    return p


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """1 - the probability of the predicted class."""
    p = _check(probs)
    if p.shape[0] == 0:
        return np.zeros(0)
    return 1.0 - p.max(axis=1)


def margin(probs: np.ndarray) -> np.ndarray:
    """1 - (top probability - second probability): a small margin between the two best classes
    means the model cannot tell them apart. With one class the margin is the probability itself."""
    p = _check(probs)
    if p.shape[0] == 0:
        return np.zeros(0)
    if p.shape[1] == 1:
        return 1.0 - p[:, 0]
    top2 = -np.sort(-p, axis=1)[:, :2]
    return 1.0 - (top2[:, 0] - top2[:, 1])


def entropy(probs: np.ndarray, normalize: bool = True) -> np.ndarray:
    """Shannon entropy of each row (natural log), divided by log(n_classes) when `normalize`."""
    p = _check(probs)
    if p.shape[0] == 0:
        return np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    if normalize and p.shape[1] > 1:
        h = h / np.log(p.shape[1])
    return h


def vote_entropy(committee: np.ndarray) -> np.ndarray:
    """Entropy of the members' hard votes.

    `committee` is (n_members, n_items, n_classes) probabilities; each member votes for its argmax
    (ties go to the lower class index, as numpy does). Normalized by log(n_classes).
    """
    c = np.asarray(committee, dtype=float)
    if c.ndim != 3:
        raise ValueError(f"expected a (members, items, classes) committee table, got shape {c.shape}")
    m, n, k = c.shape
    votes = c.argmax(axis=2)  # (m, n)
    counts = np.zeros((n, k))
    for member in range(m):
        counts[np.arange(n), votes[member]] += 1
    return entropy(counts / m)


def kl_to_consensus(committee: np.ndarray) -> np.ndarray:
    """Mean over members of KL(member || consensus), where consensus is the members' mean."""
    c = np.asarray(committee, dtype=float)
    if c.ndim != 3:
        raise ValueError(f"expected a (members, items, classes) committee table, got shape {c.shape}")
    consensus = c.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(c > 0, c * (np.log(c) - np.log(consensus[None, :, :])), 0.0)
    return terms.sum(axis=2).mean(axis=0)


def random_scores(n: int, seed: int) -> np.ndarray:
    """The baseline: a seeded uniform score per item."""
    return np.random.default_rng(seed).random(n)


def rank(scores: np.ndarray, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """Indices by score (highest first); equal scores by `tiebreak` (highest first), then index."""
    s = np.round(np.asarray(scores, dtype=float), _DECIMALS)
    t = np.zeros_like(s) if tiebreak is None else np.round(np.asarray(tiebreak, dtype=float), _DECIMALS)
    idx = np.arange(len(s))
    # lexsort sorts by the last key first; negate so higher scores come first.
    return np.lexsort((idx, -t, -s))


def score(
    strategy: str,
    probs: np.ndarray | None = None,
    committee: np.ndarray | None = None,
    seed: int = 0,
    n: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(scores, tiebreak) for a strategy by name.

    Tie-breaks: margin ties go to the higher entropy (more mass spread over the other classes),
    least-confidence ties likewise, vote-entropy ties (common: votes are discrete) to the higher
    KL to consensus, KL and entropy ties to the lower index.
    """
    if strategy == "random":
        if n is None:
            n = len(probs) if probs is not None else np.asarray(committee).shape[1]
        return random_scores(n, seed), None
    if strategy in COMMITTEE_STRATEGIES:
        if committee is None:
            raise ValueError(f"strategy {strategy!r} needs a committee of models")
        if strategy == "vote_entropy":
            return vote_entropy(committee), kl_to_consensus(committee)
        return kl_to_consensus(committee), None
    if probs is None:
        raise ValueError(f"strategy {strategy!r} needs a probability table")
    if strategy == "hybrid":  # its uncertainty part; the diversity part needs features (hybrid.py)
        strategy = "margin"
    fns: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "least_confidence": least_confidence,
        "margin": margin,
        "entropy": entropy,
    }
    if strategy not in fns:
        raise ValueError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    tiebreak = None if strategy == "entropy" else entropy(probs)
    return fns[strategy](probs), tiebreak
