"""Adjudicate: a reviewer settles a document from its annotators' versions, side by side.

Each annotator's version is one block, the name in that annotator's colour and the spans in their
label's colour; a span not every annotator has is marked (underlined, with a *). Below, the
candidate spans (every span some version has) with who has each, and the draft: what saving
makes the project's annotation of the document. The work is `studio.ops.team.adjudicate`.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from studio.ops.team import adjudicate as adj
from studio.ops.team.metrics import SpanT
from studio.tui.colors import label_color
from studio.tui.dialogs import ConfirmDialog
from studio.tui.screens.base import StudioScreen
from studio.tui.workers import run_op

HELP = """\
[b]Adjudicate[/b]: documents whose annotators have all finished their versions.
Each version is shown with its spans; * marks a span not every annotator has.
The draft starts with the spans everyone has; saving makes it the project's
annotation of the document (a decision by you that links the versions).

  ↑/↓ or j/k   move between candidate spans
  space        take the current span into the draft, or leave it out
  1..9         take annotator N's whole version as the draft
  l            change the current span's label (cycles through the guideline's)
  enter        save the draft for this document
  n            next document without saving
  A            accept every document where all versions agree (asks first)
  backspace    undo your last adjudication
Boundaries are edited on the command line: studio adjudicate (+ START:END LABEL)."""


class AdjudicateScreen(StudioScreen):
    NAME = "adjudicate"
    HELP = HELP
    PALETTE: ClassVar[list[tuple[str, str]]] = [
        ("save", "save the draft as the project's annotation"),
        ("accept_agreed", "settle in bulk the documents where all annotators agree"),
        ("undo", "undo my last adjudication"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "move(1)", "next span", key_display="↑/↓"),
        Binding("up,k", "move(-1)", "previous span", show=False),
        Binding("space", "toggle", "take/leave"),
        *(Binding(str(i), f"take({i})", "take version", show=i == 1, key_display="1-9") for i in range(1, 10)),
        Binding("l", "relabel", "label"),
        Binding("enter", "save", "Save"),
        Binding("n", "skip", "Next doc"),
        Binding("A", "accept_agreed", "Accept agreed"),
        Binding("backspace", "undo", "Undo"),
        *StudioScreen.BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.case: adj.Case | None = None
        self.candidates: list[SpanT] = []
        self.by: dict[SpanT, list[str]] = {}
        self.draft: set[SpanT] = set()
        self.idx = 0
        self.skipped: set[int] = set()
        self.saved: list[int] = []  # decision ids of this session's adjudications, newest last
        self.labels: list[str] = []
        self.waiting: list[int] = []

    def compose_body(self) -> ComposeResult:
        with Vertical(id="adjudicate"):
            yield Static("", id="adj-info")
            with VerticalScroll(id="adj-body"):
                yield Static("", id="adj-versions")
                yield Static("", id="adj-candidates")
                yield Static("", id="adj-draft")

    # -- loading -------------------------------------------------------------------------
    def reload(self) -> None:
        approved = self.store.approved_guideline()
        self.labels = approved[0].label_names() if approved else []
        waiting = [d for d in adj.queue(self.store) if d not in self.skipped] or adj.queue(self.store)
        self.waiting = waiting
        if not waiting:
            self.case = None
            self.query_one("#adj-info", Static).update(
                Text("Nothing to adjudicate: no document has all its versions finished.", style="bold")
            )
            for wid in ("#adj-versions", "#adj-candidates", "#adj-draft"):
                self.query_one(wid, Static).update("")
            return
        keep = self.case.document_id if self.case is not None and self.case.document_id in waiting else None
        if keep is None:
            self.load(waiting[0])
        else:
            self.render_case()

    def load(self, doc_id: int) -> None:
        self.case = adj.case(self.store, doc_id)
        self.candidates = [c.span for c in self.case.candidates]
        self.by = {c.span: list(c.by) for c in self.case.candidates}
        self.draft = set(self.case.agreed)
        self.idx = 0
        self.render_case()

    # -- drawing -------------------------------------------------------------------------
    def render_case(self) -> None:
        c = self.case
        if c is None:
            return
        names = sorted(c.versions)
        info = Text(f"doc {c.document_id} · {len(self.waiting)} waiting · versions: ")
        for i, n in enumerate(names, 1):
            info.append(f"{i} {n}", style=f"bold {label_color(n)}")
            info.append("  ")
        info.append("· all agree" if c.all_agree() else f"· {self._differ()} span(s) differ", style="dim")
        self.query_one("#adj-info", Static).update(info)

        blocks = Text()
        for n in names:
            blocks.append(f"{n}\n", style=f"bold {label_color(n)}")
            blocks.append_text(self._marked(c.versions[n].spans, len(names)))
            blocks.append("\n\n")
        self.query_one("#adj-versions", Static).update(blocks)

        rows = Text()
        for i, span in enumerate(self.candidates):
            s, e, lab = span
            current = i == self.idx
            mark = "[x]" if span in self.draft else "[ ]"
            star = " " if len(self.by.get(span, [])) == len(names) else "*"
            line = Text(f"{'>' if current else ' '} {mark}{star} {i + 1:>2} ", style="reverse" if current else "")
            line.append(f"{lab:<10}", style=f"bold {label_color(lab)}")
            line.append(f" {c.text[s:e]!r} [{s}:{e}]  ")
            for n in self.by.get(span, []) or ["(edit)"]:
                line.append(f"{n} ", style=label_color(n) if n in c.versions else "italic")
            rows.append_text(line)
            rows.append("\n")
        self.query_one("#adj-candidates", Static).update(rows)

        draft = Text("draft: ", style="bold")
        draft.append_text(self._marked(sorted(self.draft), 0))
        self.query_one("#adj-draft", Static).update(draft)

    def _differ(self) -> int:
        n = len(self.case.versions) if self.case else 0
        return sum(1 for s in self.candidates if len(self.by.get(s, [])) != n)

    def _marked(self, spans: list[SpanT], n_versions: int) -> Text:
        """The text with `spans` in label colours; with n_versions, those not everyone has underlined and starred."""
        assert self.case is not None
        text = self.case.text
        out = Text()
        pos = 0
        for s, e, lab in sorted(spans):
            if s < pos:
                continue  # overlapping spans: the first one is drawn
            out.append(text[pos:s])
            differs = n_versions and len(self.by.get((s, e, lab), [])) != n_versions
            style = f"black on {label_color(lab)}" + (" underline" if differs else "")
            out.append(f"[{text[s:e]}]", style=style)
            out.append(("*" if differs else "") + lab, style=f"bold {label_color(lab)}")
            pos = e
        out.append(text[pos:])
        return out

    # -- actions -------------------------------------------------------------------------
    def action_move(self, step: int) -> None:
        if self.candidates:
            self.idx = (self.idx + step) % len(self.candidates)
            self.render_case()

    def action_toggle(self) -> None:
        if not self.candidates:
            return
        span = self.candidates[self.idx]
        self.draft ^= {span}
        self.render_case()

    def action_take(self, number: int) -> None:
        if self.case is None:
            return
        names = sorted(self.case.versions)
        if not 1 <= number <= len(names):
            self.say(f"there is no version {number}: the versions are 1-{len(names)}", error=True)
            return
        self.draft = set(self.case.versions[names[number - 1]].spans)
        self.say(f"draft = {names[number - 1]}'s version; enter saves it")
        self.render_case()

    def action_relabel(self) -> None:
        if not self.candidates or not self.labels:
            return
        s, e, lab = self.candidates[self.idx]
        new = (
            s,
            e,
            self.labels[(self.labels.index(lab) + 1) % len(self.labels)] if lab in self.labels else self.labels[0],
        )
        if new not in self.candidates:
            self.candidates.insert(self.idx + 1, new)
        self.draft.discard((s, e, lab))
        self.draft.add(new)
        self.idx = self.candidates.index(new)
        self.render_case()

    def action_save(self) -> None:
        if self.case is None:
            return
        try:
            d = adj.settle(self.store, self.actor, self.case.document_id, sorted(self.draft))
        except Exception as exc:  # a clear message on the status line; nothing was written
            self.fail(exc)
            return
        self.saved.append(int(d.id or 0))
        self.say(f"doc {self.case.document_id}: saved {len(self.draft)} span(s) ({d.payload['method']})")
        self.case = None
        self.reload()

    def action_skip(self) -> None:
        if self.case is not None:
            self.skipped.add(self.case.document_id)
            self.case = None
            self.reload()

    def action_undo(self) -> None:
        if not self.saved:
            self.say("nothing to undo in this session")
            return
        decision = self.saved.pop()
        row = self.store.conn.execute(
            "SELECT json_extract(payload, '$.document_id') FROM decisions WHERE id = ?", (decision,)
        ).fetchone()
        doc = int(row[0]) if row and row[0] is not None else 0
        self.store.undo(decision, self.actor)
        self.say(f"undone: document {doc} waits for adjudication again")
        self.skipped.discard(doc)
        self.case = None
        self.reload()
        if doc in self.waiting:
            self.load(doc)

    def action_accept_agreed(self) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                self.say("accepting the documents where all versions agree...")
                self.accept_agreed()

        self.app.push_screen(
            ConfirmDialog("Accept every finished document where all annotators' versions are the same?", "Accept"),
            answer,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="adjudicate")
    def accept_agreed(self) -> None:
        result = run_op(self, "adjudicate_agreed", {})
        self.app.call_from_thread(self._accepted, result.summary())

    def _accepted(self, message: str) -> None:
        self.say(message)
        self.case = None
        self.reload()
