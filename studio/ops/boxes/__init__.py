"""Box-label cleansing for YOLO and COCO datasets.

Public API (see docs/boxes.md):
- reading and writing: `read_dataset`, `write_yolo`, `write_coco`, `BoxDataset`, `ImageLabels`, `Problem`
- checks: `run_checks`, `model_checks`, `load_predictions`, `predict_ultralytics`, `CheckSettings`, `Finding`
- IoU: `iou_matrix`, `overlapping_pairs`
- with a store: `run_cleanse` (findings -> proposals), `apply_fixes` (approved fixes -> cleaned copy)
"""

from __future__ import annotations

from studio.ops.boxes.apply import ApplyResult, apply_fixes
from studio.ops.boxes.checks import run_checks
from studio.ops.boxes.cleanse import CleanseOptions, CleanseResult, current_dataset, fix_proposals, run_cleanse
from studio.ops.boxes.io import read_dataset, resolve_source, write_coco, write_yolo
from studio.ops.boxes.iou import iou_matrix, overlapping_pairs
from studio.ops.boxes.matching import model_checks
from studio.ops.boxes.model import BoxDataset, CheckSettings, Finding, ImageLabels, Problem
from studio.ops.boxes.predictions import Predictions, load_predictions, predict_ultralytics

__all__ = [
    "ApplyResult",
    "BoxDataset",
    "CheckSettings",
    "CleanseOptions",
    "CleanseResult",
    "Finding",
    "ImageLabels",
    "Predictions",
    "Problem",
    "apply_fixes",
    "current_dataset",
    "fix_proposals",
    "iou_matrix",
    "load_predictions",
    "model_checks",
    "overlapping_pairs",
    "predict_ultralytics",
    "read_dataset",
    "resolve_source",
    "run_checks",
    "run_cleanse",
    "write_coco",
    "write_yolo",
]
