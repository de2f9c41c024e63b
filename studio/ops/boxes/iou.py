"""Vectorized IoU over many images, with pruning of pairs that cannot reach the threshold.

Boxes are rows of an (N, 4) float array in corner form (x1, y1, x2, y2) plus an image index per
row. Two boxes can only have IoU >= t if they are in the same image and the intersection is at
least t times the area of each, so its width is at least t times each width and its height t
times each height: their left edges are within (1 - t) * w and their tops within (1 - t) * h of
each other. `overlapping_pairs` buckets boxes into a grid per image (rows of y1 at least
(1 - t) * max height, columns of x1), sorts them by cell once, and looks up each box's window of
candidates in a table of cell starts (its own row up to x1 + (1 - t) * w, the row below around
x1), so it needs no binary search and no Python loop per image; exact IoU is computed only on
those candidates. `brute_force_pairs` computes every pair per image instead; the benchmark and a
test compare the two.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Candidate pairs materialized at once; bounds memory at ~150 MB whatever the dataset size.
PAIR_CHUNK = 2_000_000
# Grid table entries per box: more columns mean tighter windows but a larger table to fill.
CELLS_PER_BOX = 8
# Rows per image at most: past this, a thinner band saves little and the table grows.
MAX_ROWS = 64


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
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = np.ascontiguousarray(xyxy.T)
    return column_pairs(x1, y1, x2, y2, np.asarray(image, dtype=np.int64), min_iou)


def column_pairs(
    x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray, image: IntArray, min_iou: float = 0.0
) -> tuple[IntArray, IntArray, FloatArray]:
    """`overlapping_pairs` with the corners given as four columns (what the checks already have)."""
    if len(x1) < 2:
        return _empty()
    t = float(min_iou)
    w, h = x2 - x1, y2 - y1
    g = _Grid(x1, y1, w, h, image, t)
    # Box i's partners: in its row, the boxes after it up to the column of x1[i] + reach[i]; in the
    # row below, the columns of x1[i] - back[i] to x1[i] + reach[i], and only if y1[i] + the same
    # reach in y gets there (the lower box's top is within (1 - t) * h of the upper one's). The
    # grid keeps each pair in exactly one of these windows. Bounds are in grid units (x / bx);
    # eps in them covers any rounding, so a window never misses a partner.
    reach = w * ((1.0 - t) / g.bx)
    reach += g.eps / g.bx
    hi = np.add(g.qx, reach, out=reach)
    np.minimum(hi, g.cols - 1.0, out=hi)
    row0 = g.cell - g.col  # table index of column 0 of the box's row
    end1 = hi.astype(np.int64)
    end1 += row0 + 2  # table index just after the window's last column (floor(hi) + 1)
    back = np.minimum(w / t, g.wmax) if t > 0 else np.full_like(w, g.wmax)
    back *= (1.0 - t) / g.bx
    back += g.eps / g.bx
    lo = np.subtract(g.qx, back, out=back)
    lo += 1.0
    np.maximum(lo, 0.0, out=lo)  # clipped first: truncation is floor
    first1 = g.rank + 1
    count1 = g.start[end1]
    count1 -= first1
    row0 += g.width
    row0 += lo.astype(np.int64)
    first2 = g.start[row0]
    end1 += g.width
    count2 = g.start[end1]
    count2 -= first2
    below = np.multiply(h, (1.0 - t) / g.band, out=hi)  # hi is used up: reuse its memory
    below += g.eps / g.band
    below += g.qy
    count2[below < g.row + 1] = 0
    area = np.multiply(w, h, out=w)
    out_i: list[IntArray] = []
    out_j: list[IntArray] = []
    out_v: list[FloatArray] = []
    for a, b in _chunks(count1 + count2):
        for first, count in ((first1[a:b], count1[a:b]), (first2[a:b], count2[a:b])):
            i, j = _expand(a, first, count)
            j = g.order[j]
            v = _iou_rows(x1, y1, x2, y2, area, i, j)
            keep = np.flatnonzero(v >= t if t > 0 else v > 0)
            out_i.append(i[keep])
            out_j.append(j[keep])
            out_v.append(v[keep])
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_v)


class _Grid:
    """Boxes bucketed into cells (image, row, column) by their top-left corner, sorted by cell.

    Rows are bands of y1 at least (1 - t) * (tallest box) high: two boxes with IoU >= t have tops
    that close, so they sit in one row or two adjacent ones. Columns only make the windows
    tighter; their count keeps the table at about CELLS_PER_BOX entries per box. `start[c]` is
    where cell c begins in sorted order (a lookup that replaces a binary search per box); every
    image has a spare last row and each row a spare column on both sides, so no window leaves
    its image. `qx`, `qy` are x1 and y1 in grid units (column = floor(qx) + 1, row = floor(qy)).
    """

    def __init__(self, x1: FloatArray, y1: FloatArray, w: FloatArray, h: FloatArray, image: IntArray, t: float):
        n = len(x1)
        xlo = float(x1.min())
        ylo = float(y1.min())
        self.wmax = float(w.max())
        xspan = float(x1.max()) - xlo + self.wmax
        yspan = float(y1.max()) - ylo
        # Slack for rounding in the IoU formula, so no pair at the threshold is lost.
        self.eps = 1e-9 * max(abs(xlo), abs(ylo), xspan, yspan, 1.0)
        image = image - image.min()
        n_img = int(image.max()) + 1
        if n_img > n:  # sparse image ids: renumber so the table stays small
            image = np.unique(image, return_inverse=True)[1].reshape(-1)
            n_img = int(image.max()) + 1
        cells = max(CELLS_PER_BOX * n // n_img, 1)
        band = (1.0 - t) * float(h.max()) + self.eps
        rows = min(int(yspan / band) + 1, MAX_ROWS, max(cells // 4, 1))
        self.band = max(band, yspan / rows * (1 + 1e-9))  # fewer, taller rows are as safe
        self.cols = max(cells // (rows + 1) - 2, 1)
        self.bx = max(xspan, 1e-300) / self.cols * (1 + 1e-9)
        self.width = self.cols + 2
        self.qx = x1 - xlo
        self.qx /= self.bx  # in [0, cols)
        self.qy = y1 - ylo
        self.qy /= self.band  # in [0, rows)
        self.row = self.qy.astype(np.int64)
        self.col = self.qx.astype(np.int64)
        self.col += 1
        self.cell = image * (rows + 1)
        self.cell += self.row
        self.cell *= self.width
        self.cell += self.col
        self.order = np.argsort(self.cell, kind="stable")
        counts = np.bincount(self.cell, minlength=n_img * (rows + 1) * self.width)
        # int32 when it fits: the lookups are twice as fast on the smaller table.
        self.start = np.zeros(len(counts) + 1, dtype=np.int32 if n < 2**31 else np.int64)
        np.cumsum(counts, out=self.start[1:])
        self.rank = np.empty(n, dtype=np.int64)
        self.rank[self.order] = np.arange(n)


def _iou_rows(
    x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray, area: FloatArray, i: IntArray, j: IntArray
) -> FloatArray:
    """IoU of boxes i[k] and j[k], the same arithmetic as `iou_pairs`, on columns."""
    iw = np.minimum(x2[i], x2[j])
    iw -= np.maximum(x1[i], x1[j])
    np.maximum(iw, 0.0, out=iw)
    ih = np.minimum(y2[i], y2[j])
    ih -= np.maximum(y1[i], y1[j])
    np.maximum(ih, 0.0, out=ih)
    inter = np.multiply(iw, ih, out=iw)
    union = area[i]
    union += area[j]
    union -= inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


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
    """Ranges of boxes whose candidate pairs fit in PAIR_CHUNK."""
    total = np.cumsum(counts)
    a = 0
    n = len(counts)
    while a < n:
        base = total[a - 1] if a else 0
        b = int(np.searchsorted(total, base + PAIR_CHUNK, side="right"))
        b = max(b, a + 1)
        yield a, min(b, n)
        a = b


def _expand(a: int, first: IntArray, count: IntArray) -> tuple[IntArray, IntArray]:
    """Pairs (a + k, first[k] + 0..count[k]-1) for every k: box indices and sorted positions.

    Built as running sums of steps (np.repeat is several times slower): i steps to the next box
    with candidates at the start of its run, j steps by one inside a run and jumps between runs.
    """
    k = np.flatnonzero(count)
    if not len(k):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    c, f = count[k], first[k]
    run = np.cumsum(c)
    m = int(run[-1])
    run -= c  # where each run starts
    di = np.zeros(m, dtype=np.int64)
    di[run[1:]] = np.diff(k)
    di[0] = a + k[0]
    dj = np.ones(m, dtype=np.int64)
    dj[run[1:]] = f[1:] - f[:-1] - c[:-1] + 1
    dj[0] = f[0]
    return np.cumsum(di, out=di), np.cumsum(dj, out=dj)


def _empty() -> tuple[IntArray, IntArray, FloatArray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
