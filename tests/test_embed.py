"""Similarity backends: the hashed n-gram fallback always; the real MiniLM model when installed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.errors import StudioError
from studio.ops.embed import HashedNgrams, cosine, missing_parts, similarity_backend
from studio.ops.ner.label import FewShot
from studio.schema import Document, Proposal, Span
from studio.store import Store

NEAR = ("Apple unveiled the new iPhone in Cupertino.", "Apple unveils a new iPhone at Cupertino.")
FAR = "Heavy rain flooded the river valley overnight."


def test_hashed_vectors_are_stable_and_rank_similar_texts_higher() -> None:
    b = HashedNgrams()
    one = b.encode([NEAR[0], NEAR[1], FAR])
    # A text's vector does not depend on the other texts encoded with it.
    alone = b.encode([NEAR[0]])
    assert np.allclose(one[0].toarray(), alone.toarray())
    assert np.allclose(HashedNgrams().encode([NEAR[0]]).toarray(), alone.toarray())
    sim = cosine(one, one)
    assert np.allclose(np.diag(sim), 1.0)
    assert sim[0, 1] > 0.6 > sim[0, 2]


def test_backend_choice_and_clear_message(monkeypatch: pytest.MonkeyPatch, store: Store) -> None:
    monkeypatch.setenv("STUDIO_EMBED", "hashed")
    assert similarity_backend(store).name == "hashed"
    monkeypatch.setenv("STUDIO_EMBED", "nonsense")
    with pytest.raises(StudioError, match="auto, minilm or hashed"):
        similarity_backend(store)
    monkeypatch.delenv("STUDIO_EMBED")
    b = similarity_backend(store)
    if missing_parts():
        assert b.name == "hashed" and "pip install 'studio[embed]'" in b.reason
        with pytest.raises(StudioError, match=r"studio\[embed\]"):
            similarity_backend(store, prefer="minilm")
    else:
        assert b.name == "minilm"


def test_minilm_vectors_when_installed(store: Store) -> None:
    if missing_parts():
        pytest.skip(f"embed extra not installed ({', '.join(missing_parts())})")
    b = similarity_backend(store, prefer="minilm")
    v = b.encode([NEAR[0], NEAR[1], FAR])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sim = cosine(v, v)
    assert sim[0, 1] > sim[0, 2]
    # Cached by text hash in the store; the cached vector is the same one.
    assert store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 3
    assert np.allclose(b.encode([NEAR[0]])[0], v[0], atol=1e-6)


def test_minilm_runs_on_one_thread_unless_told(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's default (a thread per core) is 4-20x slower on a busy machine (embed_threads); the setting
    reaches torch when the model runs, and a bad value is an error that says what to write."""
    if missing_parts():
        pytest.skip(f"embed extra not installed ({', '.join(missing_parts())})")
    import torch

    from studio.ops.embed import embed_threads

    b = similarity_backend(store, prefer="minilm")
    b.encode(["one thread"])
    assert embed_threads() == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv("STUDIO_EMBED_THREADS", "2")
    b.encode(["two threads now"])
    assert torch.get_num_threads() == 2
    monkeypatch.setenv("STUDIO_EMBED_THREADS", "many")
    with pytest.raises(StudioError, match="whole number"):
        b.encode(["refused"])
    torch.set_num_threads(1)


def _approve(store: Store, examples: list[tuple[str, str, str]]) -> None:
    """Add each (text, mention, label) as a document whose one span a human accepted."""
    ids = [i for i, _ in store.add_documents([Document(text=t) for t, _, _ in examples])]
    for doc_id, (text, sub, label) in zip(ids, examples, strict=True):
        s = text.index(sub)
        span = Span(start=s, end=s + len(sub), label=label, text=sub)
        [pid] = store.add_proposals([Proposal(kind="span", document_id=doc_id, payload={"span": span.model_dump()})])
        store.accept_span(pid, "human:tester")


def test_few_shot_with_a_similarity_backend(store: Store) -> None:
    texts = [
        ("Nvidia shares rose on Tuesday after strong chip sales.", "Nvidia", "ORG"),
        ("Apple unveiled the iPhone 16 in Cupertino.", "Apple", "ORG"),
        ("Satya Nadella spoke in Seattle about cloud growth.", "Satya Nadella", "PERSON"),
    ]
    _approve(store, texts)
    few = FewShot(store, ["ORG", "PERSON"], k=1, mode="similar", similarity=HashedNgrams())
    assert few.pick("Nvidia shares fell on Monday.")[0]["text"].startswith("Nvidia")
    assert few.pick("Apple unveiled the iPhone 17.")[0]["text"].startswith("Apple")
    picked = few.pick("Satya Nadella visited Seattle.")
    assert json.loads(picked[0]["answer"]) == {"entities": [{"text": "Satya Nadella", "label": "PERSON"}]}
    # k=2: the closest example comes last, next to the text to label.
    two = FewShot(store, ["ORG", "PERSON"], k=2, mode="similar", similarity=HashedNgrams())
    assert two.pick("Apple unveiled the iPhone 17.")[-1]["text"].startswith("Apple")


PARAPHRASE = ["Apple released a new iPhone on Monday.", "On Monday, a new iPhone was launched by Apple."]
OTHERS = ["Heavy rain flooded streets in Seoul.", "The central bank raised interest rates again."]


def test_diversity_step_uses_the_backend(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Word TF-IDF sees the paraphrase as different (cosine ~0.43), so both land in one batch;
    MiniLM (with the embed extra) sees ~0.91 and keeps the second out."""
    from studio.ops.active.diversity import diverse_batch, diversity_features

    texts = PARAPHRASE + OTHERS
    monkeypatch.setenv("STUDIO_EMBED", "hashed")
    feats, name = diversity_features(texts, store)
    assert name == "tfidf"
    assert diverse_batch([0, 1, 2, 3], 3, feats) == ([0, 1, 2], [])
    if missing_parts():
        pytest.skip(f"embed extra not installed ({', '.join(missing_parts())})")
    monkeypatch.setenv("STUDIO_EMBED", "minilm")
    feats, name = diversity_features(texts, store)
    assert name == "minilm"
    assert diverse_batch([0, 1, 2, 3], 3, feats) == ([0, 2, 3], [1])


def test_query_names_its_diversity_features(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.ops.active.query import QuerySettings, run_query

    monkeypatch.setenv("STUDIO_EMBED", "hashed")
    store.add_documents([Document(text=t) for t in PARAPHRASE + OTHERS])
    result = run_query(store, QuerySettings(task="ner", strategy="random", batch=2))
    assert result.diversity == "tfidf"
    [run] = store.decisions(action="query.run")
    assert run.payload["diversity"] == "tfidf"


def test_minilm_few_shot_picks_by_meaning_where_ngrams_cannot(store: Store) -> None:
    """Three approved documents on three topics that share no names or words with the texts to
    label. Hashed n-grams pick the sports example for all three; MiniLM picks by topic."""
    if missing_parts():
        pytest.skip(f"embed extra not installed ({', '.join(missing_parts())})")
    examples = [
        ("The striker scored twice in the cup final on Sunday.", "Sunday", "DATE"),
        ("Apple unveiled a new phone at its Cupertino campus.", "Apple", "ORG"),
        ("The central bank raised interest rates by half a point.", "central bank", "ORG"),
    ]
    _approve(store, examples)
    queries = [
        "The goalkeeper saved a penalty in extra time.",
        "Samsung showed a foldable handset in Seoul.",
        "Inflation slowed as borrowing costs climbed.",
    ]
    semantic = FewShot(store, ["ORG", "DATE"], k=1, mode="similar", similarity=similarity_backend(store, "minilm"))
    assert [semantic.pick(q)[0]["text"] for q in queries] == [t for t, _, _ in examples]
    ngrams = FewShot(store, ["ORG", "DATE"], k=1, mode="similar", similarity=HashedNgrams())
    assert [ngrams.pick(q)[0]["text"] for q in queries] == [examples[0][0]] * 3
