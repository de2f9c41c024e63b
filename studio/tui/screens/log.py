"""Log: the decision log, newest last, filterable by actor and action."""

from __future__ import annotations

import json
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input

from studio.tui.screens.base import StudioScreen

LIMIT = 500

HELP = """\
[b]Log[/b]: every decision, by people, the agent and tools; append-only (undo is a new row).

  /        filter: type an actor (agent, tool, human, human:NAME) and an action prefix
           (label, label.accept, guideline, agent.action, ...); enter applies
  escape   back to the table
  ctrl+r   read the log again
Only the newest 500 rows matching the filter are shown; `studio log --json` has them all."""


class LogScreen(StudioScreen):
    NAME = "log"
    AUTO_FOCUS = "#decisions"
    HELP = HELP
    PALETTE: ClassVar[list[tuple[str, str]]] = [
        ("filter", "filter the decision log by actor and action"),
        ("refresh", "read the decision log again"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("ctrl+r", "refresh", "Refresh"),
        Binding("escape", "leave_filter", "Table", show=False),
        *StudioScreen.BINDINGS,
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="log-filters"):
            yield Input(placeholder="actor", id="actor")
            yield Input(placeholder="action prefix", id="action")
        yield DataTable(id="decisions", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = False
        self.query_one("#decisions", DataTable).add_columns("id", "time", "actor", "action", "subjects", "details")

    def reload(self) -> None:
        actor = self.query_one("#actor", Input).value.strip() or None
        action = self.query_one("#action", Input).value.strip() or None
        rows = self.store.decisions(actor=actor, action=action, limit=LIMIT)
        table = self.query_one("#decisions", DataTable)
        table.clear()
        for d in rows:
            details = d.rationale or json.dumps(d.payload, ensure_ascii=False)
            table.add_row(
                str(d.id), d.ts[11:19], d.actor, d.action, ", ".join(d.subject_ids)[:24], details[:80],
                key=str(d.id),
            )  # fmt: skip
        if rows:
            table.move_cursor(row=len(rows) - 1)
        table.focus()
        what = " ".join(f"{k}={v}" for k, v in (("actor", actor), ("action", action)) if v)
        self.say(
            f"{len(rows)} decisions"
            + (f" ({what})" if what else "")
            + (f", newest {LIMIT}" if len(rows) == LIMIT else "")
        )

    @on(Input.Submitted)
    def _apply(self) -> None:
        self.reload()

    def action_filter(self) -> None:
        self.query_one("#actor", Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one("#decisions", DataTable).focus()

    def action_refresh(self) -> None:
        self.reload()
