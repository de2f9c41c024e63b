"""Guideline: read a version as YAML, edit it, approve it, or reject it with a reason."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from studio.errors import NotFound, StudioError
from studio.tui import core
from studio.tui.dialogs import ReasonDialog
from studio.tui.messages import GuidelineDrafted
from studio.tui.screens.base import StudioScreen

HELP = """\
[b]Guideline[/b]: the labeling rules, one version per change. Labeling follows the newest
approved version.

  up / down  pick a version in the list on the left
  a          approve the selected version
  x          reject it with a reason; the agent drafts a revision from the reason
  e          edit the selected version as YAML (a new version is saved)
  ctrl+s     save the edit; if the YAML does not fit, the problem is shown and your text stays
  escape     leave edit mode without saving
  d          show the diff against the version it came from (again: back to the YAML)"""


class GuidelineScreen(StudioScreen):
    NAME = "guideline"
    AUTO_FOCUS = "#versions"
    HELP = HELP
    PALETTE: ClassVar[list[tuple[str, str]]] = [
        ("approve", "approve the selected guideline version"),
        ("reject", "reject the selected version with a reason (the agent revises it)"),
        ("edit", "edit the selected version as YAML"),
        ("diff", "diff the selected version against its parent"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve"),
        Binding("x", "reject", "Reject"),
        Binding("e", "edit", "Edit"),
        Binding("d", "diff", "Diff"),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel_edit", "Cancel"),
        *StudioScreen.BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.version: int | None = None
        self.editing = False
        self.showing_diff = False
        self.busy = False

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="guideline"):
            yield OptionList(id="versions")
            yield TextArea("", read_only=True, id="yaml", soft_wrap=True)

    def on_mount(self) -> None:
        self.query_one("#yaml", TextArea).cursor_blink = False

    def reload(self) -> None:
        if self.editing:
            return  # never throw away text being edited
        versions = self.store.guideline_versions()
        opts = self.query_one("#versions", OptionList)
        opts.clear_options()
        opts.add_options(Option(f"v{v['version']} {v['status']}", id=str(v["version"])) for v in versions)
        if not versions:
            self.version = None
            self.query_one("#yaml", TextArea).load_text("# no guideline yet: state a goal on the Goal screen (1)")
            return
        known = [int(v["version"]) for v in versions]
        self.version = self.version if self.version in known else known[-1]
        opts.highlighted = known.index(self.version)
        opts.focus()
        self.show_version()

    def show_version(self) -> None:
        if self.version is None:
            return
        g, status, v = self.store.guideline(self.version)
        self.showing_diff = False
        self.query_one("#yaml", TextArea).load_text(f"# guideline v{v} ({status})\n{core.guideline().to_yaml(g)}")

    @on(OptionList.OptionHighlighted, "#versions")
    def _picked(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and not self.editing:
            self.version = int(event.option.id)
            self.show_version()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "cancel_edit"):
            return self.editing
        if action in ("approve", "reject", "edit", "diff"):
            return not self.editing and self.version is not None and not self.busy
        return True

    def _changed(self) -> None:
        self.reload()
        self.refresh_bindings()

    def action_approve(self) -> None:
        if self.version is None:
            return
        try:
            self.store.decide_guideline(self.version, self.actor, "approve")
        except StudioError as exc:
            self.fail(exc)
            return
        self.say(f"Approved guideline v{self.version}. Labeling follows it from now on.")
        self._changed()

    def action_reject(self) -> None:
        if self.version is None:
            return
        version = self.version

        def got(reason: str | None) -> None:
            if reason:
                self.busy = True
                self.refresh_bindings()
                self.say(f"Rejected v{version}; the agent is revising it from your reason…")
                self.revise(version, reason)

        self.app.push_screen(ReasonDialog(f"Why do you reject guideline v{version}?"), got)

    @work(thread=True, exclusive=True, exit_on_error=False, group="guideline")
    def revise(self, version: int, reason: str) -> None:
        new = core.guideline().revise_guideline(self.store, self.studio.llm(), version, reason, self.actor)
        self.post_message(GuidelineDrafted(new, parent=version))

    def on_guideline_drafted(self, message: GuidelineDrafted) -> None:
        self.busy = False
        self.version = message.version
        self.say(f"The agent drafted v{message.version} from v{message.parent}: press d for the diff, a to approve.")
        self._changed()

    def work_failed(self, worker: object) -> None:
        self.busy = False
        self._changed()

    def action_edit(self) -> None:
        if self.version is None:
            return
        g, _, v = self.store.guideline(self.version)
        area = self.query_one("#yaml", TextArea)
        area.load_text(core.guideline().to_yaml(g))
        area.read_only = False
        self.editing = True
        area.focus()
        self.say(f"Editing v{v}: ctrl+s saves a new version, escape cancels.")
        self.refresh_bindings()

    def action_save(self) -> None:
        if not self.editing or self.version is None:
            return
        text = self.query_one("#yaml", TextArea).text
        try:
            g = core.guideline().from_yaml(text)
            new = self.store.add_guideline(g, self.actor, parent=self.version, action="guideline.edit")
        except StudioError as exc:
            self.say(f"Not saved: {exc}", error=True)  # the text stays in the editor
            return
        self._leave_edit()
        self.version = new
        self.say(f"Saved your edit as v{new} (a draft): press a to approve it.")
        self._changed()

    def action_cancel_edit(self) -> None:
        self._leave_edit()
        self.say("Edit cancelled; nothing saved.")
        self._changed()

    def _leave_edit(self) -> None:
        self.editing = False
        self.query_one("#yaml", TextArea).read_only = True

    def action_diff(self) -> None:
        if self.version is None:
            return
        if self.showing_diff:
            self.show_version()
            return
        versions = {int(v["version"]): v for v in self.store.guideline_versions()}
        parent = versions[self.version]["parent"] or (self.version - 1 if self.version - 1 in versions else None)
        if parent is None:
            self.say("This is the first version: there is nothing to compare it with.")
            return
        try:
            old, new = self.store.guideline(int(parent))[0], self.store.guideline(self.version)[0]
        except NotFound as exc:
            self.fail(exc)
            return
        text = (
            core.guideline().diff(old, new, f"v{parent}", f"v{self.version}")
            or f"(v{self.version} is identical to v{parent})"
        )
        self.query_one("#yaml", TextArea).load_text(text)
        self.showing_diff = True
        self.say(f"Diff v{parent} → v{self.version}; press d again for the YAML.")
