"""The guideline learns from disagreement: edge cases drawn from the most frequent disagreement
patterns between annotators, proposed as a new guideline version that a person approves.

Where a reviewer has already settled an example, the edge case states the settled answer
("'Castellan Steel' is ORG"); where not, it names the split for the person to decide. Nothing
changes until the draft is approved (`studio guideline approve`), like any other revision.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from studio.errors import InvalidState
from studio.ops.registry import Args, OpContext, Result, operation
from studio.ops.team.agreement import compute
from studio.store import Store


class EdgeCaseArgs(Args):
    top: int = Field(5, ge=1, le=20, description="How many of the most frequent disagreement patterns to use.")


class EdgeCaseResult(Result):
    version: int | None
    parent: int | None
    edge_cases: list[str]

    def summary(self) -> str:
        if self.version is None:
            return "No disagreement between finished versions: nothing to add to the guideline."
        lines = [f"Proposed guideline v{self.version} (from v{self.parent}) with {len(self.edge_cases)} edge case(s):"]
        lines += [f"  - {e}" for e in self.edge_cases]
        lines.append("Review it, then `studio guideline approve` (or reject it) to decide.")
        return "\n".join(lines)


def _settled(store: Store, case: dict[str, Any]) -> list[tuple[int, int, str, str]] | None:
    """The project's labels overlapping the example's range once a reviewer settled it; None before."""
    row = store.conn.execute("SELECT 1 FROM adjudications WHERE document_id = ?", (case["document_id"],)).fetchone()
    if row is None:
        return None
    rows = store.conn.execute(
        'SELECT start, "end", label, text FROM labels WHERE document_id = ? AND start < ? AND "end" > ?',
        (case["document_id"], case["end"], case["start"]),
    )
    return [(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]


def edge_case(store: Store, pattern: dict[str, Any]) -> str:
    """One guideline sentence for a disagreement pattern: the settled answer, or the open question."""
    kind, label, n = pattern["kind"], pattern["label"].replace(" vs ", " and "), pattern["count"]
    examples = ", ".join(repr(e) for e in pattern["examples"])
    for case in pattern.get("cases", []):
        settled = _settled(store, case)
        if settled is None:
            continue
        text = case["text"]
        if kind == "label" and settled:
            return f"{text!r} is {settled[0][2]} (annotators split between {label} {n} time(s); settled in review)."
        if kind == "missing":
            if any((s, e, lab) == (case["start"], case["end"], case["label"]) for s, e, lab, _ in settled):
                return f"Label {text!r} as {label}: annotators left such mentions out {n} time(s)."
            return f"{text!r} is not {label}: some annotators labeled it, the review did not ({n} time(s))."
        if kind == "boundary" and settled:
            return (
                f"A {label} span covers {settled[0][3]!r} exactly (annotators chose other boundaries {n} time(s), "
                f"e.g. {text!r})."
            )
    what = {"label": f"chose between {label}", "missing": f"disagreed whether to label {label}",
            "boundary": f"chose different boundaries for {label}"}[kind]  # fmt: skip
    return f"Annotators {what} {n} time(s), e.g. {examples}: decide the rule and write it here."


@operation(
    "guideline_from_disagreement",
    args=EdgeCaseArgs,
    result=EdgeCaseResult,
    help="Propose guideline edge cases from the most frequent disagreements between annotators.\n\n"
    "Takes the top patterns of `studio agreement` (label, boundary, missing), states the answer where a "
    "reviewer settled an example and asks the question where not, and stores them as a new draft version of "
    "the guideline. Nothing changes until a person approves it.",
    side_effects=True,
    agent=True,
)
def guideline_from_disagreement(ctx: OpContext, args: EdgeCaseArgs) -> EdgeCaseResult:
    store = ctx.store
    approved = store.approved_guideline()
    if approved is None:
        raise InvalidState("there is no approved guideline to revise: approve one first (`studio guideline approve`)")
    guideline, version = approved
    patterns = compute(store, top=0).patterns[: args.top]
    cases = [c for c in (edge_case(store, p) for p in patterns) if c not in guideline.edge_cases]
    if not cases:
        return EdgeCaseResult(version=None, parent=version, edge_cases=[])
    revised = guideline.model_copy(update={"edge_cases": [*guideline.edge_cases, *cases]})
    proposer = "agent" if ctx.actor == "agent" else "tool"
    new = store.add_guideline(
        revised, proposer, parent=version,
        rationale=f"edge cases from the {len(patterns)} most frequent disagreement patterns between annotators",
    )  # fmt: skip
    return EdgeCaseResult(version=new, parent=version, edge_cases=cases)
