"""Read any supported dataset into a `BoxDataset`, and write one out as YOLO or COCO.

These are the public entry points the release area uses:
- `read_dataset(path, format=None)`: a dataset.yaml, a YOLO folder, or a COCO JSON file.
- `write_yolo(dataset, out)`: images/<split>/, labels/<split>/, dataset.yaml (class ids renumbered
  0..n-1 in the order of the original ids, as YOLO requires).
- `write_coco(dataset, out_json)`: one COCO file; category ids kept; needs every image's size.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from studio.errors import StudioError
from studio.ops.boxes.coco import pixel_bbox, read_coco
from studio.ops.boxes.model import BoxDataset, Format
from studio.ops.boxes.yolo import find_yaml, format_box, read_yolo
from studio.schema import Box

Progress = Callable[[str, int, int], None]
SYNTHETIC_MANIFEST = "studio_synthetic.json"  # images made by `studio augment`, approved, in a cleaned copy


def detect_format(path: Path) -> Format:
    if path.is_file() and path.suffix.lower() == ".json":
        return "coco"
    return "yolo"


def resolve_source(path: str | Path, format: Format | None = None) -> str:
    """The canonical name of a dataset (its yaml or JSON, resolved), as `BoxDataset.source` holds it."""
    p = Path(path).expanduser().resolve()
    if (format or detect_format(p)) == "coco":
        return str(p)
    return str(find_yaml(p) or p) if p.exists() else str(p)


def read_dataset(
    path: str | Path,
    format: Format | None = None,
    images_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> BoxDataset:
    """Read a dataset; `format` defaults to coco for a .json file and yolo otherwise."""
    p = Path(path).expanduser()
    fmt = format or detect_format(p)
    if fmt == "coco":
        return mark_synthetic(read_coco(p, images_dir=images_dir, progress=progress))
    return mark_synthetic(read_yolo(p, progress=progress))


def mark_synthetic(ds: BoxDataset) -> BoxDataset:
    """Mark the images `studio_synthetic.json` (written by `studio cleanse --apply`) lists as synthetic."""
    manifest = Path(ds.root) / SYNTHETIC_MANIFEST
    if not manifest.is_file():
        return ds
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8")).get("images") or {}
    except (OSError, ValueError, AttributeError) as exc:
        raise StudioError(f"{manifest}: not a readable synthetic-image list ({exc}); restore or delete it") from exc
    for im in ds.images:
        if im.name in listed:
            im.synthetic = dict(listed[im.name])
    if f"{SYNTHETIC_MANIFEST}" not in ds.meta_files:
        ds.meta_files.append(SYNTHETIC_MANIFEST)
    return ds


def write_yolo(dataset: BoxDataset, out: str | Path, copy_images: bool = True) -> Path:
    """Write `dataset` as a YOLO folder in `out` (created; must not hold files). Returns the yaml path."""
    out = _fresh_dir(Path(out))
    ids = sorted(dataset.names) or sorted({b.class_id for im in dataset.images for b in im.boxes})
    remap = {cid: i for i, cid in enumerate(ids)}
    splits: dict[str, str] = {}
    for im in dataset.images:
        split = im.split or "train"
        rel = Path(Path(im.name).name)
        img_dst = out / "images" / split / rel
        lbl_dst = out / "labels" / split / rel.with_suffix(".txt")
        img_dst.parent.mkdir(parents=True, exist_ok=True)
        lbl_dst.parent.mkdir(parents=True, exist_ok=True)
        if copy_images and im.exists:
            shutil.copy2(im.path, img_dst)
        lines = []
        for b in im.boxes:
            if b.class_id not in remap:
                raise StudioError(f"{im.name}: class id {b.class_id} is not in the dataset's names; fix it first")
            lines.append(format_box(b.model_copy(update={"class_id": remap[b.class_id]})))
        lbl_dst.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        splits[split] = f"images/{split}"
    names = {remap[cid]: dataset.names.get(cid, f"class_{cid}") for cid in ids}
    meta: dict[str, Any] = {"path": str(out), **splits, "names": names}
    yaml_path = out / "dataset.yaml"
    yaml_path.write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return yaml_path


def write_coco(dataset: BoxDataset, out_json: str | Path) -> Path:
    """Write `dataset` as one COCO JSON (image ids 1..n in order, annotation ids 1..m)."""
    out_json = Path(out_json)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i, im in enumerate(dataset.images, start=1):
        if im.width is None or im.height is None:
            raise StudioError(f"{im.name}: image size unknown, COCO needs it; make sure the image file is readable")
        images.append({"id": i, "file_name": im.name, "width": im.width, "height": im.height})
        for b in im.boxes:
            bbox = pixel_bbox(b.cx, b.cy, b.w, b.h, im.width, im.height)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": b.class_id,
                    "bbox": bbox,
                    "area": round(bbox[2] * bbox[3], 2),
                    "iscrowd": 0,
                }
            )
    ids = sorted(dataset.names) or sorted({a["category_id"] for a in anns})
    cats = [{"id": cid, "name": dataset.names.get(cid, f"class_{cid}")} for cid in ids]
    out_json.write_text(
        json.dumps({"images": images, "annotations": anns, "categories": cats}, indent=1), encoding="utf-8"
    )
    return out_json


def boxes_equal(a: Box, b: Box, tol: float = 1e-6) -> bool:
    """Same class and coordinates (NaN equals NaN): used to check the source did not change."""
    if a.class_id != b.class_id:
        return False
    for x, y in ((a.cx, b.cx), (a.cy, b.cy), (a.w, b.w), (a.h, b.h)):
        if x == y or (x != x and y != y):  # equal (infinities too) or both NaN
            continue
        if not abs(x - y) <= tol:
            return False
    return True


def _fresh_dir(out: Path) -> Path:
    out = out.expanduser().resolve()
    if out.exists() and any(out.iterdir()):
        raise StudioError(f"{out} exists and is not empty; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    return out
