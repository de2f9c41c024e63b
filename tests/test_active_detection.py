"""Detection scores from box confidences, and the predictions readers (malformed rows reported)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.errors import StudioError
from studio.ops.active.detection import box_uncertainty, image_scores, read_predictions


def test_box_uncertainty_by_hand() -> None:
    c = np.array([0.9, 0.5, 0.2])
    assert np.allclose(box_uncertainty(c, "least_confidence"), [0.1, 0.5, 0.8])
    assert np.allclose(box_uncertainty(c, "margin"), [0.2, 1.0, 0.4])
    # binary entropy in bits: H(0.9) = 0.469, H(0.5) = 1, H(0.2) = 0.722
    assert np.allclose(box_uncertainty(c, "entropy"), [0.469, 1.0, 0.722], atol=1e-3)
    with pytest.raises(StudioError, match="does not apply"):
        box_uncertainty(c, "kl")


def test_image_scores_aggregate() -> None:
    preds = {"a": [(0, 0.9), (1, 0.5)], "b": [(0, 0.8)], "empty": []}
    assert image_scores(preds, "least_confidence", "mean") == pytest.approx({"a": 0.3, "b": 0.2, "empty": 0.5})
    assert image_scores(preds, "least_confidence", "max", empty_score=0.0) == pytest.approx(
        {"a": 0.5, "b": 0.2, "empty": 0.0}
    )
    assert image_scores(preds, "least_confidence", "sum")["a"] == pytest.approx(0.6)
    assert image_scores(preds, "random", seed=1) == image_scores(preds, "random", seed=1)


def test_readers_report_bad_rows(tmp_path: Path) -> None:
    csv_file = tmp_path / "p.csv"
    csv_file.write_text("image,cls,conf\na.jpg,0,0.9\na.jpg,1,oops\nb.jpg,2,1.5\nb.jpg,0,0.4\n")
    preds, problems = read_predictions(csv_file)
    assert preds == {"a.jpg": [(0, 0.9)], "b.jpg": [(0, 0.4)]}
    assert [p.split(": ")[0] for p in problems] == [f"{csv_file}:3", f"{csv_file}:4"]

    coco = tmp_path / "results.json"
    coco.write_text(json.dumps([{"image_id": 7, "category_id": 1, "score": 0.3}, {"image_id": 7}]))
    preds, problems = read_predictions(coco)
    assert preds == {"7": [(1, 0.3)]} and "record 1" in problems[0]

    yolo = tmp_path / "labels"
    yolo.mkdir()
    (yolo / "img1.txt").write_text("0 0.5 0.5 0.2 0.2 0.75\n1 0.1 0.1 0.1 0.1\n")
    (yolo / "img2.txt").write_text("")
    preds, problems = read_predictions(yolo)
    assert preds == {"img1": [(0, 0.75)], "img2": []}
    assert problems[0].startswith(f"{yolo / 'img1.txt'}:2: expected 6 columns")

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(StudioError, match="not JSON"):
        read_predictions(bad)
