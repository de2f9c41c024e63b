"""Features in the loop: MiniLM sentence vectors with the embed extra, TF-IDF without; the report
of `simulate_many` across strategies and seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.errors import StudioError
from studio.ops.active import features as feats
from studio.ops.active.gold import read_gold
from studio.ops.active.simulate import SimSettings, simulate_many
from studio.store import Store

TEXTCLF = Path(__file__).resolve().parent.parent / "fixtures" / "textclf"


def _head(name: str, n: int, tmp_path: Path) -> Path:
    lines = (TEXTCLF / name).read_text(encoding="utf-8").splitlines(keepends=True)[:n]
    out = tmp_path / name
    out.write_text("".join(lines), encoding="utf-8")
    return out


def test_shipped_real_sets_are_balanced_and_licensed() -> None:
    topics = read_gold(TEXTCLF / "wordnet_topics.jsonl")
    sentiment = read_gold(TEXTCLF / "movie_sentiment.jsonl")
    assert not topics.problems and not sentiment.problems
    assert topics.labels() == ["artifact", "body", "food", "substance"] and len(topics.items) == 7600
    assert sentiment.labels() == ["negative", "positive"] and len(sentiment.items) == 3000
    for gold, per in ((topics, 1900), (sentiment, 1500)):
        counts = {lab: sum(1 for i in gold.items if i.label == lab) for lab in gold.labels()}
        assert set(counts.values()) == {per}
        assert len({i.text for i in gold.items}) == len(gold.items)  # no text twice
    assert "Princeton University" in (TEXTCLF / "LICENSE-WordNet.txt").read_text()
    assert "MIT License" in (TEXTCLF / "LICENSE-vaderSentiment.txt").read_text()
    readme = " ".join((TEXTCLF / "README.md").read_text().split())
    assert "WordNet 3.0 license" in readme and "MIT license" in readme


def test_auto_features_follow_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert feats.resolve("auto")[0] == feats.SWITCH  # the embed extra is installed in the test env
    f = feats.TextFeatures(["a red apple", "a green apple", "a blue car"], "tfidf")
    assert f.choice(0) == f.choice(1000) == "tfidf" and f.embeddings is None
    monkeypatch.setenv("STUDIO_EMBED", "hashed")
    kind, why = feats.resolve("auto")
    assert kind == "tfidf" and "STUDIO_EMBED" in why
    with pytest.raises(StudioError, match="unknown features"):
        feats.TextFeatures(["x"], "bert")


def test_minilm_features_switch_and_cache(tmp_path: Path) -> None:
    gold = read_gold(_head("movie_sentiment.jsonl", 60, tmp_path))
    texts = [i.text for i in gold.items]
    store = Store.init(tmp_path / "cache")
    f = feats.TextFeatures(texts[:50], "auto", store, extra_texts=texts[50:])
    assert f.choice(feats.SWITCH_AT - 1) == "minilm" and f.choice(feats.SWITCH_AT) == "minilm+tfidf"
    assert f.matrix("minilm").shape == (50, 384)
    stacked = f.matrix("minilm+tfidf")
    assert stacked.shape == (50, 384 + f.tfidf.shape[1])
    test_rows = f.transform(texts[50:], "minilm")
    assert np.allclose(np.linalg.norm(test_rows, axis=1), 1.0, atol=1e-4)
    cached = store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert cached == 60  # pool and extra texts, embedded once
    again = feats.TextFeatures(texts[:50], "minilm", store)
    assert np.allclose(again.embeddings, f.embeddings)  # read back from the cache
    store.close()


def test_simulate_many_reports_every_strategy_against_one_random(tmp_path: Path) -> None:
    gold = read_gold(_head("tickets.jsonl", 300, tmp_path))
    settings = SimSettings(batch=10, steps=5, features="tfidf")
    r = simulate_many(gold, ["margin", "random", "hybrid", "margin"], [0, 1], settings)
    assert [s.strategy for s in r.strategies] == ["margin", "hybrid"] and r.seeds == [0, 1]
    assert len(r.runs) == 4 and r.features == "tfidf"
    # random is run once per seed and shared: every run of a seed has the same baseline curve
    by_seed = {}
    for run in r.runs:
        by_seed.setdefault(run.seed, set()).add(json.dumps(run.random.model_dump()))
    assert all(len(v) == 1 for v in by_seed.values())
    for s in r.strategies:
        runs = [x for x in r.runs if x.curve.strategy == s.strategy]
        for k, p in enumerate(s.curve):
            assert p.score == pytest.approx(np.mean([x.curve.points[k].score for x in runs]), abs=1e-6)
            assert p.random == pytest.approx(np.mean([x.random.points[k].score for x in runs]), abs=1e-6)
        assert s.worst_gap == min(p.gap for p in s.curve)
        assert s.per_seed_labels == [x.labels_to_match for x in runs]
    hyb = [x for x in r.runs if x.curve.strategy == "hybrid"]
    assert all(x.curve.points[0].cold_start for x in hyb)  # the first batch: k-means centres, no model
    # agreement between rounds is recorded from the second trained round on
    assert all(p.agreement is not None for x in r.runs for p in x.curve.points[2:])
