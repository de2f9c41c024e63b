"""The rule-based checks: duplicates, conflicts, invalid, outside, tiny, orphan and unlabeled files.

`find_issues` works on flat numpy arrays (one row per box) so a million boxes take seconds;
`run_checks` turns its output into `Finding`s with the evidence a reviewer needs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from studio.ops.boxes.iou import cxcywh_to_xyxy, overlapping_pairs
from studio.ops.boxes.model import BoxDataset, CheckSettings, Finding, box_dict, num
from studio.schema import Box

# How sure each rule is that its fix is right; model-assisted checks use the model's confidence.
CONFIDENCE = {
    "exact_duplicate": 0.99,
    "near_duplicate": 0.8,
    "class_conflict": 0.6,
    "invalid_value": 0.99,
    "invalid_size": 0.99,
    "unknown_class": 0.95,
    "outside_image": 0.9,
    "tiny_box": 0.6,
    "orphan_label": 0.9,
    "missing_label": 0.5,
}
CHECKS = tuple(CONFIDENCE)


@dataclass
class BoxArrays:
    """All boxes of a dataset as columns; `image` indexes `dataset.images`, `index` the box in it."""

    image: NDArray[np.int64]
    index: NDArray[np.int64]
    cls: NDArray[np.int64]
    cxcywh: NDArray[np.float64]
    img_w: NDArray[np.float64]  # pixels, NaN when unknown
    img_h: NDArray[np.float64]

    @classmethod
    def from_dataset(cls, ds: BoxDataset) -> BoxArrays:
        n = ds.box_count()
        image = np.empty(n, dtype=np.int64)
        index = np.empty(n, dtype=np.int64)
        klass = np.empty(n, dtype=np.int64)
        coords = np.empty((n, 4), dtype=np.float64)
        wh = np.full((n, 2), np.nan)
        k = 0
        for i, im in enumerate(ds.images):
            m = len(im.boxes)
            if not m:
                continue
            image[k : k + m] = i
            index[k : k + m] = np.arange(m)
            klass[k : k + m] = [b.class_id for b in im.boxes]
            coords[k : k + m] = [(b.cx, b.cy, b.w, b.h) for b in im.boxes]
            if im.width and im.height:
                wh[k : k + m] = (im.width, im.height)
            k += m
        return cls(image, index, klass, coords, wh[:, 0], wh[:, 1])


@dataclass
class Issues:
    """Rows (into BoxArrays) flagged by each check; pairs come with their IoU."""

    single: dict[str, NDArray[np.int64]] = field(default_factory=dict)  # check -> rows
    clipped: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 4)))  # for outside_image rows
    pairs: dict[str, tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]] = field(default_factory=dict)

    def count(self) -> int:
        return sum(len(v) for v in self.single.values()) + sum(len(p[0]) for p in self.pairs.values())


def find_issues(arr: BoxArrays, settings: CheckSettings, known_classes: set[int] | None) -> Issues:
    """Run every box-level check on the arrays. `known_classes` None skips the class-id check."""
    out = Issues()
    c = arr.cxcywh
    finite = np.isfinite(c).all(axis=1)
    positive = finite & (c[:, 2] > 0) & (c[:, 3] > 0)
    out.single["invalid_value"] = np.flatnonzero(~finite)
    out.single["invalid_size"] = np.flatnonzero(finite & ~positive)
    known = np.ones(len(c), dtype=bool)
    if known_classes is not None:
        known = np.isin(arr.cls, np.fromiter(known_classes, dtype=np.int64, count=len(known_classes)))
        out.single["unknown_class"] = np.flatnonzero(~known)
    else:
        out.single["unknown_class"] = np.zeros(0, dtype=np.int64)

    xyxy = cxcywh_to_xyxy(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        tx = np.where(np.isnan(arr.img_w), settings.outside_tol, settings.outside_tol_px / arr.img_w)
        ty = np.where(np.isnan(arr.img_h), settings.outside_tol, settings.outside_tol_px / arr.img_h)
        outside = positive & ((xyxy[:, 0] < -tx) | (xyxy[:, 1] < -ty) | (xyxy[:, 2] > 1 + tx) | (xyxy[:, 3] > 1 + ty))
    rows = np.flatnonzero(outside)
    out.single["outside_image"] = rows
    out.clipped = np.round(np.clip(xyxy[rows], 0.0, 1.0), 10)  # rounding keeps 0.15 from printing as 0.150000..02
    area = c[:, 2] * c[:, 3]
    out.single["tiny_box"] = np.flatnonzero(positive & (area < settings.tiny_area))

    good = np.flatnonzero(positive & known)
    t = min(settings.iou_dup, settings.iou_near, settings.iou_conflict)
    pi, pj, v = overlapping_pairs(xyxy[good], arr.image[good], t)
    pi, pj = good[pi], good[pj]
    # The later box of a pair is the one a fix drops; order each pair so i comes first.
    later = arr.index[pi] > arr.index[pj]
    pi, pj = np.where(later, pj, pi), np.where(later, pi, pj)
    order = np.lexsort((arr.index[pj], arr.index[pi], arr.image[pi]))
    pi, pj, v = pi[order], pj[order], v[order]
    same = arr.cls[pi] == arr.cls[pj]
    for name, mask in (
        ("exact_duplicate", same & (v >= settings.iou_dup)),
        ("near_duplicate", same & (v < settings.iou_dup) & (v >= settings.iou_near)),
        ("class_conflict", ~same & (v >= settings.iou_conflict)),
    ):
        out.pairs[name] = (pi[mask], pj[mask], v[mask])
    return out


def run_checks(ds: BoxDataset, settings: CheckSettings | None = None) -> list[Finding]:
    """Every rule-based finding for `ds`, in a stable order (check, image, line)."""
    settings = settings or CheckSettings()
    arr = BoxArrays.from_dataset(ds)
    issues = find_issues(arr, settings, set(ds.names) if ds.names_known else None)
    return findings_from_issues(ds, arr, issues, settings)


def findings_from_issues(ds: BoxDataset, arr: BoxArrays, issues: Issues, settings: CheckSettings) -> list[Finding]:
    names = ds.names
    freq = Counter(int(k) for k in arr.cls)
    out: list[Finding] = []

    def evidence_box(row: int) -> dict[str, Any]:
        im = ds.images[int(arr.image[row])]
        k = int(arr.index[row])
        return box_dict(im.boxes[k], im.lines[k], names, index=k)

    def line(row: int) -> int:
        return ds.images[int(arr.image[row])].lines[int(arr.index[row])]

    def add(check: str, fix: str, row: int, evidence: dict[str, Any], result: Box | None = None, **kw: Any) -> None:
        out.append(
            Finding(
                check=check,
                fix=fix,  # type: ignore[arg-type]
                image=ds.images[int(arr.image[row])].name,
                lines=kw.pop("lines", None) or [line(row)],
                boxes=kw.pop("boxes", None) or [evidence_box(row)],
                evidence=evidence,
                result=box_dict(result, None, names) if result is not None else None,
                confidence=CONFIDENCE[check],
            )
        )

    for row in issues.single["invalid_value"]:
        add("invalid_value", "drop", row, {"rule": "a coordinate is NaN or infinite"})
    for row in issues.single["invalid_size"]:
        w, h = arr.cxcywh[row, 2], arr.cxcywh[row, 3]
        add("invalid_size", "drop", row, {"rule": "width and height must be > 0", "w": num(w), "h": num(h)})
    for row in issues.single["unknown_class"]:
        add(
            "unknown_class",
            "drop",
            row,
            {"rule": "class id must be one of the dataset's names", "known": sorted(names)},
        )
    for row, (x1, y1, x2, y2) in zip(issues.single["outside_image"], issues.clipped, strict=True):
        im = ds.images[int(arr.image[row])]
        ev: dict[str, Any] = {
            "rule": "box extends outside the image beyond the tolerance",
            "tolerance": f"{settings.outside_tol_px} px" if im.width else f"{settings.outside_tol} (normalized)",
        }
        cls_id = int(arr.cls[row])
        if x2 - x1 > 0 and y2 - y1 > 0:
            cx, cy, w, h = (round(float(v), 10) for v in ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1))
            clipped = Box(class_id=cls_id, cx=cx, cy=cy, w=w, h=h)
            add("outside_image", "clip", row, ev, clipped)
        else:
            add("outside_image", "drop", row, {**ev, "rule": "box lies entirely outside the image"})
    for row in issues.single["tiny_box"]:
        area = float(arr.cxcywh[row, 2] * arr.cxcywh[row, 3])
        add(
            "tiny_box", "drop", row, {"rule": "area below the threshold", "area": area, "threshold": settings.tiny_area}
        )

    rule = {
        "exact_duplicate": ("same class, IoU >= iou_dup", settings.iou_dup),
        "near_duplicate": ("same class, IoU >= iou_near", settings.iou_near),
        "class_conflict": ("different classes, IoU >= iou_conflict", settings.iou_conflict),
    }
    for check, (pi, pj, v) in issues.pairs.items():
        text, thr = rule[check]
        for a, b, iou in zip(pi, pj, v, strict=True):
            ev = {"rule": text, "iou": round(float(iou), 6), "threshold": thr}
            boxes = [evidence_box(a), evidence_box(b)]
            if check == "exact_duplicate":
                add(check, "drop", b, {**ev, "drop": "the later box"}, boxes=boxes)
            elif check == "near_duplicate":
                merged = np.round(np.mean(arr.cxcywh[[a, b]], axis=0), 10)
                m = Box(class_id=int(arr.cls[a]), cx=merged[0], cy=merged[1], w=merged[2], h=merged[3])
                add(
                    check,
                    "merge",
                    a,
                    {**ev, "merge": "mean of the two boxes"},
                    m,
                    boxes=boxes,
                    lines=[line(a), line(b)],
                )
            else:
                # Without a model to ask, drop the box of the rarer class (the later one on a tie).
                ca, cb = int(arr.cls[a]), int(arr.cls[b])
                drop_a = freq[ca] < freq[cb]
                ev |= {"class_counts": {names.get(ca, f"#{ca}"): freq[ca], names.get(cb, f"#{cb}"): freq[cb]}}
                ev["drop"] = "the box of the rarer class"
                add(check, "drop", a if drop_a else b, ev, boxes=[boxes[1], boxes[0]] if drop_a else boxes)
    out += file_findings(ds)
    return out


def file_findings(ds: BoxDataset) -> list[Finding]:
    """Label files without an image, and (YOLO) images without a label file or (COCO) any box."""
    out: list[Finding] = []
    for rel in ds.orphan_labels:
        out.append(
            Finding(
                check="orphan_label",
                fix="drop",
                target="label_file",
                image=rel,
                evidence={"rule": "label file has no image", "label_file": rel},
                confidence=CONFIDENCE["orphan_label"],
            )
        )
    for im in ds.images:
        unlabeled = im.label_file is None if ds.format == "yolo" else not im.lines
        if unlabeled and im.exists:
            rule = "image has no label file" if ds.format == "yolo" else "image has no annotations"
            out.append(
                Finding(
                    check="missing_label",
                    fix="drop",
                    target="image",
                    image=im.name,
                    evidence={"rule": rule, "note": "reject to keep it as a background image"},
                    confidence=CONFIDENCE["missing_label"],
                )
            )
    return out
