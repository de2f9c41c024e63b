"""Detection uncertainty from a detector's box confidences.

Input is a predictions table: image -> list of (class id, confidence), read from
- JSON: `{"img.jpg": [[cls, conf], ...]}` (or `[{"cls": c, "conf": p}, ...]` per image), a list of
  `{"image": ..., "cls": ..., "conf": ...}` rows, or COCO results (`image_id`, `category_id`, `score`);
- CSV with a header naming `image`, `cls`, `conf`;
- a folder of YOLO prediction files (`<image>.txt`, lines `cls cx cy w h conf`; an empty file is an
  image with no boxes).
Malformed rows are reported with file and line (or record index) and skipped.

Per box, a confidence c is a binary distribution [c, 1 - c]: least confidence is 1 - c, margin
1 - |2c - 1|, entropy the binary entropy in bits. An image's score aggregates its boxes (`mean` by
default, or `max`, `sum`); an image with no predicted box gets `empty_score` (default 0.5: the
detector saw nothing confidently, which is neither a sure background nor a sure miss).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from studio.errors import StudioError
from studio.ops.active import strategies

Predictions = dict[str, list[tuple[int, float]]]
AGGREGATES = ("mean", "max", "sum")
DETECTION_STRATEGIES = ("random", "least_confidence", "margin", "entropy")


def read_predictions(path: str | Path) -> tuple[Predictions, list[str]]:
    p = Path(path)
    if p.is_dir():
        return _read_yolo_dir(p)
    if not p.is_file():
        raise StudioError(f"predictions {p} not found: pass a JSON, CSV or a folder of YOLO .txt predictions")
    if p.suffix.lower() == ".csv":
        return _read_csv(p)
    return _read_json(p)


def _box(cls: Any, conf: Any) -> tuple[int, float]:
    c = float(conf)
    if not 0.0 <= c <= 1.0:
        raise ValueError(f"confidence {c} is not in [0, 1]")
    return int(cls), c


def _read_json(p: Path) -> tuple[Predictions, list[str]]:
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StudioError(f"{p} is not JSON ({exc}): see `studio query --help` for the predictions formats") from exc
    preds: Predictions = {}
    problems: list[str] = []
    if isinstance(data, dict):
        for image, boxes in data.items():
            preds[str(image)] = []
            for k, b in enumerate(boxes if isinstance(boxes, list) else [None]):
                try:
                    preds[str(image)].append(_box(b["cls"], b["conf"]) if isinstance(b, dict) else _box(b[0], b[1]))
                except (TypeError, KeyError, IndexError, ValueError) as exc:
                    problems.append(f"{p}: {image} box {k}: expected [cls, conf] ({exc}), skipped")
        return preds, problems
    if not isinstance(data, list):
        raise StudioError(f"{p}: expected an object (image -> boxes) or a list of rows")
    for k, row in enumerate(data):
        try:
            if "image_id" in row:  # COCO results
                image, box = str(row["image_id"]), _box(row["category_id"], row["score"])
            else:
                image, box = str(row["image"]), _box(row["cls"], row["conf"])
        except (TypeError, KeyError, ValueError) as exc:
            problems.append(f"{p}: record {k}: expected image/cls/conf or image_id/category_id/score ({exc}), skipped")
            continue
        preds.setdefault(image, []).append(box)
    return preds, problems


def _read_csv(p: Path) -> tuple[Predictions, list[str]]:
    preds: Predictions = {}
    problems: list[str] = []
    with p.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"image", "cls", "conf"} <= set(reader.fieldnames):
            raise StudioError(f"{p}: the CSV header must name `image`, `cls` and `conf` (got {reader.fieldnames})")
        for row in reader:
            image = (row.get("image") or "").strip()
            try:
                if not image:
                    raise ValueError("no image name")
                box = _box(row["cls"], row["conf"])
            except (TypeError, ValueError) as exc:
                problems.append(f"{p}:{reader.line_num}: {exc}, skipped")
                continue
            preds.setdefault(image, []).append(box)
    return preds, problems


def _read_yolo_dir(d: Path) -> tuple[Predictions, list[str]]:
    preds: Predictions = {}
    problems: list[str] = []
    files = sorted(d.glob("*.txt"))
    if not files:
        raise StudioError(f"{d} holds no .txt prediction files (lines `cls cx cy w h conf`)")
    for f in files:
        preds[f.stem] = []
        for line_no, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                if len(parts) != 6:
                    raise ValueError(f"expected 6 columns `cls cx cy w h conf`, got {len(parts)}")
                preds[f.stem].append(_box(parts[0], parts[5]))
            except ValueError as exc:
                problems.append(f"{f}:{line_no}: {exc}, skipped")
    return preds, problems


def box_uncertainty(conf: np.ndarray, strategy: str) -> np.ndarray:
    c = np.clip(np.asarray(conf, dtype=float), 0.0, 1.0)
    if strategy == "least_confidence":
        return 1.0 - c
    if strategy == "margin":
        return 1.0 - np.abs(2 * c - 1)
    if strategy == "entropy":
        table = np.stack([c, 1 - c], axis=1)
        return strategies.entropy(table)  # normalized by log 2: bits
    raise StudioError(
        f"strategy {strategy!r} does not apply to detection: use one of {', '.join(DETECTION_STRATEGIES)}"
    )


def image_scores(
    preds: Predictions,
    strategy: str = "least_confidence",
    aggregate: str = "mean",
    empty_score: float = 0.5,
    seed: int = 0,
) -> dict[str, float]:
    """One score per image, higher = more worth a look."""
    if aggregate not in AGGREGATES:
        raise StudioError(f"aggregate {aggregate!r} unknown: use one of {', '.join(AGGREGATES)}")
    images = sorted(preds)
    if strategy == "random":
        return dict(zip(images, strategies.random_scores(len(images), seed).tolist(), strict=True))
    out: dict[str, float] = {}
    for image in images:
        confs = np.array([c for _, c in preds[image]], dtype=float)
        if confs.size == 0:
            out[image] = float(empty_score)
            continue
        u = box_uncertainty(confs, strategy)
        out[image] = float(getattr(np, aggregate)(u))
    return out
