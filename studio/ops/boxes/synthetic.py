"""Approved augmented images (`box_augment` proposals) joining a dataset: in a cleaned copy or in memory.

Each approved image is placed beside its source image (same folder, so the same split), named
`<source stem>__aug<proposal id><ext>`, with its labels; a split given as a `.txt` list of images
gets the new image appended where it lists the source. The copy's `studio_synthetic.json` lists
every synthetic image with its recipe, so whoever reads the copy (a release, a second cleanse)
knows which images are synthetic. An approved image whose source image (or the image its crop
came from) was changed by an applied fix, or is no longer in the dataset, is skipped: its labels
were made from boxes that are no longer there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from studio.ops.boxes.augment import KIND, proposal_boxes
from studio.ops.boxes.io import SYNTHETIC_MANIFEST
from studio.ops.boxes.model import BoxDataset, ImageLabels
from studio.ops.boxes.yolo import format_box, label_path
from studio.schema import Proposal


def accepted_augments(store: Any, source: str) -> list[Proposal]:
    return [p for p in store.proposals(kind=KIND, status="accepted") if p.payload.get("dataset") == source]


def plan_synthetic(
    ds: BoxDataset, augs: list[Proposal], changed: set[str], project_root: Path, dropped: set[str] | None = None
) -> tuple[list[tuple[Proposal, ImageLabels, ImageLabels]], list[dict[str, Any]]]:
    """(proposal, new image, its source image) for each approved image that can join; and the skipped ones.

    `changed`: images whose boxes an applied fix changed (the new image's labels came from them);
    `dropped`: images an applied fix drops (a crop taken from one is not kept either).
    The new image's `path` is its file in the project."""
    dropped = dropped or set()
    by_name = {im.name: im for im in ds.images}
    items, skipped = [], []
    for p in sorted(augs, key=lambda p: p.id or 0):
        pl = p.payload
        recipe = pl.get("recipe") or {}
        involved = [pl.get("source_image"), *([recipe["paste_from"]] if recipe.get("paste_from") else [])]
        file = project_root / str(pl.get("file", ""))
        reason = ""
        if any(name not in by_name for name in involved):
            reason = "its source image is no longer in the dataset"
        elif pl.get("source_image") in changed | dropped:
            reason = "its source image was changed by an applied fix"
        elif recipe.get("paste_from") in dropped:
            reason = "the image its crop came from was dropped by an applied fix"
        elif not file.is_file():
            reason = f"the new image {pl.get('file')} is gone from the project"
        if reason:
            skipped.append({"proposal_id": p.id, "source_image": pl.get("source_image"), "reason": reason})
            continue
        src = by_name[str(pl["source_image"])]
        name = PurePosixPath(src.name).parent / f"{PurePosixPath(src.name).stem}__aug{p.id}{file.suffix}"
        boxes = proposal_boxes(p)
        new = ImageLabels(
            name=name.as_posix(), path=str(file), width=int(pl["width"]), height=int(pl["height"]), split=src.split,
            boxes=boxes, lines=[0] * len(boxes), exists=True,
            synthetic={"proposal_id": p.id, "source_image": src.name, "recipe": recipe},
        )  # fmt: skip
        items.append((p, new, src))
    return items, skipped


def write_synthetic_yolo(ds: BoxDataset, out: Path, items: list[tuple[Proposal, ImageLabels, ImageLabels]]) -> None:
    """Copy each new image beside its source in `out`, write its labels, extend `.txt` split lists."""
    root = Path(ds.root).resolve()
    lists = _split_lists(ds, out)
    for _, new, src in items:
        src_path = Path(src.path).resolve()
        dst = out / src_path.relative_to(root).parent / Path(new.name).name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(new.path, dst)
        lbl = label_path(dst)
        lbl.parent.mkdir(parents=True, exist_ok=True)
        lbl.write_text("".join(format_box(b) + "\n" for b in new.boxes), encoding="utf-8")
        for list_file, members in lists.items():
            if src_path in members:
                with list_file.open("a", encoding="utf-8") as f:
                    f.write(("" if list_file.read_bytes().endswith(b"\n") else "\n") + new.name + "\n")


def _split_lists(ds: BoxDataset, out: Path) -> dict[Path, set[Path]]:
    """The copied `.txt` image lists of the dataset, with the (source) images each one lists."""
    root = Path(ds.root).resolve()
    found: dict[Path, set[Path]] = {}
    for rel in ds.meta_files:
        src = root / rel
        if src.suffix != ".txt" or src.name == "classes.txt" or not (out / rel).is_file():
            continue
        members = set()
        for line in src.read_text(encoding="utf-8-sig").splitlines():
            line = line.strip()
            if line:
                p = Path(line)
                members.add(
                    (p if p.is_absolute() else (src.parent / p if line.startswith("./") else root / p)).resolve()
                )
        found[out / rel] = members
    return found


def add_synthetic_coco(
    data: dict[str, Any], items: list[tuple[Proposal, ImageLabels, ImageLabels]], out: Path, root: Path
) -> None:
    """Add image records and annotations for the new images to a COCO document; copy the files into `out`."""
    from studio.ops.boxes.coco import pixel_bbox

    records = {r.get("id"): r for r in data.get("images", []) if isinstance(r, dict)}
    next_img = max([i for i in records if isinstance(i, int)] or [0]) + 1
    next_ann = (
        max(
            [a.get("id") for a in data.get("annotations", []) if isinstance(a, dict) and isinstance(a.get("id"), int)]
            or [0]
        )
        + 1
    )
    for _, new, src in items:
        rec = records.get(src.image_id) or {}
        file_name = (PurePosixPath(str(rec.get("file_name", src.name))).parent / Path(new.name).name).as_posix()
        dst = out / Path(src.path).resolve().relative_to(root.resolve()).parent / Path(new.name).name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(new.path, dst)
        data["images"].append({"id": next_img, "file_name": file_name, "width": new.width, "height": new.height})
        for b in new.boxes:
            bbox = pixel_bbox(b.cx, b.cy, b.w, b.h, new.width or 0, new.height or 0)
            data.setdefault("annotations", []).append(
                {"id": next_ann, "image_id": next_img, "category_id": b.class_id, "bbox": bbox,
                 "area": round(bbox[2] * bbox[3], 2), "iscrowd": 0}
            )  # fmt: skip
            next_ann += 1
        next_img += 1


def write_manifest(
    ds: BoxDataset, out: Path, items: list[tuple[Proposal, ImageLabels, ImageLabels]], kept: set[str]
) -> None:
    """`studio_synthetic.json`: the synthetic images of the copy (earlier ones still there, and the new ones)."""
    listed = {im.name: im.synthetic for im in ds.images if im.synthetic and im.name in kept}
    listed |= {new.name: new.synthetic for _, new, _ in items}
    if listed:
        (out / SYNTHETIC_MANIFEST).write_text(
            json.dumps({"images": dict(sorted(listed.items()))}, indent=1, ensure_ascii=False), encoding="utf-8"
        )
    elif (out / SYNTHETIC_MANIFEST).exists():
        (out / SYNTHETIC_MANIFEST).unlink()
