"""Adjudication: a reviewer settles a document from its annotators' versions.

The result is one `document.adjudicate` decision by the reviewer: its spans become the project's
labels for the document (`studio.store.versions`), and its payload links the versions it came from
(each annotator's spans and their last decision), so `studio why` can show both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from studio.errors import InvalidState, NotFound, StudioError
from studio.ops.registry import Args, OpContext, Result, operation
from studio.ops.team.metrics import SpanT
from studio.ops.team.versions import Version, finished, load
from studio.schema import Decision, Span
from studio.store import Store
from studio.store.versions import ADJUDICATE


@dataclass
class Candidate:
    """One span some annotator has, with who has it."""

    span: SpanT
    text: str
    by: list[str]

    @property
    def key(self) -> str:
        return f"{self.span[0]}:{self.span[1]} {self.span[2]}"


@dataclass
class Case:
    """What the reviewer sees for one document."""

    document_id: int
    text: str
    versions: dict[str, Version]
    candidates: list[Candidate] = field(default_factory=list)
    adjudicated: bool = False

    @property
    def agreed(self) -> list[SpanT]:
        return [c.span for c in self.candidates if len(c.by) == len(self.versions)]

    fixes: set[int] = field(default_factory=set)  # box-fix proposals of the document

    def all_agree(self) -> bool:
        """Every version has the same spans and the same accept / reject of each box fix."""
        spans = {tuple(sorted(set(v.spans))) for v in self.versions.values()}
        fixes = {
            tuple(sorted((p, s) for p, s in v.verdicts.items() if p in self.fixes)) for v in self.versions.values()
        }
        return len(spans) == 1 and len(fixes) <= 1


def case(store: Store, document_id: int, only_finished: bool = True) -> Case:
    doc = store.document(document_id)
    by_doc = load(store, document_id)
    if document_id not in by_doc:
        raise NotFound(f"document {document_id} is not assigned to annotators (see `studio assign --help`)")
    versions = finished(by_doc[document_id]) if only_finished else by_doc[document_id]
    cands: dict[SpanT, Candidate] = {}
    for name, v in sorted(versions.items()):
        for s in v.spans:
            cands.setdefault(s, Candidate(s, doc.text[s[0] : s[1]], [])).by.append(name)
    done = store.conn.execute("SELECT 1 FROM adjudications WHERE document_id = ?", (document_id,)).fetchone()
    fixes = {
        int(r[0])
        for r in store.conn.execute(
            "SELECT id FROM proposals WHERE document_id = ? AND kind = 'box_fix'", (document_id,)
        )
    }
    cands_sorted = sorted(cands.values(), key=lambda c: c.span)
    return Case(document_id, doc.text, versions, cands_sorted, done is not None, fixes)


def queue(store: Store, include_done: bool = False) -> list[int]:
    """Documents whose assigned annotators have all finished their versions, not yet adjudicated."""
    done = {int(r[0]) for r in store.conn.execute("SELECT document_id FROM adjudications")}
    out = []
    for d, vs in sorted(load(store).items()):
        if len(vs) >= 2 and all(v.complete for v in vs.values()) and (include_done or d not in done):
            out.append(d)
    return out


def method_of(spans: list[SpanT], c: Case) -> str:
    """How the reviewer's spans relate to the versions: agreed, take:NAME, spans (picked), or edit."""
    chosen = sorted(set(spans))
    same = [n for n, v in sorted(c.versions.items()) if sorted(set(v.spans)) == chosen]
    if same and len(same) == len(c.versions):
        return "agreed"
    if same:
        return f"take:{same[0]}"
    have = {cand.span for cand in c.candidates}
    return "spans" if all(s in have for s in chosen) else "edit"


def settle(
    store: Store, actor: str, document_id: int, spans: list[SpanT], method: str | None = None, rationale: str = ""
) -> Decision:
    """Record the reviewer's annotation of the document: the project's labels from now on."""
    if not actor.startswith("human:"):
        raise StudioError(f"adjudication is a person's decision, not one for {actor!r}")
    c = case(store, document_id)
    if len(c.versions) < 1:
        raise InvalidState(f"document {document_id} has no finished version yet: nothing to adjudicate")
    labels = _guideline_labels(store)
    checked = []
    for start, end, label in sorted(set(spans)):
        if labels and label not in labels:
            raise StudioError(f"label {label!r} is not in the approved guideline ({', '.join(labels)})")
        span = Span(start=start, end=end, label=label)
        span.check_against(c.text)
        by = next((cand.by for cand in c.candidates if cand.span == (start, end, label)), [])
        checked.append({"start": start, "end": end, "label": label, "text": c.text[start:end], "by": by})
    fixes = _agreed_fixes(c)
    return store.record(
        actor,
        ADJUDICATE,
        [f"doc:{document_id}", *(f"decision:{v.last_decision}" for _, v in sorted(c.versions.items()))],
        {
            "document_id": document_id,
            "spans": checked,
            "method": method or method_of(spans, c),
            "versions": {
                n: {"decision": v.last_decision, "spans": [list(s) for s in sorted(set(v.spans))]}
                for n, v in sorted(c.versions.items())
            },
            **({"accepted_fixes": fixes} if fixes else {}),
        },
        rationale,
    )


def _agreed_fixes(c: Case) -> list[int]:
    """Box-fix proposals every annotator accepted."""
    votes = [{p for p, s in v.verdicts.items() if s != "rejected" and p in c.fixes} for v in c.versions.values()]
    return sorted(set.intersection(*votes)) if votes else []


def _guideline_labels(store: Store) -> list[str]:
    approved = store.approved_guideline()
    return approved[0].label_names() if approved else []


class AcceptAgreedArgs(Args):
    dry_run: bool = Field(False, description="Only count the documents where all annotators agree.")


class AcceptAgreedResult(Result):
    accepted: int
    waiting: int  # finished documents where the annotators differ: for a reviewer
    documents: list[int]

    def summary(self) -> str:
        return (
            f"Accepted {self.accepted} documents where every annotator agreed; "
            f"{self.waiting} wait for a reviewer (studio adjudicate)."
        )


@operation(
    "adjudicate_agreed",
    args=AcceptAgreedArgs,
    result=AcceptAgreedResult,
    help="Accept in bulk every document whose annotators all finished with exactly the same version.",
    side_effects=True,
)
def accept_agreed(ctx: OpContext, args: AcceptAgreedArgs) -> AcceptAgreedResult:
    """Adjudicate in bulk every finished document whose versions are identical (method `agreed`)."""
    store = ctx.store
    ready = queue(store)
    agreed, waiting = [], 0
    for d in ready:
        c = case(store, d)
        if c.all_agree():
            agreed.append(d)
        else:
            waiting += 1
    if not args.dry_run:
        with store.transaction():
            for n, d in enumerate(agreed, 1):
                c = case(store, d)
                settle(store, ctx.actor, d, list(next(iter(c.versions.values())).spans), "agreed")
                ctx.report("accept agreed", n, len(agreed))
    return AcceptAgreedResult(accepted=0 if args.dry_run else len(agreed), waiting=waiting, documents=agreed)


def render_case(c: Case, colors: dict[str, str] | None = None) -> list[str]:
    """The versions as lines a reviewer reads: numbered candidates with who has each."""
    lines = [f"doc {c.document_id}" + ("  (adjudicated before)" if c.adjudicated else "")]
    lines.append(c.text.replace("\n", " "))
    names = sorted(c.versions)
    for i, cand in enumerate(c.candidates, 1):
        mark = " " if len(cand.by) == len(names) else "*"
        lines.append(f"{mark}{i:>3}  {cand.key:<14} {cand.text!r:<30} {', '.join(cand.by)}")
    lines.append("  (* = not every annotator has it)")
    return lines


def versions_of(store: Store, document_id: int) -> dict[str, Any]:
    """Each annotator's version of a document (for `studio why` before adjudication)."""
    c = case(store, document_id, only_finished=False)
    return {
        n: {"complete": v.complete, "spans": [{"start": s[0], "end": s[1], "label": s[2]} for s in sorted(v.spans)]}
        for n, v in sorted(c.versions.items())
    }


def unsettled_note(store: Store, document_id: int) -> str | None:
    """Why a team document has no labels yet (for `studio why`), or None if it is not a team document."""
    by_doc = load(store, document_id)
    if document_id not in by_doc:
        return None
    if store.conn.execute("SELECT 1 FROM adjudications WHERE document_id = ?", (document_id,)).fetchone():
        return None
    parts = []
    for name, v in sorted(by_doc[document_id].items()):
        state = "finished" if v.complete else "not finished"
        spans = ", ".join(f"[{s}:{e}] {lab}" for s, e, lab in sorted(v.spans)) or "no spans"
        parts.append(f"{name} ({state}): {spans}")
    return (
        f"document {document_id} is not adjudicated yet, so it has no project labels; versions: "
        + "; ".join(parts)
        + f". A reviewer settles it with `studio adjudicate -d {document_id}`"
    )
