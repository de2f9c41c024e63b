"""Release: what would go out (approved labels only), and a confirmed build in a worker."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, ProgressBar, Static

from studio.errors import StudioError
from studio.ops.release import licenses
from studio.ops.review import status_counts
from studio.store import Store
from studio.tui import core
from studio.tui.dialogs import ConfirmDialog
from studio.tui.messages import ReleaseBuilt, WorkProgress
from studio.tui.screens.base import StudioScreen

LICENSE_SETTING = "release.license"


def _wrap(words: str, width: int = 66) -> str:
    import textwrap

    return "\n".join("  " + line for line in textwrap.wrap(words, width, break_on_hyphens=False))


def remembered_license(store: Store) -> str | None:
    """The project's license setting, else the license of the newest release."""
    lic = store.get_setting(LICENSE_SETTING)
    if lic:
        return str(lic)
    last = store.decisions(action="release.create", limit=1)
    return str(last[-1].payload.get("license") or "") or None if last else None


HELP = f"""\
[b]Release[/b]: a versioned dataset folder (JSONL, spaCy, CoNLL, card,
manifest) from human-approved labels only; pending proposals are left
out and counted.

  tab      to the version and license fields (an empty version: the
           next patch version)
  enter    in a field: build the release (asks to confirm)
  b        build the release (asks to confirm); emails, phones and the
           like are redacted
  escape   back from a field

The license is an SPDX id, filled in from the last release:
{_wrap(", ".join(sorted(licenses.KNOWN)))}
or LicenseRef-NAME for your own (describe it in the card)."""


class ReleaseScreen(StudioScreen):
    NAME = "release"
    AUTO_FOCUS = ""  # keys like b act on the screen until the person tabs into a field
    HELP = HELP
    PALETTE: ClassVar[list[tuple[str, str]]] = [("build", "build a release from the approved labels")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "build", "Build release"),
        Binding("escape", "leave_field", "Leave field", show=False),
        *StudioScreen.BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="release-summary")
        with Horizontal(id="release-fields"):
            yield Input(placeholder="version (next patch)", id="version")
            yield Input(placeholder="license, e.g. CC-BY-4.0", id="license")
        with Horizontal(id="release-run"):
            yield Static("", id="release-label")
            yield ProgressBar(id="release-bar", show_eta=False)

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = False
        self.query_one("#release-run").display = False
        lic = remembered_license(self.store)
        if lic:
            self.query_one("#license", Input).value = lic

    def reload(self) -> None:
        from studio.ops.release import existing_versions, next_version

        s = self.store.status()
        t = Text()
        approved = s["approved_guideline_version"]
        t.append("guideline         ", style="dim")
        t.append(f"v{approved} (approved)\n" if approved else "none approved: approve one first (2)\n")
        t.append("documents         ", style="dim")
        c = status_counts(self.store)
        t.append(
            f"{s['documents']:,}: {c['complete']:,} complete, {c['partial']:,} partial, {c['untouched']:,} untouched\n"
        )
        t.append("approved labels   ", style="dim")
        t.append(f"{s['approved_labels']:,} in {s['labeled_documents']:,} documents\n", style="bold")
        t.append("left out          ", style="dim")
        t.append(f"{s['pending_proposals']:,} pending proposals\n")
        t.append("releases          ", style="dim")
        t.append((", ".join(existing_versions(self.store)) or "none yet") + "\n")
        t.append("next version      ", style="dim")
        t.append(next_version(self.store))
        self.query_one("#release-summary", Static).update(t)
        self.refresh_bindings()

    def action_leave_field(self) -> None:
        self.set_focus(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the version or license field builds (after the confirmation)."""
        event.stop()
        self.action_build()

    def _license(self) -> str | None:
        """The license in the field, as its SPDX id; None (with a message, focus on the field) if unusable."""
        field = self.query_one("#license", Input)
        given = field.value.strip()
        if not given:
            self.say("No license yet: type one in the license field, e.g. CC-BY-4.0, then enter.", error=True)
            field.focus()
            return None
        try:
            return licenses.normalize(given)
        except StudioError:
            self.say(f"Unknown license {given!r}: type an SPDX id such as CC-BY-4.0 (? lists them).", error=True)
            field.focus()
            return None

    def action_build(self) -> None:
        if self.busy:
            self.say("A release is already being built.")
            return
        version = self.query_one("#version", Input).value.strip() or None
        license_id = self._license()
        if license_id is None:
            return
        self.query_one("#license", Input).value = license_id
        s = self.store.status()
        question = (
            f"Build release {'v' + version if version else 'with the next version'} from "
            f"{s['approved_labels']:,} approved labels in {s['labeled_documents']:,} documents?\n"
            f"{s['pending_proposals']:,} pending proposals are left out.\n"
            f"License: {license_id} ({licenses.KNOWN.get(license_id, ('your own, described in the card',))[0]})."
        )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.busy = True
                self.query_one("#release-run").display = True
                self.query_one("#release-bar", ProgressBar).update(total=None, progress=0)
                self.say("Building the release…")
                self.build(version, license_id)

        self.app.push_screen(ConfirmDialog(question, yes="Release"), confirmed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="release")
    def build(self, version: str | None, license_id: str | None) -> None:
        from studio.tui.workers import run_op

        core.spacy()  # the exporters use it; one thread imports it (see studio.tui.core)
        r = run_op(self, "release", {"version": version, "license": license_id})
        self.post_message(ReleaseBuilt(r.version, r.path, r.documents, r.spans))

    def on_work_progress(self, message: WorkProgress) -> None:
        bar = self.query_one("#release-bar", ProgressBar)
        bar.update(total=100 if message.fraction is not None else None, progress=round(100 * (message.fraction or 0)))
        self.query_one("#release-label", Static).update(message.message[:30])

    def on_release_built(self, message: ReleaseBuilt) -> None:
        self._done()
        path = Path(message.path)
        where = path.relative_to(self.store.root) if path.is_relative_to(self.store.root) else path
        self.say(f"Released v{message.version}: {message.documents:,} documents, {message.spans:,} spans in {where}/")
        self.reload()

    def work_failed(self, worker: object) -> None:
        self._done()

    def _done(self) -> None:
        self.busy = False
        self.query_one("#release-run").display = False
