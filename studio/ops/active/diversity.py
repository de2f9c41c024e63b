"""Batch diversity: keep near-duplicates out of one batch.

A human reviewing twenty copies of the same uncertain text learns one thing twenty times. The
greedy step walks the ranking and skips an item whose similarity to an item already chosen is
above a threshold. Similarity is a parameter (cosine over row-normalized features), and the
features are MiniLM sentence embeddings when the `embed` extra is installed (paraphrases count
as near-duplicates too), word TF-IDF rows otherwise (`diversity_features`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# similarity(features, rows_a, rows_b) -> (len(rows_a), len(rows_b)) array
Similarity = Callable[[Any, Sequence[int], Sequence[int]], np.ndarray]

DEFAULT_THRESHOLD = 0.8


def tfidf_features(texts: Sequence[str]) -> Any:
    """L2-normalized TF-IDF rows (word 1-2 grams) for similarity; fit on the texts given."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True)
    return vec.fit_transform(list(texts))


def diversity_features(texts: Sequence[str], store: Any = None) -> tuple[Any, str]:
    """Rows for the diversity step and the name of what made them: `minilm` sentence vectors
    (cached in the store) with the embed extra, `tfidf` word 1-2 grams otherwise.

    Hashed character n-grams, the other similarity fallback, are not used here: word TF-IDF is
    what the diversity threshold was tuned on, and it needs no model either.
    """
    from studio.ops.embed import similarity_backend

    backend = similarity_backend(store)
    if backend.name == "minilm":
        return backend.encode(list(texts)), "minilm"
    return tfidf_features(texts), "tfidf"


def cosine_similarity(features: Any, rows_a: Sequence[int], rows_b: Sequence[int]) -> np.ndarray:
    """Cosine similarity between rows of a sparse or dense matrix whose rows are L2-normalized."""
    a = features[list(rows_a)]
    b = features[list(rows_b)]
    sim = a @ b.T
    return np.asarray(sim.toarray() if hasattr(sim, "toarray") else sim, dtype=float)


def diverse_batch(
    order: Sequence[int],
    batch: int,
    features: Any,
    threshold: float = DEFAULT_THRESHOLD,
    similarity: Similarity = cosine_similarity,
) -> tuple[list[int], list[int]]:
    """Greedy pick from `order` (best first): (chosen, skipped as near-duplicates of a chosen one).

    An item is skipped when its similarity to any chosen item is above `threshold` (1.0 or more
    keeps everything). If the pool runs out of distinct items the batch is shorter than asked:
    filling it with near-duplicates would defeat the point.
    """
    chosen: list[int] = []
    skipped: list[int] = []
    if batch <= 0:
        return chosen, skipped
    for item in order:
        if len(chosen) >= batch:
            break
        if chosen and threshold < 1.0 and float(similarity(features, [item], chosen).max()) > threshold:
            skipped.append(int(item))
            continue
        chosen.append(int(item))
    return chosen, skipped
