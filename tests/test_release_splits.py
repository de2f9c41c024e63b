"""Splits: seeded and deterministic, stratified by rarest label, duplicates and near duplicates together."""

from __future__ import annotations

import random
import zlib
from collections import Counter

import numpy as np
import pytest
from datasketch import MinHash

from studio.ops.release.models import ReleaseDoc
from studio.ops.release.splits import NUM_PERM, minhash_rows, plan_splits, rarest_labels, shingles
from studio.schema import Span

WORDS = [f"w{i}" for i in range(400)]


def _doc(i: int, text: str, labels: list[str], synthetic: bool = False) -> ReleaseDoc:
    spans = [Span(start=0, end=1, label=lab) for lab in labels]
    return ReleaseDoc(
        id=i, text=text, lang="en", source="import", content_hash=str(i), synthetic=synthetic, spans=spans
    )


def corpus(n: int = 400, seed: int = 1) -> list[ReleaseDoc]:
    rng = random.Random(seed)
    docs = []
    for i in range(1, n + 1):
        labels = ["COMMON"] + (["RARE"] if i % 20 == 0 else []) + (["MID"] if i % 4 == 0 else [])
        docs.append(_doc(i, " ".join(rng.choice(WORDS) for _ in range(30)), labels))
    return docs


def test_deterministic_and_seeded() -> None:
    docs = corpus()
    a = plan_splits(docs, (0.8, 0.1, 0.1), seed=5)
    b = plan_splits(list(reversed(docs)), (0.8, 0.1, 0.1), seed=5)
    assert a.assignment == b.assignment  # input order does not matter
    c = plan_splits(docs, (0.8, 0.1, 0.1), seed=6)
    assert c.assignment != a.assignment
    assert Counter(a.assignment.values()) == Counter({"train": 320, "validation": 40, "test": 40})


def test_stratified_by_rarest_label() -> None:
    docs = corpus()
    assert Counter(rarest_labels(docs)) == {"COMMON": 300, "MID": 80, "RARE": 20}
    for seed in (1, 2, 3):
        plan = plan_splits(docs, (0.8, 0.1, 0.1), seed=seed)
        rare = Counter(plan.assignment[d.id] for d in docs if any(s.label == "RARE" for s in d.spans))
        assert rare == {"train": 16, "validation": 2, "test": 2}, rare
        mid = Counter(plan.assignment[d.id] for d in docs if {s.label for s in d.spans} == {"COMMON", "MID"})
        assert abs(mid["test"] - 8) <= 1 and abs(mid["validation"] - 8) <= 1, mid


def test_duplicates_and_near_duplicates_share_a_split() -> None:
    rng = random.Random(3)
    docs = corpus(200)
    pairs = []
    next_id = 1000
    for k in range(30):
        words = [rng.choice(WORDS) for _ in range(40)]
        base = " ".join(words)
        if k % 2:
            twin = base.upper().replace(" ", "  ")  # an exact duplicate after folding case and spaces
        else:
            words[20] = "changed"  # one word of forty: Jaccard of 3-shingles ~0.86
            twin = " ".join(words)
        docs += [_doc(next_id, base, ["COMMON"]), _doc(next_id + 1, twin, ["RARE" if k % 3 == 0 else "COMMON"])]
        pairs.append((next_id, next_id + 1))
        next_id += 2
    plan = plan_splits(docs, (0.6, 0.2, 0.2), seed=9)
    for a, b in pairs:
        assert plan.assignment[a] == plan.assignment[b], (a, b)
    assert plan.exact_duplicate_docs == 30 and plan.near_duplicate_docs == 30
    assert plan.groups == len(docs) - 30
    # Pairs are spread over the splits, not all sent to train.
    assert len({plan.assignment[a] for a, _ in pairs}) == 3


def test_unrelated_documents_are_not_joined() -> None:
    plan = plan_splits(corpus(300), (0.8, 0.1, 0.1), seed=1)
    assert plan.groups == 300 and plan.near_duplicate_docs == 0 and plan.exact_duplicate_docs == 0


def test_synthetic_documents_go_to_train_only() -> None:
    docs = corpus(100)
    docs += [
        _doc(500 + i, f"synthetic sentence number {i} about w{i} and w{i + 1}", ["RARE"], synthetic=True)
        for i in range(20)
    ]
    plan = plan_splits(docs, (0.5, 0.25, 0.25), seed=2)
    assert {plan.assignment[500 + i] for i in range(20)} == {"train"} and plan.synthetic_docs == 20
    held_out = Counter(v for k, v in plan.assignment.items() if k < 500)
    assert held_out == {"train": 50, "validation": 25, "test": 25}
    everywhere = plan_splits(docs, (0.5, 0.25, 0.25), seed=2, synthetic_to_train=False)
    assert len({everywhere.assignment[500 + i] for i in range(20)}) == 3


@pytest.mark.parametrize("scheme", ["legacy", "affine32", "affine64"])
def test_minhash_rows_equal_datasketch(scheme: str) -> None:
    """The chunk-at-once signatures are datasketch's MinHash values, in every scheme it has."""
    texts = [
        "SEOUL, March 3 (Yonhap) -- Samsung Electronics named Han Jong-hee co-CEO on Tuesday.",
        "삼성전자의 이재용 회장은 오늘 서울에서 네이버 경영진을 만났다.",
        "RESULTS: Bayern Munich 3 Borussia Dortmund 1",
        "one",
    ] + [f"Reach desk {i} of the wire about story number {i * 7} today" for i in range(50)]
    sets = [shingles(t) for t in texts]
    made = MinHash.bulk(sets, num_perm=NUM_PERM, seed=1, hashfunc=zlib.crc32, scheme=scheme)
    expected = np.vstack([m.hashvalues.astype(np.uint32) for m in made])
    assert (minhash_rows(sets, scheme=scheme) == expected).all()
