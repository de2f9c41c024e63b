"""IoU against hand-computed values, and pruning against the brute force on random boxes."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from studio.ops.boxes.iou import (
    brute_force_pairs,
    canonical,
    cxcywh_to_xyxy,
    iou_matrix,
    iou_pairs,
    overlapping_pairs,
)


def test_iou_hand_computed() -> None:
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1]], dtype=float)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [2, 0, 3, 1], [5, 5, 6, 6]], dtype=float)
    m = iou_matrix(a, b)
    # [0,0,2,2] vs [1,1,3,3]: inter 1, union 4 + 4 - 1 = 7
    assert m[0, 0] == pytest.approx(1 / 7)
    assert m[0, 1] == pytest.approx(1.0)
    assert m[0, 2] == 0.0  # touching edges share no area
    assert m[0, 3] == 0.0
    # [0,0,1,1] inside [0,0,2,2]: 1 / 4
    assert m[1, 1] == pytest.approx(0.25)
    assert iou_pairs(np.vstack([a, b]), np.array([0, 1]), np.array([2, 3])).tolist() == pytest.approx([1 / 7, 0.25])


def test_cxcywh_and_degenerate_boxes() -> None:
    xy = cxcywh_to_xyxy(np.array([[0.5, 0.5, 0.2, 0.4]]))
    assert xy[0].tolist() == pytest.approx([0.4, 0.3, 0.6, 0.7])
    zero = np.array([[0, 0, 0, 0]], dtype=float)
    assert iou_matrix(zero, zero)[0, 0] == 0.0  # no division by zero


@pytest.mark.parametrize("t", [0.0, 0.3, 0.75, 0.95, 0.999])
def test_pruned_pairs_equal_brute_force(t: float) -> None:
    rng = np.random.default_rng(7)
    n_img, per = 60, 40
    image = np.repeat(np.arange(n_img), per)
    rng.shuffle(image)  # boxes of an image need not be contiguous
    c = rng.random((len(image), 2))
    wh = rng.uniform(0.02, 0.4, (len(image), 2))
    xyxy = cxcywh_to_xyxy(np.c_[c, wh])
    base = xyxy[0::25][: len(xyxy[1::25])]
    xyxy[1::25] = base  # exact copies
    xyxy[2::25] = base + rng.normal(0, 0.002, base.shape)  # near copies
    a = canonical(*overlapping_pairs(xyxy, image, t))
    b = canonical(*brute_force_pairs(xyxy, image, t))
    assert len(a[0]) > 0
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert np.allclose(a[2], b[2])
    assert (image[a[0]] == image[a[1]]).all()


def test_pairs_across_images_never_mix() -> None:
    xyxy = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]], dtype=float)
    i, j, v = overlapping_pairs(xyxy, np.array([0, 1, 1]), 0.5)
    assert canonical(i, j, v)[0].tolist() == [1] and v.tolist() == [1.0]


def _scenario(name: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random boxes (corner form) and image ids shaped to stress one part of the grid."""
    if name == "pixels":  # pixel coordinates, sizes from 2 px to the whole image, some off the edge
        n = 3000
        image = rng.integers(0, 40, n)
        wh = np.exp(rng.uniform(np.log(2), np.log(640), (n, 2)))
        xy = rng.uniform(-20, 640, (n, 2))
        xyxy = np.c_[xy, xy + wh]
    elif name == "sparse_ids":  # huge, unordered image ids
        n = 2000
        image = rng.choice(np.arange(25) * 10**9 + 7, n)
        c = rng.random((n, 2))
        xyxy = cxcywh_to_xyxy(np.c_[c, rng.uniform(0.01, 0.3, (n, 2))])
    elif name == "crowd":  # one image, many boxes on top of each other
        n = 600
        image = np.zeros(n, dtype=np.int64)
        c = rng.normal(0.5, 0.03, (n, 2))
        xyxy = cxcywh_to_xyxy(np.c_[c, rng.uniform(0.05, 0.12, (n, 2))])
    else:  # "thin": extreme aspect ratios and a few giant boxes
        n = 2000
        image = rng.integers(0, 10, n)
        wh = np.where(rng.random((n, 1)) < 0.5, [[0.9, 0.004]], [[0.004, 0.9]]) * rng.uniform(0.5, 1, (n, 1))
        wh[:20] = 1.0
        c = rng.random((n, 2))
        xyxy = cxcywh_to_xyxy(np.c_[c, wh])
    # Plant copies and jittered copies so high thresholds have pairs too.
    k = n // 20
    src, dst = rng.choice(n, k, replace=False), rng.choice(n, k, replace=False)
    xyxy[dst] = xyxy[src] + rng.normal(0, 1e-4, (k, 4)) * (rng.random((k, 1)) < 0.5)
    image[dst] = image[src]
    return xyxy, image


@pytest.mark.parametrize("name", ["pixels", "sparse_ids", "crowd", "thin"])
@pytest.mark.parametrize("t", [0.0, 0.1, 0.5, 0.75, 0.95, 0.999, 1.0])
def test_grid_pairs_equal_brute_force_random(name: str, t: float) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{name} {t}".encode()))
    xyxy, image = _scenario(name, rng)
    a = canonical(*overlapping_pairs(xyxy, image, t))
    b = canonical(*brute_force_pairs(xyxy, image, t))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert np.array_equal(a[2], b[2])  # the same arithmetic: bit-identical IoU
    if t < 1.0:
        assert len(a[0]) > 0


def test_pairs_in_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Candidates processed a few at a time give the same pairs (memory stays bounded)."""
    import studio.ops.boxes.iou as iou_mod

    rng = np.random.default_rng(3)
    xyxy, image = _scenario("crowd", rng)
    whole = canonical(*overlapping_pairs(xyxy, image, 0.3))
    monkeypatch.setattr(iou_mod, "PAIR_CHUNK", 37)
    chunked = canonical(*overlapping_pairs(xyxy, image, 0.3))
    assert all(np.array_equal(x, y) for x, y in zip(whole, chunked, strict=True))
    identical = np.tile([[0.1, 0.1, 0.4, 0.5]], (30, 1))
    i, j, v = overlapping_pairs(identical, np.zeros(30, dtype=np.int64), 0.999)
    assert len({(min(a, b), max(a, b)) for a, b in zip(i.tolist(), j.tolist(), strict=True)}) == 30 * 29 // 2
    assert len(i) == 30 * 29 // 2 and (v == 1.0).all()
