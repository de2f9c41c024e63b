"""Near duplicates across crawled, imported and synthetic documents (studio/ops/dedup.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.ops.collect.importer import ImportSettings, import_paths
from studio.ops.dedup import Pair, find_near_duplicates, group_pairs
from studio.ops.embed import HashedNgrams, cosine
from studio.schema import Document
from studio.store import Store
from tests.conftest import run_cli

ARTICLE = "Apple unveiled the iPhone 16 at its headquarters in Cupertino on Monday, with a faster chip."
CORPUS = [
    # (text, source, provenance)
    (ARTICLE, "crawl", {"url": "https://example.org/a"}),
    ("Samsung said the Galaxy S25 will ship in February across Europe and Asia.", "import", {"path": "a.txt"}),
    ("The city council approved a new budget for parks and libraries.", "import", {"path": "a.txt"}),
    # the crawled article again, with a byline: a near copy from another source
    (ARTICLE + " Reporting by Jane Doe.", "import", {"path": "b.txt"}),
    # a synthetic sentence that drifted back to a real one
    (
        "Samsung said the Galaxy S25 will ship in February across Europe and Asia!",
        "synthetic",
        {"synthetic": True, "model": "m", "prompt": "synth.v2", "seed": 0},
    ),
    (
        "Nvidia reported record revenue from data center chips this quarter.",
        "synthetic",
        {"synthetic": True, "model": "m", "prompt": "synth.v2", "seed": 0},
    ),
]


@pytest.fixture
def corpus(store: Store) -> Store:
    for text, source, prov in CORPUS:
        store.add_document(Document(text=text, source=source, provenance=prov))
    return store


def test_groups_across_sources(corpus: Store) -> None:
    report = find_near_duplicates(corpus, HashedNgrams())
    assert report.backend == "hashed" and report.threshold == 0.8 and report.documents == 6
    assert [(g.keep, g.members) for g in report.groups] == [(1, [1, 4]), (2, [2, 5])]
    assert report.groups[0].sources == {1: "crawl", 4: "import"}
    assert report.groups[1].sources == {2: "import", 5: "synthetic"}
    assert all(0.8 <= p.similarity <= 1.0 for p in report.pairs)
    # a stricter threshold keeps only the closer pair (one character apart)
    strict = find_near_duplicates(corpus, HashedNgrams(), threshold=0.95)
    assert [g.members for g in strict.groups] == [[2, 5]]
    # only pairs that involve the given documents
    only = find_near_duplicates(corpus, HashedNgrams(), only=[5, 6])
    assert [(p.a, p.b) for p in only.pairs] == [(2, 5)]


def test_lsh_candidates_find_what_comparing_every_pair_finds(store: Store) -> None:
    """The index proposes candidates; every pair brute force finds at the threshold is among them."""
    rng = np.random.default_rng(0)
    # a news-sized vocabulary: word salad from a few dozen words would make unrelated texts similar
    syllables = ["ka", "mi", "so", "ren", "tal", "do", "hyu", "ng", "bar", "lee", "sun", "po", "gi", "won"]
    vocab = sorted({"".join(rng.choice(syllables, size=int(rng.integers(2, 4)))) for _ in range(2000)})
    texts = [" ".join(rng.choice(vocab, size=int(rng.integers(10, 25)))) for _ in range(300)]
    texts += [t + " (Reporting by Kim Min-jun)" for t in texts[:20]]  # footers
    texts += [t.replace(t.split()[3], "KOSDAQ", 1) for t in texts[20:40]]  # one word changed
    texts += [t.upper() for t in texts[40:50]]  # headlines in capitals
    store.add_documents([Document(text=t) for t in texts])
    vecs = HashedNgrams().encode(texts)
    sims = cosine(vecs, vecs)
    expected = {(i + 1, j + 1) for i in range(len(texts)) for j in range(i + 1, len(texts)) if sims[i, j] >= 0.8}
    assert len(expected) >= 50
    report = find_near_duplicates(store, HashedNgrams())
    assert {(p.a, p.b) for p in report.pairs} == expected
    assert all(abs(p.similarity - sims[p.a - 1, p.b - 1]) < 1e-6 for p in report.pairs)


def test_union_find_joins_chains() -> None:
    pairs = [Pair(5, 9, 0.9), Pair(1, 5, 0.9), Pair(2, 3, 0.9), Pair(7, 8, 0.9), Pair(3, 8, 0.9)]
    assert group_pairs(pairs) == [[1, 5, 9], [2, 3, 7, 8]]


def test_import_reports_near_copies_of_stored_documents(corpus: Store, tmp_path: Path) -> None:
    f = tmp_path / "new.txt"
    f.write_text(
        ARTICLE + " Reporting by Jane Doe and John Roe.\n"  # a near copy of doc 1 and doc 4
        "A brand new sentence about cooking pasta at home.\n"
        "A brand new sentence about cooking pasta at home!\n",  # a near copy of the line above
        encoding="utf-8",
    )
    result = import_paths(corpus, [f], ImportSettings(per_line=True))
    assert result.imported == 3 and result.similarity == "minhash"
    got = {d["document_id"]: d["of"] for d in result.near_duplicates}
    assert got[7] == 4 and got[9] == 8 and 8 not in got
    [run] = corpus.decisions(action="import.run")
    assert run.payload["near_duplicates"] == result.near_duplicates

    g = tmp_path / "more.txt"
    g.write_text(ARTICLE + " Photos by Ann Lee.\n", encoding="utf-8")
    off = import_paths(corpus, [g], ImportSettings(per_line=True, near_dups=False))
    assert off.imported == 1 and off.near_duplicates == [] and off.similarity is None


def test_dups_cli(corpus: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_EMBED", "hashed")
    root = str(corpus.root)
    corpus.close()
    code, out, err = run_cli("--project", root, "dups", "--json", "--source", "synthetic")
    assert code == 0, err
    data = json.loads(out)
    assert data["backend"] == "hashed" and [g["members"] for g in data["groups"]] == [[2, 5]]
    code, out, err = run_cli("--project", root, "dups")
    assert code == 0, err
    assert "2 groups (4 documents) among 6." in out and "1 (crawl), 4 (import)" in out
    assert "pip install 'studio[embed]'" in err
