"""The Boxes screen shows the picture of the selected fix (unicode half-blocks here: deterministic, no terminal).

Update after an intended change: pytest tests/test_tui_boxes.py --snapshot-update
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from studio.ops.boxes import CleanseOptions, run_cleanse
from studio.store import Store
from studio.tui.app import make_app
from tests.conftest import FIXTURES


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "boxes" / "yolo", tmp_path / "yolo")
    with Store.init(tmp_path / "p") as store:
        store.start_session("fixture")
        run_cleanse(store, CleanseOptions(dataset=str(tmp_path / "yolo")))
    return tmp_path / "p"


async def _pictures_drawn(pilot: Any) -> None:
    """Wait until every worker has ended; a picture worker cancelled by a newer one (the cursor
    moved on) has ended too, so its cancellation is not an error here."""
    from textual.worker import WorkerCancelled, WorkerFailed

    for _ in range(100):
        running = [w for w in pilot.app.workers if not w.is_finished]
        if not running:
            break
        for worker in running:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
    await pilot.pause()


async def _fourth_fix_drawn(pilot: Any) -> None:
    await _pictures_drawn(pilot)
    await pilot.press("down", "down", "down")
    await _pictures_drawn(pilot)


def test_boxes_screen_snapshot_with_half_block_picture(snap_compare: Any, project: Path) -> None:
    app = make_app(project, user="ann", screen="boxes", images="halfcell")
    # The fourth fix: img2's car past the right edge, clipped (before: red, after: green). The keys
    # are pressed inside run_before, so the screenshot waits for the picture they ask for.
    assert snap_compare(app, terminal_size=(80, 24), run_before=_fourth_fix_drawn)


async def test_picture_follows_the_cursor_and_decisions(project: Path) -> None:
    from textual_image.widget import HalfcellImage

    app = make_app(project, user="ann", screen="boxes", images="halfcell")
    async with app.run_test(size=(80, 24)) as pilot:
        await _pictures_drawn(pilot)
        picture = app.screen.query_one("#fix-picture", HalfcellImage)
        first = picture.image
        assert first is not None and first.size == (416, 252)  # a drop: one panel
        await pilot.press("down", "down", "down")
        await _pictures_drawn(pilot)
        assert picture.image.size == (824, 252)  # a clip: before and after
        await pilot.press("a")
        await _pictures_drawn(pilot)
        assert picture.image is not None and picture.image.size == (416, 252)  # the next fix (a drop)
    with Store.open(project) as store:
        assert [d.actor for d in store.decisions(action="boxes.fix.accept")] == ["human:ann"]


async def test_augmented_images_are_reviewed_with_their_picture(tmp_path: Path) -> None:
    from textual_image.widget import HalfcellImage

    from studio.ops import registry
    from studio.ops.registry import OpContext

    shutil.copytree(FIXTURES / "boxes" / "yolo", tmp_path / "yolo")
    with Store.init(tmp_path / "p") as store:
        store.start_session("fixture")
        res = registry.run("augment", {"dataset": str(tmp_path / "yolo"), "classes": ["dog"]}, OpContext(store))
    assert res.proposed >= 1
    app = make_app(tmp_path / "p", user="ann", screen="boxes", images="halfcell")
    async with app.run_test(size=(80, 24)) as pilot:
        await _pictures_drawn(pilot)
        picture = app.screen.query_one("#fix-picture", HalfcellImage)
        assert picture.image is not None and picture.image.width > 800  # source and new image side by side
        await pilot.press("a")
        await _pictures_drawn(pilot)
    with Store.open(tmp_path / "p") as store:
        assert [d.actor for d in store.decisions(action="boxes.augment.accept")] == ["human:ann"]
