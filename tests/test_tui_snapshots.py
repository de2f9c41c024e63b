"""Snapshots of the main screens at 80x24 on the fixed fixture project (no clock on these screens).

Update after an intended change: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.tui.app import make_app
from tests.test_tui_fixtures import build_project

SIZE = (80, 24)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return build_project(tmp_path / "p")


@pytest.mark.parametrize(
    ("screen", "press"),
    [
        ("review", []),
        ("review", ["a", "e", "ctrl+shift+right", "2"]),  # edit mode after one accept
        ("review", ["question_mark"]),
        ("guideline", []),
        ("agent", []),
        ("boxes", []),
        ("release", []),
        ("goal", []),
    ],
    ids=["review", "review-edit", "review-help", "guideline", "agent", "boxes", "release", "goal"],
)
def test_screen_snapshot(snap_compare: Any, project: Path, screen: str, press: list[str]) -> None:
    app = make_app(project, user="ann", screen=screen)
    assert snap_compare(app, press=press, terminal_size=SIZE)
