"""Spread documents over annotators so each is seen by `overlap` of them, balanced and seeded.

Greedy and deterministic: documents are taken in a seeded shuffle; each takes the annotators
with the fewest documents so far, then the fewest documents shared with the ones already chosen
(so every pair overlaps about equally, which agreement needs), ties broken by a seeded order.
Existing assignments count, so documents added later are assigned on top without moving any.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from itertools import combinations
from typing import Any

from pydantic import Field

from studio.errors import StudioError
from studio.ops.registry import Args, OpContext, Result, operation
from studio.store import Store

_NAME_RE = re.compile(r"^[^\s,:]+$")


class AssignArgs(Args):
    annotators: str = Field(..., description="Comma-separated annotator names, as they pass --user (ana,ben,cho).")
    overlap: int = Field(2, ge=1, description="How many annotators see each document.")
    seed: int = Field(0, description="Seed of the shuffle: the same seed gives the same assignment.")
    documents: str | None = Field(
        None, description="Only these document ids (e.g. 1-60,75); default: every document not yet assigned."
    )


class AssignResult(Result):
    decision_id: int | None
    documents: int
    per_annotator: dict[str, int]
    pairs: dict[str, int]
    total_per_annotator: dict[str, int]

    def summary(self) -> str:
        if not self.documents:
            return "Nothing to assign: every document already has its annotators."
        loads = ", ".join(f"{k} {v}" for k, v in self.per_annotator.items())
        return f"Assigned {self.documents} documents ({loads})."


def parse_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if not _NAME_RE.match(n)]
    if bad or not names:
        raise StudioError(f"annotator names are single words separated by commas (ana,ben,cho), got {text!r}")
    if len(set(names)) != len(names):
        raise StudioError(f"an annotator is named twice in {text!r}")
    return names


def parse_ids(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise StudioError(f"document ids are numbers or ranges like 1-60,75, got {part!r}")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        out.extend(range(min(a, b), max(a, b) + 1))
    return sorted(set(out))


def current(store: Store) -> dict[int, list[str]]:
    """document id -> its annotators."""
    out: dict[int, list[str]] = {}
    for doc, name in store.conn.execute(
        "SELECT document_id, annotator FROM assignments ORDER BY document_id, annotator"
    ):
        out.setdefault(int(doc), []).append(name)
    return out


def plan(
    docs: list[int], names: list[str], overlap: int, seed: int, existing: dict[int, list[str]]
) -> dict[int, list[str]]:
    """New annotators per document (only those added), given what is assigned already."""
    rng = random.Random(seed)
    order = {n: rng.random() for n in names}
    loads = Counter(n for have in existing.values() for n in have if n in order)
    pairs = Counter(frozenset(p) for have in existing.values() for p in combinations(sorted(have), 2))
    shuffled = list(docs)
    rng.shuffle(shuffled)
    out: dict[int, list[str]] = {}
    for doc in shuffled:
        chosen = list(existing.get(doc, []))
        added: list[str] = []
        while len(chosen) < overlap:
            free = [n for n in names if n not in chosen]
            if not free:
                break
            best = min(free, key=lambda n: (loads[n], sum(pairs[frozenset((n, c))] for c in chosen), order[n]))
            for c in chosen:
                pairs[frozenset((best, c))] += 1
            loads[best] += 1
            chosen.append(best)
            added.append(best)
        if added:
            out[doc] = sorted(added)
    return dict(sorted(out.items()))


@operation(
    "assign",
    args=AssignArgs,
    result=AssignResult,
    help="Spread documents over annotators so each is seen by OVERLAP of them (balanced, seeded).\n\n"
    "Run it again after new documents come in: only unassigned documents are assigned, on top of the "
    "loads each annotator already has. From then on, what an annotator decides on an assigned document "
    "(`studio --user ana review`, or the app) is their own version; a reviewer makes it the project's "
    "labels with `studio adjudicate`.",
    side_effects=True,
)
def assign(ctx: OpContext, args: AssignArgs) -> AssignResult:
    store = ctx.store
    names = parse_names(args.annotators)
    if args.overlap > len(names):
        raise StudioError(
            f"--overlap {args.overlap} needs at least {args.overlap} annotators, got {len(names)} ({', '.join(names)})"
        )
    existing = current(store)
    all_ids = store.document_ids()
    if args.documents:
        wanted = parse_ids(args.documents)
        missing = sorted(set(wanted) - set(all_ids))
        if missing:
            raise StudioError(f"no such documents: {', '.join(map(str, missing[:10]))} (see `studio status`)")
        docs = wanted
    else:
        docs = [d for d in all_ids if d not in existing]
    added = plan(docs, names, args.overlap, args.seed, existing)
    per = Counter(n for ns in added.values() for n in ns)
    decision_id = None
    if added:
        d = store.record(
            ctx.actor,
            "team.assign",
            [f"doc:{doc}" for doc in list(added)[:50]],
            {
                "annotators": names,
                "overlap": args.overlap,
                "seed": args.seed,
                "assignments": [[doc, ns] for doc, ns in added.items()],
            },
        )
        decision_id = d.id
    ctx.report("assign", len(docs), len(docs))
    now = current(store)
    pair_counts: Counter[str] = Counter()
    for ns in now.values():
        for a, b in combinations(sorted(ns), 2):
            pair_counts[f"{a}+{b}"] += 1
    return AssignResult(
        decision_id=decision_id,
        documents=len(added),
        per_annotator={n: per[n] for n in names},
        pairs=dict(sorted(pair_counts.items())),
        total_per_annotator=dict(sorted(Counter(n for ns in now.values() for n in ns).items())),
    )


def assignment_summary(store: Store) -> list[dict[str, Any]]:
    """Per annotator: documents assigned, their versions finished, and left to do."""
    from studio.ops.team.versions import load

    assigned: Counter[str] = Counter()
    finished: Counter[str] = Counter()
    for versions in load(store).values():
        for name, v in versions.items():
            assigned[name] += 1
            finished[name] += v.complete
    return [
        {"annotator": n, "assigned": assigned[n], "complete": finished[n], "to_do": assigned[n] - finished[n]}
        for n in sorted(assigned)
    ]
