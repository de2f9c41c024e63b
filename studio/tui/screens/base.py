"""What every screen shares: the nav line, a status line, the footer, errors from workers."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from studio.errors import StudioError
from studio.store import Store
from studio.tui.dialogs import HelpDialog
from studio.tui.widgets.nav import NavBar

if TYPE_CHECKING:
    from studio.tui.app import StudioApp


class StudioScreen(Screen[None]):
    NAME: ClassVar[str] = ""
    HELP: ClassVar[str] = ""
    # (action, words) shown in the command palette as "<screen title>: <words>".
    PALETTE: ClassVar[list[tuple[str, str]]] = []
    BINDINGS: ClassVar[list[BindingType]] = [Binding("question_mark", "help", "Help")]

    @property
    def studio(self) -> StudioApp:
        return cast("StudioApp", self.app)

    @property
    def store(self) -> Store:
        return self.studio.store

    @property
    def actor(self) -> str:
        return self.studio.actor

    def compose(self) -> ComposeResult:
        yield NavBar(self.NAME)
        yield from self.compose_body()
        yield Static("", id="status")
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Read what the screen shows from the store again (another screen may have changed it)."""

    def say(self, message: str, error: bool = False) -> None:
        """One line under the screen: what just happened, or what went wrong and what to do."""
        self.query_one("#status", Static).update(Text(message, style="bold red" if error else ""))

    def fail(self, exc: BaseException) -> None:
        msg = str(exc) if isinstance(exc, StudioError | ValueError) else f"{type(exc).__name__}: {exc}"
        self.say(msg, error=True)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.fail(event.worker.error)
            self.work_failed(event.worker)

    def work_failed(self, worker: Worker[object]) -> None:
        """Hook: undo a 'busy' look when a worker fails."""

    def action_help(self) -> None:
        self.app.push_screen(HelpDialog(self.HELP))
