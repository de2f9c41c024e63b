"""Snapshots of the main screens at 80x24 on the fixed fixture project (no clock on these screens).

Update after an intended change: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from studio.tui.app import make_app
from tests.test_tui_fixtures import build_project, settle

SIZE = (80, 24)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return build_project(tmp_path / "p")


def _keys(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Press keys one at a time, waiting for the work each starts, so the picture is always the same."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run


@pytest.mark.parametrize(
    ("screen", "press"),
    [
        ("review", []),
        ("review", ["a", "e", "shift+left", "3"]),  # editing Tim Cook after one accept: the end a word back
        ("review", ["tab", "tab", "right", "right", "right", "shift+right"]),  # a word selection
        ("review", ["question_mark"]),
        ("guideline", []),
        ("agent", []),
        ("boxes", []),
        ("release", []),
        ("goal", []),
    ],
    ids=["review", "review-edit", "review-select", "review-help", "guideline", "agent", "boxes", "release", "goal"],
)
def test_screen_snapshot(snap_compare: Any, project: Path, screen: str, press: list[str]) -> None:
    app = make_app(project, user="ann", screen=screen)
    if screen == "review":
        assert snap_compare(app, run_before=_keys(*press), terminal_size=SIZE)
    else:
        assert snap_compare(app, press=press, terminal_size=SIZE)
