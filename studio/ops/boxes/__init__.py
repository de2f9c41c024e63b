"""Box-label cleansing for YOLO and COCO datasets.

Public API (see docs/boxes.md):
- reading and writing: `read_dataset`, `write_yolo`, `write_coco`, `BoxDataset`, `ImageLabels`, `Problem`
- checks: `run_checks`, `model_checks`, `load_predictions`, `predict_ultralytics`, `CheckSettings`, `Finding`
- IoU: `iou_matrix`, `overlapping_pairs`
- with a store: `run_cleanse` (findings -> proposals), `apply_fixes` (approved fixes -> cleaned copy)
"""

from __future__ import annotations

from studio.lazy import exports

_NAMES = {
    "ApplyResult": "apply",
    "BoxDataset": "model",
    "CheckSettings": "model",
    "CleanseOptions": "cleanse",
    "CleanseResult": "cleanse",
    "Finding": "model",
    "ImageLabels": "model",
    "Predictions": "predictions",
    "Problem": "model",
    "apply_fixes": "apply",
    "current_dataset": "cleanse",
    "fix_proposals": "cleanse",
    "iou_matrix": "iou",
    "load_predictions": "predictions",
    "model_checks": "matching",
    "overlapping_pairs": "iou",
    "predict_ultralytics": "predictions",
    "read_dataset": "io",
    "resolve_source": "io",
    "run_checks": "checks",
    "run_cleanse": "cleanse",
    "write_coco": "io",
    "write_yolo": "io",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = exports(__name__, _NAMES)
