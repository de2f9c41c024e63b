"""Near-duplicate documents across the whole corpus: crawled, imported and synthetic alike.

The crawler drops near-copies within one crawl (MinHash) and `studio synth` drops sentences that
copy the corpus, but a file imported next week, or a second crawl of a mirror, can still bring
the same text in again. This module compares every document with every other through the
similarity backend (`studio.ops.embed`: MiniLM vectors with the `embed` extra, hashed character
n-grams otherwise), in row blocks so memory stays bounded, and groups the pairs at or above a
threshold with union-find. Nothing is deleted: the person sees the groups (`studio dups`), and
an import reports which new documents nearly copy stored ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field

from studio.ops.embed import THRESHOLDS, Backend, cosine, similarity_backend
from studio.ops.registry import Args, OpContext, Result, operation
from studio.store import Store

Progress = Callable[[str, float | None], None]
BLOCK = 512


@dataclass(frozen=True)
class Pair:
    a: int  # the older document (smaller id)
    b: int
    similarity: float


@dataclass
class DupGroup:
    keep: int  # the oldest document of the group
    members: list[int]
    max_similarity: float
    sources: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"keep": self.keep, "members": self.members, "max_similarity": round(self.max_similarity, 4),
                "sources": {str(k): v for k, v in self.sources.items()}}  # fmt: skip


@dataclass
class DupReport:
    backend: str
    threshold: float
    documents: int
    pairs: list[Pair]
    groups: list[DupGroup]

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "threshold": self.threshold,
            "documents": self.documents,
            "pairs": len(self.pairs),
            "groups": [g.as_dict() for g in self.groups],
        }


def default_threshold(backend: Backend) -> float:
    return THRESHOLDS.get(backend.name, 0.9)


def similar_pairs(
    vectors: Any,
    threshold: float,
    queries: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> list[Pair]:
    """Pairs (i < j) of rows whose cosine similarity reaches `threshold`.

    With `queries`, only pairs that involve one of those rows are computed (new documents against
    everything); otherwise all pairs. Rows are compared in blocks of BLOCK against the whole
    matrix, so memory is BLOCK x N similarities at a time.
    """
    n = vectors.shape[0]
    rows = list(range(n)) if queries is None else sorted(set(queries))
    found: dict[tuple[int, int], float] = {}
    for start in range(0, len(rows), BLOCK):
        block = rows[start : start + BLOCK]
        sims = cosine(vectors[block], vectors)
        for r, i in enumerate(block):
            sims[r, i] = -1.0  # not a duplicate of itself
        hit_r, hit_c = np.nonzero(sims >= threshold)
        for r, j in zip(hit_r.tolist(), hit_c.tolist(), strict=True):
            i = block[r]
            key = (min(i, j), max(i, j))
            found[key] = max(found.get(key, -1.0), float(sims[r, j]))
        if progress:
            progress(
                f"compared {min(start + BLOCK, len(rows))}/{len(rows)} documents", (start + len(block)) / len(rows)
            )
    return [Pair(a, b, s) for (a, b), s in sorted(found.items())]


def group_pairs(pairs: Sequence[Pair]) -> list[list[int]]:
    """Connected groups (union-find), each sorted, ordered by their smallest member."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        ra, rb = find(p.a), find(p.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def find_near_duplicates(
    store: Store,
    backend: Backend | None = None,
    threshold: float | None = None,
    only: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> DupReport:
    """Near-duplicate groups among the store's documents (or those involving the ids in `only`)."""
    backend = backend or similarity_backend(store)
    threshold = threshold if threshold is not None else default_threshold(backend)
    docs = list(store.documents())
    ids = [d.id or 0 for d in docs]
    report = DupReport(backend.name, threshold, len(docs), [], [])
    if len(docs) < 2:
        return report
    if progress:
        progress(f"embedding {len(docs)} documents ({backend.name})", 0.0)
    vectors = backend.encode([d.text for d in docs], progress=progress)
    index = {doc_id: i for i, doc_id in enumerate(ids)}
    queries = None if only is None else [index[i] for i in only if i in index]
    pairs = similar_pairs(vectors, threshold, queries, progress)
    report.pairs = [Pair(ids[p.a], ids[p.b], p.similarity) for p in pairs]
    source = {d.id or 0: _origin(d.source, d.provenance) for d in docs}
    best: dict[int, float] = {}
    for p in report.pairs:
        best[p.a] = max(best.get(p.a, 0.0), p.similarity)
        best[p.b] = max(best.get(p.b, 0.0), p.similarity)
    for members in group_pairs(report.pairs):
        report.groups.append(
            DupGroup(members[0], members, max(best[m] for m in members), {m: source[m] for m in members})
        )
    return report


def _origin(source: str, provenance: dict[str, Any]) -> str:
    """Where a document came from: crawl, import, synthetic, or the source as stored."""
    return "synthetic" if provenance.get("synthetic") else source or "unknown"


# -- the operation ----------------------------------------------------------------------------
class DupsArgs(Args):
    threshold: float | None = Field(
        default=None, gt=0.0, le=1.0,
        description="Cosine similarity at or above which two documents are near duplicates "
        "[default: 0.9 with embeddings, 0.8 without].",
    )  # fmt: skip
    source: list[str] = Field(
        default_factory=list,
        description="Only groups with a document from this source (crawl, import, synthetic, ...; repeatable).",
    )
    limit: int = Field(default=50, ge=1, description="Groups to list.", json_schema_extra={"short": "-n"})


class DupsResult(Result):
    backend: str
    threshold: float
    documents: int
    pairs: int
    groups: list[dict[str, Any]]
    matching_groups: int

    def summary(self) -> str:
        members = sum(len(g["members"]) for g in self.groups)
        return f"{self.matching_groups} groups ({members} documents) among {self.documents}."


@operation(
    "dups",
    args=DupsArgs,
    result=DupsResult,
    side_effects=False,
    help="""List groups of near-duplicate documents across the whole project.

    Crawled, imported and synthetic documents are compared with each other by text similarity
    (sentence embeddings with studio[embed], hashed character n-grams without). Exact copies
    never enter a project; this finds the same article with another footer, a page crawled and
    then imported, a synthetic sentence that drifted back to a real one. Nothing is removed:
    the list is for you to decide (releases separately keep MinHash near duplicates in one split).
    """,
)
def dups(ctx: OpContext, args: DupsArgs) -> DupsResult:
    report = find_near_duplicates(
        ctx.store, threshold=args.threshold, progress=ctx.fraction_progress("comparing documents")
    )
    groups = [g for g in report.groups if not args.source or set(g.sources.values()) & set(args.source)]
    return DupsResult(
        backend=report.backend, threshold=report.threshold, documents=report.documents, pairs=len(report.pairs),
        groups=[g.as_dict() for g in groups[: args.limit]], matching_groups=len(groups),
    )  # fmt: skip
