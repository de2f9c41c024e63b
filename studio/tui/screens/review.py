"""Label review: one span proposal at a time, in its document, with the keys a reviewer needs."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from studio.errors import StudioError
from studio.schema import Document, Proposal, Span
from studio.tui.colors import label_color
from studio.tui.pager import Cursor, ReviewPager
from studio.tui.screens.base import StudioScreen
from studio.tui.widgets.document import Mark, render_document

HELP = """\
[b]Label review[/b]: pending span proposals, document by document
(the newest query's order first, then by document).

  a            accept the span as proposed
  x            reject it
  e            edit it; in edit mode:
    ←/→          move the start one character
    shift+←/→    move the end one character
    1..9         change the label (numbers on screen)
    enter        save the edit
    escape       leave edit mode without saving
  space        next proposal (no decision)
  backspace    undo your last decision (a new decision)
  ?            this help

Approved labels have a coloured background, pending ones
are underlined in their label's colour, the current one
is reversed. An edit that does not fit the text is
refused with a message; nothing is saved until you decide."""

EDIT_ACTIONS = {"move", "set_label", "save", "cancel_edit"}
REVIEW_ACTIONS = {"accept", "reject", "edit", "skip", "undo"}


def _span_of(p: Proposal, text: str) -> Span:
    """The proposal's span, clamped into the text so a malformed one can still be shown and edited."""
    raw = p.payload.get("span") or {}
    start = min(max(0, int(raw.get("start", 0))), max(0, len(text) - 1))
    end = min(max(start + 1, int(raw.get("end", start + 1))), max(1, len(text)))
    return Span(start=start, end=end, label=str(raw.get("label") or "?"))


class ReviewScreen(StudioScreen):
    NAME = "review"
    HELP = HELP
    PALETTE: ClassVar[list[tuple[str, str]]] = [
        ("accept", "accept the current span"),
        ("reject", "reject the current span"),
        ("edit", "edit the current span's boundaries or label"),
        ("skip", "next proposal without deciding"),
        ("undo", "undo my last review decision"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "Accept"),
        Binding("x", "reject", "Reject"),
        Binding("e", "edit", "Edit"),
        Binding("space", "skip", "Next"),
        Binding("backspace", "undo", "Undo"),
        Binding("left", "move('start', -1)", "start", key_display="←/→"),
        Binding("right", "move('start', 1)", "start", show=False),
        Binding("shift+left", "move('end', -1)", "end", key_display="⇧←/→"),
        Binding("shift+right", "move('end', 1)", "end", show=False),
        *(Binding(str(i), f"set_label({i})", "label", show=i == 1, key_display="1-9") for i in range(1, 10)),
        Binding("enter", "save", "save"),
        Binding("escape", "cancel_edit", "cancel"),
        *StudioScreen.BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pager: ReviewPager | None = None
        self.cursor: Cursor | None = None
        self.doc: Document | None = None
        self.items: list[Proposal] = []
        self.idx = 0
        self.history: list[tuple[int, int, int]] = []  # (decision id, proposal id, document id)
        self.editing: Span | None = None
        self.pending_total = 0
        self.labels: list[str] = []

    def compose_body(self) -> ComposeResult:
        with Vertical(id="review"):
            yield Static("", id="review-info")
            yield Static("", id="review-doc")
            yield Static("", id="review-edit")

    # -- loading -------------------------------------------------------------------------
    def reload(self) -> None:
        self.pager = ReviewPager(self.store, actor=self.actor)
        self.pending_total = self.pager.pending_count()
        approved = self.store.approved_guideline()
        self.labels = approved[0].label_names() if approved else []
        keep = self.current()
        if self.cursor is not None and self.pager.has_pending(self.cursor.doc_id):
            self.load_document(self.pager.cursor_of(self.cursor.doc_id), keep.id if keep else None)
        else:
            self.cursor = None
            self.next_document()

    def load_document(self, cursor: Cursor, select: int | None = None) -> None:
        assert self.pager is not None
        self.cursor = cursor
        self.doc = self.store.document(cursor.doc_id)
        self.items = self.pager.pending(cursor.doc_id)
        ids = [p.id for p in self.items]
        self.idx = ids.index(select) if select in ids else 0
        for p in self.items:  # labels the guideline does not name yet can still be kept
            lab = (p.payload.get("span") or {}).get("label")
            if lab and lab not in self.labels:
                self.labels.append(lab)
        if not self.items:
            self.next_document()
            return
        self.show()

    def next_document(self) -> None:
        assert self.pager is not None
        nxt = self.pager.next_document(self.cursor)
        if nxt is None and self.cursor is not None:
            nxt = self.pager.next_document(None)
            if nxt is not None:
                self.say("End of the queue: back to the first document with pending proposals.")
        if nxt is None:
            self.cursor, self.doc, self.items, self.idx = None, None, [], 0
            self.show()
            return
        self.load_document(nxt)

    def current(self) -> Proposal | None:
        return self.items[self.idx] if 0 <= self.idx < len(self.items) else None

    # -- drawing -------------------------------------------------------------------------
    def show(self) -> None:
        info = self.query_one("#review-info", Static)
        body = self.query_one("#review-doc", Static)
        edit = self.query_one("#review-edit", Static)
        p = self.current()
        if p is None or self.doc is None:
            info.update(Text("Nothing to review: no pending span proposals.", style="bold"))
            body.update("Propose weak labeling on the Agent screen (3), or run `studio label`.")
            edit.update("")
            return
        span = self.editing or _span_of(p, self.doc.text)
        info.update(self._info(p, span))
        body.update(render_document(self.doc.text, self._marks(p, span), focus=(span.start, span.end)))
        edit.update(self._edit_line(span) if self.editing else "")
        self.refresh_bindings()

    def _info(self, p: Proposal, span: Span) -> Text:
        sources = p.payload.get("sources") or {}
        src = " · ".join(f"{k} {float(v):.2f}" for k, v in sources.items()) or p.source or "no sources"
        t = Text()
        t.append(f"#{p.id} ", style="dim")
        t.append(f" {span.label} ", style=f"bold black on {label_color(span.label)}")
        if p.payload.get("synthetic"):
            # written by the model with its annotation (studio synth): no confidence to show
            t.append("  synthetic sentence  ", style="bold yellow")
            t.append(f"{p.source or 'synth'} · is the sentence plausible, and the span right?")
        else:
            t.append(f"  confidence {p.confidence if p.confidence is not None else 0:.2f}  ", style="bold")
            t.append(src)
        t.append(
            f"\ndoc {self.doc.id if self.doc else '?'} · {self.idx + 1} of {len(self.items)} here"
            f" · {self.pending_total:,} pending",
            style="dim",
        )
        if self.cursor is not None and self.cursor.ranked is not None:
            t.append(f" · query rank {self.cursor.ranked + 1}", style="dim")
        return t

    def _marks(self, p: Proposal, span: Span) -> list[Mark]:
        assert self.doc is not None and self.doc.id is not None
        marks = [Mark(s.start, s.end, s.label, "approved") for s in self.store.approved_spans(self.doc.id)]
        for q in self.items:
            if q.id != p.id:
                s = _span_of(q, self.doc.text)
                marks.append(Mark(s.start, s.end, s.label, "pending"))
        marks.append(Mark(span.start, span.end, span.label, "current"))
        return marks

    def _edit_line(self, span: Span) -> Text:
        assert self.doc is not None
        t = Text("editing ", style="bold")
        t.append(f"[{span.start}:{span.end}] {self.doc.text[span.start : span.end]!r}  ")
        for i, lab in enumerate(self.labels[:9], 1):
            style = f"bold black on {label_color(lab)}" if lab == span.label else label_color(lab)
            t.append(f"{i} {lab}", style=style)
            t.append(" ")
        return t

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in EDIT_ACTIONS:
            return self.editing is not None
        if action in REVIEW_ACTIONS:
            return self.editing is None
        return True

    # -- decisions -----------------------------------------------------------------------
    def _decided(self, decision_id: int | None, p: Proposal) -> None:
        assert self.doc is not None
        self.history.append((int(decision_id or 0), int(p.id or 0), int(self.doc.id or 0)))
        self.items.pop(self.idx)
        self.pending_total -= 1
        if self.idx >= len(self.items):
            self.next_document()
        else:
            self.show()

    def _stale(self, exc: StudioError) -> None:
        """The proposal changed elsewhere (another window, the CLI): say so and read it again."""
        self.say(str(exc), error=True)
        if self.cursor is not None:
            self.load_document(self.cursor)

    def action_accept(self) -> None:
        p = self.current()
        if p is None or self.doc is None:
            return
        try:
            # A proposal whose span does not fit the text would become a broken label: refuse it.
            Span.model_validate(p.payload["span"]).check_against(self.doc.text)
        except ValueError as exc:
            self.say(f"Not accepted: {exc}. Edit it (e) or reject it (x).", error=True)
            return
        try:
            d = self.store.accept_span(int(p.id or 0), self.actor)
        except StudioError as exc:
            self._stale(exc)
            return
        self.say(f"accepted #{p.id} {p.payload['span']['label']} {p.payload['span'].get('text', '')!r}")
        self._decided(d.id, p)

    def action_reject(self) -> None:
        p = self.current()
        if p is None:
            return
        try:
            d = self.store.decide(int(p.id or 0), self.actor, "reject")
        except StudioError as exc:
            self._stale(exc)
            return
        self.say(f"rejected #{p.id}")
        self._decided(d.id, p)

    def action_skip(self) -> None:
        if self.current() is None:
            return
        self.idx += 1
        if self.idx >= len(self.items):
            self.next_document()
        else:
            self.show()

    def action_undo(self) -> None:
        if not self.history:
            self.say("Nothing to undo in this session.")
            return
        decision_id, pid, doc_id = self.history.pop()
        try:
            self.store.undo(decision_id, self.actor)
        except StudioError as exc:
            self.say(str(exc), error=True)
            return
        assert self.pager is not None
        self.pending_total += 1
        self.say(f"undid the decision on #{pid}; it is pending again")
        self.load_document(self.pager.cursor_of(doc_id), select=pid)

    # -- editing -------------------------------------------------------------------------
    def action_edit(self) -> None:
        p = self.current()
        if p is None:
            return
        assert self.doc is not None
        self.editing = _span_of(p, self.doc.text)
        self.say("Editing: move the edges, pick a label, enter saves (? explains the keys).")
        self.show()

    def action_move(self, edge: str, step: int) -> None:
        if self.editing is None or self.doc is None:
            return
        s, e = self.editing.start, self.editing.end
        s, e = (s + step, e) if edge == "start" else (s, e + step)
        if s < 0 or e > len(self.doc.text):
            self.say("The span cannot go past the edge of the document.", error=True)
            return
        if e <= s:
            self.say("The span must keep at least one character: move the other edge first.", error=True)
            return
        self.editing = Span(start=s, end=e, label=self.editing.label)
        self.show()

    def action_set_label(self, n: int) -> None:
        if self.editing is None:
            return
        if not 1 <= n <= len(self.labels):
            self.say(f"There is no label {n}: pick one of 1-{min(9, len(self.labels))}.", error=True)
            return
        self.editing = self.editing.model_copy(update={"label": self.labels[n - 1]})
        self.show()

    def action_save(self) -> None:
        p = self.current()
        if self.editing is None or p is None:
            return
        try:
            d = self.store.accept_span(int(p.id or 0), self.actor, edited=self.editing)
        except (StudioError, ValueError) as exc:
            # Refused: nothing was recorded; stay in edit mode so the person can fix it.
            self.say(f"Edit refused: {exc}", error=True)
            return
        span = self.editing
        self.editing = None
        self.say(f"saved #{p.id} as {span.label} [{span.start}:{span.end}]")
        self._decided(d.id, p)

    def action_cancel_edit(self) -> None:
        self.editing = None
        self.say("Edit cancelled.")
        self.show()
