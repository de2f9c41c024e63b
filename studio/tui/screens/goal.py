"""Goal: say what dataset you want; the agent drafts a guideline for you to review."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Input, LoadingIndicator, Static

from studio.tui import core
from studio.tui.messages import GuidelineDrafted
from studio.tui.screens.base import StudioScreen
from studio.tui.workers import run_op

HELP = """\
[b]Goal[/b]: describe the dataset you want in plain words (any language), then press enter.
The agent drafts a labeling guideline (labels, definitions, examples, edge cases); it is a
draft until you approve it on the Guideline screen (2).

  i       type the goal (on a new project the cursor starts there)
  enter   draft a guideline from the goal
  ctrl+g  the same, from anywhere on this screen
  escape  stop typing, so keys 1-8 switch screens again"""


class GoalScreen(StudioScreen):
    NAME = "goal"
    AUTO_FOCUS = ""  # focus the goal only on a new project, so keys 1-8 still switch screens
    HELP = HELP
    PALETTE: ClassVar[list[tuple[str, str]]] = [("draft", "draft a guideline from the goal")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+g", "draft", "Draft guideline"),
        Binding("i", "type_goal", "Type goal"),
        Binding("escape", "leave_goal", "Done typing", show=False),
        *StudioScreen.BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False

    def compose_body(self) -> ComposeResult:
        yield Static("What dataset do you want? One or two sentences:", classes="label")
        yield Input(placeholder="e.g. company and product names in English tech news", id="goal")
        yield LoadingIndicator(id="goal-busy")
        with VerticalScroll(id="draft"):
            yield Static("", id="draft-text")

    def on_mount(self) -> None:
        goal = self.query_one("#goal", Input)
        goal.cursor_blink = False
        self.query_one("#goal-busy").display = False
        if not self.store.guideline_versions():
            goal.focus()

    def action_type_goal(self) -> None:
        self.query_one("#goal", Input).focus()

    def action_leave_goal(self) -> None:
        self.set_focus(None)

    def reload(self) -> None:
        versions = self.store.guideline_versions()
        if not versions:
            self.query_one("#draft-text", Static).update("No guideline yet.")
            return
        g, status, v = self.store.guideline()
        goal = self.query_one("#goal", Input)
        if not goal.value:
            goal.value = g.goal
        self._show(v, status, core.guideline().to_yaml(g))

    def _show(self, version: int, status: str, text: str) -> None:
        head = f"[b]Guideline v{version}[/b] ({status}) — review it on the Guideline screen (2)\n\n"
        self.query_one("#draft-text", Static).update(head + text.replace("[", r"\["))

    @on(Input.Submitted, "#goal")
    def _submitted(self) -> None:
        self.action_draft()

    def action_draft(self) -> None:
        goal = self.query_one("#goal", Input).value.strip()
        if not goal:
            self.say("Type the goal first, e.g. 'company and product names in tech news'.", error=True)
            return
        if self.busy:
            self.say("The agent is still drafting; wait for it.")
            return
        self.busy = True
        self.query_one("#goal-busy").display = True
        self.say("The agent is drafting a guideline…")
        self.draft(goal)

    @work(thread=True, exclusive=True, exit_on_error=False, group="goal")
    def draft(self, goal: str) -> None:
        # The registry's `plan`: the run is recorded in the app's session like any other door's.
        self.post_message(GuidelineDrafted(run_op(self, "plan", {"goal": goal}).version))

    def on_guideline_drafted(self, message: GuidelineDrafted) -> None:
        self._done()
        g, status, v = self.store.guideline(message.version)
        self._show(v, status, core.guideline().to_yaml(g))
        self.say(f"Drafted guideline v{v}. Press 2 to read, edit, approve or reject it.")

    def work_failed(self, worker: object) -> None:
        self._done()

    def _done(self) -> None:
        self.busy = False
        self.query_one("#goal-busy").display = False
