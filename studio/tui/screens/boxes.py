"""Boxes review: the fixes the box checks propose, with their evidence, to approve or reject."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from studio.errors import StudioError
from studio.schema import Proposal
from studio.tui.screens.base import StudioScreen

PAGE = 500  # rows in the table at once; the rest load as the list empties

HELP = """\
[b]Boxes review[/b]: pending fixes from `studio boxes check` (duplicates, conflicts, invalid
or out-of-image boxes, model disagreements). Each shows its check, the fix, the image, the
boxes involved and the evidence (IoU, areas, model confidence).

  up / down  pick a fix
  a          approve the fix (it is applied when you write the cleaned copy)
  x          reject it
  backspace  undo your last decision here"""


def _box(b: dict[str, Any]) -> str:
    name = b.get("class", b.get("class_id", "?"))
    geo = " ".join(
        f"{k}={b[k]:.3f}" if isinstance(b.get(k), float) else f"{k}={b.get(k)}" for k in ("cx", "cy", "w", "h")
    )
    extra = f" conf={b['conf']:.2f}" if isinstance(b.get("conf"), float) else ""
    return f"line {b.get('line', '?')}: {name} {geo}{extra}" + (" (prediction)" if b.get("prediction") else "")


def describe_fix(p: Proposal) -> Text:
    pl = p.payload
    t = Text()
    t.append(f"#{p.id} {pl.get('check', '?')} → {pl.get('fix', '?')}", style="bold")
    t.append(f"  confidence {p.confidence or 0:.2f}\n")
    t.append(f"image {pl.get('image', '?')}\n", style="dim")
    for b in pl.get("boxes") or []:
        t.append(f"  {_box(b)}\n")
    if pl.get("result"):
        t.append(f"after the fix: {_box(pl['result'])}\n", style="green")
    for k, v in (pl.get("evidence") or {}).items():
        t.append(f"  {k}: {json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}\n", style="dim")
    return t


class BoxesScreen(StudioScreen):
    NAME = "boxes"
    AUTO_FOCUS = "#fixes"
    HELP = HELP
    PALETTE: ClassVar[list[tuple[str, str]]] = [
        ("accept", "approve the selected box fix"),
        ("reject", "reject the selected box fix"),
        ("undo", "undo my last box decision"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "Approve"),
        Binding("x", "reject", "Reject"),
        Binding("backspace", "undo", "Undo"),
        *StudioScreen.BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Proposal] = []
        self.history: list[int] = []

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="fixes", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="fix-detail"):
            yield Static("", id="fix-text")

    def on_mount(self) -> None:
        self.query_one("#fixes", DataTable).add_columns("id", "check", "fix", "image", "conf")

    def reload(self) -> None:
        table = self.query_one("#fixes", DataTable)
        keep = table.cursor_row
        self.rows = self.store.proposals(kind="box_fix", status="pending", limit=PAGE)
        table.clear()
        for p in self.rows:
            pl = p.payload
            table.add_row(
                str(p.id), pl.get("check", ""), pl.get("fix", ""), str(pl.get("image", ""))[-30:], f"{p.confidence or 0:.2f}",
                key=str(p.id),
            )  # fmt: skip
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
            table.focus()
        self._detail()

    def selected(self) -> Proposal | None:
        row = self.query_one("#fixes", DataTable).cursor_row
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def _detail(self) -> None:
        p = self.selected()
        text = describe_fix(p) if p else Text("No pending box fixes. Run `studio boxes check DATASET` first.")
        self.query_one("#fix-text", Static).update(text)

    @on(DataTable.RowHighlighted, "#fixes")
    def _highlighted(self) -> None:
        self._detail()

    def _decide(self, verb: str) -> None:
        p = self.selected()
        if p is None:
            return
        try:
            d = self.store.decide(int(p.id or 0), self.actor, verb)
        except StudioError as exc:
            self.fail(exc)
            self.reload()
            return
        self.history.append(int(d.id or 0))
        self.say(f"{'approved' if verb == 'accept' else 'rejected'} fix #{p.id} ({p.payload.get('check')})")
        self.reload()

    def action_accept(self) -> None:
        self._decide("accept")

    def action_reject(self) -> None:
        self._decide("reject")

    def action_undo(self) -> None:
        if not self.history:
            self.say("Nothing to undo in this session.")
            return
        try:
            self.store.undo(self.history.pop(), self.actor)
        except StudioError as exc:
            self.fail(exc)
            return
        self.say("Undone: the fix is pending again.")
        self.reload()
