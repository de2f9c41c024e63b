"""Vectorized IoU over many images, with pruning of pairs that cannot reach the threshold.

Boxes are rows of an (N, 4) float array in corner form (x1, y1, x2, y2) plus an image index per
row. Two boxes can only have IoU >= t if they are in the same image and their x-ranges overlap by
at least t times the width of each (intersection >= t * area of either box, and the intersection
height is at most that box's height). So we sort by (image, x1), and for each box i look only at
the boxes j after it with x1[j] <= x2[i] - t * w[i]: a binary search per box, all in numpy.
`brute_force_pairs` computes every pair per image instead; the benchmark compares the two.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Candidate pairs materialized at once; bounds memory at ~100 MB whatever the dataset size.
PAIR_CHUNK = 4_000_000


def cxcywh_to_xyxy(b: FloatArray) -> FloatArray:
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    half = b[:, 2:4] / 2
    return np.concatenate([b[:, 0:2] - half, b[:, 0:2] + half], axis=1)


def iou_matrix(a: FloatArray, b: FloatArray) -> FloatArray:
    """IoU of every box in `a` (N, 4) with every box in `b` (M, 4), corner form: an (N, M) array."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / union, 0.0)
    return out


def iou_pairs(xyxy: FloatArray, i: IntArray, j: IntArray) -> FloatArray:
    """IoU of boxes i[k] and j[k] for every k (rows of the same array)."""
    a, b = xyxy[i], xyxy[j]
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def overlapping_pairs(xyxy: FloatArray, image: IntArray, min_iou: float = 0.0) -> tuple[IntArray, IntArray, FloatArray]:
    """All pairs (i, j), i != j, in the same image with IoU >= min_iou (> 0 when min_iou is 0).

    Returns row indices into `xyxy` (each unordered pair once) and their IoU. Boxes must be finite
    with positive size; filter invalid ones out first.
    """
    n = len(xyxy)
    if n < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    xyxy = np.asarray(xyxy, dtype=np.float64)
    image = np.asarray(image, dtype=np.int64)
    lo = float(xyxy[:, 0].min())
    stride = float(xyxy[:, 2].max()) - lo + 1.0  # keys of different images never interleave
    # One float key sorts by (image, x1); argsort of it is several times faster than lexsort.
    key = image * stride + (xyxy[:, 0] - lo)
    order = np.argsort(key)
    key = key[order]
    s = xyxy[order]
    img = image[order]
    # x1[j] <= x2[i] - t * w[i]; a tiny slack keeps rounding from dropping a pair at the limit.
    reach = s[:, 2] - min_iou * (s[:, 2] - s[:, 0]) - lo
    slack = 1e-9 * (1.0 + np.abs(key))
    end = np.searchsorted(key, img * stride + reach + slack, side="right")
    counts = np.maximum(end - np.arange(n) - 1, 0)
    out_i: list[IntArray] = []
    out_j: list[IntArray] = []
    out_v: list[FloatArray] = []
    # The same bound on y (no sort needed): each box's top must be within reach of the other's.
    y1 = np.ascontiguousarray(s[:, 1])
    yreach = s[:, 3] - min_iou * (s[:, 3] - s[:, 1]) + 1e-9 * (1.0 + np.abs(s[:, 3]))
    for a, b in _chunks(counts):
        ci, cj = _expand(a, counts[a:b])
        if min_iou > 0:
            near = (y1[cj] <= yreach[ci]) & (y1[ci] <= yreach[cj])
            ci, cj = ci[near], cj[near]
        v = iou_pairs(s, ci, cj)
        keep = v >= min_iou if min_iou > 0 else v > 0
        out_i.append(order[ci[keep]])
        out_j.append(order[cj[keep]])
        out_v.append(v[keep])
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_v)


def brute_force_pairs(xyxy: FloatArray, image: IntArray, min_iou: float = 0.0) -> tuple[IntArray, IntArray, FloatArray]:
    """Same result as `overlapping_pairs`, computing the full IoU matrix of every image.

    Images with the same box count are stacked into one (G, n, n) computation, which is the
    fastest way to do all pairs in numpy; kept as the baseline the benchmark measures against.
    """
    xyxy = np.asarray(xyxy, dtype=np.float64)
    image = np.asarray(image, dtype=np.int64)
    order = np.argsort(image, kind="stable")
    img = image[order]
    starts = np.flatnonzero(np.r_[True, img[1:] != img[:-1]])
    counts = np.diff(np.r_[starts, len(img)])
    out_i: list[IntArray] = []
    out_j: list[IntArray] = []
    out_v: list[FloatArray] = []
    for n in np.unique(counts):
        if n < 2:
            continue
        group = starts[counts == n]
        step = max(1, PAIR_CHUNK // int(n * n))
        iu, ju = np.triu_indices(int(n), k=1)
        for g0 in range(0, len(group), step):
            rows = order[group[g0 : g0 + step, None] + np.arange(n)[None, :]]  # (G, n)
            b = xyxy[rows]
            iw = np.minimum(b[:, :, None, 2], b[:, None, :, 2]) - np.maximum(b[:, :, None, 0], b[:, None, :, 0])
            ih = np.minimum(b[:, :, None, 3], b[:, None, :, 3]) - np.maximum(b[:, :, None, 1], b[:, None, :, 1])
            inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
            area = (b[:, :, 2] - b[:, :, 0]) * (b[:, :, 3] - b[:, :, 1])
            union = area[:, :, None] + area[:, None, :] - inter
            with np.errstate(invalid="ignore", divide="ignore"):
                v = np.where(union > 0, inter / union, 0.0)[:, iu, ju]  # (G, pairs)
            keep = v >= min_iou if min_iou > 0 else v > 0
            gk, pk = np.nonzero(keep)
            out_i.append(rows[gk, iu[pk]])
            out_j.append(rows[gk, ju[pk]])
            out_v.append(v[gk, pk])
    if not out_i:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_v)


def canonical(i: IntArray, j: IntArray, v: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Pairs with i < j, sorted: lets two pair lists be compared exactly."""
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    order = np.lexsort((hi, lo))
    return lo[order], hi[order], v[order]


def _chunks(counts: IntArray) -> Iterator[tuple[int, int]]:
    """Ranges of sorted boxes whose candidate pairs fit in PAIR_CHUNK."""
    total = np.cumsum(counts)
    a = 0
    n = len(counts)
    while a < n:
        base = total[a - 1] if a else 0
        b = int(np.searchsorted(total, base + PAIR_CHUNK, side="right"))
        b = max(b, a + 1)
        yield a, min(b, n)
        a = b


def _expand(a: int, counts: IntArray) -> tuple[IntArray, IntArray]:
    """For boxes a, a+1, ... with counts[k] candidates each: pairs (i, i+1..i+counts)."""
    m = int(counts.sum())
    i = np.repeat(np.arange(a, a + len(counts)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    j = i + 1 + (np.arange(m) - first)
    return i, j
