"""Model predictions for the model-assisted checks, from files or from Ultralytics weights.

Three sources, all ending as `Predictions` (per image: class ids, normalized centre boxes, scores):
- a folder of YOLO txt files with a confidence column (`class cx cy w h conf`), one per image, as
  `yolo predict save_txt=True save_conf=True` writes them; matched to images by relative path, then
  by file stem. An image without a file has no predictions.
- a COCO results JSON: a list of `{image_id, category_id, bbox: [x, y, w, h] px, score}`. For a
  YOLO dataset, `image_id` is the image's file stem (as Ultralytics writes it).
- Ultralytics weights (`--weights W.pt`), run on the dataset's images; only if ultralytics imports.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from studio.errors import StudioError
from studio.ops.boxes.model import BoxDataset, Problem
from studio.ops.boxes.yolo import label_path, parse_label_line

Progress = Callable[[str, int, int], None]


@dataclass
class ImagePredictions:
    cls: NDArray[np.int64]
    cxcywh: NDArray[np.float64]
    conf: NDArray[np.float64]

    @classmethod
    def empty(cls) -> ImagePredictions:
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, 4)), np.zeros(0))


@dataclass
class Predictions:
    source: str
    by_image: dict[str, ImagePredictions] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def get(self, image: str) -> ImagePredictions:
        return self.by_image.get(image) or ImagePredictions.empty()

    def count(self) -> int:
        return sum(len(p.conf) for p in self.by_image.values())


def load_predictions(path: str | Path, ds: BoxDataset) -> Predictions:
    """Predictions from a folder of YOLO txt files or a COCO results JSON."""
    path = Path(path).expanduser().resolve()
    if path.is_dir():
        return _from_yolo_dir(path, ds)
    if path.is_file() and path.suffix.lower() == ".json":
        return _from_coco_results(path, ds)
    raise StudioError(
        f"{path}: predictions must be a folder of YOLO txt files (class cx cy w h conf) or a COCO results .json"
    )


def _from_yolo_dir(pred_dir: Path, ds: BoxDataset) -> Predictions:
    out = Predictions(source=str(pred_dir))
    files = {p.resolve() for p in pred_dir.rglob("*.txt")}
    by_stem: dict[str, list[Path]] = {}
    for p in files:
        by_stem.setdefault(p.stem, []).append(p)
    used: set[Path] = set()
    root = Path(ds.root)
    for im in ds.images:
        name = Path(im.name)
        cands = [pred_dir / name.with_suffix(".txt")]
        lp = label_path(Path(im.path))
        with contextlib.suppress(ValueError):
            cands.append(pred_dir / lp.relative_to(root))
        found = next((c.resolve() for c in cands if c.resolve() in files), None)
        if found is None:
            stem_hits = by_stem.get(name.stem, [])
            if len(stem_hits) == 1:
                found = stem_hits[0]
            elif len(stem_hits) > 1:
                out.problems.append(
                    Problem(
                        file=str(pred_dir), message=f"several prediction files named {name.stem}.txt; {im.name} skipped"
                    )
                )
                continue
        if found is None:
            continue
        used.add(found)
        out.by_image[im.name] = _read_pred_file(found, pred_dir, out.problems)
    for p in sorted(files - used):
        out.problems.append(
            Problem(file=_rel(p, pred_dir), message="no image in the dataset for this predictions file")
        )
    return out


def _read_pred_file(p: Path, base: Path, problems: list[Problem]) -> ImagePredictions:
    rows: list[tuple[int, float, float, float, float, float]] = []
    rel = _rel(p, base)
    for n, line in enumerate(p.read_text(encoding="utf-8-sig", errors="replace").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 6:
            problems.append(
                Problem(file=rel, line=n, message=f"expected `class cx cy w h conf`, got {len(parts)} values")
            )
            continue
        box = parse_label_line(" ".join(parts[:5]))
        if not box or isinstance(box, str):
            problems.append(Problem(file=rel, line=n, message=str(box)))
            continue
        try:
            conf = float(parts[5])
        except ValueError:
            problems.append(Problem(file=rel, line=n, message=f"confidence {parts[5]!r} is not a number"))
            continue
        if not (0.0 <= conf <= 1.0) or not box.is_finite():
            problems.append(Problem(file=rel, line=n, message="confidence must be in [0, 1] and coordinates finite"))
            continue
        rows.append((box.class_id, box.cx, box.cy, box.w, box.h, conf))
    return _pack(rows)


def _from_coco_results(path: Path, ds: BoxDataset) -> Predictions:
    out = Predictions(source=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StudioError(f"{path}: not a readable COCO results JSON ({exc})") from exc
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        data = data["annotations"]
    if not isinstance(data, list):
        raise StudioError(f"{path}: expected a list of {{image_id, category_id, bbox, score}}")
    index: dict[str, Any] = {}
    for im in ds.images:
        key = im.image_id if im.image_id is not None else Path(im.name).stem
        index[str(key)] = im
    rows: dict[str, list[tuple[int, float, float, float, float, float]]] = {}
    for i, r in enumerate(data):
        rec = f"result {i}"
        if not isinstance(r, dict):
            out.problems.append(Problem(file=path.name, record=rec, message="not an object"))
            continue
        im = index.get(str(r.get("image_id")))
        if im is None:
            out.problems.append(
                Problem(file=path.name, record=rec, message=f"image_id {r.get('image_id')!r} not in the dataset")
            )
            continue
        bbox, score, cid = r.get("bbox"), r.get("score"), r.get("category_id")
        ok = (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in bbox)
            and isinstance(score, (int, float))
            and 0 <= score <= 1
            and isinstance(cid, int)
        )
        if not ok:
            out.problems.append(
                Problem(
                    file=path.name, record=rec, message="needs bbox [x, y, w, h], score in [0, 1], integer category_id"
                )
            )
            continue
        if not im.width or not im.height:
            out.problems.append(
                Problem(file=path.name, record=rec, message=f"size of {im.name} unknown; cannot normalize")
            )
            continue
        x, y, w, h = (float(v) for v in bbox)
        rows.setdefault(im.name, []).append(
            (cid, (x + w / 2) / im.width, (y + h / 2) / im.height, w / im.width, h / im.height, float(score))
        )
    out.by_image = {k: _pack(v) for k, v in rows.items()}
    return out


def predict_ultralytics(
    weights: str | Path | Any,
    ds: BoxDataset,
    conf: float = 0.25,
    imgsz: int = 640,
    batch: int = 16,
    progress: Progress | None = None,
) -> Predictions:
    """Run an Ultralytics YOLO model (weights path, model yaml, or a YOLO object) on every image.

    Class ids are mapped to the dataset's by class name when the model's names are all in the
    dataset; otherwise the model's ids are used as they are (a problem says so).
    """
    # Ultralytics logs to stdout (a handler bound at import, and a notice when it creates its
    # settings file), which would corrupt `--json` output: everything it prints goes to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr)
    try:
        with quiet:
            from ultralytics import YOLO
    except ImportError as exc:
        raise StudioError(
            "--weights needs ultralytics: pip install 'studio[vision]', or pass --predictions FILE"
        ) from exc
    try:
        import torchvision  # noqa: F401  (ultralytics imports it to predict; fail here with a clear message)
    except Exception as exc:
        raise StudioError(
            f"ultralytics cannot run: torchvision does not load ({exc}); install the torchvision build "
            "that matches your torch, or pass --predictions FILE"
        ) from exc
    with quiet:
        model = weights if not isinstance(weights, (str, Path)) else YOLO(str(weights))
    out = Predictions(source=str(weights) if isinstance(weights, (str, Path)) else "ultralytics model")
    model_names: dict[int, str] = dict(getattr(model, "names", {}) or {})
    by_name = {v: k for k, v in ds.names.items()}
    if model_names and all(n in by_name for n in model_names.values()):
        remap = {k: by_name[v] for k, v in model_names.items()}
    else:
        remap = {}
        if ds.names and model_names:
            out.problems.append(
                Problem(file=out.source, message="model class names differ from the dataset's; ids used as they are")
            )
    images = [im for im in ds.images if im.exists]
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        with quiet:
            results = model.predict(
                source=[im.path for im in chunk], conf=conf, imgsz=imgsz, verbose=False, device="cpu"
            )
        for im, r in zip(chunk, results, strict=True):
            b = r.boxes
            cls = [remap.get(int(c), int(c)) for c in b.cls.tolist()]
            out.by_image[im.name] = ImagePredictions(
                np.asarray(cls, dtype=np.int64).reshape(-1),
                np.asarray(b.xywhn.tolist(), dtype=np.float64).reshape(-1, 4),
                np.asarray(b.conf.tolist(), dtype=np.float64).reshape(-1),
            )
        if progress:
            progress("predict", min(start + batch, len(images)), len(images))
    return out


def _pack(rows: list[tuple[int, float, float, float, float, float]]) -> ImagePredictions:
    if not rows:
        return ImagePredictions.empty()
    a = np.asarray(rows, dtype=np.float64)
    return ImagePredictions(a[:, 0].astype(np.int64), a[:, 1:5].copy(), a[:, 5].copy())


def _rel(p: Path, base: Path) -> str:
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return str(p)
