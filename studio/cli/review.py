"""Headless review on the terminal: whole documents (default) or one proposal at a time."""

from __future__ import annotations

import sys
from typing import TextIO

import click

from studio.cli.common import Ctx, emit_json, json_option, pass_ctx
from studio.errors import InvalidState, StudioError
from studio.ops import review as rv
from studio.ops.review import protocol as proto
from studio.ops.review.document import Change, DocumentView, ViewSpan
from studio.store import Store


def _show(text: str, span: dict, width: int = 70) -> str:
    s, e = span["start"], span["end"]
    left = text[max(0, s - width) : s].replace("\n", " ")
    right = text[e : e + width].replace("\n", " ")
    return f"...{left}" + click.style(f"[{text[s:e]}]", bold=True, fg="yellow") + f"{right}..."


REVIEW_HELP = f"""Review documents: finish each one (accept, reject, add what the model missed, done).

\b
Each open document is shown whole: its text, its approved spans and its pending proposals,
numbered in reading order. Commands are read one per line from the terminal or a pipe, so a
script can drive the review; every change is a decision in the log and undo is a new decision.
Documents come in the order of the latest `studio query`, then by id; a document is finished
with `d`, which is refused while proposals on it are pending.

\b
{proto.HELP}

\b
Examples:
  studio review                      # every open document
  studio review --doc 12             # just document 12
  printf 'A\\n+ "Tim Cook" PERSON\\nd\\nq\\n' | studio review --pending-only
  studio review --per-proposal       # the older one-proposal-at-a-time review
"""


@click.command(help=REVIEW_HELP)
@click.option("--doc", "doc_id", type=int, default=None, help="Review this document only.")
@click.option("--pending-only", is_flag=True, help="Only documents with pending proposals.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=None, help="Stop after N documents (or proposals).")
@click.option(
    "--per-proposal",
    is_flag=True,
    help="One proposal at a time: [a]ccept, [x] reject, [e]dit, [s]kip, [u]ndo, [q]uit (no document view).",
)
@click.option(
    "--min-confidence",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="With --per-proposal: skip proposals below this confidence (synthetic sentences have none and are shown).",
)
@pass_ctx
def review(
    c: Ctx, doc_id: int | None, pending_only: bool, limit: int | None, per_proposal: bool, min_confidence: float
) -> None:
    store = c.store()
    stdin = click.get_text_stream("stdin")
    if per_proposal:
        _review_proposals(store, c.actor, limit, min_confidence, stdin)
    else:
        DocumentReview(store, c.actor, stdin, pending_only=pending_only).run(doc_id, limit)


# -- document review ---------------------------------------------------------------------------
class DocumentReview:
    """The loop behind `studio review`: reads commands, calls studio.ops.review, prints results."""

    def __init__(self, store: Store, actor: str, stdin: TextIO, pending_only: bool = False) -> None:

        self.store = store
        self.actor = actor
        self.stdin = stdin
        self.queue = rv.DocumentQueue(store, pending_only=pending_only, actor=actor)
        self.done: list[Change] = []  # Changes, newest last (undo pops them, across documents)
        self.finished = 0
        self.doc_id = 0
        self.cur = 0
        self.view: DocumentView | None = None

    def readline(self, prompt: str = "> ") -> str | None:
        click.echo(prompt, nl=False)
        sys.stdout.flush()
        line = self.stdin.readline()
        if not line:
            click.echo("")
            return None
        return line.rstrip("\n")

    def run(self, only: int | None, limit: int | None) -> None:
        doc_id = only if only is not None else self.queue.next_document()
        if doc_id is None:
            click.echo("No open documents to review.")
            return
        explicit = only is not None
        while doc_id is not None:
            nxt = self.review_document(doc_id, explicit=explicit)
            if nxt == "quit":
                break
            if isinstance(nxt, int):  # undo went back to an earlier document
                doc_id, explicit = nxt, True
                continue
            explicit = False
            if limit and self.finished >= limit:
                break
            doc_id = None if only is not None else self.queue.next_document(doc_id)
            if doc_id is None and only is None:
                click.echo("No more open documents.")
        click.echo(f"Finished {self.finished} document(s); {len(self.done)} change(s) this session.")

    # one document; returns "next", "quit" or a document id to go to
    def review_document(self, doc_id: int, explicit: bool = False) -> str | int:

        self.doc_id, self.cur = doc_id, 0
        self.view = rv.document_view(self.store, doc_id, self.actor)
        if self.view.status in ("complete", "withdrawn") and not explicit:
            click.echo(f"document {doc_id} is {self.view.status} (finished elsewhere); skipped")
            return "next"
        self.render()
        while True:
            line = self.readline()
            if line is None:
                return "quit"
            try:
                cmd = proto.parse_command(line)
            except proto.ProtocolError as exc:
                click.echo(f"  {exc}")
                if line.strip() and "unknown command" in str(exc):
                    click.echo(proto.HELP)
                continue
            try:
                outcome = self.apply(cmd)
            except StudioError as exc:
                click.echo(f"  ! {exc}")
                self.refresh()
                continue
            if outcome is not None:
                return outcome

    def refresh(self, key: str | None = None) -> None:

        old = self.items()[self.cur].key if self.items() and self.cur < len(self.items()) else None
        self.view = rv.document_view(self.store, self.doc_id, self.actor)
        items = self.items()
        want = key or old
        keys = [v.key for v in items]
        if want in keys:
            self.cur = keys.index(want)
        else:
            self.cur = min(self.cur, max(len(items) - 1, 0))

    def items(self) -> list[ViewSpan]:
        return self.view.spans if self.view is not None else []

    def current(self) -> ViewSpan:
        items = self.items()
        if not items:
            raise StudioError('this document has no spans yet: add one with + START:END LABEL or + "text" LABEL')
        return items[self.cur]

    def advance_to_pending(self) -> None:
        """After a decision: the next pending proposal after the cursor, else the first, else stay."""
        items = self.items()
        order = list(range(self.cur, len(items))) + list(range(0, self.cur))
        for i in order:
            if items[i].kind == "proposal":
                self.cur = i
                return

    def record(self, change: Change) -> None:
        self.done.append(change)
        click.echo(f"  {change.message}")

    def apply(self, cmd: proto.Command) -> str | int | None:

        n = cmd.name
        if n == "help":
            click.echo(proto.HELP)
        elif n == "quit":
            return "quit"
        elif n == "view":
            self.refresh()
            self.render()
        elif n == "tokens":
            # the words s+1 / e-1 move by (Korean: Kiwi's words, not the alignment's syllables)
            click.echo("  " + "  ".join(f"{t.start}:{t.end} {t.text}" for t in self.view.words))
        elif n in ("next", "prev", "goto"):
            items = self.items()
            if not items:
                raise StudioError("this document has no spans to move between")
            if n == "goto":
                if not 1 <= (cmd.number or 0) <= len(items):
                    raise StudioError(f"there is no span {cmd.number}: the spans are numbered 1-{len(items)}")
                self.cur = (cmd.number or 1) - 1
            else:
                self.cur = (self.cur + (1 if n == "next" else -1)) % len(items)
            click.echo(self.line(self.cur))
        elif n == "accept":
            self.record(rv.accept(self.store, self.doc_id, self._proposal_key(), self.actor))
            self.refresh()
            self.advance_to_pending()
            self.show_after()
        elif n == "reject":
            self.record(rv.reject(self.store, self.doc_id, self.current().key, self.actor, cmd.reason))
            self.refresh()
            self.advance_to_pending()
            self.show_after()
        elif n == "accept_all":
            self.record(rv.accept_all(self.store, self.doc_id, self.actor))
            self.refresh()
            self.show_after()
        elif n in ("relabel", "relabel_n"):
            label = cmd.label
            if n == "relabel_n":
                labels = self.view.labels or rv.guideline_labels(self.store)
                if not 1 <= (cmd.number or 0) <= len(labels):
                    raise StudioError(f"label {cmd.number} does not exist: " + _numbered(labels))
                label = labels[(cmd.number or 1) - 1]
            ch = rv.relabel(self.store, self.doc_id, self.current().key, label, self.actor)
            self.record(ch)
            self.refresh(_key_of(ch))
            self.advance_to_pending()
            self.show_after()
        elif n == "move":
            ch = rv.move_boundary(
                self.store, self.doc_id, self.current().key, cmd.edge, cmd.delta, self.actor, cmd.unit
            )
            self.record(ch)
            self.refresh(_key_of(ch))
            self.show_after()
        elif n == "add_range":
            self.add_range(cmd)
        elif n == "add_text":
            self.add_text(cmd)
        elif n == "done":
            self.record(rv.complete(self.store, self.doc_id, self.actor))
            self.finished += 1
            return "next"
        elif n == "undo":
            return self.undo()
        elif n == "reopen":
            self.record(rv.reopen(self.store, self.doc_id, self.actor))
            self.refresh()
        elif n == "withdraw":
            self.record(rv.withdraw(self.store, self.doc_id, self.actor, cmd.reason))
            return "next"
        elif n == "skip":
            return "next"
        return None

    def _proposal_key(self) -> str:
        v = self.current()
        if v.kind != "proposal":
            raise StudioError(f"span {self.cur + 1} is already approved; n/p moves to another span")
        return v.key

    def add_range(self, cmd: proto.Command) -> None:

        chk = rv.check_span(self.store, self.doc_id, cmd.start or 0, cmd.end or 0, cmd.label, view=self.view)
        if chk.snapped:
            given = self.view.text[chk.given[0] : chk.given[1]]
            click.echo(f'  {chk.note()}: {chk.span.label} "{chk.text}" (you gave "{given}")')
            answer = (self.readline(f'  save it? [y: as snapped / e: exactly "{given}" / n] ') or "").strip().lower()
            if answer not in ("y", "yes", "e", "exact"):
                click.echo("  not saved")
                return
            exact = answer in ("e", "exact")
        else:
            exact = False
        self._added(rv.add_span(self.store, self.doc_id, cmd.start or 0, cmd.end or 0, cmd.label, self.actor, exact))

    def add_text(self, cmd: proto.Command) -> None:

        try:
            ch = rv.add_text(self.store, self.doc_id, cmd.text, cmd.label, self.actor, cmd.number)
        except rv.AmbiguousText as exc:
            if cmd.number is not None:
                raise
            click.echo(f"  {exc}")
            answer = (self.readline(f"  which one? [1-{len(exc.occurrences)}, empty to cancel] ") or "").strip()
            if not answer.isdigit() or not 1 <= int(answer) <= len(exc.occurrences):
                click.echo("  not saved")
                return
            ch = rv.add_text(self.store, self.doc_id, cmd.text, cmd.label, self.actor, int(answer))
        self._added(ch)

    def _added(self, ch: Change) -> None:
        self.record(ch)
        self.refresh(_key_of(ch))
        self.show_after()

    def undo(self) -> str | int | None:

        if not self.done:
            raise StudioError("nothing to undo in this session")
        change = self.done.pop()
        ch = rv.undo(self.store, change, self.actor)
        click.echo(f"  {ch.message}")
        if change.action in ("complete", "withdraw"):
            self.finished -= change.action == "complete"
        if change.document_id != self.doc_id:
            return change.document_id
        self.refresh()
        self.show_after()
        return None

    # -- output ----------------------------------------------------------------------------
    def render(self) -> None:
        v = self.view
        left = self.queue.remaining()
        click.echo("")
        click.echo(click.style(f"── document {v.document_id} · {v.status} · {len(v.pending)} pending, "
                               f"{len(v.approved)} approved · {left} open document(s) ──", bold=True))  # fmt: skip
        click.echo(_inline(v))
        for i in range(len(self.items())):
            click.echo(self.line(i))
        if not self.items():
            click.echo('  (no spans: add what the text holds with + START:END LABEL or + "text" LABEL, then d)')
        click.echo("labels: " + _numbered(v.labels) + "   (? for commands)")

    def line(self, i: int) -> str:
        s = self.items()[i]
        mark = ">" if i == self.cur else " "
        if s.kind == "proposal":
            conf = f" {s.confidence:.2f}" if s.confidence is not None else ""
            what = f"proposal{conf} {s.source}".rstrip() + (" synthetic" if s.synthetic else "")
        else:
            what = "approved"
        return f' {mark}{i + 1:>3} {s.label:<10} [{s.start}:{s.end}] "{s.text}"  {what}'

    def show_after(self) -> None:
        items = self.items()
        pending = sum(1 for s in items if s.kind == "proposal")
        if items:
            click.echo(self.line(self.cur))
        if not pending:
            click.echo("  no pending proposals left: add what is missing (+) or d when the document is done")


def _key_of(change: Change) -> str | None:
    s = change.span
    return None if s is None else f"l:{s.start}:{s.end}:{s.label}"


def _numbered(labels: list[str]) -> str:
    return "  ".join(f"{i} {lab}" for i, lab in enumerate(labels, 1)) or "(no approved guideline)"


def _inline(view: DocumentView) -> str:
    """The text with [brackets]LABEL around approved spans and [brackets]LABEL? around proposals."""
    out, pos = [], 0
    for s in view.spans:
        if s.start < pos:
            continue  # overlaps the previous one: listed below only
        out.append(view.text[pos : s.start])
        tag = s.label + ("?" if s.kind == "proposal" else "")
        style = {"fg": "yellow"} if s.kind == "proposal" else {"fg": "green", "bold": True}
        out.append(click.style(f"[{view.text[s.start : s.end]}]{tag}", **style))
        pos = s.end
    out.append(view.text[pos:])
    return "".join(out)


# -- one proposal at a time --------------------------------------------------------------------
PER_PROPOSAL_KEYS = "a accept · x reject · e edit · s skip · u undo · q quit"


def _review_proposals(store: Store, actor: str, limit: int | None, min_confidence: float, stdin: TextIO) -> None:

    def ask(prompt: str) -> str | None:
        click.echo(prompt, nl=False)
        line = stdin.readline()
        return None if not line else line.strip()

    queue = rv.review_queue(store, actor=actor)
    again: list[int] = []  # proposals whose decision was undone: shown again first
    done: list[tuple[int, int]] = []  # (proposal id, decision id), newest last
    while not limit or len(done) < limit:
        p = store.proposal(again.pop()) if again else next(queue, None)
        if p is None:
            click.echo(f"Reviewed {len(done)}. No more pending proposals.")
            return
        # synthetic sentences have no confidence: the threshold does not hide them
        if p.status != "pending" or (not p.payload.get("synthetic") and (p.confidence or 0) < min_confidence):
            continue
        doc = store.document(int(p.document_id or 0))
        span = p.payload["span"]
        if p.payload.get("synthetic"):
            click.echo(f"\n#{p.id} doc {doc.id}  {span['label']}  synthetic sentence ({p.source}): check it reads true")
        else:
            sources = ", ".join(f"{k} {v:.2f}" for k, v in (p.payload.get("sources") or {}).items())
            click.echo(f"\n#{p.id} doc {doc.id}  {span['label']}  confidence {p.confidence or 0:.2f}  ({sources})")
        click.echo(_show(doc.text, span) + f'   "{doc.text[span["start"] : span["end"]]}"')
        while True:
            line = ask("a/x/e/s/u/q: ")
            if line is None:
                click.echo(f"\nReviewed {len(done)}.")
                return
            key = line[:1]
            try:
                if key == "a":
                    done.append((p.id or 0, store.accept_span(p.id or 0, actor).id or 0))
                elif key == "x":
                    reason = ask("reason (optional): ") or ""
                    done.append((p.id or 0, store.decide(p.id or 0, actor, "reject", reason).id or 0))
                elif key == "e":
                    rng = ask(f"start:end (now {span['start']}:{span['end']}): ") or ""
                    a, sep, b = rng.partition(":")
                    if not (sep and a.strip().isdigit() and b.strip().isdigit()):
                        click.echo(f"  expected START:END with two whole numbers, e.g. {span['start']}:{span['end']}")
                        continue
                    lab = ask(f"label (now {span['label']}): ") or span["label"]
                    ch = rv.set_span(store, doc.id or 0, f"p:{p.id}", int(a), int(b), lab, actor)
                    click.echo(f"  {ch.message}")
                    done.append((p.id or 0, ch.decision_ids[0]))
                elif key == "s":
                    pass
                elif key == "u":
                    if not done:
                        click.echo("  nothing to undo")
                        continue
                    pid, decision_id = done.pop()
                    store.undo(decision_id, actor)
                    click.echo(f"  undone; proposal #{pid} comes back")
                    again += [p.id or 0, pid]  # the undone one first, then this one
                elif key == "q":
                    click.echo(f"Reviewed {len(done)}.")
                    return
                else:
                    click.echo(f"  {'empty answer' if not line else repr(line) + ' is not a key'}: {PER_PROPOSAL_KEYS}")
                    continue
                break
            except InvalidState as exc:
                # decided in another window or session: say so once and move on (never ask again)
                if store.proposal(p.id or 0).status != "pending":
                    click.echo(
                        f"  proposal #{p.id} was decided elsewhere ({store.proposal(p.id or 0).status}); skipped"
                    )
                    break
                click.echo(f"  {exc}")
            except (ValueError, StudioError) as exc:
                click.echo(f"  {exc}")
    click.echo(f"Reviewed {len(done)}.")


@click.command()
@click.argument("doc_ids", nargs=-1, type=int, required=True, metavar="DOC...")
@click.option("--reason", "-m", default="", help="Why (kept in the decision log).")
@json_option
@pass_ctx
def withdraw(c: Ctx, doc_ids: tuple[int, ...], reason: str, as_json: bool) -> None:
    """Withdraw documents: out of review and of every release from now on.

    Nothing is deleted: the document, its labels and the decision stay in the log, and
    `studio undo-withdraw DOC` (an undo, itself a decision) brings it back as it was.
    """
    store = c.store()
    changes = [rv.withdraw(store, d, c.actor, reason) for d in doc_ids]
    if as_json:
        emit_json([ch.model_dump() for ch in changes])
        return
    for ch in changes:
        click.echo(ch.message)


@click.command("undo-withdraw")
@click.argument("doc_ids", nargs=-1, type=int, required=True, metavar="DOC...")
@json_option
@pass_ctx
def undo_withdraw(c: Ctx, doc_ids: tuple[int, ...], as_json: bool) -> None:
    """Bring withdrawn documents back (undo of their newest withdrawal, a new decision)."""
    store = c.store()
    out = []
    for doc_id in doc_ids:
        if rv.document_status(store, doc_id) != "withdrawn":
            raise StudioError(f"document {doc_id} is not withdrawn")
        last = [d for d in store.decisions(action="document.withdraw") if d.payload.get("document_id") == doc_id][-1]
        change = rv.Change(document_id=doc_id, action="withdraw", decision_ids=[int(last.id or 0)],
                           message=f"document {doc_id} withdrawn")  # fmt: skip
        out.append(rv.undo(store, change, c.actor))
    if as_json:
        emit_json([ch.model_dump() for ch in out])
        return
    for ch in out:
        click.echo(ch.message)


COMMANDS = [review, withdraw, undo_withdraw]
