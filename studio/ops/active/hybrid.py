"""The hybrid strategy: diversity while labels are few, uncertainty as they grow.

After Zhdanov, "Diverse mini-batch Active Learning" (2019): keep the most uncertain candidates,
cluster them into `batch` groups with k-means (weighted by uncertainty) and take from each group
the item nearest its centre, so one batch covers different regions instead of twenty variants of
one confusion. Here the mix follows the number of labels `n`:

- diversity weight `w = HALF / (HALF + n)` (1 with no labels, 1/2 at HALF labels);
- the clustered share of the candidates is `max(w, BETA * batch / pool)` of them, most uncertain
  first (all of them at cold start: pure coverage of the pool);
- k-means sample weights are `w + (1 - w) * u / max(u)` with `u` the margin uncertainty
  (uniform at cold start; mostly uncertainty later).

With no model yet (cold start) the batch is the pool's k-means centres: representative texts,
not random ones; the benchmark measures that this is not below random (docs/active.md).
The rows clustered are MiniLM vectors with the embed extra, otherwise a 100-d SVD of TF-IDF.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.ops.active import strategies

HALF = 20  # labels at which diversity and uncertainty weigh the same
BETA = 5  # cluster at least BETA x batch candidates (Zhdanov's pre-filter factor; he used 10)
SVD_DIM = 100


def diversity_weight(n_labeled: int, half: int | None = None) -> float:
    half = HALF if half is None else half
    return half / (half + max(0, n_labeled))


def dense_rows(rows: Any, seed: int = 0) -> np.ndarray:
    """Dense rows for k-means: as they are when already dense, else a seeded truncated SVD."""
    if not hasattr(rows, "toarray"):
        return np.asarray(rows, dtype=np.float64)
    from sklearn.decomposition import TruncatedSVD

    dim = max(1, min(SVD_DIM, rows.shape[1] - 1, rows.shape[0] - 1))
    out = TruncatedSVD(n_components=dim, random_state=seed).fit_transform(rows)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.asarray(out / np.where(norms > 0, norms, 1.0))


def pick(rows: np.ndarray, batch: int, n_labeled: int, seed: int, uncertainty: np.ndarray | None = None) -> list[int]:
    """Positions (into `rows`) of the batch, in review order (most uncertain group first).

    `uncertainty` is None at cold start (no model): then every row weighs the same.
    """
    from sklearn.cluster import KMeans

    n = rows.shape[0]
    if n == 0 or batch <= 0:
        return []
    if n <= batch:
        return list(range(n)) if uncertainty is None else strategies.rank(uncertainty).tolist()
    if uncertainty is None:
        w = 1.0
        cand = np.arange(n)
        weights = np.ones(n)
    else:
        w = diversity_weight(n_labeled)
        m = min(n, max(BETA * batch, round(w * n)))
        cand = strategies.rank(uncertainty)[:m]
        u = np.asarray(uncertainty, dtype=float)[cand]
        top = float(u.max())
        weights = w + (1.0 - w) * (u / top if top > 0 else np.ones_like(u))
    x = rows[cand]
    km = KMeans(n_clusters=batch, n_init=1, max_iter=100, random_state=seed).fit(x, sample_weight=weights)
    dist = np.linalg.norm(x - km.cluster_centers_[km.labels_], axis=1)
    chosen: list[int] = []
    for c in range(batch):
        members = np.flatnonzero(km.labels_ == c)
        if len(members):
            # nearest to the centre (measured: better than the group's most uncertain); ties to the lower position
            chosen.append(int(cand[members[np.lexsort((members, np.round(dist[members], 12)))[0]]]))
    if uncertainty is not None:
        u_all = np.asarray(uncertainty, dtype=float)
        chosen.sort(key=lambda i: (-round(float(u_all[i]), 12), i))
    return chosen
