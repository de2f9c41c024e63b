"""Ask why: rejections carry a reason the agent reads when it tries again."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ReasonDialog(ModalScreen[str | None]):
    """Dismisses with the reason, or None when cancelled. An empty reason is refused."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, placeholder: str = "why? (enter to send, escape to cancel)") -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-text")
            yield Input(placeholder=self.placeholder, id="reason")
            yield Static("", id="reason-error", classes="error")

    @on(Input.Submitted, "#reason")
    def submit(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.query_one("#reason-error", Static).update("Say why, so the agent can do better next time.")
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
