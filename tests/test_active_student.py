"""NER queries with the trained student: beam-search token distributions, most uncertain sentence."""

from __future__ import annotations

import numpy as np
import pytest

from studio.ops import registry
from studio.ops.active import student
from studio.ops.active.query import QuerySettings, run_query
from studio.ops.ner.train import load_model
from studio.store import Store
from tests.ner_helpers import add_docs, complete_like_gold, news_project, read_news


def test_ner_query_ranks_by_the_students_token_uncertainty(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_EMBED", "hashed")  # diversity on TF-IDF: this test is about the student
    news_project(store)
    gold = read_news("news_en_train", 20)
    ids = add_docs(store, gold)
    for i, d in zip(ids[:10], gold[:10], strict=True):
        complete_like_gold(store, i, d["spans"])
    registry.run("train", {"base": "blank", "max_epochs": 2, "patience": 2}, registry.OpContext(store=store))
    found = student.find(store.root)
    assert found is not None
    folder, card = found
    nlp = load_model(folder)
    texts = [d["text"] for d in gold[10:14]]
    labels = card["labels"]
    tables = student.token_distributions(nlp, card["language"], texts, labels)
    for sents in tables:
        for t in sents:
            assert t.shape[1] == 1 + len(labels) and np.allclose(t.sum(axis=1), 1.0, atol=1e-6)
    scores, per_sentence = student.doc_scores(nlp, card["language"], texts, labels, "margin")
    assert [max(p) for p in per_sentence] == scores.tolist()  # a document = its most uncertain sentence

    r = run_query(store, QuerySettings(task="ner", strategy="margin", batch=5, features="tfidf"))
    assert not r.cold_start and r.used == "margin" and r.features.startswith("student:")
    assert r.labeled == 10 and len(r.items) == 5
    top = r.items[0]
    unlabeled = [(i, d["text"]) for i, d in zip(ids[10:], gold[10:], strict=True)]
    all_scores, _ = student.doc_scores(nlp, card["language"], [t for _, t in unlabeled], labels, "margin")
    # no proposals here, so the ranking is the student's alone (scores become percentile ranks)
    assert top.document_id == unlabeled[int(np.argmax(all_scores))][0] and top.score == 1.0
    d = store.decisions(action="query.run")[-1]
    assert d.payload["model"] == r.features and d.payload["model_version"] == r.model_version
