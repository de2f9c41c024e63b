"""Box-aware augmentation for thin classes: new images whose labels move with the pixels.

`studio augment DATASET` picks the classes to grow (`--classes`, else every class with fewer
boxes than `thin_share` of the most common one), and for every image holding one of them
writes `per_image` new images under the project's `augment/<batch>/` folder:
- a **transform** (albumentations): horizontal flip, affine (rotation, scale, shift; boxes of a
  rotated object become the box around its rotated corners), brightness/contrast, a colour cast;
  a transform that would leave less than `min_visible` of any box in view is retried with the
  next seed (up to 3 tries), so no cut-off remnant is labeled or left unlabeled;
- a **copy-paste** (every second new image when `copy_paste` is on): an object crop of a class to
  grow pasted onto another image of the set, at a place where it covers at most `max_cover` of
  any box already there (tried at up to 30 seeded places).
Every new image's labels then go through the same checks as `studio cleanse` (no box outside the
image, no tiny box, no duplicate, ...); an image with any finding is not proposed. Each new image
is a `box_augment` proposal with its recipe (transform, parameters, seed, source image); a person
approves it in the app (Boxes screen) or with `studio augment --review`-style ids
(`studio cleanse --approve ID` works for them too), and `studio cleanse --apply OUT` copies the
approved ones into the cleaned copy, listed in `studio_synthetic.json`, so releases keep them in
train only and count them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import Field

from studio.errors import StudioError
from studio.ops.boxes.checks import run_checks
from studio.ops.boxes.io import read_dataset, resolve_source
from studio.ops.boxes.model import BoxDataset, CheckSettings, ImageLabels, box_dict, coco_images_field
from studio.ops.boxes.yolo import format_box
from studio.ops.registry import Args, OpContext, Result, operation
from studio.schema import Box, Proposal

KIND = "box_augment"
FOLDER = "augment"  # under the project: augment/<batch>/images, labels, dataset.yaml
TRIES = 3  # seeds tried per transformed image
PLACES = 30  # positions tried per pasted crop
Progress = Callable[[str, int, int | None], None]


class AugmentArgs(Args):
    dataset: str = Field(
        ...,
        description="The dataset: a dataset.yaml, a YOLO folder (images/ + labels/) or a COCO JSON.",
        json_schema_extra={"cli": "argument", "path": True, "record": False},
    )
    classes: list[str] = Field(
        default_factory=list,
        description="A class to grow, by name or id (repeat the option for more). Default: every thin class.",
    )
    thin_share: float = Field(
        0.5, gt=0.0, le=1.0, description="A class is thin when it has fewer boxes than this share of the most common."
    )
    per_image: int = Field(2, ge=1, le=20, description="New images per source image that holds a class to grow.")
    seed: int = Field(13, description="Seed of every random choice (each new image's seed derives from it).")
    copy_paste: bool = Field(
        True, description="Make every second new image by pasting an object crop onto another image."
    )
    max_cover: float = Field(
        0.2, ge=0.0, le=1.0, description="A pasted crop may cover at most this share of any box already in the image."
    )
    min_visible: float = Field(
        0.6, gt=0.0, le=1.0, description="Retry a transform that leaves less than this share of a box in the image."
    )
    format: Literal["yolo", "coco"] | None = Field(None, description="Dataset format (default: coco for a .json file).")
    images: str | None = coco_images_field()
    limit: int | None = Field(None, ge=1, description="Augment at most this many source images (in dataset order).")
    train_only: bool = Field(
        True,
        description="Use only train (and unsplit) images as sources and backgrounds: a variant of a validation or "
        "test image would leak it into training.",
    )


class AugmentResult(Result):
    dataset: str
    batch: str
    out: str
    classes: list[str]
    boxes_before: dict[str, int]
    source_images: int
    proposed: int
    proposal_ids: list[int]
    boxes_added: dict[str, int]
    rejected: dict[str, int]

    def summary(self) -> str:
        added = ", ".join(f"{k} +{v}" for k, v in self.boxes_added.items()) or "nothing"
        text = (
            f"Proposed {self.proposed} new images from {self.source_images} source images for "
            f"{', '.join(self.classes) or 'no class'} (boxes: {added}); batch {self.batch}, files in {self.out}."
        )
        if self.rejected:
            text += "\nNot proposed: " + ", ".join(f"{v} {k}" for k, v in sorted(self.rejected.items()))
        if self.proposed:
            text += "\nNext: approve them in the app (Boxes screen), then `studio cleanse --apply OUT`."
        return text


@dataclass
class Generated:
    """One new image: where it was written, its boxes, and how it was made."""

    file: Path
    width: int
    height: int
    boxes: list[Box]
    source_image: str
    recipe: dict[str, Any]
    grown: list[int] = field(default_factory=list)  # the target classes it holds


def class_counts(ds: BoxDataset) -> Counter[int]:
    return Counter(b.class_id for im in ds.images for b in im.boxes)


def thin_classes(ds: BoxDataset, share: float) -> list[int]:
    """Classes with fewer boxes than `share` of the most common class (classes without boxes included)."""
    counts = class_counts(ds)
    if ds.names_known:  # a class id outside the names is a label error (cleanse finds it), not a class to grow
        counts = Counter({cid: counts.get(cid, 0) for cid in ds.names})
    if not counts:
        return []
    most = max(counts.values())
    return sorted(c for c, n in counts.items() if n < share * most)


def pick_classes(ds: BoxDataset, wanted: list[str], share: float) -> list[int]:
    if not wanted:
        return thin_classes(ds, share)
    by_name = {v: k for k, v in ds.names.items()}
    out = []
    for w in wanted:
        if w in by_name:
            out.append(by_name[w])
        elif w.lstrip("-").isdigit() and (int(w) in ds.names or not ds.names_known):
            out.append(int(w))
        else:
            known = ", ".join(ds.names.values()) or "(no class names known)"
            raise StudioError(f"--classes {w}: no such class in the dataset; known classes: {known}")
    return sorted(set(out))


def sub_seed(seed: int, *parts: object) -> int:
    """A seed per new image from the run's seed and where it is (stable across runs and machines)."""
    h = hashlib.sha256(json.dumps([seed, *map(str, parts)]).encode()).digest()
    return int.from_bytes(h[:4], "little")


def _usable(im: ImageLabels) -> list[Box] | None:
    """The image's boxes clipped to it, or None when it cannot be a source (missing, no size, invalid boxes)."""
    if not im.exists or not im.width or not im.height:
        return None
    out = []
    for b in im.boxes:
        x1, y1 = max(0.0, b.cx - b.w / 2), max(0.0, b.cy - b.h / 2)
        x2, y2 = min(1.0, b.cx + b.w / 2), min(1.0, b.cy + b.h / 2)
        if not all(np.isfinite((b.cx, b.cy, b.w, b.h))) or x2 <= x1 or y2 <= y1:
            return None  # clean the source first (studio cleanse): an invalid box has no place to go
        out.append(Box(class_id=b.class_id, cx=(x1 + x2) / 2, cy=(y1 + y2) / 2, w=x2 - x1, h=y2 - y1))
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return np.round(v.astype(float), 6).tolist()
    if isinstance(v, np.generic):
        return _jsonable(v.item())
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items() if k not in ("shape", "fill_mask")}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


class Augmenter:
    """The transform pipeline (built once) and the copy-paste, for one run."""

    def __init__(self, min_visible: float, max_cover: float) -> None:
        try:
            import albumentations as A
            import cv2
        except ImportError as exc:
            raise StudioError("augmentation needs albumentations (and OpenCV): pip install 'studio[augment]'") from exc
        self.cv2 = cv2
        self.max_cover = max_cover
        self.pipeline = A.Compose(
            [
                A.HorizontalFlip(p=0.5),
                A.Affine(
                    rotate=(-12, 12),
                    scale=(0.85, 1.15),
                    translate_percent=(-0.08, 0.08),
                    rotate_method="largest_box",
                    border_mode=cv2.BORDER_CONSTANT,
                    fill=114,
                    p=1.0,
                ),
                A.RandomBrightnessContrast(brightness_limit=0.25, contrast_limit=0.25, p=0.8),
                # A colour cast per channel: a tenth of the cost of a hue/saturation shift (HSV round trip).
                A.RGBShift(r_shift_limit=15, g_shift_limit=15, b_shift_limit=15, p=0.5),
            ],
            bbox_params=A.BboxParams(format="yolo", label_fields=["cls"], min_visibility=min_visible, clip=True),
            save_applied_params=True,
            seed=0,
        )

    def read(self, path: str) -> np.ndarray | None:
        return self.cv2.imread(path, self.cv2.IMREAD_COLOR)

    def write(self, path: Path, pixels: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".jpg":
            ok = self.cv2.imwrite(str(path), pixels, [self.cv2.IMWRITE_JPEG_QUALITY, 95])
        else:
            ok = self.cv2.imwrite(str(path), pixels, [self.cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise StudioError(f"could not write {path}; check the disk and the folder's permissions")

    def transform(
        self, pixels: np.ndarray, boxes: list[Box], seed: int
    ) -> tuple[np.ndarray, list[Box], dict[str, Any]] | None:
        """Flip/affine/colour with the boxes moved alongside; None when a box would be cut off at every try."""
        for k in range(TRIES):
            self.pipeline.set_random_seed(seed + k)
            r = self.pipeline(
                image=pixels, bboxes=[(b.cx, b.cy, b.w, b.h) for b in boxes], cls=[b.class_id for b in boxes]
            )
            if len(r["bboxes"]) == len(boxes):
                new = [
                    Box(class_id=int(c), cx=float(bb[0]), cy=float(bb[1]), w=float(bb[2]), h=float(bb[3]))
                    for bb, c in zip(r["bboxes"], r["cls"], strict=True)
                ]
                steps = [{"name": name, **_jsonable(params)} for name, params in r.get("applied_transforms", [])]
                return r["image"], new, {"transform": "transform", "params": {"steps": steps}, "seed": seed + k}
        return None

    def paste(
        self, src: np.ndarray, obj: Box, dst: np.ndarray, dst_boxes: list[Box], seed: int
    ) -> tuple[np.ndarray, list[Box], dict[str, Any]] | None:
        """`obj` cut from `src`, pasted onto `dst` where it covers at most `max_cover` of any box there."""
        rng = np.random.default_rng(seed)
        sh, sw = src.shape[:2]
        dh, dw = dst.shape[:2]
        x1, y1 = round((obj.cx - obj.w / 2) * sw), round((obj.cy - obj.h / 2) * sh)
        x2, y2 = round((obj.cx + obj.w / 2) * sw), round((obj.cy + obj.h / 2) * sh)
        if x2 - x1 < 2 or y2 - y1 < 2:
            return None
        scale = float(rng.uniform(0.8, 1.2))
        scale = min(scale, 0.5 * dw / (x2 - x1), 0.5 * dh / (y2 - y1))  # at most half the new image
        cw, ch = max(2, round((x2 - x1) * scale)), max(2, round((y2 - y1) * scale))
        crop = self.cv2.resize(src[y1:y2, x1:x2], (cw, ch), interpolation=self.cv2.INTER_LINEAR)
        existing = np.array(
            [
                ((b.cx - b.w / 2) * dw, (b.cy - b.h / 2) * dh, (b.cx + b.w / 2) * dw, (b.cy + b.h / 2) * dh)
                for b in dst_boxes
            ]
        ).reshape(-1, 4)
        areas = np.maximum((existing[:, 2] - existing[:, 0]) * (existing[:, 3] - existing[:, 1]), 1e-9)
        for _ in range(PLACES):
            px, py = int(rng.integers(0, dw - cw + 1)), int(rng.integers(0, dh - ch + 1))
            iw = np.clip(np.minimum(existing[:, 2], px + cw) - np.maximum(existing[:, 0], px), 0, None)
            ih = np.clip(np.minimum(existing[:, 3], py + ch) - np.maximum(existing[:, 1], py), 0, None)
            cover = iw * ih / areas
            worst = float(cover.max()) if len(cover) else 0.0
            if worst <= self.max_cover:
                out = dst.copy()
                out[py : py + ch, px : px + cw] = crop
                new = Box(class_id=obj.class_id, cx=(px + cw / 2) / dw, cy=(py + ch / 2) / dh, w=cw / dw, h=ch / dh)
                params = {"crop": [x1, y1, x2, y2], "class_id": obj.class_id, "scale": round(scale, 6),
                          "at": [px, py], "size": [cw, ch], "max_cover": round(worst, 6)}  # fmt: skip
                return out, [*dst_boxes, new], {"transform": "copy_paste", "params": params, "seed": seed}
        return None


def augment_dataset(
    ds: BoxDataset,
    targets: list[int],
    out: Path,
    per_image: int = 2,
    seed: int = 13,
    copy_paste: bool = True,
    max_cover: float = 0.2,
    min_visible: float = 0.6,
    limit: int | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    train_only: bool = True,
) -> tuple[list[Generated], Counter[str]]:
    """Write new images + YOLO labels for `targets` under `out` (images/, labels/, dataset.yaml).

    Returns what was made and passed the box checks, and why the rest was not (reason -> count)."""
    aug = Augmenter(min_visible, max_cover)
    allowed = [im for im in ds.images if not train_only or im.split in ("train", "")]
    usable = {im.name: b for im in allowed if (b := _usable(im)) is not None}
    pool = [im for im in ds.images if im.name in usable]  # backgrounds for copy-paste
    wanted = set(targets)
    sources = [im for im in pool if wanted & {b.class_id for b in usable[im.name]}]
    if limit:
        sources = sources[:limit]
    rejected: Counter[str] = Counter()
    rejected["source images with invalid boxes or unreadable"] = sum(
        1 for im in allowed if im.name not in usable and wanted & {b.class_id for b in im.boxes}
    )
    made: list[Generated] = []
    for n, im in enumerate(sources, start=1):
        if cancelled and cancelled():
            break
        pixels = aug.read(im.path)
        if pixels is None:
            rejected["source image unreadable"] += 1
            continue
        boxes = usable[im.name]
        ext = ".jpg" if Path(im.path).suffix.lower() in (".jpg", ".jpeg") else ".png"
        for k in range(per_image):
            s = sub_seed(seed, im.name, k)
            others = [o for o in pool if o.name != im.name]
            if copy_paste and k % 2 == 1 and others:
                rng = np.random.default_rng(s)
                objs = [b for b in boxes if b.class_id in wanted]
                obj = objs[int(rng.integers(len(objs)))]
                bg = others[int(rng.integers(len(others)))]
                bg_pixels = aug.read(bg.path)
                done = aug.paste(pixels, obj, bg_pixels, usable[bg.name], s) if bg_pixels is not None else None
                if done is None:
                    rejected["copy-paste: no place covering little enough"] += 1
                    continue
                new_pixels, new_boxes, recipe = done
                recipe["paste_from"] = im.name
                source, out_ext = bg.name, (".jpg" if Path(bg.path).suffix.lower() in (".jpg", ".jpeg") else ".png")
            else:
                done = aug.transform(pixels, boxes, s)
                if done is None:
                    rejected["transform would cut an object off"] += 1
                    continue
                new_pixels, new_boxes, recipe = done
                source, out_ext = im.name, ext
            file = out / "images" / f"{len(made) + 1:06d}-{Path(source).stem}{out_ext}"
            aug.write(file, new_pixels)
            h, w = new_pixels.shape[:2]
            grown = sorted(wanted & {b.class_id for b in new_boxes})
            made.append(Generated(file, w, h, new_boxes, source, {**recipe, "source_image": source}, grown))
        if progress and (n % 20 == 0 or n == len(sources)):
            progress("augment", n, len(sources))
    return _checked(ds, made, out, rejected), rejected


def _checked(ds: BoxDataset, made: list[Generated], out: Path, rejected: Counter[str]) -> list[Generated]:
    """Run the box checks on the new labels; drop (and delete) every image with a finding."""
    view = BoxDataset(
        format="yolo", source=str(out), root=str(out), names=ds.names, names_known=ds.names_known,
        images=[
            ImageLabels(name=g.file.name, path=str(g.file), width=g.width, height=g.height, boxes=g.boxes,
                        lines=list(range(1, len(g.boxes) + 1)), label_file=g.file.name)
            for g in made
        ],
    )  # fmt: skip
    bad: dict[str, str] = {}
    for f in run_checks(view, CheckSettings()):
        bad.setdefault(f.image, f.check)
    kept = []
    for g in made:
        if g.file.name in bad:
            rejected[f"failed the box checks ({bad[g.file.name]})"] += 1
            g.file.unlink(missing_ok=True)
            continue
        label = out / "labels" / g.file.with_suffix(".txt").name
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(format_box(b) + "\n" for b in g.boxes), encoding="utf-8")
        kept.append(g)
    names = dict(ds.names) or {c: f"class_{c}" for c in sorted({b.class_id for g in kept for b in g.boxes})}
    meta = {"path": "", "train": "images", "names": names}
    (out / "dataset.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
    for k in [k for k, v in rejected.items() if not v]:
        del rejected[k]
    return kept


@operation(
    "augment",
    args=AugmentArgs,
    result=AugmentResult,
    help="Grow thin classes of a box dataset: new images (transforms with the boxes moved alongside, and "
    "copy-paste of object crops), each proposed with its recipe for a person to approve; approved ones "
    "join the cleaned copy (studio cleanse --apply) marked synthetic, and releases keep them in train only.",
    side_effects=True,
    agent=False,
)
def augment(ctx: OpContext, args: AugmentArgs) -> AugmentResult:
    store = ctx.store
    ds = read_dataset(ctx.path(args.dataset), args.format, ctx.path(args.images) if args.images else None)
    targets = pick_classes(ds, args.classes, args.thin_share)
    batch = store.run_id("augment")
    out = store.root / FOLDER / batch
    if out.exists():
        shutil.rmtree(out)  # left by a run that did not finish (its proposals were never written)
    made, rejected = augment_dataset(
        ds, targets, out, args.per_image, args.seed, args.copy_paste, args.max_cover, args.min_visible, args.limit,
        progress=ctx.progress, cancelled=ctx.cancelled, train_only=args.train_only,
    )  # fmt: skip
    source = resolve_source(ds.source, ds.format)
    by_name = {im.name: im for im in ds.images}
    props = [_proposal(ds, g, by_name[g.source_image], source, batch, store.root) for g in made]
    added: Counter[str] = Counter()
    for g in made:
        added.update(ds.class_name(b.class_id) for b in g.boxes if b.class_id in targets)
    before = {ds.class_name(c): n for c, n in sorted(class_counts(ds).items())}
    with store.transaction():
        ids = store.add_proposals(props, actor="tool", rationale="box-aware augmentation for thin classes")
        store.record(
            "tool",
            "boxes.augment.run",
            [f"dataset:{source}"],
            {
                "dataset": source,
                "batch": batch,
                "out": str(out.relative_to(store.root)),
                "args": args.model_dump(mode="json"),
                "classes": [ds.class_name(c) for c in targets],
                "proposed": len(ids),
                "rejected": dict(sorted(rejected.items())),
            },
            rationale=f"requested by {ctx.actor}",
        )
    return AugmentResult(
        dataset=source,
        batch=batch,
        out=str(out),
        classes=[ds.class_name(c) for c in targets],
        boxes_before=before,
        source_images=len({g.recipe.get("paste_from", g.source_image) for g in made}),
        proposed=len(ids),
        proposal_ids=ids,
        boxes_added=dict(sorted(added.items())),
        rejected=dict(sorted(rejected.items())),
    )


def _proposal(ds: BoxDataset, g: Generated, src: ImageLabels, source: str, batch: str, root: Path) -> Proposal:
    payload = {
        "dataset": source,
        "format": ds.format,
        "file": g.file.relative_to(root).as_posix(),  # relative to the project folder
        "width": g.width,
        "height": g.height,
        "boxes": [box_dict(b, i, ds.names) for i, b in enumerate(g.boxes, start=1)],
        "source_image": g.source_image,
        "source_path": src.path,
        "source_boxes": [box_dict(b, ln, ds.names) for ln, b in zip(src.lines, src.boxes, strict=True)],
        "split": src.split,
        "recipe": g.recipe,
        "classes": [ds.class_name(c) for c in g.grown],
    }
    return Proposal(kind=KIND, payload=payload, source=f"augment:{g.recipe['transform']}", batch=batch)


def augment_proposals(store: Any, source: str | None = None, status: str | None = "pending") -> list[Proposal]:
    """Augmentation proposals (oldest first), for one dataset when `source` is given."""
    props = store.proposals(kind=KIND, status=status)
    return props if source is None else [p for p in props if p.payload.get("dataset") == source]


def proposal_boxes(p: Proposal) -> list[Box]:
    return [
        Box(class_id=int(b["class_id"]), cx=float(b["cx"]), cy=float(b["cy"]), w=float(b["w"]), h=float(b["h"]))
        for b in p.payload.get("boxes") or []
    ]
