"""Label review: a whole document at a time, with all its proposals and approved spans.

The person moves between spans (tab), accepts, rejects or relabels them, adds what the model
missed by selecting words, and marks the document done. Each key is one call in
`studio.tui.review_calls` (one core function); this module only keeps the screen's place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from studio.errors import StudioError
from studio.schema import Decision, Span
from studio.tui import review_calls as core
from studio.tui.colors import label_color
from studio.tui.pager import Cursor, ReviewPager
from studio.tui.review_calls import DocView, Item
from studio.tui.screens.base import StudioScreen
from studio.tui.widgets.document import Mark, render_document
from studio.tui.widgets.nav import SCREENS

HELP = """\
[b]Label review[/b]: one whole document at a time, with its pending proposals
(underlined) and approved spans (coloured background); the current span is reversed.

  tab / shift+tab  next / previous span
  a                accept the current proposal
  x                reject it (on an approved span: remove it)
  A                accept all proposals still pending on this document
  1..9             relabel the current span (the numbers are on screen)
  e                edit the current span's boundaries; in edit mode
    ←/→              move the start by a word   (ctrl: by a character)
    shift+←/→        move the end by a word     (ctrl+shift: by a character)
    1..9             change the label
    enter            save (the span's text is shown before)
    escape           leave without saving
Add what the model missed:
  ←/→              word cursor: select the word before / after
  shift+←/→        extend the selection by a word
  ctrl+←/→ …       fine-tune by a character, as in edit mode
  1..9             label the selection (the selection's text is shown first)
  escape           clear the selection
The document:
  d                done: every proposal decided, every entity labelled
                   (refused while proposals are pending)
  n                next document, leaving this one as it is
  u                undo your last decision here (a new decision; reopens a done one)
  g then 1-8       go to another screen (the number keys here are labels)
  ?                this help

A selection snaps to whole words; an edit or an add that does not fit the
text is refused with a message and nothing is saved."""


@dataclass
class Draft:
    """A span being made: a selection (target None) or an edit of `target`."""

    start: int
    end: int
    label: str | None = None
    target: Item | None = None
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
        ("edit", "edit the current span's boundaries or label"),
        ("undo", "undo my last review decision"),
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
        Binding("u", "undo", "undo"),
        Binding("left", "word(-1)", "select", key_display="←→"),
        Binding("right", "word(1)", "select", show=False),
        Binding("shift+left", "extend(-1)", "extend", key_display="⇧←→"),
        Binding("shift+right", "extend(1)", "extend", show=False),
        Binding("ctrl+left", "char('start', -1)", "start by a character", show=False),
        Binding("ctrl+right", "char('start', 1)", "start by a character", show=False),
        Binding("ctrl+shift+left", "char('end', -1)", "end by a character", show=False),
        Binding("ctrl+shift+right", "char('end', 1)", "end by a character", show=False),
        Binding("e", "edit", "edit"),
        Binding("enter", "save", "save"),
        Binding("escape", "clear", "clear"),
        Binding("n", "next_document", "next document", show=False),
        Binding("backspace", "undo", "undo", show=False),
        Binding("g", "goto_prefix", "go to screen", show=False),
        *StudioScreen.BINDINGS,
    ]

    class TokensRead(Message):
        def __init__(self, doc_id: int, tokens: list[tuple[int, int]]) -> None:
            super().__init__()
            self.doc_id = doc_id
            self.tokens = tokens

    def __init__(self) -> None:
        super().__init__()
        self.pager: ReviewPager | None = None
        self.cursor: Cursor | None = None
        self.view: DocView | None = None
        self.cur: int | None = None  # index into view.items
        self.draft: Draft | None = None
        self.history: list[tuple[list[int], int, str]] = []  # (decision ids, document id, what)
        self.pending_total = 0
        self.labels: list[str] = []
        self.lang = "en"
        self.goto_armed = False
        self.token_cache: dict[int, list[tuple[int, int]]] = {}

    def compose_body(self) -> ComposeResult:
        with Vertical(id="review"):
            yield Static("", id="review-info")
            yield Static("", id="review-labels")
            yield Static("", id="review-doc")
            yield Static("", id="review-edit")

    # -- loading -------------------------------------------------------------------------
    def reload(self) -> None:
        self.pager = ReviewPager(self.store)
        self.pending_total = self.pager.pending_count()
        approved = self.store.approved_guideline()
        self.labels = approved[0].label_names() if approved else []
        self.lang = (getattr(approved[0], "language", None) or "en") if approved else "en"
        if self.view is not None and self.cursor is not None:
            self.open_document(self.cursor, keep=self._current_start())
        else:
            self.next_document()

    def open_document(self, cursor: Cursor, keep: int | None = None, select: int | None = None) -> None:
        """Read the document's spans again (after any decision) and pick the current span."""
        self.cursor = cursor
        self.view = core.document_view(self.store, cursor.doc_id, self._pending(cursor.doc_id))
        self.view.tokens = self.token_cache.get(cursor.doc_id)
        if self.view.tokens is None:
            self.read_tokens(cursor.doc_id, self.view.text, self.lang)
        for it in self.view.items:  # labels the guideline does not name yet can still be kept
            if it.label not in self.labels and it.label != "?":
                self.labels.append(it.label)
        self.draft = None
        self.cur = self._pick(keep, select)
        self.show()

    def _pending(self, doc_id: int) -> list:
        assert self.pager is not None
        return self.pager.pending(doc_id)

    def _pick(self, keep: int | None, select: int | None) -> int | None:
        """The span to make current: `select` (a proposal id), else the first pending one at or
        after `keep` (a character offset), else the first pending one, else the first span."""
        assert self.view is not None
        items = self.view.items
        for i, it in enumerate(items):
            if select is not None and it.pid == select:
                return i
        if keep is not None:
            for i, it in enumerate(items):
                if it.kind == "pending" and it.start >= keep:
                    return i
        for i, it in enumerate(items):
            if it.kind == "pending":
                return i
        return 0 if items else None

    def next_document(self) -> None:
        assert self.pager is not None
        nxt = self.pager.next_document(self.cursor)
        if nxt is None and self.cursor is not None:
            nxt = self.pager.next_document(None)
            if nxt is not None and nxt.doc_id != self.cursor.doc_id:
                self.say("End of the queue: back to the first document with pending proposals.")
        if nxt is None:
            self.cursor, self.view, self.cur, self.draft = None, None, None, None
            self.show()
            return
        self.open_document(nxt)

    @work(thread=True, exclusive=True, exit_on_error=False, group="tokens")
    def read_tokens(self, doc_id: int, text: str, lang: str) -> None:
        self.post_message(self.TokensRead(doc_id, core.document_tokens(text, lang)))

    def on_review_screen_tokens_read(self, message: TokensRead) -> None:
        self.token_cache = {message.doc_id: message.tokens}
        if self.view is not None and self.view.doc_id == message.doc_id:
            self.view.tokens = message.tokens

    def current(self) -> Item | None:
        if self.view is None or self.cur is None or not 0 <= self.cur < len(self.view.items):
            return None
        return self.view.items[self.cur]

    def _current_start(self) -> int | None:
        it = self.current()
        return it.start if it else None

    # -- drawing -------------------------------------------------------------------------
    def show(self) -> None:
        info = self.query_one("#review-info", Static)
        legend = self.query_one("#review-labels", Static)
        body = self.query_one("#review-doc", Static)
        edit = self.query_one("#review-edit", Static)
        v = self.view
        if v is None:
            info.update(Text("Nothing to review: no pending span proposals.", style="bold"))
            legend.update("")
            body.update("Propose weak labeling on the Agent screen (3), or run `studio label`.")
            edit.update("")
            self.refresh_bindings()
            return
        info.update(self._info(v))
        legend.update(self._legend())
        marks = [Mark(i.start, i.end, i.label, i.kind) for i in v.items]
        it, d = self.current(), self.draft
        if d is not None:
            marks.append(Mark(d.start, d.end, d.label or "", "selection"))
        elif it is not None:
            marks.append(Mark(it.start, it.end, it.label, "current"))
        focus = (d.start, d.end) if d else (it.start, it.end) if it else None
        body.update(render_document(v.text, marks, focus=focus))
        edit.update(self._draft_line(v, d) if d else self._item_line(it))
        self.refresh_bindings()

    def _info(self, v: DocView) -> Text:
        n = len(v.pending)
        t = Text()
        t.append(f"doc {v.doc_id} ", style="bold")
        style = {"complete": "bold green", "withdrawn": "bold red"}.get(v.status, "bold yellow")
        t.append(f" {v.status} ", style=f"reverse {style}")
        t.append(f"  {n} pending here · {len(v.items) - n} approved · {self.pending_total:,} pending in all")
        if self.cursor is not None and self.cursor.ranked is not None:
            t.append(f" · query rank {self.cursor.ranked + 1}", style="dim")
        return t

    def _legend(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        if self.goto_armed:
            t.append("go to: ", style="bold")
            for _name, key, title in SCREENS:
                t.append(f"{key} {title}  ")
            return t
        it = self.current()
        chosen = self.draft.label if self.draft and self.draft.label else it.label if it and not self.draft else None
        for i, lab in enumerate(self.labels[:9], 1):
            colour = label_color(lab)
            t.append(f"{i} {lab}", style=f"bold black on {colour}" if lab == chosen else colour)
            t.append("  ")
        return t

    def _item_line(self, it: Item | None) -> Text:
        if it is None:
            return Text("No spans yet: ←/→ selects a word, a number labels it; d marks the document done.", style="dim")
        t = Text()
        t.append(f" {it.label} ", style=f"bold black on {label_color(it.label)}")
        t.append(f" {it.kind} ", style="bold" if it.kind == "pending" else "bold green")
        t.append(f"[{it.start}:{it.end}] {self.view.text[it.start : it.end]!r}" if self.view else "")
        p = it.proposal
        if p is not None and p.payload.get("synthetic"):
            # written by the model with its annotation (studio synth): no confidence to show
            t.append("  synthetic sentence ", style="bold yellow")
            t.append(f"{p.source or 'synth'}: is it plausible, and the span right?")
        elif p is not None:
            sources = p.payload.get("sources") or {}
            src = " · ".join(f"{k} {float(s):.2f}" for k, s in sources.items()) or p.source or ""
            t.append(f"  confidence {p.confidence if p.confidence is not None else 0:.2f}  ", style="bold")
            t.append(src, style="dim")
        return t

    def _draft_line(self, v: DocView, d: Draft) -> Text:
        t = Text()
        t.append("editing " if d.target else "selected ", style="bold")
        t.append(f"[{d.start}:{d.end}] ")
        t.append(repr(v.text[d.start : d.end]), style="bold")
        if d.target is not None:
            t.append(f" as {d.label}: enter saves, escape leaves", style="dim")
        else:
            t.append(f" · 1-{min(9, len(self.labels))} labels it, escape clears", style="dim")
        return t

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
        if self.view and self.view.items:
            self._move_to(0 if self.cur is None else (self.cur + 1) % len(self.view.items))

    def action_prev_span(self) -> None:
        if self.view and self.view.items:
            self._move_to(len(self.view.items) - 1 if self.cur is None else (self.cur - 1) % len(self.view.items))

    def action_next_document(self) -> None:
        self.draft = None
        self.next_document()

    def action_clear(self) -> None:
        if self.goto_armed:
            self.goto_armed = False
        elif self.draft is not None:
            self.say("Edit left, nothing saved." if self.draft.target else "Selection cleared.")
            self.draft = None
        self.show()

    def action_goto_prefix(self) -> None:
        self.goto_armed = True
        self.say("Go to which screen? Press its number (escape stays here).")
        self.show()

    # -- decisions -----------------------------------------------------------------------
    def _decided(self, decisions: list[Decision], what: str, keep: int | None) -> None:
        assert self.view is not None and self.cursor is not None
        self.history.append(([int(d.id or 0) for d in decisions], self.view.doc_id, what))
        self.pending_total = self.pager.pending_count() if self.pager else 0
        self.say(what)
        self.open_document(self.cursor, keep=keep)

    def _refused(self, exc: StudioError | ValueError, what: str) -> None:
        """Refused by the core, or changed elsewhere (another window, the CLI): say so, read it again."""
        self.say(f"{what}: {exc}", error=True)

    def action_accept(self) -> None:
        it = self.current()
        if it is None or self.draft is not None:
            return
        if it.kind != "pending":
            self.say("This span is approved already: tab moves to the next one.")
            return
        try:
            d = core.accept(self.store, it, self.actor)
        except (StudioError, ValueError) as exc:
            self._refused(exc, "Not accepted")
            self._reread()
            return
        self._decided([d], f"accepted {it.label} {self.view.text[it.start : it.end]!r}" if self.view else "", it.end)

    def action_reject(self) -> None:
        it = self.current()
        if it is None or self.draft is not None:
            return
        try:
            d = core.reject(self.store, it, self.actor)
        except (StudioError, ValueError) as exc:
            self._refused(exc, "Not rejected")
            self._reread()
            return
        verb = "rejected" if it.kind == "pending" else "removed"
        self._decided([d], f"{verb} {it.label} {self.view.text[it.start : it.end]!r}" if self.view else "", it.start)

    def action_accept_all(self) -> None:
        if self.view is None:
            return
        if not self.view.pending:
            self.say("Nothing pending on this document: d marks it done.")
            return
        try:
            ds = core.accept_all(self.store, self.view.doc_id, self.actor)
        except (StudioError, ValueError) as exc:
            self._refused(exc, "Not accepted")
            self._reread()
            return
        self._decided(ds, f"accepted all {len(ds)} pending on doc {self.view.doc_id}; d marks it done", None)

    def action_done(self) -> None:
        if self.view is None:
            return
        v = self.view
        if v.pending:
            n = len(v.pending)
            self.say(
                f"Not done: {n} proposal{'s' if n != 1 else ''} still pending here. "
                "Accept (a, A for all) or reject (x) them first.",
                error=True,
            )
            return
        try:
            d = core.complete(self.store, v.doc_id, self.actor)
        except (StudioError, ValueError) as exc:
            self._refused(exc, "Not done")
            return
        self.history.append(([int(d.id or 0)], v.doc_id, f"doc {v.doc_id} done"))
        self.say(f"doc {v.doc_id} done ({len(v.items)} spans); u reopens it")
        self.next_document()
        if self.view is None or self.view.doc_id == v.doc_id:
            # nothing else pending: stay on the finished document so the person sees it
            self.cursor = self.pager.cursor_of(v.doc_id) if self.pager else None
            if self.cursor is not None:
                self.open_document(self.cursor)
            self.say(f"doc {v.doc_id} done; no other document has pending proposals. u reopens it.")

    def action_undo(self) -> None:
        if not self.history:
            self.say("Nothing to undo in this session.")
            return
        ids, doc_id, what = self.history.pop()
        try:
            for decision_id in reversed(ids):
                core.undo(self.store, decision_id, self.actor)
        except StudioError as exc:
            self.say(str(exc), error=True)
            return
        assert self.pager is not None
        self.pending_total = self.pager.pending_count()
        self.say(f"undid: {what}")
        self.open_document(self.pager.cursor_of(doc_id), keep=None)

    def _reread(self) -> None:
        if self.cursor is not None:
            keep = self._current_start()
            self.pending_total = self.pager.pending_count() if self.pager else 0
            self.open_document(self.cursor, keep=keep)

    # -- numbers: label a selection, set an edit's label, relabel the current span ---------
    def action_number(self, n: int) -> None:
        if self.goto_armed:
            self.goto_armed = False
            self.app.action_goto(SCREENS[n - 1][0])  # type: ignore[attr-defined]
            return
        if self.view is None or not 1 <= n <= len(self.labels):
            return
        label = self.labels[n - 1]
        d, it = self.draft, self.current()
        if d is not None and d.target is not None:
            d.label = label
            self.show()
        elif d is not None:
            self._add(Span(start=d.start, end=d.end, label=label))
        elif it is not None:
            if it.label == label:
                self.say(f"It is {label} already.")
                return
            self._save_edit(it, Span(start=it.start, end=it.end, label=label))

    def _add(self, span: Span) -> None:
        assert self.view is not None
        try:
            dec = core.add_span(self.store, self.view.doc_id, span, self.actor)
        except (StudioError, ValueError) as exc:
            self.say(f"Not added: {exc}", error=True)
            return
        self._decided([dec], f"added {span.label} {self.view.text[span.start : span.end]!r}", None)
        self.cur = next((i for i, x in enumerate(self.view.items) if (x.start, x.end) == (span.start, span.end)), None)
        self.show()

    def _save_edit(self, it: Item, span: Span) -> None:
        assert self.view is not None
        try:
            decs = core.edit(self.store, it, span, self.actor)
        except (StudioError, ValueError) as exc:
            self.say(f"Edit refused: {exc}", error=True)
            return
        self.draft = None
        self._decided(decs, f"saved {span.label} {self.view.text[span.start : span.end]!r}", span.end)

    # -- the word cursor, selections and edits ---------------------------------------------
    def _tokens(self) -> list[tuple[int, int]] | None:
        if self.view is None:
            return None
        if self.view.tokens is None:
            self.say("Reading the document's words… try again in a moment.")
            return None
        if not self.view.tokens:
            self.say("This document has no words to select.")
            return None
        return self.view.tokens

    def _token_at(self, pos: int) -> int:
        toks = self.view.tokens if self.view and self.view.tokens else []
        for i, (_s, e) in enumerate(toks):
            if e > pos:
                return i
        return max(0, len(toks) - 1)

    def _select(self, anchor: int, caret: int) -> None:
        toks = self.view.tokens if self.view and self.view.tokens else []
        lo, hi = min(anchor, caret), max(anchor, caret)
        self.draft = Draft(toks[lo][0], toks[hi][1], anchor=anchor, caret=caret)

    def action_word(self, step: int) -> None:
        toks = self._tokens()
        if toks is None:
            return
        d, it = self.draft, self.current()
        if d is not None and d.target is not None:
            self._move_edge("start", step, by_token=True)
            return
        if d is None:
            # start at the current span (or the top), selecting the word there
            i = self._token_at(it.start if it else 0)
            self._select(i, i)
        else:
            i = min(max(0, d.caret + step), len(toks) - 1)
            self._select(i, i)
        self.show()

    def action_extend(self, step: int) -> None:
        toks = self._tokens()
        if toks is None:
            return
        d, it = self.draft, self.current()
        if d is not None and d.target is not None:
            self._move_edge("end", step, by_token=True)
            return
        if d is None:
            i = self._token_at(it.start if it else 0)
            self._select(i, i)
        else:
            caret = d.caret + step
            if not 0 <= caret < len(toks):
                self.say("The selection cannot go past the edge of the document.", error=True)
                return
            self._select(d.anchor, caret)
        self.show()

    def action_char(self, edge: str, step: int) -> None:
        if self.draft is None:
            it = self.current()
            if it is None:
                return
            self.action_edit()
        self._move_edge(edge, step, by_token=False)

    def _move_edge(self, edge: str, step: int, by_token: bool) -> None:
        assert self.view is not None and self.draft is not None
        d = self.draft
        toks = self.view.tokens or []
        try:
            start, end = core.move_edge(self.view.text, toks, d.start, d.end, edge, step, by_token)
        except ValueError as exc:
            self.say(f"Not moved: {exc}", error=True)
            return
        d.start, d.end = start, end
        self.show()

    def action_edit(self) -> None:
        it = self.current()
        if it is None or self.view is None:
            return
        self.draft = Draft(it.start, it.end, it.label, target=it)
        self.say("Editing: ←/→ the start, shift+←/→ the end (ctrl: by a character), a number the label.")
        self.show()

    def action_save(self) -> None:
        d = self.draft
        if d is None or d.target is None:
            return
        span = Span(start=d.start, end=d.end, label=d.label or d.target.label)
        if (span.start, span.end, span.label) == (d.target.start, d.target.end, d.target.label):
            self.say("Nothing changed: escape leaves the edit.")
            return
        self._save_edit(d.target, span)
