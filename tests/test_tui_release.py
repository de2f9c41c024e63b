"""The Release screen's license: typed and submitted with enter, checked, remembered from the last release."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from studio.ops import review as rv
from studio.store import Store
from studio.tui.app import StudioApp, make_app
from studio.tui.dialogs import ConfirmDialog
from tests.test_tui_fixtures import build_project

SIZE = (80, 24)


def _finished_project(root: Path) -> Path:
    """The fixture project with every document reviewed and marked done."""
    build_project(root)
    with Store.open(root) as store:
        store.start_session("setup")
        for doc_id in store.document_ids():
            rv.accept_all(store, doc_id, "human:ann")
            rv.complete(store, doc_id, "human:ann")
    return root


def _status(app: StudioApp) -> str:
    return str(app.screen.query_one("#status").render())


async def _settle(app: StudioApp) -> None:
    await app.workers.wait_for_complete()


async def test_no_license_says_where_to_type_it(tmp_path: Path) -> None:
    app = make_app(_finished_project(tmp_path / "p"), user="ann", screen="release")
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.query_one("#license", Input).value == ""  # none set, none released
        await pilot.press("b")
        status = _status(app)
        assert "No license yet: type one in the license field" in status and "--" not in status
        assert app.focused is app.screen.query_one("#license", Input)  # the cursor is where to type
        assert not isinstance(app.screen, ConfirmDialog)
        summary = str(app.screen.query_one("#release-summary").render())
        assert "3 complete, 0 partial, 0 untouched" in summary


async def test_license_submits_on_enter_is_checked_and_remembered(tmp_path: Path) -> None:
    root = _finished_project(tmp_path / "p")
    app = make_app(root, user="ann", screen="release")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "tab", *"CC-BY-5", "enter")  # to the license field; no such license
        assert "Unknown license 'CC-BY-5'" in _status(app)
        assert not isinstance(app.screen, ConfirmDialog)
        app.screen.query_one("#license", Input).value = "cc-by-4.0"
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmDialog)
        question = str(app.screen.query_one(".dialog-text").render())
        assert "License: CC-BY-4.0 (Creative Commons Attribution 4.0 International)" in question
        assert "project setting" not in question
        await pilot.press("y")
        await _settle(app)
        await pilot.pause()
        d = app.store.decisions(action="release.create")[-1]
        assert d.payload["license"] == "CC-BY-4.0"
        status = _status(app)
        assert status.startswith("Released v0.1.0") and "releases/v0.1.0/" in status and str(root) not in status
    again = make_app(root, user="ann", screen="release")  # a new session: the last release's license
    async with again.run_test(size=SIZE):
        assert again.screen.query_one("#license", Input).value == "CC-BY-4.0"
