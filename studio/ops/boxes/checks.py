"""The rule-based checks: duplicates, conflicts, invalid, outside, tiny, orphan and unlabeled files.

`find_issues` works on flat numpy arrays (one row per box) so a million boxes take seconds;
`run_checks` turns its output into `Finding`s with the evidence a reviewer needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from studio.ops.boxes.iou import column_pairs
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
    """Run every box-level check on the arrays. `known_classes` None skips the class-id check.

    Works column by column with few full-size temporaries: at a million boxes, allocating and
    touching fresh memory costs as much as the arithmetic.
    """
    out = Issues()
    c = np.ascontiguousarray(arr.cxcywh, dtype=np.float64)  # no copy when it already is
    cx, cy, w, h = c.T
    # The four flags of a row as one 32-bit word: all finite is 0x01010101 (much faster than .all(axis=1)).
    finite = (np.isfinite(c).view(np.uint32) == 0x01010101).reshape(-1)
    positive = finite & (w > 0) & (h > 0)
    out.single["invalid_value"] = np.flatnonzero(~finite)
    out.single["invalid_size"] = np.flatnonzero(finite & ~positive)
    ok = positive
    if known_classes is not None:
        known = np.isin(arr.cls, np.fromiter(known_classes, dtype=np.int64, count=len(known_classes)))
        out.single["unknown_class"] = np.flatnonzero(~known)
        ok = positive & known
    else:
        out.single["unknown_class"] = np.zeros(0, dtype=np.int64)

    # The same corners as cxcywh_to_xyxy, bit for bit.
    hw, hh = w / 2, h / 2
    x1, x2, y1, y2 = cx - hw, cx + hw, cy - hh, cy + hh
    # Any overhang at all is rare: compute the per-image tolerance only for those boxes.
    rows = np.flatnonzero(positive & ((x1 < 0) | (y1 < 0) | (x2 > 1) | (y2 > 1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        iw, ih = arr.img_w[rows], arr.img_h[rows]
        tx = np.where(np.isnan(iw), settings.outside_tol, settings.outside_tol_px / iw)
        ty = np.where(np.isnan(ih), settings.outside_tol, settings.outside_tol_px / ih)
    xyxy = np.stack([x1[rows], y1[rows], x2[rows], y2[rows]], axis=1)
    over = (xyxy[:, 0] < -tx) | (xyxy[:, 1] < -ty) | (xyxy[:, 2] > 1 + tx) | (xyxy[:, 3] > 1 + ty)
    rows = rows[over]
    out.single["outside_image"] = rows
    out.clipped = np.round(np.clip(xyxy[over], 0.0, 1.0), 10)  # rounding keeps 0.15 from printing as 0.150000..02
    area = np.multiply(w, h, out=hw)  # hw is no longer needed: reuse its memory
    out.single["tiny_box"] = np.flatnonzero(positive & (area < settings.tiny_area))

    t = min(settings.iou_dup, settings.iou_near, settings.iou_conflict)
    image = arr.image
    good = np.flatnonzero(ok)
    if len(good) < len(ok):
        x1, y1, x2, y2, image = x1[good], y1[good], x2[good], y2[good], image[good]
    pi, pj, v = column_pairs(x1, y1, x2, y2, image, t)
    if len(good) < len(ok):
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
    out: list[Finding] = []

    def evidence_box(row: int) -> dict[str, Any]:
        im = ds.images[int(arr.image[row])]
        k = int(arr.index[row])
        return box_dict(im.boxes[k], im.lines[k], names, index=k)

    def line(row: int) -> int:
        return ds.images[int(arr.image[row])].lines[int(arr.index[row])]

    def add(check: str, fix: str, row: int, evidence: dict[str, Any], result: Box | None = None, **kw: Any) -> None:
        # Built from values this function made and typed itself, so pydantic's validation (two
        # thirds of the time at 26k findings) is skipped; `test_findings_are_valid` checks that
        # a validated copy is equal.
        out.append(
            Finding.model_construct(
                check=check,
                fix=fix,
                target="box",  # every field given: pydantic's default lookup is slow too
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
    conflicts = issues.pairs.get("class_conflict")
    freq: dict[int, int] = {}
    if conflicts is not None and len(conflicts[0]):
        ids, n = np.unique(arr.cls, return_counts=True)
        freq = dict(zip(ids.tolist(), n.tolist(), strict=True))
    images = ds.images
    for check, (pi, pj, v) in issues.pairs.items():
        if not len(pi):
            continue
        text, thr = rule[check]
        # Everything a finding needs, pulled out of numpy in bulk: per-element access to numpy
        # scalars costs more than building the finding. Pair boxes are all valid (finite), so
        # they need no `num`; the values equal the Box fields they were copied from.
        img, ka, kb = arr.image[pi].tolist(), arr.index[pi].tolist(), arr.index[pj].tolist()
        ca, cb = arr.cls[pi].tolist(), arr.cls[pj].tolist()
        ba, bb = arr.cxcywh[pi].tolist(), arr.cxcywh[pj].tolist()
        ious = np.round(v, 6).tolist()
        # np.mean of two rows is (a + b) / 2, so this equals the per-pair mean it replaces.
        merged = np.round((arr.cxcywh[pi] + arr.cxcywh[pj]) / 2, 10).tolist() if check == "near_duplicate" else []
        for k in range(len(ious)):
            im = images[img[k]]
            la, lb = im.lines[ka[k]], im.lines[kb[k]]
            boxes = [_pair_box(la, ca[k], ba[k], names, ka[k]), _pair_box(lb, cb[k], bb[k], names, kb[k])]
            ev: dict[str, Any] = {"rule": text, "iou": ious[k], "threshold": thr}
            lines, result = [lb], None
            if check == "exact_duplicate":
                ev["drop"] = "the later box"
            elif check == "near_duplicate":
                ev["merge"] = "mean of the two boxes"
                lines = [la, lb]
                cx, cy, w, h = merged[k]
                result = {
                    "line": None,
                    "class_id": ca[k],
                    "class": boxes[0]["class"],
                    "cx": cx,
                    "cy": cy,
                    "w": w,
                    "h": h,
                }
            else:
                # Without a model to ask, drop the box of the rarer class (the later one on a tie).
                fa, fb = freq[ca[k]], freq[cb[k]]
                ev["class_counts"] = {boxes[0]["class"]: fa, boxes[1]["class"]: fb}
                ev["drop"] = "the box of the rarer class"
                if fa < fb:
                    lines, boxes = [la], [boxes[1], boxes[0]]
            out.append(
                Finding.model_construct(
                    check=check,
                    fix="merge" if check == "near_duplicate" else "drop",
                    target="box",
                    image=im.name,
                    lines=lines,
                    boxes=boxes,
                    evidence=ev,
                    result=result,
                    confidence=CONFIDENCE[check],
                )
            )
    out += file_findings(ds)
    return out


def _pair_box(line: int, cls: int, b: list[float], names: dict[int, str], index: int) -> dict[str, Any]:
    """`box_dict` of a valid box from its array values (same keys, same order)."""
    cx, cy, w, h = b
    name = names.get(cls, f"#{cls}")
    return {"line": line, "class_id": cls, "class": name, "cx": cx, "cy": cy, "w": w, "h": h, "index": index}


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
