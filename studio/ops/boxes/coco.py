"""COCO detection JSON: images, annotations (`bbox` = [x, y, w, h] in pixels), categories.

Boxes are converted to normalized centre form with the image size from the JSON (or from the
image header when the JSON lacks it). Class ids are the COCO category ids, unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.ops.boxes.imagesize import image_size
from studio.ops.boxes.model import BoxDataset, ImageLabels, Problem
from studio.schema import Box

Progress = Callable[[str, int, int], None]


def load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise StudioError(f"{path}: cannot read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise StudioError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); fix the file") from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise StudioError(f"{path}: not a COCO file (expected an object with an `images` list)")
    return data


def find_images_root(json_path: Path, file_names: list[str], images_dir: Path | None) -> Path:
    """The folder the `file_name`s are relative to: the option, or the first candidate holding one."""
    if images_dir is not None:
        return images_dir.resolve()
    base = json_path.parent
    cands = [base, base / "images", base.parent / "images", base.parent]
    for name in file_names[:20]:
        for c in cands:
            if (c / name).is_file():
                return c.resolve()
    return base.resolve()


def dataset_root(json_path: Path, images_root: Path) -> Path:
    """The folder a cleaned copy reproduces: the JSON's folder, or its parent when images live beside it."""
    base = json_path.parent.resolve()
    if images_root == base or base in images_root.parents:
        return base
    if base.parent == images_root or base.parent in images_root.parents:
        return base.parent
    return base


def read_coco(
    path: str | Path, images_dir: str | Path | None = None, read_sizes: bool = True, progress: Progress | None = None
) -> BoxDataset:
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise StudioError(f"{path} does not exist: pass a COCO annotations JSON file")
    data = load_json(path)
    problems: list[Problem] = []
    src = path.name

    names: dict[int, str] = {}
    for i, cat in enumerate(data.get("categories") or []):
        cid = cat.get("id") if isinstance(cat, dict) else None
        if not isinstance(cid, int) or isinstance(cid, bool):
            problems.append(Problem(file=src, record=f"categories[{i}]", message="category without an integer id"))
            continue
        names[cid] = str(cat.get("name", f"#{cid}"))

    raw_images = data["images"]
    file_names = [r["file_name"] for r in raw_images if isinstance(r, dict) and isinstance(r.get("file_name"), str)]
    img_root = find_images_root(path, file_names, Path(images_dir) if images_dir else None)
    root = dataset_root(path, img_root)

    images: list[ImageLabels] = []
    by_id: dict[int | str, ImageLabels] = {}
    for i, rec in enumerate(raw_images):
        msg = _bad_image(rec)
        if msg:
            rid = rec.get("id") if isinstance(rec, dict) else None
            problems.append(
                Problem(file=src, record=f"image {rid}" if rid is not None else f"images[{i}]", message=msg)
            )
            continue
        if rec["id"] in by_id:
            problems.append(
                Problem(file=src, record=f"image {rec['id']}", message="duplicate image id; kept the first")
            )
            continue
        p = img_root / rec["file_name"]
        im = ImageLabels(
            name=_rel(p, root),
            path=str(p),
            image_id=rec["id"],
            exists=p.is_file(),
            width=_pos_int(rec.get("width")),
            height=_pos_int(rec.get("height")),
            label_file=src,
        )
        if (im.width is None or im.height is None) and im.exists and read_sizes:
            size = image_size(p)
            if size:
                im.width, im.height = size
        images.append(im)
        by_id[rec["id"]] = im

    anns = data.get("annotations") or []
    if not isinstance(anns, list):
        problems.append(Problem(file=src, record="annotations", message="`annotations` is not a list; none read"))
        anns = []
    seen_ann: set[Any] = set()
    no_size: set[int | str] = set()
    for i, ann in enumerate(anns):
        rid = ann.get("id") if isinstance(ann, dict) else None
        record = f"annotation {rid}" if rid is not None else f"annotations[{i}]"
        box_or_msg = _parse_ann(ann, by_id, seen_ann)
        if isinstance(box_or_msg, str):
            problems.append(Problem(file=src, record=record, message=box_or_msg))
            continue
        im = by_id[ann["image_id"]]
        if im.width is None or im.height is None:
            if im.image_id not in no_size:
                no_size.add(im.image_id)  # type: ignore[arg-type]
                problems.append(
                    Problem(
                        file=src,
                        record=f"image {im.image_id}",
                        message="no width/height and the image file was not found; its annotations were skipped",
                    )
                )
            continue
        x, y, w, h = box_or_msg
        cx = (x + w / 2) / im.width
        cy = (y + h / 2) / im.height
        im.boxes.append(Box(class_id=ann["category_id"], cx=cx, cy=cy, w=w / im.width, h=h / im.height))
        im.lines.append(ann["id"])
        if progress and (i % 5000 == 0 or i == len(anns) - 1):
            progress("read", i + 1, len(anns))
    return BoxDataset(
        format="coco",
        source=str(path),
        root=str(root),
        names=names,
        names_known=bool(names),
        images=images,
        meta_files=[_rel(path, root)],
        problems=problems,
    )


def _bad_image(rec: Any) -> str | None:
    if not isinstance(rec, dict):
        return "image record is not an object"
    rid = rec.get("id")
    if rid is None or isinstance(rid, (bool, float, list, dict)):
        return "image without an integer or string id"
    if not isinstance(rec.get("file_name"), str) or not rec["file_name"]:
        return "image without a file_name"
    return None


def _parse_ann(ann: Any, by_id: dict[int | str, ImageLabels], seen: set[Any]) -> tuple[float, ...] | str:
    if not isinstance(ann, dict):
        return "annotation is not an object"
    aid = ann.get("id")
    if not isinstance(aid, int) or isinstance(aid, bool):
        return "annotation without an integer id"
    if aid in seen:
        return "duplicate annotation id; kept the first"
    seen.add(aid)
    if ann.get("image_id") not in by_id:
        return f"image_id {ann.get('image_id')!r} is not in images"
    cid = ann.get("category_id")
    if not isinstance(cid, int) or isinstance(cid, bool):
        return f"category_id {cid!r} is not an integer"
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        return f"bbox must be a list [x, y, w, h], got {json.dumps(bbox)[:60]}"
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox):
        return f"bbox values are not all numbers: {json.dumps(bbox)[:60]}"
    return tuple(float(v) for v in bbox)


def _pos_int(v: Any) -> int | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0:
        return int(v)
    return None


def _rel(p: Path, root: Path) -> str:
    try:
        return p.resolve().relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()


def pixel_bbox(cx: float, cy: float, w: float, h: float, width: int, height: int) -> list[float]:
    """Normalized centre box -> COCO [x, y, w, h] in pixels, rounded to 1/100 px."""
    return [
        round((cx - w / 2) * width, 2),
        round((cy - h / 2) * height, 2),
        round(w * width, 2),
        round(h * height, 2),
    ]
