"""Seeded, stratified, leakage-free train/validation/test splits.

Documents that are the same (after case and whitespace folding) or near the same (MinHash LSH
over word 3-shingles, estimated Jaccard >= threshold) are joined into one group with
union-find, and a group always lands in one split. Groups are stratified by their rarest label
(the label found in the fewest released documents) and assigned greedily to the split that is
furthest below its target share, both within the stratum and overall.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence, Sized
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from studio.ops.release.models import SPLITS, Progress, ReleaseDoc

SHINGLE = 3  # words per shingle
NUM_PERM = 64  # MinHash permutations: enough to estimate Jaccard within a few points, and fast
NO_LABEL = "(no label)"
_WORD_RE = re.compile(r"\w+")


class SplitPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignment: dict[int, str]  # document id -> split
    groups: int
    exact_duplicate_docs: int  # documents sharing their group with an exact duplicate
    near_duplicate_docs: int  # documents joined to a group by MinHash only
    synthetic_docs: int
    strata: dict[str, int]  # stratum label -> documents


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        # The smaller index is the root, so groups do not depend on the order of unions.
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
        return True


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def shingles(text: str) -> set[bytes]:
    words = _WORD_RE.findall(text.casefold())
    if len(words) < SHINGLE:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)}


def group_documents(
    docs: Sequence[ReleaseDoc], threshold: float, progress: Progress | None = None
) -> tuple[list[int], int, int]:
    """Group index per document (exact + near duplicates joined); and the two duplicate counts."""
    uf = _UnionFind(len(docs))
    first: dict[str, int] = {}
    exact_members: set[int] = set()
    for i, d in enumerate(docs):
        key = hashlib.sha256(_fold(d.text).encode()).hexdigest()
        j = first.setdefault(key, i)
        if j != i:
            uf.union(i, j)
            exact_members.update((i, j))
    near = _near_duplicates(docs, threshold, progress)
    near_members: set[int] = set()
    for a, b in near:
        if uf.union(a, b):
            near_members.update((a, b))
    roots = [uf.find(i) for i in range(len(docs))]
    return roots, len(exact_members), len(near_members - exact_members)


def _near_duplicates(docs: Sequence[ReleaseDoc], threshold: float, progress: Progress | None) -> list[tuple[int, int]]:
    """Pairs (i, j) of documents whose estimated Jaccard reaches `threshold` (LSH banding)."""
    import numpy as np
    from datasketch import MinHashLSH

    # Signatures as one uint32 matrix (MinHash values are < 2**32): 256 bytes per document,
    # where datasketch's LSH index would keep ~3 KB per document in its band tables.
    # Shingle sets are made a chunk at a time. A fixed MinHash seed: the groups must not change
    # with the split seed. crc32 is a stable 32-bit hash and ~5x faster than the default sha1.
    idx: list[int] = []
    sigs: list[np.ndarray] = []
    step = 2000
    for k in range(0, len(docs), step):
        chunk = [(i, shingles(docs[i].text)) for i in range(k, min(k + step, len(docs)))]
        chunk = [(i, sh) for i, sh in chunk if sh]
        idx += [i for i, _ in chunk]
        sigs.append(minhash_rows([sh for _, sh in chunk]))
        if progress:
            progress("near-duplicates", min(k + step, len(docs)), len(docs))
    if len(idx) < 2:
        return []
    sig = np.vstack(sigs)
    del sigs
    # Band sizes from datasketch, weighted for recall (12 bands of 5 rows at 0.7: a pair at
    # Jaccard 0.85 is a candidate 99.9% of the time, at 0.8 99.2%). Candidates are then checked
    # by their estimated Jaccard, so the extra ones cost a comparison, not a wrong group.
    params = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, weights=(0.1, 0.9))
    bands, rows = params.b, params.r
    pairs: set[tuple[int, int]] = set()
    for band in range(bands):
        block = np.ascontiguousarray(sig[:, band * rows : (band + 1) * rows])
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        sizes = np.diff(np.r_[starts, len(order)])
        for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
            end = start + size
            # Compare each bucket member with the bucket's representatives found so far, so a
            # bucket of m copies costs m comparisons rather than m*m/2.
            reps: list[int] = []
            for pos in sorted(order[start:end].tolist()):
                for rep in reps:
                    if (sig[pos] == sig[rep]).mean() >= threshold:
                        pairs.add((idx[rep], idx[pos]))
                        break
                else:
                    reps.append(pos)
    if progress:
        progress("near-duplicates", len(docs), len(docs))
    return sorted(pairs)


def minhash_rows(sets: Sequence[set[bytes]], **scheme: str) -> Any:
    """datasketch's MinHash signatures (seed 1, crc32) of non-empty shingle sets, one uint32 row
    each, computed for a whole chunk in a few numpy operations instead of one MinHash object per
    document (10 s of 100k documents). The permutations are datasketch's own; the arithmetic is
    its `update_batch` for the schemes it has had ("legacy" before 2.0, "affine32" since);
    another scheme uses datasketch itself. Equal to `MinHash.bulk` (tests/test_release_splits.py).
    `scheme`: datasketch's `scheme=` keyword, for tests; its default otherwise."""
    import numpy as np
    from datasketch import MinHash

    proto = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=zlib.crc32, **scheme)
    kind = getattr(proto, "scheme", "legacy")
    if kind not in ("legacy", "affine32"):
        made = MinHash.bulk(sets, num_perm=NUM_PERM, seed=1, hashfunc=zlib.crc32, **scheme)
        return np.vstack([m.hashvalues.astype(np.uint32) for m in made])
    sizes = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
    hv = np.array(list(map(zlib.crc32, itertools.chain.from_iterable(sets))), dtype=np.uint64)
    a, b = proto.permutations[0][:, None], proto.permutations[1][:, None]
    if kind == "legacy":
        phv = np.bitwise_and((a * hv + b) % np.uint64((1 << 61) - 1), np.uint64((1 << 32) - 1))
    else:
        phv = a * _fmix32(hv.astype(np.uint32)) + b  # uint32: wraps modulo 2**32 as intended
    # One row per permutation, so the per-document minimum runs along contiguous memory.
    return np.minimum.reduceat(phv, np.r_[0, np.cumsum(sizes)[:-1]], axis=1).T.astype(np.uint32)


def _fmix32(h: Any) -> Any:
    """MurmurHash3's 32-bit finalizer (datasketch premixes inputs with it in "affine32")."""
    import numpy as np

    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def rarest_labels(docs: Sequence[ReleaseDoc]) -> list[str]:
    """Each document's rarest label (by number of documents carrying it; ties by name)."""
    freq: Counter[str] = Counter()
    for d in docs:
        freq.update({s.label for s in d.spans})
    out = []
    for d in docs:
        labels = {s.label for s in d.spans}
        out.append(min(labels, key=lambda lab: (freq[lab], lab)) if labels else NO_LABEL)
    return out


def plan_splits(
    docs: Sequence[ReleaseDoc],
    fractions: tuple[float, float, float],
    seed: int,
    threshold: float = 0.7,
    synthetic_to_train: bool = True,
    progress: Progress | None = None,
) -> SplitPlan:
    docs = sorted(docs, key=lambda d: d.id)
    roots, exact_n, near_n = group_documents(docs, threshold, progress)
    rare = rarest_labels(docs)
    freq = Counter(rare)
    members: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(roots):
        members[r].append(i)

    assignment: dict[int, str] = {}
    synthetic = 0
    strata: dict[str, list[list[int]]] = defaultdict(list)
    for group in members.values():
        if synthetic_to_train and any(docs[i].synthetic for i in group):
            # Synthetic text is for training only: evaluating on it would flatter the model.
            for i in group:
                assignment[docs[i].id] = "train"
            synthetic += len(group)
            continue
        stratum = min((rare[i] for i in group), key=lambda lab: (freq[lab], lab))
        strata[stratum].append(group)

    ordered = {k: sorted(v, key=lambda g: docs[g[0]].id) for k, v in strata.items()}
    for group, split in assign_groups(ordered, fractions, seed):
        for i in group:
            assignment[docs[i].id] = split
    return SplitPlan(
        assignment=dict(sorted(assignment.items())),
        groups=len(members),
        exact_duplicate_docs=exact_n,
        near_duplicate_docs=near_n,
        synthetic_docs=synthetic,
        strata={s: sum(len(g) for g in strata[s]) for s in sorted(strata)},
    )


G = TypeVar("G", bound=Sized)


def assign_groups(
    strata: dict[str, list[G]], fractions: tuple[float, float, float], seed: int
) -> Iterator[tuple[G, str]]:
    """Seeded, stratified, greedy assignment of leakage groups to splits.

    `strata` maps a stratum to its groups in a stable order. Rare strata go first, so their few
    groups are spread before the big strata fill the splits; inside a stratum the groups are
    shuffled by (seed, stratum), then taken biggest first, each to the split furthest below its
    target share (within the stratum and overall).
    """
    total, n_total = [0, 0, 0], 0
    for stratum in sorted(strata, key=lambda s: (sum(len(g) for g in strata[s]), s)):
        groups = list(strata[stratum])
        random.Random(f"{seed}:{stratum}").shuffle(groups)
        groups.sort(key=len, reverse=True)  # stable: big groups first, shuffled order among equals
        local, n_local = [0, 0, 0], 0
        for group in groups:
            size = len(group)
            scores = [
                (fractions[k] * (n_local + size) - local[k]) + (fractions[k] * (n_total + size) - total[k])
                if fractions[k] > 0
                else float("-inf")
                for k in range(3)
            ]
            k = max(range(3), key=lambda j: (scores[j], -j))
            local[k] += size
            total[k] += size
            n_local += size
            n_total += size
            yield group, SPLITS[k]
