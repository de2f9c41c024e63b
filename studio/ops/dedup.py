"""Near-duplicate documents across the whole corpus: crawled, imported and synthetic alike.

The crawler drops near-copies within one crawl (MinHash) and `studio synth` drops sentences that
copy the corpus, but a file imported next week, or a second crawl of a mirror, can still bring
the same text in again. MinHash LSH (`studio.ops.lsh`) proposes candidate pairs in one linear
pass, in bounded memory; each candidate is then compared with the similarity backend
(`studio.ops.embed`: MiniLM vectors with the `embed` extra, hashed character n-grams otherwise),
and the pairs at or above a threshold are grouped with union-find. Nothing is deleted: the person sees the groups (`studio dups`), and
an import reports which new documents nearly copy stored ones.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field

from studio.ops import lsh
from studio.ops.embed import THRESHOLDS, Backend, similarity_backend
from studio.ops.registry import Args, OpContext, Result, operation
from studio.store import Store

Progress = Callable[[str, float | None], None]
# Estimated Jaccard of word 3-shingles at or above which an import reports a near copy: a byline
# added to a sentence scores ~0.7, one word changed in a 15-word sentence ~0.6.
MINHASH_THRESHOLD = 0.5


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
    """Near-duplicate groups among the store's documents (or those involving the ids in `only`).

    MinHash LSH (studio.ops.lsh) proposes candidate pairs in one pass over the corpus, CHUNK
    texts at a time; only candidates are compared with the similarity backend. Memory: a
    signature per document (0.5 kB) plus the candidates' vectors, not a corpus-wide matrix.
    """
    backend = backend or similarity_backend(store)
    threshold = threshold if threshold is not None else default_threshold(backend)
    ids, pairs, est = _candidates(store, only, progress)
    pairs = pairs[est >= JACCARD_FLOOR]
    found: list[Pair] = []
    for start in range(0, len(pairs), PAIR_CHUNK):
        chunk = ids[pairs[start : start + PAIR_CHUNK]]
        sims = _pair_similarity(store, backend, chunk)
        found += [Pair(int(a), int(b), float(v)) for (a, b), v in zip(chunk, sims, strict=True) if v >= threshold]
        if progress:
            progress(f"compared {min(start + PAIR_CHUNK, len(pairs))}/{len(pairs)} candidate pairs",
                     0.5 + 0.5 * min(start + PAIR_CHUNK, len(pairs)) / len(pairs))  # fmt: skip
    return _report(store, backend.name, threshold, len(ids), found)


def minhash_near_duplicates(
    store: Store, threshold: float = MINHASH_THRESHOLD, only: Sequence[int] | None = None
) -> DupReport:
    """Like find_near_duplicates, judged by the MinHash estimate of word 3-shingle Jaccard alone:
    no vectors at all, so it keeps up with an import of 100k lines."""
    ids, pairs, est = _candidates(store, only, None)
    keep = est >= threshold
    found = [Pair(int(a), int(b), float(v)) for (a, b), v in zip(ids[pairs[keep]], est[keep], strict=True)]
    return _report(store, "minhash", threshold, len(ids), found)


def _candidates(
    store: Store, only: Sequence[int] | None, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document ids, candidate pairs as row indexes, their estimated Jaccard)."""
    total = int(store.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    ids: list[int] = []
    parts: list[np.ndarray] = []
    for rows in _text_chunks(store):
        ids += [r[0] for r in rows]
        parts.append(lsh.signatures([r[1] for r in rows]))
        if progress:
            progress(f"hashed {len(ids)}/{total} documents", 0.5 * len(ids) / total)
    id_arr = np.asarray(ids, dtype=np.int64)
    if len(ids) < 2:
        return id_arr, np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    sigs = np.vstack(parts)
    del parts
    query = None if only is None else np.isin(id_arr, np.asarray(list(only), dtype=np.int64))
    pairs = lsh.candidate_pairs(lsh.band_keys(sigs), query)
    return id_arr, pairs, lsh.estimated_jaccard(sigs, pairs)


def _report(store: Store, backend: str, threshold: float, documents: int, found: list[Pair]) -> DupReport:
    report = DupReport(backend, threshold, documents, sorted(found, key=lambda p: (p.a, p.b)), [])
    best: dict[int, float] = {}
    for p in report.pairs:
        best[p.a] = max(best.get(p.a, 0.0), p.similarity)
        best[p.b] = max(best.get(p.b, 0.0), p.similarity)
    source = _sources(store, sorted(best))
    for members in group_pairs(report.pairs):
        report.groups.append(
            DupGroup(members[0], members, max(best[m] for m in members), {m: source[m] for m in members})
        )
    return report


CHUNK = 2000  # documents read and hashed at a time
CHUNK_CHARS = 20_000_000  # ... or this many characters
PAIR_CHUNK = 2000  # candidate pairs compared at a time
JACCARD_FLOOR = 0.2  # candidates whose estimated Jaccard is below this are not near copies by any backend


def _text_chunks(store: Store) -> Iterator[list[tuple[int, str]]]:
    """Documents in id order, at most CHUNK documents or CHUNK_CHARS characters at a time."""
    last, chunk, size = 0, [], 0
    while True:
        rows = store.conn.execute("SELECT id, text FROM documents WHERE id > ? ORDER BY id LIMIT 200", (last,))
        rows = rows.fetchall()
        for r in rows:
            chunk.append((int(r[0]), str(r[1])))
            size += len(r[1])
            if len(chunk) >= CHUNK or size >= CHUNK_CHARS:
                yield chunk
                chunk, size = [], 0
        if not rows:
            if chunk:
                yield chunk
            return
        last = int(rows[-1][0])


def _by_id(store: Store, columns: str, ids: Sequence[int]) -> dict[int, sqlite3.Row]:
    out: dict[int, sqlite3.Row] = {}
    for i in range(0, len(ids), 500):  # stay under SQLite's variable limit
        part = list(ids[i : i + 500])
        sql = f"SELECT id, {columns} FROM documents WHERE id IN ({','.join('?' * len(part))})"
        out.update({int(r[0]): r for r in store.conn.execute(sql, part)})
    return out


def _pair_similarity(store: Store, backend: Backend, pairs: np.ndarray) -> np.ndarray:
    """Cosine similarity of each (id, id) pair, encoding only the documents involved."""
    need = sorted({int(x) for x in pairs.ravel()})
    rows = _by_id(store, "text", need)
    vectors = backend.encode([rows[i]["text"] for i in need])
    where = {doc_id: k for k, doc_id in enumerate(need)}
    a = vectors[[where[int(x)] for x in pairs[:, 0]]]
    b = vectors[[where[int(x)] for x in pairs[:, 1]]]
    dots = a.multiply(b).sum(axis=1) if hasattr(a, "multiply") else (a * b).sum(axis=1)
    return np.asarray(dots, dtype=float).ravel()


def _sources(store: Store, ids: Sequence[int]) -> dict[int, str]:
    rows = _by_id(store, "source, provenance", ids)
    return {i: _origin(r["source"], json.loads(r["provenance"])) for i, r in rows.items()}


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
