"""Write a cleaned copy of a dataset from the APPROVED box fixes only; the source is never touched.

The copy reproduces the dataset root file for file, then changes exactly what approved fixes say:
label lines dropped or rewritten, boxes added, images and orphan label files left out (YOLO), or
the COCO JSON edited (annotations dropped, changed, added; image records removed). Untouched files,
lines and JSON fields stay as they were, malformed lines included.

Rules when fixes collide, in proposal order: a box is changed by at most one fix (the first); a
second drop of an already dropped box is a no-op; a fix on an image another fix drops is skipped;
a fix whose boxes no longer match the source (edited since the check) is skipped. Skipped fixes
are listed in the report with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ConfigDict

from studio.errors import StudioError
from studio.ops.boxes.coco import load_json, pixel_bbox
from studio.ops.boxes.io import boxes_equal, read_dataset, resolve_source
from studio.ops.boxes.model import BoxDataset, Format, ImageLabels
from studio.ops.boxes.preview import write_previews
from studio.ops.boxes.report import build_report, proposal_class, report_markdown
from studio.ops.boxes.synthetic import (
    accepted_augments,
    add_synthetic_coco,
    plan_synthetic,
    write_manifest,
    write_synthetic_yolo,
)
from studio.ops.boxes.yolo import format_box, join_label_text, label_path, split_label_text
from studio.ops.registry import Result
from studio.schema import Box, Proposal
from studio.store import Store

Progress = Callable[[str, int, int], None]
REPORT_JSON = "cleanse_report.json"
REPORT_MD = "cleanse_report.md"
PREVIEWS = "previews"  # PNG pictures of the applied and skipped fixes, linked from the report


class ApplyResult(Result):
    """What `apply_fixes` wrote (the result of the `cleanse_apply` operation too)."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    format: Format
    out: str
    report_json: str
    report_md: str
    applied: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    report: dict[str, Any]

    def summary(self) -> str:
        r = self.report
        return (
            f"Wrote {self.out}: {len(self.applied)} fixes applied, {len(self.skipped)} skipped, "
            f"{len((r.get('synthetic') or {}).get('added', []))} synthetic images added; "
            f"images {r['images']['before']} -> {r['images']['after']}, "
            f"boxes {r['boxes']['before']} -> {r['boxes']['after']}."
        )


class _Plan:
    def __init__(self) -> None:
        self.drop_images: dict[str, int] = {}  # image name -> proposal id
        self.drop_files: set[str] = set()
        self.edits: dict[str, dict[int, Box | None]] = {}  # image -> line -> new box (None: drop)
        self.claims: dict[tuple[str, int], tuple[int, bool]] = {}  # (image, line) -> (proposal id, is_drop)
        self.adds: dict[str, list[Box]] = {}


def check_out_dir(out: Path, ds: BoxDataset) -> Path:
    out = out.expanduser().resolve()
    root = Path(ds.root).resolve()
    if out == root or root in out.parents:
        raise StudioError(f"{out} is inside the source dataset {root}; choose a folder outside it")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StudioError(f"{out} exists and is not empty; choose a new folder")
    return out


def apply_fixes(
    store: Store,
    out: str | Path,
    dataset: str,
    format: Format | None = None,
    images_dir: str | None = None,
    requested_by: str = "",
    progress: Progress | None = None,
    preview_limit: int = 200,
) -> ApplyResult:
    """Write the cleaned copy of `dataset` to `out` with every accepted box fix for it."""
    ds = read_dataset(dataset, format, images_dir)
    out_dir = check_out_dir(Path(out), ds)
    source = resolve_source(ds.source, ds.format)
    props = [p for p in store.proposals(kind="box_fix", status=None) if p.payload.get("dataset") == source]
    accepted = [p for p in props if p.status == "accepted"]
    plan, outcomes = _plan(ds, accepted)
    changed = {n for n, e in plan.edits.items() if e} | {n for n, a in plan.adds.items() if a}
    synth, synth_skipped = plan_synthetic(
        ds, accepted_augments(store, source), changed, store.root, dropped=set(plan.drop_images)
    )

    root = Path(ds.root)
    skip_paths = {Path(ds.image(n).path).resolve() for n in plan.drop_images}
    if ds.format == "yolo":
        skip_paths |= {label_path(p) for p in skip_paths}
    skip_paths |= {(root / f).resolve() for f in plan.drop_files}
    out_dir.mkdir(parents=True, exist_ok=True)
    outside = _copy_listed(ds, out_dir, skip_paths, progress)
    if ds.format == "yolo":
        _write_yolo_edits(ds, out_dir, plan)
        write_synthetic_yolo(ds, out_dir, synth)
    else:
        _write_coco_edits(ds, out_dir, plan, synth)

    kept = [im for im in ds.images if im.name not in plan.drop_images]
    write_manifest(ds, out_dir, synth, {im.name for im in kept})
    after_boxes = sum(len(im.boxes) for im in kept)
    for name, edits in plan.edits.items():
        if name not in plan.drop_images:
            after_boxes -= sum(1 for b in edits.values() if b is None)
    after_boxes += sum(len(v) for k, v in plan.adds.items() if k not in plan.drop_images)
    report = build_report(
        source,
        ds.format,
        str(out_dir),
        props,
        outcomes,
        {"images": len(ds.images), "boxes": ds.box_count()},
        {"images": len(kept) + len(synth), "boxes": after_boxes + sum(len(n.boxes) for _, n, _ in synth)},
    )
    report["synthetic"] = {
        "added": [{"proposal_id": p.id, "image": n.name, "source_image": src.name} for p, n, src in synth],
        "skipped": synth_skipped,
    }
    report["not_copied"] = outside
    decided = {o["proposal_id"] for o in outcomes}
    shown = write_previews(ds, [p for p in accepted if p.id in decided], out_dir / PREVIEWS, limit=preview_limit)
    report["previews"] = {str(pid): f"{PREVIEWS}/{name}" for pid, name in shown.items()}
    rj, rm = out_dir / REPORT_JSON, out_dir / REPORT_MD
    rj.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    rm.write_text(report_markdown(report), encoding="utf-8")
    applied = [o for o in outcomes if o["status"] == "applied"]
    skipped = [o for o in outcomes if o["status"] == "skipped"]
    store.record(
        "tool",
        "boxes.cleanse.apply",
        [f"dataset:{source}", *[f"proposal:{o['proposal_id']}" for o in applied][:200]],
        {
            "dataset": source,
            "out": str(out_dir),
            "applied": [o["proposal_id"] for o in applied],
            "skipped": [{"proposal_id": o["proposal_id"], "reason": o["reason"]} for o in skipped],
            "requested_by": requested_by,
            "augmented": [p.id for p, _, _ in synth],
            "augment_skipped": [{"proposal_id": o["proposal_id"], "reason": o["reason"]} for o in synth_skipped],
            "boxes": report["boxes"],
            "images": report["images"],
        },
    )
    return ApplyResult(
        dataset=source,
        format=ds.format,
        out=str(out_dir),
        report_json=str(rj),
        report_md=str(rm),
        applied=applied,
        skipped=skipped,
        report=report,
    )


def _box(d: dict[str, Any]) -> Box:
    return Box(class_id=int(d["class_id"]), cx=float(d["cx"]), cy=float(d["cy"]), w=float(d["w"]), h=float(d["h"]))


def _plan(ds: BoxDataset, accepted: list[Proposal]) -> tuple[_Plan, list[dict[str, Any]]]:
    plan = _Plan()
    outcomes: list[dict[str, Any]] = []
    names = {im.name: im for im in ds.images}
    by_line = {im.name: dict(zip(im.lines, im.boxes, strict=True)) for im in ds.images}

    def outcome(p: Proposal, status: str, reason: str = "") -> None:
        pl = p.payload
        outcomes.append(
            {
                "proposal_id": p.id,
                "check": pl.get("check"),
                "fix": pl.get("fix"),
                "image": pl.get("image"),
                "lines": pl.get("lines", []),
                "class": proposal_class(p),
                "status": status,
                "reason": reason,
            }
        )

    file_level = [p for p in accepted if p.payload.get("target") in ("image", "label_file")]
    for p in sorted(file_level, key=lambda p: p.id or 0):
        pl = p.payload
        if pl["target"] == "label_file":
            if (Path(ds.root) / pl["image"]).is_file() and pl["image"] in ds.orphan_labels:
                plan.drop_files.add(pl["image"])
                outcome(p, "applied")
            else:
                outcome(p, "skipped", "the label file is gone or now has an image")
        elif pl["image"] not in names:
            outcome(p, "skipped", "image no longer in the dataset")
        else:
            plan.drop_images.setdefault(pl["image"], p.id or 0)
            outcome(p, "applied")

    for p in sorted((p for p in accepted if p.payload.get("target", "box") == "box"), key=lambda p: p.id or 0):
        pl = p.payload
        image, fix, lines = pl["image"], pl["fix"], list(pl.get("lines") or [])
        if image not in names:
            outcome(p, "skipped", "image no longer in the dataset")
            continue
        if image in plan.drop_images:
            outcome(p, "skipped", f"image dropped by proposal {plan.drop_images[image]}")
            continue
        current = by_line[image]
        stale = [
            b["line"]
            for b in pl.get("boxes") or []
            if not b.get("prediction")
            and (b.get("line") not in current or not boxes_equal(_box(b), current[b["line"]]))
        ]
        if stale:
            outcome(p, "skipped", f"label changed since the check (line {stale[0]})")
            continue
        if fix == "add":
            plan.adds.setdefault(image, []).append(_box(pl["result"]))
            outcome(p, "applied")
            continue
        claimed = [plan.claims.get((image, ln)) for ln in lines]
        if fix == "drop" and claimed[0] is not None and claimed[0][1]:
            outcome(p, "applied", f"already dropped by proposal {claimed[0][0]}")
            continue
        taken = next((c for c in claimed if c is not None), None)
        if taken is not None:
            outcome(p, "skipped", f"box already changed by proposal {taken[0]}")
            continue
        edits = plan.edits.setdefault(image, {})
        if fix == "drop":
            edits[lines[0]] = None
        elif fix == "merge":
            edits[lines[0]] = _box(pl["result"])
            edits[lines[1]] = None
        else:  # clip, relabel, adjust
            edits[lines[0]] = _box(pl["result"])
        for k, ln in enumerate(lines):
            plan.claims[(image, ln)] = (p.id or 0, fix == "drop" or (fix == "merge" and k == 1))
        outcome(p, "applied")
    return plan, outcomes


def dataset_files(ds: BoxDataset) -> list[Path]:
    """Every file the dataset lists (images, label files, orphan labels, yaml/JSON, split lists), resolved.

    Only these are copied: a yaml whose `path` names a big folder (even `~`) copies nothing else.
    """
    root = Path(ds.root)
    files = [Path(im.path) for im in ds.images if im.exists]
    files += [root / im.label_file for im in ds.images if im.label_file]
    files += [root / f for f in [*ds.orphan_labels, *ds.meta_files]]
    return sorted({f.resolve() for f in files})


def _copy_listed(ds: BoxDataset, out: Path, skip: set[Path], progress: Progress | None) -> list[str]:
    """Copy the dataset's own files under the same relative paths; return those outside the root (not copied)."""
    root = Path(ds.root).resolve()
    files = dataset_files(ds)
    outside: list[str] = []
    for i, src in enumerate(files):
        if src in skip or not src.is_file():
            continue
        if root not in src.parents:
            outside.append(str(src))
            continue
        dst = out / src.relative_to(root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        if progress and (i % 200 == 0 or i == len(files) - 1):
            progress("copy", i + 1, len(files))
    return outside


def _write_yolo_edits(ds: BoxDataset, out: Path, plan: _Plan) -> None:
    root = Path(ds.root)
    for im in ds.images:
        if im.name in plan.drop_images:
            continue
        edits, adds = plan.edits.get(im.name, {}), plan.adds.get(im.name, [])
        if not edits and not adds:
            continue
        src = root / im.label_file if im.label_file else label_path(Path(im.path))
        bom, lines = split_label_text(src.read_bytes()) if im.label_file else ("", [])
        dst = out / _rel(src, root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(join_label_text(bom, edit_lines(lines, edits, adds)))
    _rewrite_yaml(ds, out)


def edit_lines(lines: list[str], edits: dict[int, Box | None], adds: list[Box]) -> list[str]:
    """Label lines (with endings) after the edits: untouched lines stay byte for byte; new lines
    take the file's own line ending (the first one found, else LF)."""
    eol = next((ln[len(ln.rstrip("\r\n")) :] for ln in lines if ln.endswith(("\n", "\r"))), "\n")
    new: list[str] = []
    for n, line in enumerate(lines, start=1):
        if n not in edits:
            new.append(line)
        elif (box := edits[n]) is not None:
            end = line[len(line.rstrip("\r\n")) :]
            new.append(format_box(box) + end)
    if adds and new and not new[-1].endswith(("\n", "\r")):
        new[-1] += eol
    new += [format_box(b) + eol for b in adds]
    return new


def _rewrite_yaml(ds: BoxDataset, out: Path) -> None:
    """Point the copy's yaml at the copy: its `path` (if any) becomes the output folder."""
    src = Path(ds.source)
    if not src.is_file():
        return
    root = Path(ds.root)
    dst = out / _rel(src, root) if root in src.parents else out / src.name
    text = src.read_bytes().decode("utf-8", errors="surrogateescape")  # line endings and odd bytes kept
    line = f"path: {json.dumps(str(out))}"
    text = re.sub(r"^path[ \t]*:[^\r\n]*", lambda _: line, text, count=1, flags=re.M)
    dst.write_bytes(text.encode("utf-8", errors="surrogateescape"))


def _write_coco_edits(
    ds: BoxDataset, out: Path, plan: _Plan, synth: list[tuple[Proposal, ImageLabels, ImageLabels]] | None = None
) -> None:
    src = Path(ds.source)
    data = load_json(src)
    by_name: dict[str, ImageLabels] = {im.name: im for im in ds.images}
    dropped_ids = {by_name[n].image_id for n in plan.drop_images}
    edits_by_ann: dict[int, tuple[ImageLabels, Box | None]] = {}
    for name, edits in plan.edits.items():
        for ann_id, box in edits.items():
            edits_by_ann[ann_id] = (by_name[name], box)
    data["images"] = [r for r in data["images"] if not (isinstance(r, dict) and r.get("id") in dropped_ids)]
    anns_out: list[Any] = []
    max_id = 0
    for ann in data.get("annotations") or []:
        if isinstance(ann, dict) and isinstance(ann.get("id"), int):
            max_id = max(max_id, ann["id"])
        if isinstance(ann, dict) and ann.get("image_id") in dropped_ids:
            continue
        aid = ann.get("id") if isinstance(ann, dict) else None
        if aid in edits_by_ann:
            im, box = edits_by_ann.pop(aid)
            if box is None:
                continue
            _set_bbox(ann, box, im)
        anns_out.append(ann)
    for name, boxes in plan.adds.items():
        if name in plan.drop_images:
            continue
        im = by_name[name]
        for box in boxes:
            max_id += 1
            ann = {"id": max_id, "image_id": im.image_id, "iscrowd": 0}
            _set_bbox(ann, box, im)
            anns_out.append(ann)
    data["annotations"] = anns_out
    if synth:
        add_synthetic_coco(data, synth, out, Path(ds.root))
    dst = out / _rel(src, Path(ds.root))
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")


def _set_bbox(ann: dict[str, Any], box: Box, im: ImageLabels) -> None:
    bbox = pixel_bbox(box.cx, box.cy, box.w, box.h, im.width or 0, im.height or 0)
    ann["bbox"] = bbox
    ann["category_id"] = box.class_id
    if not ann.get("segmentation"):
        ann["area"] = round(bbox[2] * bbox[3], 2)  # a box-only annotation's area is its box


def _rel(p: Path, root: Path) -> Path:
    try:
        return p.resolve().relative_to(root.resolve())
    except ValueError:
        return Path(p.name)
