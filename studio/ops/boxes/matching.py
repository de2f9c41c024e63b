"""Model-assisted checks: compare labels with a model's predictions, image by image.

Matching, per image, predictions sorted by confidence (highest first), each taking the unmatched
label with the highest IoU (greedy, as in COCO evaluation):
1. same class, IoU >= match_iou: the label is confirmed;
2. any class, IoU >= match_iou: `class_mismatch`, relabel the label to the predicted class;
3. any class, loc_iou <= IoU < match_iou: `poor_localization`, adjust the label to the prediction;
4. predictions left with confidence >= missing_conf: `missing_box`, add the predicted box;
5. labels left: `spurious_label`, drop it (only on images the predictions cover, see below).
Predictions below pred_conf are ignored. An image counts as covered when the source has an entry for
it (a txt file, results for it, or a model run), so a partial predictions folder does not flag every
label elsewhere as spurious.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.ops.boxes.iou import cxcywh_to_xyxy, iou_matrix
from studio.ops.boxes.model import BoxDataset, CheckSettings, Finding, ImageLabels, box_dict, num
from studio.ops.boxes.predictions import ImagePredictions, Predictions
from studio.schema import Box

SPURIOUS_CONFIDENCE = 0.5


def model_checks(ds: BoxDataset, preds: Predictions, settings: CheckSettings | None = None) -> list[Finding]:
    settings = settings or CheckSettings()
    out: list[Finding] = []
    for im in ds.images:
        if im.name not in preds.by_image:
            continue
        out += _image_findings(ds, im, preds.by_image[im.name], settings)
    return out


def _pred_dict(p: ImagePredictions, k: int, names: dict[int, str]) -> dict[str, Any]:
    c = p.cxcywh[k]
    cid = int(p.cls[k])
    return {
        "prediction": True,
        "class_id": cid,
        "class": names.get(cid, f"#{cid}"),
        "cx": num(c[0]),
        "cy": num(c[1]),
        "w": num(c[2]),
        "h": num(c[3]),
        "conf": round(float(p.conf[k]), 6),
    }


def _image_findings(ds: BoxDataset, im: ImageLabels, p: ImagePredictions, s: CheckSettings) -> list[Finding]:
    # The image itself, not its name: ds.image(name) is a linear scan, quadratic over a dataset.
    name = im.name
    names = ds.names
    valid = [k for k, b in enumerate(im.boxes) if b.is_finite() and b.w > 0 and b.h > 0]
    lab = np.asarray([(b.cx, b.cy, b.w, b.h) for b in (im.boxes[k] for k in valid)], dtype=np.float64).reshape(-1, 4)
    lab_cls = np.asarray([im.boxes[k].class_id for k in valid], dtype=np.int64)
    keep = np.flatnonzero(p.conf >= s.pred_conf)
    order = keep[np.argsort(-p.conf[keep], kind="stable")]
    iou = iou_matrix(cxcywh_to_xyxy(p.cxcywh[order]), cxcywh_to_xyxy(lab))  # (P, L)
    pred_done = np.zeros(len(order), dtype=bool)
    lab_done = np.zeros(len(valid), dtype=bool)
    out: list[Finding] = []

    def finding(
        check: str, fix: str, li: int | None, pk: int | None, conf: float, ev: dict[str, Any], result: Box | None
    ) -> None:
        boxes = []
        lines: list[int] = []
        if li is not None:
            k = valid[li]
            boxes.append(box_dict(im.boxes[k], im.lines[k], names, index=k))
            lines = [im.lines[k]]
        if pk is not None:
            boxes.append(_pred_dict(p, int(order[pk]), names))
        out.append(
            Finding(
                check=check,
                fix=fix,  # type: ignore[arg-type]
                image=name,
                lines=lines,
                boxes=boxes,
                evidence=ev,
                result=box_dict(result, None, names) if result is not None else None,
                confidence=round(min(max(conf, 0.0), 1.0), 6),
            )
        )

    def greedy(same_class: bool, lo: float) -> list[tuple[int, int]]:
        pairs = []
        for pk in range(len(order)):
            if pred_done[pk]:
                continue
            cand = (~lab_done) & (iou[pk] >= lo)
            if same_class:
                cand &= lab_cls == p.cls[order[pk]]
            if not cand.any():
                continue
            li = int(np.argmax(np.where(cand, iou[pk], -1.0)))
            pred_done[pk] = lab_done[li] = True
            pairs.append((pk, li))
        return pairs

    greedy(True, s.match_iou)
    for pk, li in greedy(False, s.match_iou):
        pc = int(p.cls[order[pk]])
        b = im.boxes[valid[li]]
        ev = {
            "rule": "a prediction of another class matches this label",
            "iou": round(float(iou[pk, li]), 6),
            "threshold": s.match_iou,
        }
        finding(
            "class_mismatch", "relabel", li, pk, float(p.conf[order[pk]]), ev, b.model_copy(update={"class_id": pc})
        )
    for pk, li in greedy(False, s.loc_iou):
        c = p.cxcywh[order[pk]]
        b = im.boxes[valid[li]]
        ev = {
            "rule": "best prediction overlaps this label only partly",
            "iou": round(float(iou[pk, li]), 6),
            "range": [s.loc_iou, s.match_iou],
        }
        adjusted = Box(class_id=b.class_id, cx=float(c[0]), cy=float(c[1]), w=float(c[2]), h=float(c[3]))
        finding("poor_localization", "adjust", li, pk, float(p.conf[order[pk]]), ev, adjusted)
    for pk in np.flatnonzero(~pred_done):
        conf = float(p.conf[order[pk]])
        if conf < s.missing_conf:
            continue
        c = p.cxcywh[order[pk]]
        best = float(iou[pk].max()) if iou.shape[1] else 0.0
        ev = {"rule": "a confident prediction matches no label", "best_iou": round(best, 6), "min_conf": s.missing_conf}
        added = Box(class_id=int(p.cls[order[pk]]), cx=float(c[0]), cy=float(c[1]), w=float(c[2]), h=float(c[3]))
        finding("missing_box", "add", None, int(pk), conf, ev, added)
    for li in np.flatnonzero(~lab_done):
        best = float(iou[:, li].max()) if iou.shape[0] else 0.0
        ev = {"rule": "no prediction matches this label", "best_iou": round(best, 6), "min_iou": s.loc_iou}
        finding("spurious_label", "drop", int(li), None, SPURIOUS_CONFIDENCE, ev, None)
    return out
