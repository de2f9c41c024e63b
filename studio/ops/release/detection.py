"""Detection (bounding boxes) in a release: a YOLO tree and COCO JSON per split, under `detection/`.

Which dataset, first match wins:
1. an explicit path (`studio release --boxes PATH`), with the approved fixes recorded for it;
2. the newest cleaned copy `studio cleanse --apply` wrote for the dataset being cleansed (the
   setting `boxes.dataset`), if it holds exactly the fixes approved now;
3. that dataset with its approved fixes applied in memory by the boxes area's own plan
   (`studio.ops.boxes.apply._plan`), so the source is only read, never written.
Pending fixes are not applied: their images are released as they are and counted in the card.

Splits are per image, seeded and stratified by each image's rarest class (the class carried by
the fewest released images), the same greedy rule as the text splits. Images with the same bytes
(sha256) form one group and land in one split, so an exact duplicate cannot leak into test.
Boxes the formats cannot hold (NaN, size <= 0, a class not in the names, wholly outside the
image) are left out and boxes overhanging the image are clipped; each is listed in release.json.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from studio.errors import StudioError
from studio.ops.boxes.apply import _plan as plan_fixes  # the apply rules, without writing a copy
from studio.ops.boxes.cleanse import SETTING, fix_proposals
from studio.ops.boxes.io import read_dataset, resolve_source, write_coco, write_yolo
from studio.ops.boxes.model import BoxDataset, Format, ImageLabels
from studio.ops.boxes.synthetic import accepted_augments, plan_synthetic
from studio.ops.release.models import SPLITS, ExportContext, ExportReport, Progress
from studio.ops.release.splits import assign_groups
from studio.schema import Box, Model, Proposal
from studio.store import Store

NAME = "detection"
YOLO_SPLIT = {"train": "train", "validation": "val", "test": "test"}  # release split -> YOLO/COCO name
NO_LABEL = "(no label)"
STATUSES = ("accepted", "rejected", "pending")


class Source(Model):
    origin: Literal["option", "cleaned", "fixes"]
    read_from: str
    format: Format | None = None
    images_dir: str | None = None
    decision_id: int | None = None  # the boxes.cleanse.apply that wrote the cleaned copy
    notes: list[str] = Field(default_factory=list)


class Item(Model):
    """One released image: where it comes from, its file name in the release, its boxes."""

    image: ImageLabels
    file: str
    sha256: str
    boxes: list[Box]


def detection_exporter(
    boxes: str | None = None, progress: Progress | None = None
) -> Callable[[Store, ExportContext], ExportReport]:
    def exporter(store: Store, ctx: ExportContext) -> ExportReport:
        return export_detection(store, ctx, boxes, progress)

    return exporter


def find_source(store: Store, boxes: str | None = None) -> Source | None:
    """The dataset to release (see the module doc); None when the project has none."""
    if boxes:
        p = Path(boxes).expanduser()
        if not p.exists():
            raise StudioError(
                f"--boxes {boxes}: no such file or folder; pass a dataset.yaml, a YOLO folder or a COCO JSON"
            )
        return Source(origin="option", read_from=str(p.resolve()))
    saved = store.get_setting(SETTING)
    if not saved:
        return None
    dataset, notes = str(saved["path"]), []
    applies = [d for d in store.decisions(action="boxes.cleanse.apply") if d.payload.get("dataset") == dataset]
    if applies:
        d = applies[-1]
        copy = _copy_source(store, dataset, Path(str(d.payload.get("out", ""))))
        accepted = {p.id for p in fix_proposals(store, dataset, status="accepted")}
        accepted |= {p.id for p in accepted_augments(store, dataset)}
        done = set(d.payload.get("applied", [])) | {s["proposal_id"] for s in d.payload.get("skipped", [])}
        done |= set(d.payload.get("augmented", [])) | {s["proposal_id"] for s in d.payload.get("augment_skipped", [])}
        if not copy.exists():
            notes.append(f"the cleaned copy of decision #{d.id} is gone; approved fixes applied to the source instead")
        elif accepted != done:
            notes.append(
                f"the cleaned copy of decision #{d.id} predates the fixes decided since; "
                "approved fixes applied to the source instead"
            )
        else:
            return Source(origin="cleaned", read_from=str(copy), format=saved.get("format"), decision_id=d.id)
    if not Path(dataset).exists():
        raise StudioError(
            f"the dataset being cleansed, {dataset}, is gone: restore it, or pass `--boxes PATH` to `studio release`"
        )
    return Source(
        origin="fixes", read_from=dataset, format=saved.get("format"), images_dir=saved.get("images_dir"), notes=notes
    )


def _copy_source(store: Store, dataset: str, out: Path) -> Path:
    """Where the dataset's yaml/JSON sits in a cleaned copy: the same place relative to the root."""
    runs = [d for d in store.decisions(action="boxes.cleanse.run") if d.payload.get("dataset") == dataset]
    root = runs[-1].payload.get("root") if runs else None
    try:
        rel = Path(dataset).resolve().relative_to(Path(str(root)).resolve()) if root else Path(Path(dataset).name)
    except ValueError:
        rel = Path(Path(dataset).name)
    return out / rel


def apply_in_memory(ds: BoxDataset, accepted: list[Proposal]) -> tuple[BoxDataset, list[dict[str, Any]]]:
    """`ds` with the accepted fixes applied by the same rules as `studio cleanse --apply`."""
    plan, outcomes = plan_fixes(ds, accepted)
    images = []
    for im in ds.images:
        if im.name in plan.drop_images:
            continue
        edits, adds = plan.edits.get(im.name, {}), plan.adds.get(im.name, [])
        if edits or adds:
            boxes, lines = [], []
            for line, box in zip(im.lines, im.boxes, strict=True):
                new = edits.get(line, box)
                if new is not None:
                    boxes.append(new)
                    lines.append(line)
            im = im.model_copy(update={"boxes": boxes + adds, "lines": lines + [0] * len(adds)})  # 0: added
        images.append(im)
    return ds.model_copy(update={"images": images}), outcomes


def format_box(box: Box, names: dict[int, str], names_known: bool) -> tuple[Box | None, str]:
    """The box as YOLO/COCO can hold it, and what was done: '' (as is), 'clipped', or why it is left out."""
    if not all(math.isfinite(v) for v in (box.cx, box.cy, box.w, box.h)):
        return None, "invalid_value"
    if box.w <= 0 or box.h <= 0:
        return None, "invalid_size"
    if names_known and box.class_id not in names:
        return None, "unknown_class"
    x1, x2 = max(0.0, box.cx - box.w / 2), min(1.0, box.cx + box.w / 2)
    y1, y2 = max(0.0, box.cy - box.h / 2), min(1.0, box.cy + box.h / 2)
    if x2 <= x1 or y2 <= y1:
        return None, "outside_image"
    clipped = Box(class_id=box.class_id, cx=(x1 + x2) / 2, cy=(y1 + y2) / 2, w=x2 - x1, h=y2 - y1)
    if max(abs(a - b) for a, b in zip(_xyxy(box), (x1, y1, x2, y2), strict=True)) > 1e-9:
        return clipped, "clipped"
    return box, ""


def _xyxy(b: Box) -> tuple[float, float, float, float]:
    return b.cx - b.w / 2, b.cy - b.h / 2, b.cx + b.w / 2, b.cy + b.h / 2


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def assign_splits(
    items: list[Item], fractions: tuple[float, float, float], seed: int
) -> tuple[dict[str, str], int, int]:
    """Release split per item file; and the number of groups and of images sharing bytes with another."""
    freq: Counter[int] = Counter()
    for it in items:
        freq.update({b.class_id for b in it.boxes})

    def rarest(it: Item) -> str:
        classes = {b.class_id for b in it.boxes}
        return str(min(classes, key=lambda c: (freq[c], c))) if classes else NO_LABEL

    groups: dict[str, list[Item]] = defaultdict(list)
    for it in sorted(items, key=lambda i: i.file):
        groups[it.sha256].append(it)
    rank = {str(c): (freq[c], c) for c in freq}
    strata: dict[str, list[list[Item]]] = defaultdict(list)
    for group in groups.values():
        strata[min((rarest(it) for it in group), key=lambda s: rank.get(s, (math.inf, -1)))].append(group)

    assignment: dict[str, str] = {}
    ordered = {k: sorted(v, key=lambda g: g[0].file) for k, v in strata.items()}
    for group, split in assign_groups(ordered, fractions, seed):
        for it in group:
            assignment[it.file] = split
    dup = sum(len(g) for g in groups.values() if len(g) > 1)
    return assignment, len(groups), dup


def _file_names(images: list[ImageLabels]) -> dict[str, str]:
    """A unique file name per image in the flat release folders (label files share the stem)."""
    stems = Counter(Path(im.name).stem.lower() for im in images)
    out: dict[str, str] = {}
    used: set[str] = set()
    for im in sorted(images, key=lambda i: i.name):
        p = Path(im.name)
        name = p.name if stems[p.stem.lower()] == 1 else im.name.replace("/", "__")
        stem, k = Path(name).stem, 1
        while Path(name).stem.lower() in used:
            k += 1
            name = f"{stem}_{k}{p.suffix}"
        used.add(Path(name).stem.lower())
        out[im.name] = name
    return out


def _fix_counts(store: Store, source: str, released: set[str]) -> dict[str, Any]:
    props = fix_proposals(store, source, status=None)
    by_check: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    pending_images: set[str] = set()
    for p in props:
        status = "accepted" if p.status == "edited" else p.status
        if status in STATUSES:
            by_check[str(p.payload.get("check"))][status] += 1
        if p.status == "pending" and p.payload.get("image") in released:
            pending_images.add(str(p.payload.get("image")))
    return {
        "by_check": dict(sorted(by_check.items())),
        "pending": sum(c["pending"] for c in by_check.values()),
        "pending_images": len(pending_images),
    }


def export_detection(
    store: Store, ctx: ExportContext, boxes: str | None = None, progress: Progress | None = None
) -> ExportReport:
    """Write detection/yolo and detection/coco into the release folder; report what went in."""
    src = find_source(store, boxes)
    if src is None:
        if ctx.task_type == "detection":
            raise StudioError(
                "this is a detection project but no box dataset is known: run `studio cleanse DATASET` "
                "or pass `--boxes PATH` to `studio release`"
            )
        return ExportReport(name=NAME, notes=["no detection dataset in this project"])
    ds = read_dataset(src.read_from, src.format, src.images_dir)
    # Fixes name the dataset they were found in: the source of a cleaned copy, else the dataset itself.
    fixes_for = resolve_source(store.get_setting(SETTING)["path"]) if src.origin == "cleaned" else ds.source
    outcomes: list[dict[str, Any]] = []
    if src.origin != "cleaned":
        ds, outcomes = apply_in_memory(ds, fix_proposals(store, fixes_for, status="accepted"))
        # Approved augmented images join as `studio cleanse --apply` would add them.
        changed = {str(o["image"]) for o in outcomes if o["status"] == "applied"}
        synth, _ = plan_synthetic(ds, accepted_augments(store, fixes_for), changed, store.root)
        ds = ds.model_copy(update={"images": ds.images + [new for _, new, _ in synth]})
    n_synthetic = sum(1 for im in ds.images if im.synthetic)
    if ctx.exclude_synthetic:
        ds = ds.model_copy(update={"images": [im for im in ds.images if not im.synthetic]})

    names = dict(ds.names) or {c: f"class_{c}" for c in sorted({b.class_id for im in ds.images for b in im.boxes})}
    left_images: Counter[str] = Counter()
    left_boxes: Counter[str] = Counter()
    adjustments: list[dict[str, Any]] = []
    kept: list[ImageLabels] = []
    for im in ds.images:
        if not im.exists:
            left_images["image file missing"] += 1
        elif im.width is None or im.height is None:
            left_images["image size unreadable"] += 1
        else:
            kept.append(im)
    files = _file_names(kept)
    items: list[Item] = []
    for n, im in enumerate(sorted(kept, key=lambda i: i.name), 1):
        out_boxes = []
        for line, box in zip(im.lines, im.boxes, strict=True):
            new, what = format_box(box, names, ds.names_known)
            if what:
                adjustments.append(
                    {"image": im.name, "line": line, "action": "clipped" if new else "left out", "reason": what}
                )
            if new is None:
                left_boxes[what] += 1
            else:
                out_boxes.append(new)
        items.append(Item(image=im, file=files[im.name], sha256=file_sha256(im.path), boxes=out_boxes))
        if progress and (n % 200 == 0 or n == len(kept)):
            progress("detection: hash images", n, len(kept))

    assignment, n_groups, n_dup = assign_splits([it for it in items if not it.image.synthetic], ctx.split, ctx.seed)
    items, leaked = _place_synthetic(items, assignment, ctx.synthetic_to_train)
    base = ctx.folder / NAME
    written = _write(base, items, assignment, names)
    if progress:
        progress("detection: write YOLO and COCO", 1, 1)

    released = {it.image.name for it in items}
    details = {
        "source": {
            "origin": src.origin,
            "format": ds.format,
            "file": Path(ds.source).name,
            "cleaned_copy_decision": src.decision_id,
            "fixes_applied": sum(1 for o in outcomes if o["status"] == "applied"),
            "fixes_skipped": [
                {k: o[k] for k in ("proposal_id", "check", "reason")} for o in outcomes if o["status"] == "skipped"
            ],
            "notes": src.notes,
        },
        "splits": {YOLO_SPLIT[s]: _split_counts(items, assignment, s) for s in SPLITS},
        "classes": _class_counts(items, assignment, names),
        "groups": n_groups,
        "duplicate_images": n_dup,
        "fixes": _fix_counts(store, fixes_for, released),
        "left_out": {"images": dict(sorted(left_images.items())), "boxes": dict(sorted(left_boxes.items()))},
        "clipped": sum(1 for a in adjustments if a["action"] == "clipped"),
        "adjustments": adjustments,
        "unreadable": [str(p) for p in ds.problems],
    }
    if n_synthetic:  # only then: releases without synthetic images stay byte for byte as before
        details["synthetic"] = synthetic_share(items, assignment, names, n_synthetic if ctx.exclude_synthetic else 0)
        details["synthetic"]["left_out_source_in_evaluation"] = leaked
    counts = {
        "images": len(items),
        "boxes": sum(len(it.boxes) for it in items),
        "classes": len(names),
        **{YOLO_SPLIT[s]: details["splits"][YOLO_SPLIT[s]]["images"] for s in SPLITS},
        "pending_fixes": details["fixes"]["pending"],
    }
    return ExportReport(name=NAME, files=written, counts=counts, notes=src.notes, details=details)


def _place_synthetic(items: list[Item], assignment: dict[str, str], to_train: bool) -> tuple[list[Item], int]:
    """Give each synthetic image a split; leave out those that would leak an evaluation image into training.

    A synthetic image follows its source image (and the image its pasted crop came from): with `to_train`
    it goes to train only when they are in train (or not released), otherwise it is left out; without,
    it takes their split when they agree, and is left out when they do not."""
    by_name = {it.image.name: assignment[it.file] for it in items if it.file in assignment}
    kept, leaked = [], 0
    for it in items:
        if it.image.synthetic is None:
            kept.append(it)
            continue
        syn = it.image.synthetic
        sources = [syn.get("source_image"), (syn.get("recipe") or {}).get("paste_from")]
        splits = {by_name[s] for s in sources if s in by_name}
        split = "train" if not splits else (splits.pop() if len(splits) == 1 else None)
        if split is None or (to_train and split != "train"):
            leaked += 1
            continue
        assignment[it.file] = split
        kept.append(it)
    return kept, leaked


def synthetic_share(
    items: list[Item], assignment: dict[str, str], names: dict[int, str], excluded: int
) -> dict[str, Any]:
    """Synthetic images per split, and synthetic boxes per class and split (with all boxes to compare)."""
    images: Counter[str] = Counter()
    boxes: Counter[tuple[int, str]] = Counter()
    totals: Counter[int] = Counter()
    for it in items:
        split = YOLO_SPLIT[assignment[it.file]]
        totals.update(b.class_id for b in it.boxes)
        if it.image.synthetic is not None:
            images[split] += 1
            boxes.update((b.class_id, split) for b in it.boxes)
    return {
        "excluded": excluded,
        "images": {s: images[s] for s in YOLO_SPLIT.values()},
        "boxes": {
            names[c]: {
                **{s: boxes[c, s] for s in YOLO_SPLIT.values()},
                "total": sum(boxes[c, s] for s in YOLO_SPLIT.values()),
                "of": totals[c],
            }
            for c in sorted(names)
        },
    }


def _split_counts(items: list[Item], assignment: dict[str, str], split: str) -> dict[str, int]:
    its = [it for it in items if assignment[it.file] == split]
    return {"images": len(its), "boxes": sum(len(it.boxes) for it in its)}


def _class_counts(items: list[Item], assignment: dict[str, str], names: dict[int, str]) -> list[dict[str, Any]]:
    images: Counter[tuple[int, str]] = Counter()
    boxes: Counter[tuple[int, str]] = Counter()
    for it in items:
        split = YOLO_SPLIT[assignment[it.file]]
        boxes.update((b.class_id, split) for b in it.boxes)
        images.update((c, split) for c in {b.class_id for b in it.boxes})
    return [
        {
            "id": yolo_id,
            "source_id": cid,
            "name": names[cid],
            "images": {s: images[cid, s] for s in YOLO_SPLIT.values()},
            "boxes": {s: boxes[cid, s] for s in YOLO_SPLIT.values()},
        }
        for yolo_id, cid in enumerate(sorted(names))
    ]


def _write(base: Path, items: list[Item], assignment: dict[str, str], names: dict[int, str]) -> list[str]:
    """detection/yolo (images copied, labels, dataset.yaml) and detection/coco/<split>.json."""
    view = [
        it.image.model_copy(update={"name": it.file, "split": YOLO_SPLIT[assignment[it.file]], "boxes": it.boxes})
        for it in items
    ]
    ds = BoxDataset(format="yolo", source="", root="", names=names, images=view)
    yolo = base / "yolo"
    write_yolo(ds, yolo)
    for s in YOLO_SPLIT.values():  # Ultralytics wants every folder the yaml names to exist
        (yolo / "images" / s).mkdir(parents=True, exist_ok=True)
        (yolo / "labels" / s).mkdir(parents=True, exist_ok=True)
    meta = {
        "path": "",
        "train": "images/train",
        "val": "images/val",
        "test": "images/test",
        "names": {i: names[c] for i, c in enumerate(sorted(names))},
    }
    (yolo / "dataset.yaml").write_bytes(
        (
            "# Studio release: detection labels (class cx cy w h, normalized).\n"
            "# `path` is empty on purpose: Ultralytics and Studio then read the folders below relative to\n"
            "# this file, so the release works wherever it is copied.\n"
            + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
        ).encode("utf-8")
    )
    for y in YOLO_SPLIT.values():
        split_images = [im.model_copy(update={"name": f"yolo/images/{y}/{im.name}"}) for im in view if im.split == y]
        if split_images:  # an empty split has no COCO file, like the text formats
            write_coco(
                ds.model_copy(update={"images": sorted(split_images, key=lambda i: i.name)}),
                base / "coco" / f"{y}.json",
            )
    return sorted(p.relative_to(base.parent).as_posix() for p in base.rglob("*") if p.is_file())


def card_section(details: dict[str, Any], seed: int) -> str:
    """The card's Detection section, from the exporter's details."""
    from studio.ops.release.card import _table

    src, fixes = details["source"], details["fixes"]
    splits = [s for s, c in details["splits"].items() if c["images"]]
    n_img = sum(c["images"] for c in details["splits"].values())
    n_box = sum(c["boxes"] for c in details["splits"].values())
    origin = {
        "cleaned": f"the cleaned copy written by decision #{src['cleaned_copy_decision']} (approved fixes only)",
        "fixes": f"the source with the {src['fixes_applied']} human-approved fixes applied (the source is never "
        "modified)",
        "option": f"the dataset given with `--boxes`, with the {src['fixes_applied']} approved fixes recorded for it",
    }[src["origin"]]
    parts = [
        "## Detection\n",
        f"{n_img} images, {n_box} boxes, {len(details['classes'])} classes, from `{src['file']}` "
        f"({src['format'].upper()}): {origin}.\n",
        f"Splits are per image, seeded (seed {seed}) and stratified by each image's rarest class; images with "
        f"identical bytes (sha256) stay in one split ({details['groups']} groups, {details['duplicate_images']} "
        "images share their bytes with another).\n",
        _table(
            ["split", "images", "boxes"],
            [[s, details["splits"][s]["images"], details["splits"][s]["boxes"]] for s in splits],
        ),
        "\nImages and boxes per class and split:\n",
        _table(
            ["id", "class", *(f"images {s}" for s in splits), *(f"boxes {s}" for s in splits)],
            [
                [c["id"], c["name"], *(c["images"][s] for s in splits), *(c["boxes"][s] for s in splits)]
                for c in details["classes"]
            ],
        ),
    ]
    if fixes["by_check"]:
        parts.append(
            "\nCleansing: box fixes per check, as a human decided them:\n\n"
            + _table(["check", *STATUSES], [[k, *(v[s] for s in STATUSES)] for k, v in fixes["by_check"].items()])
        )
    parts.append(
        f"\nPending box fixes not applied: {fixes['pending']} ({fixes['pending_images']} released images have one "
        "and are released as labeled).\n"
    )
    if src["fixes_skipped"]:
        parts.append(f"Approved fixes skipped by the apply rules: {len(src['fixes_skipped'])} (see release.json).\n")
    left = details["left_out"]
    if left["images"] or left["boxes"] or details["clipped"]:
        parts.append(
            "Fitted to the formats: "
            + ", ".join(
                [f"{details['clipped']} boxes clipped to the image"]
                + [f"{v} boxes left out ({k})" for k, v in left["boxes"].items()]
                + [f"{v} images left out ({k})" for k, v in left["images"].items()]
            )
            + " (each listed in release.json).\n"
        )
    if details.get("synthetic"):
        parts.append(_synthetic_card(details["synthetic"], splits))
    if details["unreadable"]:
        parts.append(f"Unreadable label lines or records skipped: {len(details['unreadable'])} (see release.json).\n")
    for note in src["notes"]:
        parts.append(f"Note: {note}.\n")
    parts.append(
        "\nFiles: `detection/yolo/` (`images/<split>/`, `labels/<split>/`, `dataset.yaml`; class ids 0..n-1 in the "
        "order of the table above) and `detection/coco/<split>.json` (category ids as in the source; `file_name` "
        "relative to `detection/`).\n"
    )
    return "\n".join(p.strip("\n") + "\n" for p in parts)


def _synthetic_card(syn: dict[str, Any], splits: list[str]) -> str:
    from studio.ops.release.card import _table

    n = sum(syn["images"].values())
    text = (
        f"Synthetic images (made by `studio augment`, approved by a person): {n} in train only"
        f" ({syn['excluded']} left out with --exclude-synthetic; {syn['left_out_source_in_evaluation']} left out "
        "because their source image is in validation or test).\n\n"
    )
    rows = [[name, *(c[s] for s in splits), f"{c['total']}/{c['of']}"] for name, c in syn["boxes"].items() if c["of"]]
    return text + _table(["class", *(f"synthetic boxes {s}" for s in splits), "synthetic/all boxes"], rows)
