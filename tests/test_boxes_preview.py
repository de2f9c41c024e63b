"""The picture of a box fix: read back pixel by pixel at the box corners; the report links the pictures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from studio.ops.boxes import CleanseOptions, apply_fixes, fix_proposals, run_cleanse
from studio.ops.boxes.preview import AFTER, INVOLVED, OTHER, preview_proposal
from studio.store import Store
from tests.conftest import FIXTURES, run_cli

BOXES = FIXTURES / "boxes"


@pytest.fixture
def yolo(tmp_path: Path) -> Path:
    shutil.copytree(BOXES / "yolo", tmp_path / "yolo")
    return tmp_path / "yolo"


def fix_id(store: Store, check: str, lines: list[int]) -> int:
    return next(
        int(p.id or 0) for p in fix_proposals(store) if (p.payload["check"], p.payload["lines"]) == (check, lines)
    )


def test_clip_fix_picture_before_and_after(store: Store, yolo: Path, tmp_path: Path) -> None:
    run_cleanse(store, CleanseOptions(dataset=str(yolo)))
    pid = fix_id(store, "outside_image", [4])  # img2 (100x50) line 4: 0 0.95 0.5 0.2 0.2, 5 px past the right edge
    png = preview_proposal(store, pid).save(tmp_path / "clip.png")
    img = Image.open(png).convert("RGB")
    # Each panel's image is 400 px wide (4x), the "before" panel at (8, 44), "after" at (416, 44).
    # Before: x 0.85 -> 8 + 340, y 0.4 -> 44 + 80 and 0.6 -> 44 + 120; the overhang is cut at the margin.
    assert img.getpixel((348, 124)) == INVOLVED and img.getpixel((348, 164)) == INVOLVED
    assert img.getpixel((411, 124)) == INVOLVED  # drawn into the margin: the part outside the image shows
    # After: clipped to x 0.85..1.0 -> 416 + 340 .. 416 + 400, all four corners green.
    for x, y in ((756, 124), (816, 124), (756, 164), (816, 164)):
        assert img.getpixel((x, y)) == AFTER, (x, y)
    # The other boxes are grey: line 8 (0 0.1 0.8 0.1 0.1) -> x 0.05..0.15, y 0.75..0.85 -> 20..60, 150..170 px.
    assert img.getpixel((8 + 20, 44 + 150)) == OTHER and img.getpixel((416 + 60, 44 + 170)) == OTHER
    # Inside a box, the image itself shows through.
    src = Image.open(yolo / "images/train/img2.png").convert("RGB").resize((400, 200), Image.Resampling.BILINEAR)
    assert img.getpixel((8 + 360, 44 + 100)) == src.getpixel((360, 100))


def test_merge_fix_picture(store: Store, yolo: Path, tmp_path: Path) -> None:
    run_cleanse(store, CleanseOptions(dataset=str(yolo)))
    pid = fix_id(store, "near_duplicate", [3, 4])  # img1 lines 3-4: 0.2 / 0.205, 0.3, 0.1 x 0.2 -> mean 0.2025
    img = Image.open(preview_proposal(store, pid).save(tmp_path / "merge.png")).convert("RGB")
    # Before, both boxes red: line 3 x 0.15 -> 8 + 60; line 4 x 0.255 -> 8 + 102; y 0.2 -> 44 + 40, 0.4 -> 44 + 80.
    assert img.getpixel((68, 84)) == INVOLVED and img.getpixel((110, 124)) == INVOLVED
    # After, one green box at x 0.1525..0.2525 -> 416 + 61 .. 416 + 101.
    assert img.getpixel((477, 84)) == AFTER and img.getpixel((517, 124)) == AFTER
    assert img.size == (824, 252)


def test_show_writes_png_and_report_links_pictures(yolo: Path, tmp_path: Path) -> None:
    proj = tmp_path / "p"
    with Store.init(proj) as store:
        store.start_session("test")
        run_cleanse(store, CleanseOptions(dataset=str(yolo)))
        dup = fix_id(store, "exact_duplicate", [2])
    code, out, err = run_cli("--project", str(proj), "cleanse", "--show", str(dup), "-o", str(tmp_path / "d.png"))
    assert code == 0, err
    assert "Wrote" in out and Image.open(tmp_path / "d.png").size == (416, 252)
    code, _, err = run_cli("--project", str(proj), "cleanse", "--show", str(dup))
    assert code == 2 and "needs -o FILE.png" in err
    with Store.open(proj) as store:
        store.start_session("test")
        store.decide(dup, "human:tester", "accept")
        res = apply_fixes(store, tmp_path / "clean", str(yolo))
    md = Path(res.report_md).read_text()
    assert f"([picture](previews/fix-{dup}.png))" in md
    shown = Image.open(tmp_path / "clean" / "previews" / f"fix-{dup}.png")
    assert shown.tobytes() == Image.open(tmp_path / "d.png").tobytes()
