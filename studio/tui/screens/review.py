"""Label review: a whole document at a time, with all its proposals and approved spans.

The person moves between spans (tab), accepts, rejects or relabels them, adds what the model
missed by selecting words, and marks the document done. Every change is one core function
(`studio.ops.review`) run in a worker that posts the `Change`; the document is then read again
(`document_view`, in a worker) and the screen picks its place. Keys pressed while a change is
on its way wait their turn, so fast typing is kept in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Footer, Static
from textual.worker import Worker

from studio.errors import StudioError
from studio.ops import review as rv
from studio.tui import core
from studio.tui.colors import label_color
from studio.tui.dialogs.confirm import ConfirmDialog
from studio.tui.edit_cursor import move_edge
from studio.tui.screens.base import StudioScreen
from studio.tui.widgets.document import Mark, render_document
from studio.tui.widgets.nav import SCREENS

HELP = """\
[b]Label review[/b]: a whole document at a time. Pending proposals are
underlined, approved spans have a coloured background, the current
span is reversed; each span's label follows it.

  tab, shift+tab  next / previous span
  a               accept the current proposal
  x               reject it (an approved span: remove it)
  A               accept all proposals pending on this document
  1..9            relabel the current span (numbers above the text)
  e               edit the current span's boundaries:
    ←/→             move the start by a word (ctrl+←/→: a character)
    shift+←/→       move the end by a word (ctrl+shift: a character)
    1..9            change the label
    enter / escape  save (its text is shown first) / leave
Add what the model missed:
  ←/→             select the word after / before the current span
  shift+←/→       extend the selection by a word
  1..9            label the selection (its text is shown first)
  escape          clear the selection
The document:
  d               done: all proposals decided, all entities labelled
                  (refused while proposals are pending)
  n               next document, leaving this one as it is
  r               reopen a complete document to change it
  W               withdraw the document: out of review and releases
                  (asks first; kept in the log; u brings it back)
  u               undo your last change (reopens a done document)
  g, then 1-8     go to another screen (numbers here are labels)
  ctrl+p          every screen and operation by name

The core checks every change: a label not in the guideline, a span
that overlaps an approved one or does not fit the text is refused
with a message, and nothing is saved."""


@dataclass
class Draft:
    """A span being made: a word selection (`target` None) or an edit of the span `target`."""

    start: int
    end: int
    label: str | None = None
    target: rv.ViewSpan | None = None
    anchor: int = 0  # token indexes of a word selection: it runs from anchor to caret
    caret: int = 0


class ReviewScreen(StudioScreen):
    NAME = "review"
    HELP = HELP
    PALETTE: ClassVar[list[tuple[str, str]]] = [
        ("accept", "accept the current span"),
        ("reject", "reject the current span"),
        ("accept_all", "accept all pending proposals on this document"),
        ("done", "mark this document done"),
        ("next_document", "next document"),
        ("reopen", "reopen this document (it is complete)"),
        ("withdraw", "withdraw this document from review and releases (asks first)"),
        ("edit", "edit the current span's boundaries or label"),
        ("undo", "undo my last review change"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "next_span", "next"),
        Binding("shift+tab", "prev_span", "previous", show=False),
        Binding("space", "next_span", "next", show=False),
        Binding("a", "accept", "accept"),
        Binding("x", "reject", "reject"),
        Binding("A", "accept_all", "all"),
        *(Binding(str(i), f"number({i})", "label", show=i == 1, key_display="1-9") for i in range(1, 10)),
        Binding("d", "done", "done"),
        Binding("W", "withdraw", "drop"),  # "withdraw" does not fit the 80-column footer with the rest
        Binding("u", "undo", "undo"),
        Binding("left", "word(-1)", "words", key_display="←→"),
        Binding("right", "word(1)", "select", show=False),
        Binding("shift+left", "extend(-1)", "extend", show=False),
        Binding("shift+right", "extend(1)", "extend", show=False),
        Binding("ctrl+left", "char('start', -1)", "start by a character", show=False),
        Binding("ctrl+right", "char('start', 1)", "start by a character", show=False),
        Binding("ctrl+shift+left", "char('end', -1)", "end by a character", show=False),
        Binding("ctrl+shift+right", "char('end', 1)", "end by a character", show=False),
        Binding("e", "edit", "edit", show=False),
        Binding("enter", "save", "save"),
        Binding("escape", "clear", "clear"),
        Binding("n", "next_document", "next document", show=False),
        Binding("r", "reopen", "reopen", show=False),
        Binding("backspace", "undo", "undo", show=False),
        Binding("g", "goto_prefix", "go to screen", show=False),
        *StudioScreen.BINDINGS,
    ]

    class Changed(Message):
        def __init__(self, change: rv.Change, undo: bool) -> None:
            super().__init__()
            self.change = change
            self.undo = undo

    class ViewRead(Message):
        def __init__(self, view: rv.DocumentView, seq: int) -> None:
            super().__init__()
            self.view = view
            self.seq = seq

    def __init__(self) -> None:
        super().__init__()
        self.queue: rv.DocumentQueue | None = None
        self.view: rv.DocumentView | None = None
        self.spans: list[rv.ViewSpan] = []
        self.cur: int | None = None  # index into self.spans
        self.draft: Draft | None = None
        self.history: list[rv.Change] = []
        self.pending_total = 0
        self.labels: list[str] = []
        self.goto_armed = False
        self.busy = False  # a change (and the read after it) is on its way
        self.reads = 0  # the newest read asked for; older answers are dropped
        self._binding_state: tuple[bool, ...] | None = None
        self.waiting: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.keep: tuple[int | None, tuple[int, int] | None] = (None, None)  # where to land after a read

    def compose_body(self) -> ComposeResult:
        with Vertical(id="review"):
            yield Static("", id="review-info")
            yield Static("", id="review-labels")
            yield Static("", id="review-doc")
            yield Static("", id="review-edit")

    def on_mount(self) -> None:
        # The review keys need the whole footer at 80 columns; ctrl+p still opens the palette (? says so).
        self.query_one(Footer).show_command_palette = False

    # -- loading -------------------------------------------------------------------------
    def reload(self) -> None:
        self.queue = rv.DocumentQueue(self.store, actor=self.actor)
        approved = self.store.approved_guideline()
        self.labels = approved[0].label_names() if approved else []
        self._count()
        doc_id = self.view.document_id if self.view is not None else None
        if doc_id is None or not self.queue.is_open(doc_id):
            doc_id = self.queue.next_document()
        self.open_document(doc_id, keep=self._current_start())

    def _count(self) -> None:
        row = self.store.conn.execute(  # a withdrawn document's proposals are no longer waiting for anyone
            "SELECT COUNT(*) FROM proposals WHERE status = 'pending' AND kind = 'span' AND document_id NOT IN"
            " (SELECT document_id FROM document_status WHERE status = 'withdrawn')"
        )
        self.pending_total = int(row.fetchone()[0])

    def open_document(self, doc_id: int | None, keep: int | None = None) -> None:
        """Paint the document at once (without tokens), then read the core's view in a worker."""
        self.draft = None
        if doc_id is None:
            self.view, self.spans, self.cur = None, [], None
            self.show()
            return
        if self.view is None or self.view.document_id != doc_id or not self.view.tokens:
            self._set_view(rv.document_view(self.store, doc_id, actor=self.actor, with_tokens=False), keep, None)
        self.keep = (keep, None)
        self._read(doc_id)

    def _read(self, doc_id: int) -> None:
        self.reads += 1
        self.read_view(doc_id, self.reads)

    def _set_view(self, view: rv.DocumentView, keep: int | None, select: tuple[int, int] | None) -> None:
        self.view = view
        self.spans = view.spans
        for s in self.spans:  # labels the guideline does not name yet are shown (and refused on save)
            if s.label and s.label not in self.labels:
                self.labels.append(s.label)
        self.cur = self._pick(keep, select)
        self.show()

    def _pick(self, keep: int | None, select: tuple[int, int] | None) -> int | None:
        """The span to make current: the one at `select`, else the first pending one at or after
        `keep` (a character offset), else the first pending one, else the first span."""
        for i, s in enumerate(self.spans):
            if select is not None and (s.start, s.end) == select:
                return i
        pending = [i for i, s in enumerate(self.spans) if s.kind == "proposal"]
        after = [i for i in pending if keep is not None and self.spans[i].start >= keep]
        return (after or pending or [0] if self.spans else [None])[0]

    # Not exclusive: a thread cannot be stopped anyway, and an older read's answer is dropped by
    # its number (`reads`).
    @work(thread=True, exit_on_error=False, group="review-read")
    def read_view(self, doc_id: int, seq: int) -> None:
        core.spacy()  # the tokenizer: one thread imports it (see studio.tui.core)
        self.post_message(self.ViewRead(rv.document_view(self.store, doc_id, actor=self.actor), seq))

    def on_review_screen_view_read(self, message: ViewRead) -> None:
        if message.seq != self.reads:
            return  # an older read (a change came after it)
        keep, select = self.keep
        it = self.current()
        if (
            not self.busy
            and it is not None
            and self.view is not None
            and self.view.document_id == message.view.document_id
        ):
            select = (it.start, it.end)  # the tokens came in: stay where the person has moved to
        draft = self.draft if not self.busy else None
        self._set_view(message.view, keep, select)
        self.draft = draft
        self.busy = False
        self._run_waiting()

    def current(self) -> rv.ViewSpan | None:
        return self.spans[self.cur] if self.cur is not None and 0 <= self.cur < len(self.spans) else None

    def _current_start(self) -> int | None:
        s = self.current()
        return s.start if s else None

    # -- changes: one core function in a worker ------------------------------------------------
    def _change(self, fn: Callable[..., rv.Change], *args: Any, keep: int | None = None,
                select: tuple[int, int] | None = None) -> None:  # fmt: skip
        assert self.view is not None
        self.busy = True
        self.keep = (keep, select)
        self._saving()
        self.run_change(fn, (self.store, *args), False)

    # Not exclusive either: `busy` already runs one change at a time, and the next change can
    # start (from the handler of this one's message) before this thread's worker is marked done,
    # which `exclusive` would turn into a cancellation of a change that has in fact been saved.
    @work(thread=True, exit_on_error=False, group="review-change")
    def run_change(self, fn: Callable[..., rv.Change], args: tuple[Any, ...], undo: bool) -> None:
        core.spacy()
        self.post_message(self.Changed(fn(*args), undo))

    def on_review_screen_changed(self, message: Changed) -> None:
        change = message.change
        if not message.undo:
            self.history.append(change)
        self._count()
        self.draft = None
        doc_id = change.document_id
        keep = self.keep[0]
        if change.action in ("complete", "withdraw"):
            assert self.queue is not None
            nxt = self.queue.next_document(doc_id) or self.queue.next_document()
            again = "u reopens it" if change.action == "complete" else "u brings it back"
            self.say(f"{change.message}; {again}" + ("" if nxt else ". No other document is open."))
            doc_id, keep = (nxt if nxt is not None else doc_id), None
        else:
            self.say(change.message)
        if self.view is None or self.view.document_id != doc_id:
            self.open_document(doc_id, keep)
        else:
            self._read(doc_id)

    def work_failed(self, worker: Worker[object]) -> None:
        # Refused by the core (or changed elsewhere): the message is on the status line. Keys
        # typed after it were meant for a state that did not happen: drop them, read again.
        if self.waiting:
            n = len(self.waiting)
            self.say(f"{worker.error} ({n} key{'s' if n > 1 else ''} typed after it not run)", error=True)
        self.waiting.clear()
        self.busy = False
        if self.view is not None and worker.group == "review-change":
            self.keep = (self._current_start(), None)
            self._read(self.view.document_id)

    def _run_waiting(self) -> None:
        while self.waiting and not self.busy:
            fn, args = self.waiting.pop(0)
            fn(*args)

    def _wait_turn(self, fn: Callable[..., Any], *args: Any) -> bool:
        """True when a change is on its way: the key is kept and run after it."""
        if self.busy:
            self.waiting.append((fn, args))
            self._saving()
            return True
        return False

    def _saving(self) -> None:
        msg = "saving…"
        if self.view is not None and not self.view.tokens:
            msg += " (the first change waits for the word tokenizer to load: a few seconds)"
        if self.waiting:
            msg += f" {len(self.waiting)} key{'s' if len(self.waiting) > 1 else ''} waiting"
        self.say(msg)

    # -- drawing -------------------------------------------------------------------------
    def show(self) -> None:
        info = self.query_one("#review-info", Static)
        legend = self.query_one("#review-labels", Static)
        body = self.query_one("#review-doc", Static)
        edit = self.query_one("#review-edit", Static)
        v = self.view
        if v is None:
            info.update(Text("Nothing to review: every document is done or withdrawn.", style="bold"))
            legend.update("")
            body.update(
                "Import documents (`studio import`), propose labels on the Agent screen (3) or with "
                "`studio label`, then come back here."
            )
            edit.update("")
            self._bindings_may_change()
            return
        info.update(self._info(v))
        legend.update(self._legend())
        marks = [Mark(s.start, s.end, s.label, "approved" if s.kind == "approved" else "pending") for s in self.spans]
        it, d = self.current(), self.draft
        if d is not None:
            marks.append(Mark(d.start, d.end, d.label or "", "selection"))
        elif it is not None:
            marks.append(Mark(it.start, it.end, it.label, "current"))
        focus = (d.start, d.end) if d else (it.start, it.end) if it else None
        body.update(render_document(v.text, marks, focus=focus))
        edit.update(self._draft_line(v, d) if d else self._span_line(it))
        self._bindings_may_change()

    def _info(self, v: rv.DocumentView) -> Text:
        n = len(v.pending)
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"doc {v.document_id} ", style="bold")
        style = {"complete": "green", "withdrawn": "red"}.get(v.status, "yellow")
        t.append(f" {v.status} ", style=f"bold reverse {style}")
        t.append(f"  {n} pending here · {len(v.approved)} approved · {self.pending_total:,} pending in all")
        return t

    def _legend(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        if self.goto_armed:
            return Text("go to: press the number of a screen on the top line (escape stays here)", style="bold")
        it, d = self.current(), self.draft
        chosen = (d.label if d else it.label if it else None) or None
        for i, lab in enumerate(self.labels[:9], 1):
            colour = label_color(lab)
            t.append(f"{i} {lab}", style=f"bold black on {colour}" if lab == chosen else colour)
            t.append("  ")
        return t

    def _span_line(self, it: rv.ViewSpan | None) -> Text:
        if it is None:
            return Text("No spans: ←/→ selects a word, a number labels it; d marks the document done.", style="dim")
        t = Text()
        t.append(f" {it.label} ", style=f"bold black on {label_color(it.label)}")
        t.append(" proposed " if it.kind == "proposal" else " approved ", style="bold")
        t.append(f"[{it.start}:{it.end}] {it.text!r}")
        if it.synthetic:
            # written by the model with its annotation (studio synth): no confidence to show
            t.append("  synthetic sentence ", style="bold yellow")
            t.append(f"{it.source or 'synth'}: is it plausible, and the span right?")
        elif it.kind == "proposal":
            conf = f"{it.confidence:.2f}" if it.confidence is not None else "?"
            t.append(f"  confidence {conf}  ", style="bold")
            t.append(it.source, style="dim")
        return t

    def _draft_line(self, v: rv.DocumentView, d: Draft) -> Text:
        """What would be saved, as the core would save it (snapped, with its overlaps), or why not."""
        t = Text()
        t.append("editing " if d.target else "selected ", style="bold")
        label = d.label or (d.target.label if d.target else (self.labels or ["?"])[0])
        if d.target is not None and not self._on_edges(d.start, d.end):
            # character moves are saved exactly as shown
            t.append(f"[{d.start}:{d.end}] ")
            t.append(repr(v.text[d.start : d.end]), style="bold")
            t.append(f" as {label} (exact characters): enter saves, escape leaves", style="dim")
            return t
        try:
            chk = rv.check_span(self.store, v.document_id, d.start, d.end, label, view=v,
                                ignore=d.target.key if d.target else None)  # fmt: skip
        except StudioError as exc:
            t.append(f"[{d.start}:{d.end}] {v.text[d.start : d.end]!r}  ")
            t.append(f"cannot be saved: {exc}", style="red")
            return t
        t.append(f"[{chk.span.start}:{chk.span.end}] ")
        t.append(repr(chk.span.text), style="bold")
        if chk.snapped and d.target is None:
            t.append(" (whole words)", style="dim")
        if chk.overlaps_pending:
            t.append(f" replaces {len(chk.overlaps_pending)} proposal(s)", style="yellow")
        if d.target is not None:
            t.append(f" as {label}: enter saves, escape leaves", style="dim")
        else:
            t.append(f" · 1-{min(9, len(self.labels))} labels it, escape clears", style="dim")
        return t

    def _bindings_may_change(self) -> None:
        """Refresh the footer only when what `check_action` reads has changed (it costs a recompose)."""
        d = self.draft
        key = (self.view is None, d is None, d is not None and d.target is None, self.goto_armed, len(self.labels))
        if key != self._binding_state:
            self._binding_state = key
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "number":
            n = int(parameters[0])  # type: ignore[call-overload]
            if self.goto_armed:
                return n <= len(SCREENS)
            # Numbers beyond the labels fall through to the app (switching screens).
            return self.view is not None and n <= min(9, len(self.labels))
        if action == "save":
            return self.draft is not None and self.draft.target is not None
        if action == "clear":
            return self.draft is not None or self.goto_armed
        return True

    # -- moving --------------------------------------------------------------------------
    def _move_to(self, idx: int | None) -> None:
        self.cur, self.draft = idx, None
        self.show()

    def action_next_span(self) -> None:
        if self._wait_turn(self.action_next_span) or not self.spans:
            return
        self._move_to(0 if self.cur is None else (self.cur + 1) % len(self.spans))

    def action_prev_span(self) -> None:
        if self._wait_turn(self.action_prev_span) or not self.spans:
            return
        self._move_to(len(self.spans) - 1 if self.cur is None else (self.cur - 1) % len(self.spans))

    def action_next_document(self) -> None:
        if self._wait_turn(self.action_next_document) or self.queue is None or self.view is None:
            return
        here = self.view.document_id
        nxt = self.queue.next_document(here) or self.queue.next_document()
        if nxt is None or nxt == here:
            self.say("No other open document.")
            return
        self.open_document(nxt)

    def action_clear(self) -> None:
        if self.goto_armed:
            self.goto_armed = False
        elif self.draft is not None:
            self.say("Edit left, nothing saved." if self.draft.target else "Selection cleared.")
            self.draft = None
        self.show()

    def action_goto_prefix(self) -> None:
        self.goto_armed = True
        self.say("Go to which screen?")
        self.show()

    # -- decisions -----------------------------------------------------------------------
    def action_accept(self) -> None:
        if self._wait_turn(self.action_accept):
            return
        it = self.current()
        if it is None or self.draft is not None or self.view is None:
            return
        if it.kind != "proposal":
            self.say("This span is approved already: tab moves to the next one.")
            return
        self._change(rv.accept, self.view.document_id, it.key, self.actor, keep=it.end)

    def action_reject(self) -> None:
        if self._wait_turn(self.action_reject):
            return
        it = self.current()
        if it is None or self.draft is not None or self.view is None:
            return
        self._change(rv.reject, self.view.document_id, it.key, self.actor, keep=it.start)

    def action_accept_all(self) -> None:
        if self._wait_turn(self.action_accept_all) or self.view is None:
            return
        self._change(rv.accept_all, self.view.document_id, self.actor)

    def action_done(self) -> None:
        if self._wait_turn(self.action_done) or self.view is None:
            return
        self._change(rv.complete, self.view.document_id, self.actor)

    def action_reopen(self) -> None:
        if self._wait_turn(self.action_reopen) or self.view is None:
            return
        if self.view.status != "complete":
            self.say(f"Document {self.view.document_id} is {self.view.status}, not complete: nothing to reopen.")
            return
        self._change(rv.reopen, self.view.document_id, self.actor)

    def action_withdraw(self) -> None:
        """Leave the document out of review and releases, after a yes: it is easy to press by mistake."""
        if self._wait_turn(self.action_withdraw) or self.view is None:
            return
        doc = self.view.document_id
        if self.view.status == "withdrawn":
            self.say(f"Document {doc} is withdrawn already; u brings it back if you withdrew it here.")
            return
        question = (
            f"Withdraw document {doc}? It leaves review and every release from now on; "
            "its labels and decisions stay in the log, and u brings it back."
        )

        def answered(yes: bool | None) -> None:
            if yes and self.view is not None and self.view.document_id == doc:
                self._change(rv.withdraw, doc, self.actor)
            elif not yes:
                self.say(f"Document {doc} kept.")

        self.app.push_screen(ConfirmDialog(question, yes="Withdraw"), answered)

    def action_undo(self) -> None:
        if self._wait_turn(self.action_undo):
            return
        if not self.history:
            self.say("Nothing to undo in this session.")
            return
        change = self.history.pop()
        self.busy = True
        self._saving()
        self.keep = (change.span.start if change.span else None, None)
        self.run_change(rv.undo, (self.store, change, self.actor), True)

    def action_number(self, n: int) -> None:
        """A number labels the selection, sets an edit's label, or relabels the current span."""
        if self.goto_armed:
            self.goto_armed = False
            self.app.action_goto(SCREENS[n - 1][0])  # type: ignore[attr-defined]
            return
        if self._wait_turn(self.action_number, n) or self.view is None or not 1 <= n <= len(self.labels):
            return
        label = self.labels[n - 1]
        d, it, doc = self.draft, self.current(), self.view.document_id
        if d is not None and d.target is not None:
            d.label = label
            self.show()
        elif d is not None:
            self._change(rv.add_span, doc, d.start, d.end, label, self.actor, select=(d.start, d.end))
        elif it is not None:
            if it.kind == "approved" and it.label == label:
                self.say(f"It is {label} already.")
                return
            self._change(rv.relabel, doc, it.key, label, self.actor, keep=it.end)

    # -- the word cursor, selections and edits ---------------------------------------------
    def _on_edges(self, start: int, end: int) -> bool:
        toks = self.view.tokens if self.view else []
        return any(t.start == start for t in toks) and any(t.end == end for t in toks)

    def _has_tokens(self) -> bool:
        if self.view is None:
            return False
        if not self.view.tokens:
            self.say("Reading the document's words (the first time loads the tokenizer)… try again in a moment.")
            return False
        return True

    def _words(self) -> list[rv.Token]:
        """What the word keys move by: the view's words (Korean: Kiwi's morphemes grouped), else its tokens."""
        return self.view.words if self.view else []

    def _word_beside(self, it: rv.ViewSpan | None, step: int) -> int:
        toks = self._words()
        if step > 0:
            at = it.end if it else 0
            return next((i for i, t in enumerate(toks) if t.start >= at), len(toks) - 1)
        at = it.start if it else len(self.view.text if self.view else "")
        return next((i for i in range(len(toks) - 1, -1, -1) if toks[i].end <= at), 0)

    def _token_at(self, pos: int) -> int:
        toks = self._words()
        return next((i for i, t in enumerate(toks) if t.end > pos), max(0, len(toks) - 1))

    def _select(self, anchor: int, caret: int) -> None:
        toks = self._words()
        lo, hi = min(anchor, caret), max(anchor, caret)
        self.draft = Draft(toks[lo].start, toks[hi].end, anchor=anchor, caret=caret)

    def action_word(self, step: int) -> None:
        if self._wait_turn(self.action_word, step) or not self._has_tokens():
            return
        d, it = self.draft, self.current()
        if d is not None and d.target is not None:
            self._move_edge("start", step, by_token=True)
            return
        # the word just after (or before) the current span, or the next one of the selection
        toks = self._words()
        i = self._word_beside(it, step) if d is None else min(max(0, d.caret + step), len(toks) - 1)
        self._select(i, i)
        self.show()

    def action_extend(self, step: int) -> None:
        if self._wait_turn(self.action_extend, step) or not self._has_tokens():
            return
        d, it = self.draft, self.current()
        if d is not None and d.target is not None:
            self._move_edge("end", step, by_token=True)
            return
        if d is None:
            i = self._token_at(it.start if it else 0)
            self._select(i, i)
        elif not 0 <= d.caret + step < len(self._words()):
            self.say("The selection cannot go past the edge of the document.", error=True)
            return
        else:
            self._select(d.anchor, d.caret + step)
        self.show()

    def action_char(self, edge: str, step: int) -> None:
        if self._wait_turn(self.action_char, edge, step):
            return
        if self.draft is None:
            if self.current() is None:
                return
            self.action_edit()
        self._move_edge(edge, step, by_token=False)

    def _move_edge(self, edge: str, step: int, by_token: bool) -> None:
        assert self.view is not None and self.draft is not None
        d = self.draft
        try:
            d.start, d.end = move_edge(self.view, d.start, d.end, edge, step, by_token)
        except ValueError as exc:
            self.say(f"Not moved: {exc}.", error=True)
            return
        self.show()

    def action_edit(self) -> None:
        if self._wait_turn(self.action_edit):
            return
        it = self.current()
        if it is None or self.view is None:
            return
        self.draft = Draft(it.start, it.end, it.label, target=it)
        self.say("Editing: ←/→ start, ⇧←/→ end (ctrl: by a character), 1-9 label, enter saves.")
        self.show()

    def action_save(self) -> None:
        if self._wait_turn(self.action_save):
            return
        d = self.draft
        if d is None or d.target is None or self.view is None:
            return
        t = d.target
        label = d.label or t.label
        if (d.start, d.end, label) == (t.start, t.end, t.label):
            self.say("Nothing changed: escape leaves the edit.")
            return
        # Character moves keep their exact edges; word moves are snapped by the core.
        save = partial(rv.set_span, exact=not self._on_edges(d.start, d.end))
        self._change(save, self.view.document_id, t.key, d.start, d.end, label, self.actor, keep=d.end)
