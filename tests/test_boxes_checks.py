"""Every planted issue found exactly, thresholds configurable, model-assisted checks from files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.ops.boxes import CheckSettings, load_predictions, model_checks, read_dataset, run_checks
from studio.ops.boxes.iou import cxcywh_to_xyxy, iou_matrix
from studio.ops.boxes.model import BoxDataset, Finding, ImageLabels
from studio.schema import Box
from tests.conftest import FIXTURES

BOXES = FIXTURES / "boxes"


def summary(findings: list) -> list[tuple]:
    return sorted((f.check, f.fix, f.image, tuple(f.lines)) for f in findings)


def test_yolo_rule_checks_exact() -> None:
    findings = run_checks(read_dataset(BOXES / "yolo"))
    t, v = "images/train/img1.png", "images/train/img2.png"
    assert summary(findings) == sorted(
        [
            ("exact_duplicate", "drop", t, (2,)),
            ("near_duplicate", "merge", t, (3, 4)),
            ("class_conflict", "drop", t, (6,)),
            ("invalid_value", "drop", v, (1,)),
            ("invalid_size", "drop", v, (2,)),
            ("unknown_class", "drop", v, (3,)),
            ("outside_image", "clip", v, (4,)),
            ("outside_image", "drop", v, (10,)),
            ("tiny_box", "drop", v, (5,)),
            ("orphan_label", "drop", "labels/train/orphan.txt", ()),
            ("missing_label", "drop", "images/train/img4.png", ()),
        ]
    )
    by = {(f.check, tuple(f.lines)): f for f in findings}
    near = by[("near_duplicate", (3, 4))]
    assert near.evidence["iou"] == pytest.approx(0.095 / 0.105, abs=1e-6)
    assert near.result == {"line": None, "class_id": 1, "class": "person", "cx": 0.2025, "cy": 0.3, "w": 0.1, "h": 0.2}
    clip = by[("outside_image", (4,))]
    assert (clip.result["cx"], clip.result["w"], clip.result["h"]) == (0.925, 0.15, 0.2)
    assert clip.evidence["tolerance"] == "2.0 px"
    conflict = by[("class_conflict", (6,))]
    assert [b["class"] for b in conflict.boxes] == ["car", "dog"]  # [kept, dropped]
    assert conflict.evidence["class_counts"]["dog"] == 3
    assert by[("invalid_value", (1,))].boxes[0]["cx"] == "nan"  # strict-JSON safe
    json.dumps([f.model_dump() for f in findings], allow_nan=False)


def test_coco_rule_checks_exact() -> None:
    findings = run_checks(read_dataset(BOXES / "coco/annotations.json"))
    c1, c2 = "images/c1.png", "images/c2.png"
    assert summary(findings) == sorted(
        [
            ("exact_duplicate", "drop", c1, (11,)),
            ("near_duplicate", "merge", c1, (12, 13)),
            ("outside_image", "clip", c2, (14,)),
            ("unknown_class", "drop", c2, (15,)),
            ("invalid_size", "drop", c2, (16,)),
            ("tiny_box", "drop", c2, (21,)),
            ("missing_label", "drop", "images/c6.png", ()),
        ]
    )


def test_thresholds_are_configurable() -> None:
    ds = read_dataset(BOXES / "yolo")
    strict = run_checks(ds, CheckSettings(iou_near=0.95, outside_tol_px=10, tiny_area=1e-6, iou_conflict=1.0))
    checks = {(f.check, tuple(f.lines)) for f in strict}
    assert ("near_duplicate", (3, 4)) not in checks  # IoU 0.905 < 0.95
    assert ("outside_image", (4,)) not in checks  # 5 px overhang allowed with a 10 px tolerance
    assert ("tiny_box", (5,)) not in checks
    assert ("class_conflict", (6,)) in checks  # IoU 1.0 still >= 1.0
    loose = run_checks(ds, CheckSettings(outside_tol_px=1.0))
    assert ("outside_image", (9,)) in {(f.check, tuple(f.lines)) for f in loose}  # 1.4 px > 1 px


def test_unknown_sizes_use_normalized_tolerance(tmp_path: Path) -> None:
    ds = read_dataset(BOXES / "yolo")
    for im in ds.images:
        im.width = im.height = None
    f = [x for x in run_checks(ds) if x.check == "outside_image"]
    assert [tuple(x.lines) for x in f] == [(4,), (9,), (10,)]  # 0.014 overhang > 0.005
    assert f[0].evidence["tolerance"] == "0.005 (normalized)"


def test_model_checks_from_yolo_predictions() -> None:
    ds = read_dataset(BOXES / "yolo")
    preds = load_predictions(BOXES / "yolo_preds", ds)
    assert [str(p) for p in preds.problems] == [
        "img3.txt:7: expected `class cx cy w h conf`, got 5 values",
        "nothing.txt: no image in the dataset for this predictions file",
    ]
    findings = model_checks(ds, preds)
    v = "images/val/img3.jpg"
    assert summary(findings) == sorted(
        [
            ("class_mismatch", "relabel", v, (2,)),
            ("poor_localization", "adjust", v, (3,)),
            ("missing_box", "add", v, ()),
            ("spurious_label", "drop", v, (4,)),
        ]
    )
    by = {f.check: f for f in findings}
    assert by["class_mismatch"].result["class"] == "dog" and by["class_mismatch"].confidence == 0.8
    assert by["poor_localization"].evidence["iou"] == pytest.approx(1 / 3, abs=1e-6)
    assert (by["poor_localization"].result["cx"], by["poor_localization"].result["class"]) == (0.4, "dog")
    assert by["missing_box"].result == {
        "line": None, "class_id": 1, "class": "person", "cx": 0.5, "cy": 0.5, "w": 0.1, "h": 0.1,
    }  # fmt: skip
    assert by["missing_box"].confidence == 0.6
    # Raising the bar for missing boxes removes that finding; a stricter match IoU adds mismatches.
    assert "missing_box" not in {f.check for f in model_checks(ds, preds, CheckSettings(missing_conf=0.7))}
    strict = model_checks(ds, preds, CheckSettings(match_iou=0.95))
    assert ("poor_localization", (1,)) in {(f.check, tuple(f.lines)) for f in strict}  # IoU 0.905 < 0.95


def test_model_checks_from_coco_results(tmp_path: Path) -> None:
    ds = read_dataset(BOXES / "yolo")
    # The same predictions as a COCO results file (pixels of the 80x60 image; image_id = stem).
    results = [
        {"image_id": "img3", "category_id": 0, "bbox": [0.21 * 80, 0.2 * 60, 16, 12], "score": 0.9},
        {"image_id": "img3", "category_id": 2, "bbox": [0.6 * 80, 0.2 * 60, 16, 12], "score": 0.8},
        {"image_id": "img3", "category_id": 2, "bbox": [0.3 * 80, 0.65 * 60, 16, 12], "score": 0.7},
        {"image_id": "img3", "category_id": 1, "bbox": [0.45 * 80, 0.45 * 60, 8, 6], "score": 0.6},
        {"image_id": "nope", "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.6},
        {"image_id": "img3", "category_id": 1, "bbox": [0, 0, 1], "score": 0.6},
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    preds = load_predictions(path, ds)
    assert [p.record for p in preds.problems] == ["result 4", "result 5"]
    assert sorted(f.check for f in model_checks(ds, preds)) == [
        "class_mismatch",
        "missing_box",
        "poor_localization",
        "spurious_label",
    ]


def test_uncovered_images_get_no_spurious_findings() -> None:
    ds = read_dataset(BOXES / "yolo")
    preds = load_predictions(BOXES / "yolo_preds", ds)
    findings = model_checks(ds, preds)
    assert {f.image for f in findings} == {"images/val/img3.jpg"}  # no prediction files for train images


def _random_dataset(seed: int, n_img: int = 40, per: int = 30) -> BoxDataset:
    """Random boxes with planted exact, near and cross-class copies and a few invalid ones."""
    rng = np.random.default_rng(seed)
    images = []
    for i in range(n_img):
        c = rng.random((per, 2))
        wh = rng.uniform(0.02, 0.4, (per, 2))
        cls = rng.integers(0, 4, per)
        for k in range(1, per, 7):  # the box before, copied: exactly, jittered, or as another class
            kind = k % 3
            c[k], wh[k], cls[k] = c[k - 1], wh[k - 1] * (1 + 0.02 * kind), (cls[k - 1] + (kind == 2)) % 4
        wh[per - 1, 0] = np.nan if i % 5 == 0 else wh[per - 1, 0]
        boxes = [Box(class_id=int(k), cx=float(x), cy=float(y), w=float(w), h=float(h))
                 for k, (x, y), (w, h) in zip(cls, c, wh, strict=True)]  # fmt: skip
        images.append(ImageLabels(name=f"img{i}.jpg", path="", width=640, height=480, boxes=boxes,
                                  lines=list(range(1, per + 1)), label_file=f"img{i}.txt"))  # fmt: skip
    return BoxDataset(format="yolo", source="random", root="", names={k: f"c{k}" for k in range(4)}, images=images)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pair_checks_match_brute_force(seed: int) -> None:
    """The grid-pruned checks find exactly the pairs a full IoU matrix per image finds."""
    ds = _random_dataset(seed)
    s = CheckSettings(iou_near=0.6, iou_conflict=0.7)
    found = {(f.check, f.image, tuple(sorted(b["line"] for b in f.boxes))) for f in run_checks(ds, s)}
    expected = set()
    for im in ds.images:
        ok = [k for k, b in enumerate(im.boxes) if b.is_finite() and b.w > 0 and b.h > 0]
        xyxy = cxcywh_to_xyxy(np.array([[im.boxes[k].cx, im.boxes[k].cy, im.boxes[k].w, im.boxes[k].h] for k in ok]))
        m = iou_matrix(xyxy, xyxy)
        for a in range(len(ok)):
            for b in range(a + 1, len(ok)):
                same = im.boxes[ok[a]].class_id == im.boxes[ok[b]].class_id
                v = m[a, b]
                check = (
                    "exact_duplicate" if same and v >= s.iou_dup
                    else "near_duplicate" if same and v >= s.iou_near
                    else "class_conflict" if not same and v >= s.iou_conflict
                    else None
                )  # fmt: skip
                if check:
                    expected.add((check, im.name, (im.lines[ok[a]], im.lines[ok[b]])))
    pairs = {x for x in found if x[0] in ("exact_duplicate", "near_duplicate", "class_conflict")}
    assert len(expected) > 30 and {c for c, _, _ in expected} == {"exact_duplicate", "near_duplicate", "class_conflict"}
    assert pairs == expected


def test_findings_are_valid() -> None:
    """Findings are built without pydantic validation for speed; a validated copy is equal."""
    findings = run_checks(_random_dataset(4)) + run_checks(read_dataset(BOXES / "yolo"))
    assert len(findings) > 40
    for f in findings:
        assert Finding.model_validate(f.model_dump()) == f
        assert json.loads(f.model_dump_json()) == f.model_dump(mode="json")
