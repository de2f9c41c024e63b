"""YOLO datasets: `dataset.yaml` (names, path, train/val/test) with images/ and labels/ folders.

A label file holds one box per line, `class cx cy w h`, normalized to [0, 1]. The label of
`.../images/<sub>/a.jpg` is `.../labels/<sub>/a.txt` (the last `images` folder becomes `labels`),
as in Ultralytics.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from studio.errors import StudioError
from studio.ops.boxes.imagesize import image_size
from studio.ops.boxes.model import BoxDataset, ImageLabels, Problem
from studio.schema import Box

IMAGE_EXTS = {".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".gif", ".mpo", ".dng", ".pfm", ".heic"}
YAML_NAMES = ("dataset.yaml", "data.yaml", "dataset.yml", "data.yml")
SPLITS = ("train", "val", "test")

Progress = Callable[[str, int, int], None]


def find_yaml(path: Path) -> Path | None:
    """The dataset yaml for a file or folder argument (None: a bare images/ + labels/ folder)."""
    if path.is_file():
        return path
    for name in YAML_NAMES:
        if (path / name).is_file():
            return path / name
    found = sorted(p for p in path.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    return found[0] if len(found) == 1 else None


def label_path(image: Path) -> Path:
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    s = str(image)
    if sa in s:
        s = sb.join(s.rsplit(sa, 1))
    return Path(s).with_suffix(".txt")


def parse_names(raw: Any, source: str) -> dict[int, str]:
    if isinstance(raw, list):
        return {i: str(n) for i, n in enumerate(raw)}
    if isinstance(raw, dict):
        out: dict[int, str] = {}
        for k, v in raw.items():
            try:
                out[int(k)] = str(v)
            except (TypeError, ValueError) as exc:
                raise StudioError(f"{source}: class id {k!r} in `names` is not an integer; fix the yaml") from exc
        return out
    raise StudioError(f"{source}: `names` must be a list or a mapping of id: name; fix the yaml")


def read_yolo(path: str | Path, read_sizes: bool = True, progress: Progress | None = None) -> BoxDataset:
    """Read a YOLO dataset from its yaml, or from a folder holding the yaml or images/ + labels/."""
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise StudioError(f"{path} does not exist: pass a dataset.yaml or a folder with images/ and labels/")
    yaml_path = find_yaml(path)
    problems: list[Problem] = []
    if yaml_path is None:
        root, split_dirs, names, names_known = _layout_without_yaml(path)
        source = str(path)
    else:
        source = str(yaml_path)
        root, split_dirs, names, names_known = _from_yaml(yaml_path, problems)

    images: list[ImageLabels] = []
    seen: dict[Path, str] = {}
    label_dirs: set[Path] = set()
    for split, entries in split_dirs:
        for img in _list_images(entries, root, source, problems, label_dirs):
            if img in seen:
                if seen[img] != split:
                    problems.append(Problem(file=_rel(img, root), message=f"listed in both {seen[img]} and {split}"))
                continue
            seen[img] = split
            images.append(ImageLabels(name=_rel(img, root), path=str(img), split=split))

    used_labels: set[Path] = set()
    total = len(images)
    for i, im in enumerate(images):
        img = Path(im.path)
        im.exists = img.is_file()
        if not im.exists:
            problems.append(Problem(file=im.name, message="image listed but not found"))
        elif read_sizes:
            size = image_size(img)
            if size is None:
                problems.append(Problem(file=im.name, message="cannot read the image size from its header"))
            else:
                im.width, im.height = size
        lp = label_path(img)
        used_labels.add(lp)
        if lp.is_file():
            im.label_file = _rel(lp, root)
            im.boxes, im.lines = read_label_file(lp, im.label_file, problems)
        if progress and (i % 500 == 0 or i == total - 1):
            progress("read", i + 1, total)

    orphans: list[str] = []
    meta = {yaml_path.resolve()} if yaml_path else set()
    meta |= {e for _, entries in split_dirs for e in entries if e.is_file() and e.suffix == ".txt"}
    meta |= {p for p in (root / "classes.txt", root / "labels" / "classes.txt") if p.is_file()}
    for d in sorted(label_dirs):
        if not d.is_dir():
            continue
        for lp in sorted(d.rglob("*.txt")):
            if lp.name == "classes.txt":
                meta.add(lp)
            elif lp not in used_labels:
                orphans.append(_rel(lp, root))
    return BoxDataset(
        format="yolo",
        source=source,
        root=str(root),
        names=names,
        names_known=names_known,
        images=images,
        orphan_labels=orphans,
        meta_files=sorted(_rel(p.resolve(), root) for p in meta),
        problems=problems,
    )


BOM = "\ufeff"


def split_label_text(data: bytes) -> tuple[str, list[str]]:
    """A label file's byte-order mark ('' or BOM) and its lines WITH their endings.

    Undecodable bytes survive as surrogates, so `join_label_text` gives back the same bytes: the
    reader and `--apply` number lines the same way, and untouched lines stay byte for byte.
    """
    text = data.decode("utf-8", errors="surrogateescape")
    bom = BOM if text.startswith(BOM) else ""
    return bom, text[len(bom) :].splitlines(keepends=True)


def join_label_text(bom: str, lines: list[str]) -> bytes:
    return (bom + "".join(lines)).encode("utf-8", errors="surrogateescape")


def read_label_file(lp: Path, rel: str, problems: list[Problem]) -> tuple[list[Box], list[int]]:
    boxes: list[Box] = []
    lines: list[int] = []
    try:
        _, text_lines = split_label_text(lp.read_bytes())
    except OSError as exc:
        problems.append(Problem(file=rel, message=f"cannot read: {exc.strerror or exc}"))
        return boxes, lines
    for n, line in enumerate(text_lines, start=1):
        parsed = parse_label_line(line)
        if parsed is None:
            continue
        if isinstance(parsed, str):
            problems.append(Problem(file=rel, line=n, message=parsed))
            continue
        boxes.append(parsed)
        lines.append(n)
    return boxes, lines


def parse_label_line(line: str, conf: bool = False) -> Box | str | None:
    """A Box, None for a blank line, or a message saying why the line is malformed.

    NaN and infinite coordinates are kept: the validity check reports and fixes them.
    With `conf`, a sixth column (the prediction confidence) is required; see `parse_prediction_line`.
    """
    parts = line.split()
    if not parts:
        return None
    want = 6 if conf else 5
    if len(parts) != want:
        if not conf and len(parts) >= 7 and len(parts) % 2 == 1:
            return "polygon (segmentation) line: box checks read only `class cx cy w h` lines"
        return f"expected {want} values `class cx cy w h{' conf' if conf else ''}`, got {len(parts)}"
    try:
        cls_f = float(parts[0])
    except ValueError:
        return f"class id {parts[0]!r} is not a number"
    if not math.isfinite(cls_f) or cls_f != int(cls_f):
        return f"class id {parts[0]!r} is not an integer"
    try:
        vals = [float(p) for p in parts[1:5]]
    except ValueError:
        return f"coordinates {' '.join(parts[1:5])!r} are not all numbers"
    return Box(class_id=int(cls_f), cx=vals[0], cy=vals[1], w=vals[2], h=vals[3])


def format_box(box: Box) -> str:
    """A label line; `repr`-free short floats keep the files diff-friendly."""
    return f"{box.class_id} {box.cx:.6g} {box.cy:.6g} {box.w:.6g} {box.h:.6g}"


def _from_yaml(
    yaml_path: Path, problems: list[Problem]
) -> tuple[Path, list[tuple[str, list[Path]]], dict[int, str], bool]:
    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise StudioError(f"{yaml_path}: not a readable yaml file ({exc}); fix it or pass the dataset folder") from exc
    if not isinstance(data, dict):
        raise StudioError(f"{yaml_path}: expected a mapping with names, path, train, val")
    base = yaml_path.parent
    raw_root = data.get("path")
    root = base
    if raw_root:
        p = Path(str(raw_root)).expanduser()
        root = p if p.is_absolute() else (base / p)
        if not root.exists() and (Path.cwd() / p).exists():
            root = Path.cwd() / p
    root = root.resolve()
    if "names" not in data:
        raise StudioError(f"{yaml_path}: no `names` (the class list); add it to the yaml")
    names = parse_names(data["names"], str(yaml_path))
    nc = data.get("nc")
    if isinstance(nc, int) and nc != len(names):
        problems.append(Problem(file=str(yaml_path), message=f"nc is {nc} but names has {len(names)} classes"))
    splits: list[tuple[str, list[Path]]] = []
    for split in SPLITS:
        entry = data.get(split)
        if not entry:
            continue
        entries = entry if isinstance(entry, list) else [entry]
        splits.append((split, [_resolve(str(e), root) for e in entries]))
    if not splits:
        raise StudioError(f"{yaml_path}: no train, val or test entry; add at least one (e.g. `train: images/train`)")
    return root, splits, names, True


def _layout_without_yaml(path: Path) -> tuple[Path, list[tuple[str, list[Path]]], dict[int, str], bool]:
    images = path / "images"
    if not images.is_dir():
        raise StudioError(
            f"{path}: no dataset.yaml and no images/ folder; pass the yaml, or a folder with images/ and labels/"
        )
    subdirs = sorted(d for d in images.iterdir() if d.is_dir())
    splits = [(d.name, [d]) for d in subdirs] if subdirs else [("", [images])]
    names: dict[int, str] = {}
    for cand in (path / "classes.txt", path / "labels" / "classes.txt"):
        if cand.is_file():
            lines = [ln.strip() for ln in cand.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
            names = dict(enumerate(lines))
            break
    return path.resolve(), splits, names, bool(names)


def _resolve(entry: str, root: Path) -> Path:
    p = Path(entry).expanduser()
    return (p if p.is_absolute() else root / p).resolve()


def _list_images(
    entries: list[Path], root: Path, source: str, problems: list[Problem], label_dirs: set[Path]
) -> list[Path]:
    out: list[Path] = []
    for e in entries:
        if e.is_dir():
            label_dirs.add(label_path(e / "x.jpg").parent)
            out += sorted(p.resolve() for p in e.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
        elif e.is_file() and e.suffix == ".txt":
            for n, line in enumerate(e.read_text(encoding="utf-8-sig").splitlines(), start=1):
                line = line.strip()
                if not line:
                    continue
                p = Path(line)
                p = (p if p.is_absolute() else (e.parent / p if line.startswith("./") else root / p)).resolve()
                if p.suffix.lower() not in IMAGE_EXTS:
                    problems.append(Problem(file=_rel(e, root), line=n, message=f"not an image path: {line}"))
                    continue
                label_dirs.add(label_path(p).parent)
                out.append(p)
        else:
            problems.append(Problem(file=source, message=f"split entry {e} is neither a folder nor a .txt list"))
    return out


def _rel(p: Path, root: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()
