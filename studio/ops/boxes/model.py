"""The neutral in-memory model of a box dataset, and what the checks find in it.

Readers (`read_dataset`) turn YOLO folders and COCO JSON into a `BoxDataset`; writers and the
release area turn it back into files. Boxes are always the shared `studio.schema.Box`: class id
plus normalized centre x, centre y, width, height, whatever the source format.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from studio.schema import Box, Model

Format = Literal["yolo", "coco"]
FixKind = Literal["drop", "merge", "clip", "relabel", "add", "adjust"]
Target = Literal["box", "image", "label_file"]


def coco_images_field() -> Any:
    """The COCO images folder argument of the box operations (box_cleanse, augment), declared once."""
    return Field(None, description="COCO images folder.", json_schema_extra={"path": True, "record": False})


class Problem(Model):
    """Something in the input that could not be read; it was skipped, nothing else was lost."""

    file: str
    line: int | None = None  # 1-based line in a YOLO label file
    record: str | None = None  # a COCO record, e.g. "annotation 17" or "image 3"
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.record:
            where += f" ({self.record})"
        return f"{where}: {self.message}"


class ImageLabels(Model):
    """One image and its boxes.

    `name` is the image path relative to the dataset root (unique). `lines[i]` says where
    `boxes[i]` came from: its 1-based line in `label_file` (YOLO) or its annotation id (COCO).
    `width`/`height` are pixels, None when unknown (image missing or unreadable header).
    `label_file` is None for a YOLO image without a label file.
    """

    name: str
    path: str
    width: int | None = None
    height: int | None = None
    split: str = ""
    boxes: list[Box] = Field(default_factory=list)
    lines: list[int] = Field(default_factory=list)
    label_file: str | None = None
    image_id: int | str | None = None  # COCO image id
    exists: bool = True
    # Made by `studio augment` and approved (listed in the dataset's studio_synthetic.json): its recipe.
    synthetic: dict[str, Any] | None = None


class BoxDataset(Model):
    """A dataset as read: class names, images with boxes, and what could not be read."""

    format: Format
    source: str  # the dataset.yaml or the COCO JSON file
    root: str  # the folder a cleaned copy reproduces
    names: dict[int, str] = Field(default_factory=dict)
    names_known: bool = True  # False when no class list was found (class-id check is skipped)
    images: list[ImageLabels] = Field(default_factory=list)
    orphan_labels: list[str] = Field(default_factory=list)  # label files (relative to root) with no image
    # Other files of the dataset (relative to root): the yaml, split lists, classes.txt, the COCO JSON.
    meta_files: list[str] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)

    def box_count(self) -> int:
        return sum(len(im.boxes) for im in self.images)

    def image(self, name: str) -> ImageLabels:
        for im in self.images:
            if im.name == name:
                return im
        raise KeyError(name)

    def class_name(self, class_id: int) -> str:
        return self.names.get(class_id, f"#{class_id}")

    def root_path(self) -> Path:
        return Path(self.root)


class CheckSettings(Model):
    """Thresholds of every check; the defaults are documented in docs/boxes.md."""

    iou_dup: float = Field(default=0.999, ge=0.0, le=1.0, description="Same class, IoU >= this: exact duplicate.")
    iou_near: float = Field(
        default=0.75, ge=0.0, le=1.0, description="Same class, IoU >= this: near duplicate (merge)."
    )
    iou_conflict: float = Field(default=0.95, ge=0.0, le=1.0, description="Different classes, IoU >= this: conflict.")
    outside_tol_px: float = Field(default=2.0, ge=0.0, description="Allowed overhang past the image edge, pixels.")
    outside_tol: float = Field(
        default=0.005, ge=0.0, description="Allowed overhang (fraction of the image) when the image size is unknown."
    )
    tiny_area: float = Field(
        default=1e-4, ge=0.0, description="Boxes smaller than this fraction of the image are tiny."
    )
    # Model-assisted checks.
    match_iou: float = Field(default=0.5, gt=0.0, le=1.0, description="A prediction matches a label at IoU >= this.")
    loc_iou: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Poor localization: best IoU in [loc-iou, match-iou)."
    )
    pred_conf: float = Field(default=0.25, ge=0.0, le=1.0, description="Ignore predictions below this confidence.")
    missing_conf: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Unmatched predictions above this are missing boxes."
    )


class Finding(Model):
    """One issue and the fix it suggests, with the evidence a reviewer needs.

    `boxes` are the label boxes involved (each with `line`, `class_id`, `class`, `cx`, `cy`,
    `w`, `h`) and, for model-assisted checks, the prediction (`conf`, `prediction: true`).
    `result` is the box after the fix (clip, merge, relabel, adjust, add); None for drop.
    """

    check: str
    fix: FixKind
    target: Target = "box"
    image: str
    # The boxes the fix changes, by line (YOLO) or annotation id (COCO): drop [x], clip/relabel/
    # adjust [x], merge [kept, dropped], add []. Empty for image and label-file fixes.
    lines: list[int] = Field(default_factory=list)
    boxes: list[dict[str, Any]] = Field(default_factory=list)
    evidence: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    confidence: float = Field(ge=0.0, le=1.0)


def num(v: float) -> float | str:
    """A float safe for strict JSON: NaN and infinities become the strings 'nan', 'inf', '-inf'."""
    return float(v) if math.isfinite(v) else str(float(v))


def box_dict(box: Box, line: int | None, names: dict[int, str], **extra: Any) -> dict[str, Any]:
    return {
        "line": line,
        "class_id": box.class_id,
        "class": names.get(box.class_id, f"#{box.class_id}"),
        "cx": num(box.cx),
        "cy": num(box.cy),
        "w": num(box.w),
        "h": num(box.h),
        **extra,
    }
