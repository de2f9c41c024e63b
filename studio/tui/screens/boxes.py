"""Boxes review: the fixes the box checks propose, with their evidence, to approve or reject."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from studio.errors import StudioError
from studio.ops.boxes.cleanse import SETTING
from studio.ops.boxes.model import BoxDataset
from studio.schema import Proposal
from studio.tui.screens.base import StudioScreen
from studio.tui.widgets.picture import coarse, picture_widget

PAGE = 500  # rows in the table at once; the rest load as the list empties

HELP = """\
[b]Boxes review[/b]: pending fixes from `studio cleanse` (duplicates, conflicts, invalid
or out-of-image boxes, model disagreements) and new images from `studio augment`. Each shows
its picture (the boxes involved in red, the box after the fix in green, other boxes grey),
the fix, the image, the boxes and the evidence (IoU, areas, model confidence).

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
    if p.kind == "box_augment":
        return describe_augment(p)
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


def describe_augment(p: Proposal) -> Text:
    pl, r = p.payload, p.payload.get("recipe") or {}
    t = Text()
    t.append(f"#{p.id} augment → {r.get('transform', '?')}", style="bold")
    t.append(f"  seed {r.get('seed')}\n")
    t.append(f"from {pl.get('source_image', '?')}\n", style="dim")
    if r.get("paste_from"):
        t.append(f"pasted from {r['paste_from']}\n", style="dim")
    t.append(f"classes {', '.join(str(c) for c in pl.get('classes') or [])}; {len(pl.get('boxes') or [])} boxes\n")
    for k, v in (r.get("params") or {}).items():
        t.append(f"  {k}: {json.dumps(v)}\n", style="dim")
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
        self.datasets: dict[str, BoxDataset | None] = {}  # read once per dataset, in a worker

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="fixes", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="fix-panel"):
            yield picture_widget(self.studio.images, id="fix-picture")
            with VerticalScroll(id="fix-detail"):
                yield Static("", id="fix-text")

    def on_mount(self) -> None:
        self.query_one("#fixes", DataTable).add_columns("id", "check", "fix", "image", "conf")

    def reload(self) -> None:
        table = self.query_one("#fixes", DataTable)
        keep = table.cursor_row
        fixes = self.store.proposals(kind="box_fix", status="pending", limit=PAGE)
        augments = self.store.proposals(kind="box_augment", status="pending", limit=PAGE)
        self.rows = fixes + augments
        table.clear()
        for p in self.rows:
            pl = p.payload
            if p.kind == "box_augment":
                check, fix, image = "augment", (pl.get("recipe") or {}).get("transform", ""), pl.get("source_image", "")
            else:
                check, fix, image = pl.get("check", ""), pl.get("fix", ""), pl.get("image", "")
            conf = "" if p.confidence is None else f"{p.confidence:.2f}"
            table.add_row(str(p.id), check, fix, str(image)[-30:], conf, key=str(p.id))
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
            table.focus()
        self._detail()

    def selected(self) -> Proposal | None:
        row = self.query_one("#fixes", DataTable).cursor_row
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def _detail(self) -> None:
        p = self.selected()
        text = describe_fix(p) if p else Text("No pending box fixes. Run `studio cleanse DATASET` first.")
        self.query_one("#fix-text", Static).update(text)
        picture = self.query_one("#fix-picture")
        if p is None or not hasattr(picture, "image"):
            if hasattr(picture, "image"):
                picture.image = None
            return
        saved = self.store.get_setting(SETTING)
        source = str(p.payload.get("dataset") or "")
        if p.kind == "box_augment" or source in self.datasets or not source:
            self._show_picture(p.id, self._picture(p, saved))  # nothing to read: draw it now
        else:
            self._render_picture(p, saved)

    def _picture(self, p: Proposal, saved: dict[str, Any] | None) -> Any:
        from studio.ops.boxes.preview import render_proposal

        line = 10 if coarse(self.studio.images) else 3
        return render_proposal(p, saved, self.datasets, line=line, root=self.store.root).image

    @work(thread=True, exclusive=True, exit_on_error=False, group="picture")
    def _render_picture(self, p: Proposal, saved: dict[str, Any] | None) -> None:
        image = self._picture(p, saved)  # the first picture of a dataset reads it, off the UI thread
        self.app.call_from_thread(self._show_picture, p.id, image)

    def _show_picture(self, pid: int | None, image: Any) -> None:
        current = self.selected()
        if current is not None and current.id == pid:  # the cursor may have moved on meanwhile
            self.query_one("#fix-picture").image = image  # type: ignore[attr-defined]

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
        what = f"augmented image #{p.id}" if p.kind == "box_augment" else f"fix #{p.id} ({p.payload.get('check')})"
        self.say(f"{'approved' if verb == 'accept' else 'rejected'} {what}")
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
