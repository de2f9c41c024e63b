"""IoU against hand-computed values, and pruning against the brute force on random boxes."""

from __future__ import annotations

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
