"""The Studio app and its factory.

`make_app(project, llm, user)` opens the project and returns the app, so the CLI, the tests
and the snapshots all build it the same way on explicit paths. The LLM is built on first use
(from a worker), because the embedded model starts a server.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from studio.errors import StudioError
from studio.store import Store
from studio.tui import core
from studio.tui.commands import StudioCommands
from studio.tui.screens import SCREEN_CLASSES
from studio.tui.widgets.nav import SCREENS

RETRAIN_CHECK_SECONDS = 30.0  # how often the app looks for newly complete documents to retrain the student on


class StudioApp(App[None]):
    TITLE = "Studio"
    CSS_PATH = "studio.tcss"
    COMMANDS = App.COMMANDS | {StudioCommands}
    MODES: ClassVar[dict[str, Any]] = dict(SCREEN_CLASSES)
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"goto('{name}')", title, show=False) for name, key, title in SCREENS),
        Binding("ctrl+q", "quit", "Quit", show=False),
    ]

    def __init__(
        self,
        store: Store,
        llm_spec: str | None = None,
        user: str = "user",
        screen: str | None = None,
        images: str | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        # How pictures are drawn (studio.tui.widgets.picture): auto, sixel, tgp, halfcell, unicode, off.
        self.images = images or os.environ.get("STUDIO_IMAGES", "auto")
        self.llm_spec = llm_spec
        self.actor = f"human:{user}"
        self.first_screen = screen
        self._llm: Any = None  # studio.llm.LLM, built on first use
        self._llm_lock = threading.Lock()
        self.retrain_check_seconds = RETRAIN_CHECK_SECONDS

    def llm(self) -> Any:
        """The model, built once on first use (call from a worker: the local one starts a server)."""
        with self._llm_lock:
            if self._llm is None:
                from studio.llm import open_llm

                self._llm = open_llm(self.store, self.llm_spec)
            return self._llm

    def start_screen(self) -> str:
        """Where a person most likely wants to be: the first step that is not done yet."""
        s = self.store.status()
        if s["guideline_version"] is None:
            return "goal"
        if s["approved_guideline_version"] is None:
            return "guideline"
        if s["pending_by_kind"].get("span"):
            return "review"
        return "agent"

    def on_mount(self) -> None:
        self.switch_mode(self.first_screen or self.start_screen())
        self.warm_up()
        self.set_interval(self.retrain_check_seconds, self.check_retrain)

    def check_retrain(self) -> bool:
        """Retrain the student in the background when `student.retrain_every` documents were completed since it
        was trained (checked every `retrain_check_seconds`); True when a retraining started."""
        from studio.ops.ner.label import retrain_due

        if any(w.group in ("retrain", "warm-up") and not w.is_finished for w in self.workers):
            return False  # one at a time, and not while the app still imports its layers
        new = retrain_due(self.store)
        if new:
            self.retrain_student(new)
        return bool(new)

    @work(thread=True, exit_on_error=False, group="retrain")
    def retrain_student(self, new: int) -> None:
        """`studio train` on the complete documents; progress in the title bar, the outcome as a notice. Its
        arguments come from the setting student.train_args (e.g. {"base": "blank"}), else the defaults."""
        from studio.ops import registry

        def progress(stage: str, done: int, total: int | None) -> None:
            share = f" {done}/{total}" if total else ""
            self.call_from_thread(setattr, self, "sub_title", f"student: {stage}{share}")

        self.call_from_thread(self.notify, f"Retraining the student: {new} newly complete documents.")
        ctx = registry.OpContext(store=self.store, actor="tool", progress=progress)
        args = {**(self.store.get_setting("student.train_args") or {}), "name": "student"}
        try:
            res = registry.run("train", args, ctx)
        except StudioError as exc:
            self.call_from_thread(self.notify, f"Retraining the student failed: {exc}", severity="error")
            return
        finally:
            self.call_from_thread(setattr, self, "sub_title", "")
        self.call_from_thread(
            self.notify, f"Student retrained on {res.documents} documents: held-out F1 {res.scores.get('f1', 0):.2f}."
        )

    @work(thread=True, exit_on_error=False, group="warm-up")
    def warm_up(self) -> None:
        """Import the agent and LLM layers (about a second) after the first paint, not before it."""
        core.warm_up()

    def on_unmount(self) -> None:
        self.store.close()

    def action_goto(self, name: str) -> None:
        if name != self.current_mode:
            self.switch_mode(name)

    async def run_on_screen(self, name: str, action: str) -> None:
        """Used by the command palette: open a screen, then run one of its actions."""
        if name != self.current_mode:
            await self.switch_mode(name)
        await self.screen.run_action(action)


def make_app(
    project: Path, llm: str | None = None, user: str = "user", screen: str | None = None, **kw: Any
) -> StudioApp:
    """Open the project in `project` (it must exist) and build the app on it."""
    if screen is not None and screen not in SCREEN_CLASSES:
        raise StudioError(f"unknown screen {screen!r}: use one of {', '.join(SCREEN_CLASSES)}")
    store = Store.open(project)
    store.start_session("tui", meta={"user": user})
    return StudioApp(store, llm_spec=llm, user=user, screen=screen, **kw)
