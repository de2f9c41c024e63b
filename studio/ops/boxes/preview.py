"""A picture of one box fix: the image, its boxes, the boxes the fix is about, before -> after.

The same picture is written as a PNG (`studio cleanse --show ID -o FILE.png`, the previews the
`--apply` report links) and shown in the app's Boxes screen (textual-image draws it with Kitty,
Sixel or unicode half-blocks). Drawing uses Pillow only.

Colours (no anti-aliasing, so a test can read them back at a box's corners):
- every other box of the image: grey; a model's prediction: blue;
- the boxes the fix changes or drops: red; the box after the fix (merge, clip, adjust, relabel,
  add) in the "after" panel: green.
Fixes that change a box are drawn as two panels, "before" and "after"; a drop or an add as one.
A missing image is drawn as a grey canvas (640x480 unless the size is known), with a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from studio.errors import StudioError
from studio.ops.boxes.cleanse import SETTING
from studio.ops.boxes.io import read_dataset
from studio.ops.boxes.model import BoxDataset, ImageLabels
from studio.schema import Box, Proposal
from studio.store import Store

OTHER = (170, 170, 170)
INVOLVED = (230, 30, 30)
PREDICTION = (40, 120, 255)
AFTER = (30, 200, 70)
BACKGROUND = (24, 24, 28)
TEXT = (235, 235, 235)
CANVAS = (90, 90, 96)
TARGET = 400  # the longer side of each panel's image, pixels
PAD = 8
TITLE = 20  # height of a panel's title bar
HEADER = 24  # height of the line above the panels
LINE = 3  # box outline width
TWO_PANELS = {"merge", "clip", "adjust", "relabel"}


@dataclass
class Panel:
    """Where a panel's image sits in the picture: top-left corner and pixels per source pixel."""

    title: str
    x0: int
    y0: int
    width: int  # source image size
    height: int
    scale: float

    def to_px(self, x: float, y: float) -> tuple[int, int]:
        """Normalized image coordinates -> picture pixels."""
        return self.x0 + round(x * self.width * self.scale), self.y0 + round(y * self.height * self.scale)


@dataclass
class Preview:
    image: Image.Image
    panels: list[Panel] = field(default_factory=list)
    note: str = ""

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.image.save(p, format="PNG")
        return p


def _font(size: int = 13) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _box_of(d: dict[str, Any]) -> Box | None:
    try:
        b = Box(class_id=int(d["class_id"]), cx=float(d["cx"]), cy=float(d["cy"]), w=float(d["w"]), h=float(d["h"]))
    except (KeyError, TypeError, ValueError):
        return None
    return b if _finite(b) else None


def _finite(b: Box) -> bool:
    return all(math.isfinite(v) for v in (b.cx, b.cy, b.w, b.h))


def _load(im: ImageLabels | None, size: tuple[int, int] | None) -> tuple[Image.Image, str]:
    if im is not None and im.exists:
        return _open(Path(im.path), size or (640, 480))
    w, h = size or (640, 480)
    return Image.new("RGB", (w, h), CANVAS), "image not found: boxes drawn on a blank canvas"


def render_fix(
    proposal: Proposal | dict[str, Any],
    dataset: BoxDataset | None = None,
    names: dict[int, str] | None = None,
    line: int = LINE,
) -> Preview:
    """The picture of a fix (a `box_fix` proposal or its payload), on its image from `dataset`.

    `line` is the outline width of highlighted boxes: the app draws them bolder for half-block terminals,
    where a picture is shown at about a tenth of its size."""
    payload = proposal.payload if isinstance(proposal, Proposal) else proposal
    pid = proposal.id if isinstance(proposal, Proposal) else payload.get("id")
    names = names if names is not None else (dataset.names if dataset else {})
    im = _find_image(dataset, str(payload.get("image", "")))
    size = (im.width, im.height) if im is not None and im.width and im.height else None
    src, note = _load(im, size)
    involved = {int(b["line"]) for b in payload.get("boxes") or [] if b.get("line") is not None}
    others = (
        [b for line, b in zip(im.lines, im.boxes, strict=True) if line not in involved and _finite(b)] if im else []
    )
    fix = str(payload.get("fix", ""))
    before = [(b, INVOLVED) for b in (_box_of(d) for d in payload.get("boxes") or [] if not d.get("prediction")) if b]
    preds = [(b, PREDICTION) for b in (_box_of(d) for d in payload.get("boxes") or [] if d.get("prediction")) if b]
    result = _box_of(payload["result"]) if payload.get("result") else None

    panels_spec: list[tuple[str, list[tuple[Box, tuple[int, int, int]]]]] = []
    grey = [(b, OTHER) for b in others]
    if fix in TWO_PANELS and result is not None:
        kept_after = before[2:] if fix == "merge" else before[1:]  # merge drops its second box too
        panels_spec.append(("before", grey + before + preds))
        panels_spec.append((f"after {fix}", grey + kept_after + [(result, AFTER)]))
    elif fix == "add" and result is not None:
        panels_spec.append(("add (model)", grey + preds + [(result, AFTER)]))
    else:
        panels_spec.append((fix or "fix", grey + before + preds))

    header = f"#{pid} " if pid is not None else ""
    header += f"{payload.get('check', '?')} -> {fix}   {payload.get('image', '')}"
    return compose(header, [(title, src, boxes) for title, boxes in panels_spec], names, line, note)


Boxes = list[tuple[Box, tuple[int, int, int]]]


def compose(
    header: str, specs: list[tuple[str, Image.Image, Boxes]], names: dict[int, str], line: int = LINE, note: str = ""
) -> Preview:
    """Panels side by side under a header line, each an image scaled to TARGET px with its boxes drawn."""
    sizes = []
    for _, img, _ in specs:
        scale = TARGET / max(img.width, img.height)
        sizes.append((round(img.width * scale), round(img.height * scale), scale))
    width = PAD + sum(w + PAD for w, _, _ in sizes)
    canvas = Image.new("RGB", (width, HEADER + TITLE + max(h for _, h, _ in sizes) + PAD), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = _font()
    draw.text((PAD, 5), header, fill=TEXT, font=font)
    panels = []
    x0, y0 = PAD, HEADER + TITLE
    for (title, img, boxes), (pw, ph, scale) in zip(specs, sizes, strict=True):
        draw.text((x0, HEADER + 3), title, fill=TEXT, font=font)
        canvas.paste(img.resize((pw, ph), Image.Resampling.BILINEAR), (x0, y0))
        panel = Panel(title, x0, y0, img.width, img.height, scale)
        # Grey first, highlighted last, so a highlighted outline is never painted over.
        spots: list[tuple[int, int]] = []
        for box, colour in sorted(boxes, key=lambda bc: bc[1] != OTHER):
            _draw_box(draw, panel, box, colour, names, font, spots, line)
        panels.append(panel)
        x0 += pw + PAD
    if note:
        draw.text((PAD, canvas.height - PAD - 14), note, fill=(255, 200, 80), font=font)
    return Preview(canvas, panels, note)


def render_augment(p: Proposal, root: Path | None = None, line: int = LINE) -> Preview:
    """A proposed augmented image: its source (boxes grey) and the new image (boxes of the grown classes green)."""
    pl = p.payload
    names = {int(b["class_id"]): str(b["class"]) for b in [*pl.get("source_boxes", []), *pl.get("boxes", [])]}
    grown = {k for k, v in names.items() if v in set(pl.get("classes") or [])}
    recipe = pl.get("recipe") or {}
    new_path = (root / pl["file"]) if root is not None else Path(pl["file"])
    src_img, note = _open(Path(str(pl.get("source_path", ""))), (640, 480))
    new_img, note2 = _open(new_path, (int(pl.get("width") or 640), int(pl.get("height") or 480)))
    src_boxes: Boxes = [(b, OTHER) for b in (_box_of(d) for d in pl.get("source_boxes") or []) if b]
    new_boxes = [b for b in (_box_of(d) for d in pl.get("boxes") or []) if b]
    if recipe.get("transform") == "copy_paste":
        drawn: Boxes = [(b, OTHER) for b in new_boxes[:-1]] + [(b, AFTER) for b in new_boxes[-1:]]
    else:
        drawn = [(b, AFTER if b.class_id in grown else OTHER) for b in new_boxes]
    header = (
        f"#{p.id} augment -> {recipe.get('transform', '?')}  seed {recipe.get('seed')}  from {pl.get('source_image')}"
    )
    specs = [("source", src_img, src_boxes), (f"new ({recipe.get('transform', '')})", new_img, drawn)]
    return compose(header, specs, names, line, note or note2)


def _open(path: Path, size: tuple[int, int]) -> tuple[Image.Image, str]:
    try:
        with Image.open(path) as f:
            return f.convert("RGB"), ""
    except OSError:
        return Image.new("RGB", size, CANVAS), f"image not found: {path.name}"


def _find_image(ds: BoxDataset | None, name: str) -> ImageLabels | None:
    if ds is None:
        return None
    for im in ds.images:
        if im.name == name:
            return im
    return None


def _draw_box(
    draw: ImageDraw.ImageDraw,
    panel: Panel,
    box: Box,
    colour: tuple[int, int, int],
    names: dict[int, str],
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    spots: list[tuple[int, int]],
    line: int = LINE,
) -> None:
    x1, y1 = panel.to_px(box.cx - box.w / 2, box.cy - box.h / 2)
    x2, y2 = panel.to_px(box.cx + box.w / 2, box.cy + box.h / 2)
    x1, x2, y1, y2 = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    # A box past the image edge shows its overhang in the margin, not over the next panel.
    lo_x, hi_x = panel.x0 - PAD // 2, panel.x0 + round(panel.width * panel.scale) + PAD // 2 - 1
    lo_y, hi_y = panel.y0 - PAD // 2, panel.y0 + round(panel.height * panel.scale) + PAD // 2 - 1
    x1, x2 = max(lo_x, min(x1, hi_x)), max(lo_x, min(x2, hi_x))
    y1, y2 = max(lo_y, min(y1, hi_y)), max(lo_y, min(y2, hi_y))
    draw.rectangle((x1, y1, x2, y2), outline=colour, width=line if colour != OTHER else max(2, line // 2))
    label = names.get(box.class_id, f"#{box.class_id}")
    if colour == PREDICTION:
        label = f"model: {label}"
    tx, ty = x1 + line + 1, y1 + line + 1
    while any(abs(tx - sx) < 30 and abs(ty - sy) < 13 for sx, sy in spots):
        ty += 14  # another label is there (a duplicate box, a prediction on a label): write below it
    spots.append((tx, ty))
    draw.text((tx + 1, ty + 1), label, fill=(0, 0, 0), font=font)
    draw.text((tx, ty), label, fill=colour, font=font)


def write_previews(dataset: BoxDataset, proposals: list[Proposal], out_dir: Path, limit: int = 200) -> dict[int, str]:
    """PNG previews of up to `limit` fixes in `out_dir`; proposal id -> file name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[int, str] = {}
    for p in proposals[:limit]:
        if p.id is None:
            continue
        name = f"fix-{p.id}.png"
        render_fix(p, dataset).save(out_dir / name)
        written[p.id] = name
    return written


def fix_dataset(
    proposal: Proposal, saved: dict[str, Any] | None = None, cache: dict[str, BoxDataset | None] | None = None
) -> BoxDataset | None:
    """The dataset a fix was found in (read once per source when `cache` is given); None if it is gone.

    `saved` is the setting `boxes.dataset` (it holds the COCO images folder of the dataset being cleansed).
    """
    source = str(proposal.payload.get("dataset") or "")
    if cache is not None and source in cache:
        return cache[source]
    images_dir = saved.get("images_dir") if saved and saved.get("path") == source else None
    ds: BoxDataset | None = None
    if source and Path(source).exists():
        try:
            ds = read_dataset(source, proposal.payload.get("format"), images_dir)
        except StudioError:
            ds = None
    if cache is not None:
        cache[source] = ds
    return ds


def render_proposal(
    p: Proposal,
    saved: dict[str, Any] | None = None,
    cache: dict[str, BoxDataset | None] | None = None,
    line: int = LINE,
    root: Path | None = None,
) -> Preview:
    """The picture of a box fix or of a proposed augmented image (`root`: the project folder).

    No store access, so it is safe in a worker thread."""
    if p.kind == "box_augment":
        return render_augment(p, root, line=line)
    return render_fix(p, fix_dataset(p, saved, cache), line=line)


def preview_proposal(store: Store, pid: int, cache: dict[str, BoxDataset | None] | None = None) -> Preview:
    """The picture of proposal `pid` (a box fix or an augmented image) on its image."""
    p = store.proposal(pid)
    if p.kind not in ("box_fix", "box_augment"):
        raise StudioError(f"proposal {pid} is a {p.kind} proposal, not a box fix; see `studio cleanse --list`")
    return render_proposal(p, store.get_setting(SETTING), cache, root=store.root)
