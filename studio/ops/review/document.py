"""Document review: finish one document: its approved spans and pending proposals, every change a decision.

A change is validated before anything is written: the label must be one of the approved
guideline's labels, a span is snapped outward to token edges (the same tokenizer as alignment,
so Korean is split per character), it may not start or end in a space or cross a line break,
and it may not overlap an approved span. The span's text is always returned so a front end can
show it (`check_span` does all of this without saving).

Items of a document are named by a `key`: `p:<proposal id>` for a pending proposal and
`l:<start>:<end>:<label>` for an approved span. Editing a pending proposal (relabel, moved
boundary) approves it as edited, as the per-proposal review always did; editing an approved
span is one `label.change` decision. Adding a span over pending proposals accepts the one with
the same range (relabelled if needed) and rejects the others that overlap, with that reason.

A document's status is `untouched`, `partial` (something decided, not finished), `complete`
(`document.complete` by a person; refused while proposals are pending) or `withdrawn`
(`document.withdraw`: kept in the log, left out of releases). A complete or withdrawn document
is not changed until it is reopened (`document.reopen`, or undo of the decision).

Every function returns a `Change` listing the decisions it recorded; `undo(store, change, actor)`
undoes them all (newest first), each undo a new decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from studio.errors import InvalidState, StudioError
from studio.schema import Span
from studio.store import Store, state, versions

DocStatus = Literal["untouched", "partial", "complete", "withdrawn"]
REPLACED = "replaced by a span the person added"


# -- errors ---------------------------------------------------------------------------------
class ReviewError(StudioError):
    """A review change that cannot be made as asked; the message says what to do instead."""


class LabelNotInGuideline(ReviewError):
    def __init__(self, message: str, labels: Sequence[str]) -> None:
        super().__init__(message)
        self.labels = list(labels)


class BadSpan(ReviewError):
    """A range that is empty, outside the text, only spaces, or across a line break."""


class SpanOverlap(ReviewError):
    def __init__(self, message: str, overlaps: Sequence[ViewSpan]) -> None:
        super().__init__(message)
        self.overlaps = list(overlaps)


class TextNotFound(ReviewError):
    pass


class AmbiguousText(ReviewError):
    def __init__(self, message: str, occurrences: Sequence[tuple[int, int]]) -> None:
        super().__init__(message)
        self.occurrences = list(occurrences)


class PendingProposals(ReviewError):
    def __init__(self, message: str, count: int) -> None:
        super().__init__(message)
        self.count = count


class DocumentLocked(ReviewError):
    """The document is complete or withdrawn: reopen it before changing it."""


# -- the view -------------------------------------------------------------------------------
class Token(BaseModel):
    start: int
    end: int
    text: str


class ViewSpan(BaseModel):
    key: str  # p:<proposal id> or l:<start>:<end>:<label>
    kind: Literal["proposal", "approved"]
    start: int
    end: int
    label: str
    text: str
    proposal_id: int | None = None
    source: str = ""
    confidence: float | None = None
    synthetic: bool = False

    def describe(self) -> str:
        return f'{self.label} [{self.start}:{self.end}] "{self.text}"'


class DocumentView(BaseModel):
    document_id: int
    text: str
    lang: str
    status: DocStatus
    tokens: list[Token]
    words: list[Token] = Field(default_factory=list)  # what word moves go by (`review_words`); the tokens if not given
    approved: list[ViewSpan] = Field(default_factory=list)
    pending: list[ViewSpan] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)  # the approved guideline's labels, in order

    @model_validator(mode="after")
    def _words_default_to_tokens(self) -> DocumentView:
        if not self.words:
            self.words = list(self.tokens)
        return self

    @property
    def spans(self) -> list[ViewSpan]:
        """Approved spans and pending proposals in reading order."""
        return sorted(self.approved + self.pending, key=lambda v: (v.start, v.end, v.kind, v.label))

    def item(self, key: str) -> ViewSpan:
        for v in self.approved + self.pending:
            if v.key == key:
                return v
        raise ReviewError(
            f"document {self.document_id} has no span {key!r} now (it may have been decided elsewhere); "
            "look at the document again"
        )


class SpanCheck(BaseModel):
    """What a span would be if saved: snapped to tokens, with its text and what it overlaps."""

    span: Span
    given: tuple[int, int]
    snapped: bool
    overlaps_approved: list[ViewSpan] = Field(default_factory=list)
    overlaps_pending: list[ViewSpan] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return self.span.text

    def note(self) -> str:
        if not self.snapped:
            return ""
        return f"snapped to token edges: [{self.given[0]}:{self.given[1]}] -> [{self.span.start}:{self.span.end}]"


class Change(BaseModel):
    """What one review command did: the decisions it recorded and a line for the person."""

    document_id: int
    action: str  # accept, reject, remove, add, relabel, move, accept_all, complete, reopen, withdraw, undo
    decision_ids: list[int] = Field(default_factory=list)
    message: str
    span: Span | None = None
    snapped_from: tuple[int, int] | None = None


# -- reading --------------------------------------------------------------------------------
def tokenize(text: str, lang: str) -> list[Token]:
    """Word tokens (no whitespace tokens) with character offsets, as alignment tokenizes."""
    from studio.ops.ner.tokens import get_nlp

    doc = get_nlp(lang).make_doc(text)
    return [Token(start=t.idx, end=t.idx + len(t.text), text=t.text) for t in doc if not t.is_space]


def review_words(text: str, lang: str, tokens: Sequence[Token]) -> list[Token]:
    """The words the Labels screen's word keys move by: each a run of `tokens`, so a word's edges are token edges.

    The alignment tokens are the words, except in Korean, where they are single syllables: there a word is a
    name, a number with its unit, a particle or a verb with its endings, as Kiwi reads the text (`morph.word_cuts`,
    the `korean` extra), and without Kiwi a space-delimited word with its punctuation apart."""
    if not lang.lower().startswith("ko") or not tokens:
        return list(tokens)
    from studio.ops.ner import morph

    cuts = morph.word_cuts(text)
    words: list[Token] = []
    prev: Token | None = None
    for t in tokens:
        joined = (
            prev is not None
            and prev.end == t.start
            and t.start not in cuts
            and prev.text[-1].isalnum()
            and t.text[0].isalnum()
        )
        if joined and words:
            last = words[-1]
            words[-1] = Token(start=last.start, end=t.end, text=text[last.start : t.end])
        else:
            words.append(Token(start=t.start, end=t.end, text=t.text))
        prev = t
    return words


def guideline_labels(store: Store) -> list[str]:
    """The approved guideline's label names; an error saying what to do when there is none."""
    approved = store.approved_guideline()
    if approved is None:
        raise ReviewError(
            "there is no approved guideline, so labels cannot be checked: approve one with "
            "`studio guideline approve`, or write one with `studio guideline new`"
        )
    return approved[0].label_names()


def check_label(labels: Sequence[str], label: str) -> str:
    """The guideline's spelling of `label` (case-insensitive if unambiguous), else a clear error."""
    label = label.strip()
    if label in labels:
        return label
    folded = [lab for lab in labels if lab.casefold() == label.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise LabelNotInGuideline(
        f"{label!r} is not a label of the approved guideline; use one of: {', '.join(labels)}", labels
    )


def document_status(store: Store, doc_id: int, actor: str | None = None) -> DocStatus:
    who = versions.annotator_for(store.conn, doc_id, actor)  # in a team project: the annotator's own version
    if who is not None:
        return versions.version_status(store.conn, doc_id, who)  # type: ignore[return-value]
    fixed = state.document_status(store.conn, doc_id)
    if fixed is not None:
        return fixed  # type: ignore[return-value]
    touched = store.conn.execute(
        "SELECT EXISTS (SELECT 1 FROM labels WHERE document_id = ?)"
        " OR EXISTS (SELECT 1 FROM proposals WHERE document_id = ? AND kind = 'span' AND status != 'pending')",
        (doc_id, doc_id),
    ).fetchone()[0]
    return "partial" if touched else "untouched"


def document_view(store: Store, doc_id: int, actor: str | None = None, with_tokens: bool = True) -> DocumentView:
    """The document as a reviewer sees it: text, tokens, approved spans, pending proposals, status.
    In a team project, `actor`'s view of a document assigned to them is their own version.

    `with_tokens=False` leaves the tokens out: the app paints with that first, because the
    tokenizer's first load takes seconds (spaCy imports torch)."""
    doc = store.document(doc_id)
    who = versions.annotator_for(store.conn, doc_id, actor)
    own = store.approved_spans(doc_id) if who is None else [
        Span(start=r[0], end=r[1], label=r[2], text=r[3]) for r in versions.version_spans(store.conn, doc_id, who)
    ]  # fmt: skip
    open_ids = None if who is None else set(versions.undecided(store.conn, doc_id, who))
    approved = [
        ViewSpan(key=_label_key(s.start, s.end, s.label), kind="approved", start=s.start, end=s.end, label=s.label,
                 text=doc.text[s.start : s.end])
        for s in own
    ]  # fmt: skip
    pending = []
    for p in store.proposals(kind="span", status="pending", document_id=doc_id):
        if open_ids is not None and p.id not in open_ids:
            continue  # this annotator decided it already
        sp = p.payload.get("span") or {}
        start, end = int(sp.get("start", 0)), int(sp.get("end", 0))
        pending.append(
            ViewSpan(key=f"p:{p.id}", kind="proposal", start=start, end=end, label=str(sp.get("label", "")),
                     text=doc.text[start:end], proposal_id=p.id, source=p.source, confidence=p.confidence,
                     synthetic=bool(p.payload.get("synthetic")))
        )  # fmt: skip
    pending.sort(key=lambda v: (v.start, v.end, v.proposal_id or 0))
    approved_g = store.approved_guideline()
    tokens = tokenize(doc.text, doc.lang) if with_tokens else []
    return DocumentView(
        document_id=doc_id,
        text=doc.text,
        lang=doc.lang,
        status=document_status(store, doc_id, actor),
        tokens=tokens,
        words=review_words(doc.text, doc.lang, tokens),
        approved=approved,
        pending=pending,
        labels=approved_g[0].label_names() if approved_g else [],
    )


def find_text(view: DocumentView, needle: str) -> list[tuple[int, int]]:
    """Where `needle` occurs verbatim; occurrences on token edges only, when there are any."""
    if not needle:
        return []
    found = []
    i = view.text.find(needle)
    while i >= 0:
        found.append((i, i + len(needle)))
        i = view.text.find(needle, i + 1)
    starts = {t.start for t in view.tokens}
    ends = {t.end for t in view.tokens}
    on_edges = [(s, e) for s, e in found if s in starts and e in ends]
    return on_edges or found


def locate_text(view: DocumentView, needle: str, occurrence: int | None = None) -> tuple[int, int]:
    """The one range of `needle` (or its `occurrence`-th, from 1); errors list what was found."""
    found = find_text(view, needle)
    if not found:
        hint = ""
        folded = view.text.casefold().find(needle.casefold()) if needle else -1
        if folded >= 0:
            hint = f'; did you mean "{view.text[folded : folded + len(needle)]}"? (text must match exactly)'
        raise TextNotFound(f'"{needle}" does not occur in document {view.document_id}{hint}')
    if occurrence is not None:
        if not 1 <= occurrence <= len(found):
            raise AmbiguousText(
                f'"{needle}" occurs {len(found)} time(s); occurrence {occurrence} does not exist', found
            )
        return found[occurrence - 1]
    if len(found) > 1:
        listing = "; ".join(f"{n}) [{s}:{e}] {_context(view.text, s, e)}" for n, (s, e) in enumerate(found, 1))
        raise AmbiguousText(f'"{needle}" occurs {len(found)} times: {listing}. Say which (1-{len(found)}).', found)
    return found[0]


def check_span(store: Store, doc_id: int, start: int, end: int, label: str, *, view: DocumentView | None = None,
               ignore: str | None = None, actor: str | None = None, exact: bool = False) -> SpanCheck:  # fmt: skip
    """Validate a span without saving it: label, range, token snapping, overlaps (`ignore`: a key
    that is being replaced, so it does not count as an overlap; `actor`: whose view, see document_view).
    `exact` keeps the characters as given ("U.S." inside the one token "U.S.-brokered"): no snapping,
    but no space at either end."""
    view = view or document_view(store, doc_id, actor)
    label = check_label(view.labels or guideline_labels(store), label)
    n = len(view.text)
    if not (0 <= start < end <= n):
        raise BadSpan(
            f"[{start}:{end}] is not a range of document {doc_id}: write START:END with 0 <= START < END <= {n}"
        )
    if exact:
        given = view.text[start:end]
        if not given.strip():
            raise BadSpan(f"[{start}:{end}] holds only spaces; a span needs at least one word")
        if given != given.strip():
            raise BadSpan(f"[{start}:{end}] starts or ends with a space ({_quote(given)})")
        s, e = start, end
    else:
        inside = [t for t in view.tokens if t.start < end and t.end > start]
        if not inside:
            raise BadSpan(f"[{start}:{end}] holds only spaces; a span needs at least one word")
        # Outward to the edges of the first and last word touched; spaces at either end fall away.
        s, e = inside[0].start, inside[-1].end
    if "\n" in view.text[s:e]:
        raise BadSpan(f"[{s}:{e}] crosses a line break ({_quote(view.text[s:e])}); a span stays on one line")
    span = Span(start=s, end=e, label=label, text=view.text[s:e])
    over = [v for v in view.spans if v.key != ignore and v.start < e and s < v.end]
    return SpanCheck(
        span=span,
        given=(start, end),
        snapped=(s, e) != (start, end),
        overlaps_approved=[v for v in over if v.kind == "approved"],
        overlaps_pending=[v for v in over if v.kind == "proposal"],
    )


# -- changes --------------------------------------------------------------------------------
def add_span(store: Store, doc_id: int, start: int, end: int, label: str, actor: str, exact: bool = False) -> Change:
    """Approve a span the person marked (`label.add`), snapped to tokens unless `exact`; see the module
    docstring for what happens to pending proposals under it. Refused over an approved span."""
    view = _open_view(store, doc_id, actor)
    chk = check_span(store, doc_id, start, end, label, view=view, exact=exact)
    span = chk.span
    if any((v.start, v.end, v.label) == (span.start, span.end, span.label) for v in chk.overlaps_approved):
        raise ReviewError(f"{_show(span)} is already approved")
    _refuse_overlap(chk.overlaps_approved, span, "remove or change it first")
    ids: list[int] = []
    notes: list[str] = []
    with store.transaction():
        same = [v for v in chk.overlaps_pending if (v.start, v.end) == (span.start, span.end)]
        keep = same[0] if same else None
        for v in chk.overlaps_pending:
            if v is keep:
                continue
            ids.append(_id(store.decide(v.proposal_id or 0, actor, "reject", REPLACED)))
            notes.append(f"rejected proposal {v.describe()}")
        if keep is not None:
            edited = None if keep.label == span.label else span
            ids.append(_id(store.accept_span(keep.proposal_id or 0, actor, edited=edited)))
        else:
            ids.append(
                _id(
                    store.record(
                        actor, "label.add", [f"doc:{doc_id}"], {"document_id": doc_id, "span": span.model_dump()}
                    )
                )
            )
    msg = f"added {_show(span)}"
    if chk.snapped:
        msg += f" ({chk.note()}; you gave {_quote(view.text[start:end])})"
    if notes:
        msg += "; " + "; ".join(notes)
    return Change(document_id=doc_id, action="add", decision_ids=ids, message=msg, span=span,
                  snapped_from=chk.given if chk.snapped else None)  # fmt: skip


def add_text(store: Store, doc_id: int, needle: str, label: str, actor: str, occurrence: int | None = None) -> Change:
    """`add_span` on the one occurrence of `needle` (ambiguous text raises `AmbiguousText`)."""
    view = _open_view(store, doc_id, actor)
    check_label(view.labels or guideline_labels(store), label)
    s, e = locate_text(view, needle, occurrence)
    return add_span(store, doc_id, s, e, label, actor)


def accept(store: Store, doc_id: int, key: str, actor: str) -> Change:
    view = _open_view(store, doc_id, actor)
    v = view.item(key)
    if v.kind != "proposal":
        raise InvalidState(f"{v.describe()} is already approved")
    labels = view.labels or guideline_labels(store)
    check_label(labels, v.label)
    chk = check_span(store, doc_id, v.start, v.end, v.label, view=view, ignore=key, exact=True)  # saved as proposed
    _refuse_overlap(chk.overlaps_approved, chk.span, "reject this proposal (x) or change that span")
    d = store.accept_span(v.proposal_id or 0, actor)
    return Change(document_id=doc_id, action="accept", decision_ids=[_id(d)], message=f"accepted {_show(chk.span)}",
                  span=chk.span)  # fmt: skip


def reject(store: Store, doc_id: int, key: str, actor: str, reason: str = "") -> Change:
    """Reject a pending proposal, or remove an approved span (`label.remove`)."""
    view = _open_view(store, doc_id, actor)
    v = view.item(key)
    span = Span(start=v.start, end=v.end, label=v.label, text=v.text)
    if v.kind == "proposal":
        d = store.decide(v.proposal_id or 0, actor, "reject", reason)
        return Change(document_id=doc_id, action="reject", decision_ids=[_id(d)], message=f"rejected {_show(span)}",
                      span=span)  # fmt: skip
    d = store.record(actor, "label.remove", [f"doc:{doc_id}"], {"document_id": doc_id, "span": span.model_dump()},
                     reason)  # fmt: skip
    return Change(document_id=doc_id, action="remove", decision_ids=[_id(d)], message=f"removed {_show(span)}",
                  span=span)  # fmt: skip


def relabel(store: Store, doc_id: int, key: str, label: str, actor: str) -> Change:
    """Change the label of a proposal (approving it as edited; its own label accepts it) or of an
    approved span. The range stays as it is, also one made by characters ("U.S." in "U.S.-brokered")."""
    view = _open_view(store, doc_id, actor)
    v = view.item(key)
    if v.kind == "proposal" and check_label(view.labels or guideline_labels(store), label) == v.label:
        return accept(store, doc_id, key, actor)  # the label it already has: a plain accept
    return set_span(store, doc_id, key, v.start, v.end, label, actor, view=view, action="relabel", exact=True)


def move_boundary(store: Store, doc_id: int, key: str, edge: Literal["start", "end"], delta: int, actor: str,
                  unit: Literal["token", "char"] = "token") -> Change:  # fmt: skip
    """Move one edge of a span by `delta` words (`DocumentView.words`: the tokens, except in Korean) or
    characters; refused rather than clamped when the span would become empty or leave the text."""
    view = _open_view(store, doc_id, actor)
    v = view.item(key)
    start, end = v.start, v.end
    if unit == "char":
        start, end = (start + delta, end) if edge == "start" else (start, end + delta)
        if not (0 <= start < end <= len(view.text)):
            raise BadSpan(f"moving the {edge} by {delta:+d} character(s) would leave {_show_view(v)} empty or "
                          "outside the text; not changed")  # fmt: skip
        if view.text[start:end] != view.text[start:end].strip():
            raise BadSpan(f"moving the {edge} by {delta:+d} character(s) would make {_show_view(v)} start or end "
                          "with a space; move by more")  # fmt: skip
    else:
        toks = view.words  # Korean: words, not syllables (`review_words`)
        if edge == "start":
            i = next((k for k, t in enumerate(toks) if t.end > start), len(toks) - 1)
            j = i + delta
            if not 0 <= j < len(toks) or toks[j].start >= end:
                raise BadSpan(f"cannot move the start of {_show_view(v)} by {delta:+d} word(s): a span keeps at "
                              "least one word and stays inside the text; not changed")  # fmt: skip
            start = toks[j].start
        else:
            i = max((k for k, t in enumerate(toks) if t.start < end), default=0)
            j = i + delta
            if not 0 <= j < len(toks) or toks[j].end <= start:
                raise BadSpan(f"cannot move the end of {_show_view(v)} by {delta:+d} word(s): a span keeps at "
                              "least one word and stays inside the text; not changed")  # fmt: skip
            end = toks[j].end
    return set_span(store, doc_id, key, start, end, v.label, actor, view=view, action="move",
                    exact=unit == "char")  # fmt: skip


def set_span(store: Store, doc_id: int, key: str, start: int, end: int, label: str, actor: str, *,
             view: DocumentView | None = None, action: str = "edit", exact: bool = False) -> Change:  # fmt: skip
    """Replace an item's range and label. A proposal is approved as edited (`label.edit`), an
    approved span changed (`label.change`). `exact` keeps character edits unsnapped."""
    view = view or _open_view(store, doc_id, actor)
    v = view.item(key)
    chk = check_span(store, doc_id, start, end, label, view=view, ignore=key, exact=exact)
    span, snapped = chk.span, chk.snapped
    _refuse_overlap(chk.overlaps_approved, span, "remove or change it first")
    before = Span(start=v.start, end=v.end, label=v.label, text=v.text)
    if (span.start, span.end, span.label) == (before.start, before.end, before.label):
        raise ReviewError(f"{_show(span)} is unchanged")
    if v.kind == "proposal":
        d = store.accept_span(v.proposal_id or 0, actor, edited=span)
        what = "accepted as"
    else:
        d = store.record(actor, "label.change", [f"doc:{doc_id}"],
                         {"document_id": doc_id, "before": before.model_dump(), "span": span.model_dump()})  # fmt: skip
        what = "changed to"
    msg = f"{_show(before)} {what} {_show(span)}"
    if snapped:
        msg += " (snapped to token edges)"
    return Change(document_id=doc_id, action=action, decision_ids=[_id(d)], message=msg, span=span,
                  snapped_from=(start, end) if snapped else None)  # fmt: skip


def accept_all(store: Store, doc_id: int, actor: str) -> Change:
    """Accept every pending proposal of the document; refused (nothing written) when any of them
    overlaps an approved span or another pending one, with the list to settle first."""
    view = _open_view(store, doc_id, actor)
    if not view.pending:
        raise ReviewError(f"document {doc_id} has no pending proposals")
    labels = view.labels or guideline_labels(store)
    clashes = []
    for i, v in enumerate(view.pending):
        check_label(labels, v.label)
        for o in view.approved + view.pending[i + 1 :]:
            if o.start < v.end and v.start < o.end:
                clashes.append(f"{v.describe()} overlaps {o.describe()}")
    if clashes:
        raise SpanOverlap("cannot accept all: " + "; ".join(clashes) + ". Reject or change one of each pair first.", [])
    with store.transaction():
        ids = [_id(store.accept_span(v.proposal_id or 0, actor)) for v in view.pending]
    return Change(document_id=doc_id, action="accept_all", decision_ids=ids,
                  message=f"accepted {len(ids)} proposal(s): " + ", ".join(v.describe() for v in view.pending))  # fmt: skip


def complete(store: Store, doc_id: int, actor: str) -> Change:
    """Record that a person finished the document (`document.complete`)."""
    status = document_status(store, doc_id, actor)
    if status == "complete":
        raise InvalidState(f"document {doc_id} is already complete")
    if status == "withdrawn":
        raise DocumentLocked(f"document {doc_id} is withdrawn; undo the withdrawal to review it again")
    who = versions.annotator_for(store.conn, doc_id, actor)
    n = len(versions.undecided(store.conn, doc_id, who)) if who else store.conn.execute(
        "SELECT COUNT(*) FROM proposals WHERE document_id = ? AND kind = 'span' AND status = 'pending'", (doc_id,)
    ).fetchone()[0]  # fmt: skip
    if n:
        raise PendingProposals(
            f"document {doc_id} still has {n} pending proposal(s): accept (a, or A for all) or reject (x) "
            "each before marking it done",
            int(n),
        )
    spans = len(store.approved_spans(doc_id) if who is None else versions.version_spans(store.conn, doc_id, who))
    return _status_change(store, doc_id, actor, "complete", None, f"document {doc_id} complete ({spans} span{'' if spans == 1 else 's'})",
                          {"spans": spans})  # fmt: skip


def reopen(store: Store, doc_id: int, actor: str, reason: str = "") -> Change:
    if document_status(store, doc_id, actor) != "complete":
        raise InvalidState(f"document {doc_id} is not complete; there is nothing to reopen")
    return _status_change(store, doc_id, actor, "reopen", "complete", f"document {doc_id} reopened", {}, reason)


def withdraw(store: Store, doc_id: int, actor: str, reason: str = "") -> Change:
    """Leave the document out of review and releases; it stays in the store and the log."""
    status = document_status(store, doc_id)
    if status == "withdrawn":
        raise InvalidState(f"document {doc_id} is already withdrawn")
    before = status if status == "complete" else None
    return _status_change(store, doc_id, actor, "withdraw", before, f"document {doc_id} withdrawn", {}, reason)


def undo(store: Store, change: Change, actor: str, reason: str = "") -> Change:
    """Undo every decision of `change`, newest first, each with a new decision."""
    with store.transaction():
        ids = [_id(store.undo(d, actor, reason)) for d in reversed(change.decision_ids)]
    return Change(document_id=change.document_id, action="undo", decision_ids=ids, message=f"undone: {change.message}")


# -- helpers --------------------------------------------------------------------------------
def _status_change(store: Store, doc_id: int, actor: str, verb: str, before: str | None, message: str,
                   extra: dict[str, Any], reason: str = "") -> Change:  # fmt: skip
    store.document(doc_id)  # a clear NotFound for a wrong id
    payload = {"document_id": doc_id, "before": before, **extra}
    d = store.record(actor, f"document.{verb}", [f"doc:{doc_id}"], payload, reason)
    return Change(document_id=doc_id, action=verb, decision_ids=[_id(d)], message=message)


def _open_view(store: Store, doc_id: int, actor: str | None = None) -> DocumentView:
    view = document_view(store, doc_id, actor)
    if view.status in ("complete", "withdrawn"):
        raise DocumentLocked(
            f"document {doc_id} is {view.status}: reopen it first (`r` in studio review, or undo the "
            f"decision that made it {view.status}) to change it"
        )
    return view


def _refuse_overlap(over: Sequence[ViewSpan], span: Span, what: str) -> None:
    if over:
        names = ", ".join(v.describe() for v in over)
        raise SpanOverlap(f"{_show(span)} overlaps the approved span {names}; {what}", over)


def _label_key(start: int, end: int, label: str) -> str:
    return f"l:{start}:{end}:{label}"


def _id(d: Any) -> int:
    return int(d.id or 0)


def _quote(text: str) -> str:
    return '"' + text.replace("\n", "\\n") + '"'


def _show(span: Span) -> str:
    return f"{span.label} [{span.start}:{span.end}] {_quote(span.text)}"


def _show_view(v: ViewSpan) -> str:
    return f"{v.label} [{v.start}:{v.end}] {_quote(v.text)}"


def _context(text: str, s: int, e: int, width: int = 20) -> str:
    left = text[max(0, s - width) : s].replace("\n", " ")
    right = text[e : e + width].replace("\n", " ")
    return f"...{left}[{text[s:e]}]{right}..."
