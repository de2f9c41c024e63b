"""What the text classifier in the loop sees: TF-IDF rows, MiniLM sentence vectors, or both.

- `tfidf`: word 1-2-grams (min_df 2, sublinear tf) fit once on the pool (vocabulary only, no
  labels). Always available; the only choice without the `embed` extra.
- `minilm`: all-MiniLM-L6-v2 sentence vectors (384 floats, L2-normalized; `studio.ops.embed`),
  cached per text in a store's `embeddings` table, so a corpus is embedded once.
- `minilm+tfidf`: both side by side (each row block L2-normalized, so neither dominates by scale).

`auto` (the default) is `minilm+tfidf` when the embed extra can load and `tfidf` otherwise. The
rule is measured, not assumed: on the shipped real-text sets (docs/active.md) the stacked
features were never below MiniLM alone by more than noise and above it on the topic set, and
both beat TF-IDF alone at every budget from 20 labels up.

The embeddings are also the rows the diversity step and the hybrid strategy compare.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from studio.errors import StudioError

FEATURES = ("auto", "tfidf", "minilm", "minilm+tfidf")
SWITCH = "minilm>minilm+tfidf"  # what `auto` resolves to when MiniLM can load
SWITCH_AT = 100  # labels from which TF-IDF joins the MiniLM vectors
MINILM_DIM = 384
Progress = Callable[[str, float | None], None]


class TextFeatures:
    """Feature rows for a fixed pool plus a way to turn other texts (a test split) into the same space."""

    def __init__(
        self,
        pool_texts: Sequence[str],
        kind: str = "auto",
        store: Any = None,
        extra_texts: Sequence[str] = (),
        progress: Progress | None = None,
        ngram_max: int = 2,
        min_df: int = 2,
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if kind not in FEATURES:
            raise StudioError(f"unknown features {kind!r}: use one of {', '.join(FEATURES)}")
        self.kind, self.reason = resolve(kind)
        texts = list(pool_texts)
        self.n = len(texts)
        self.vectorizer = TfidfVectorizer(ngram_range=(1, ngram_max), sublinear_tf=True, min_df=min(min_df, self.n))
        self.tfidf = self.vectorizer.fit_transform(texts) if texts else None
        self.embeddings: np.ndarray | None = None
        self._extra: dict[str, np.ndarray] = {}
        self._stacked: Any = None
        if self.kind != "tfidf":
            from studio.ops.embed import similarity_backend

            self._backend = similarity_backend(store, prefer="minilm")
            extra = list(extra_texts)
            vecs = np.asarray(self._backend.encode(texts + extra, progress), dtype=np.float32)
            self.embeddings = vecs[: self.n]
            self._extra = {t: vecs[self.n + k] for k, t in enumerate(extra)}

    @property
    def name(self) -> str:
        if self.kind == SWITCH:
            return f"minilm, +tfidf from {SWITCH_AT} labels"
        return self.kind

    def choice(self, n_labels: int) -> str:
        """The features used with `n_labels` labels: fixed, or (auto with MiniLM) the switch rule."""
        if self.kind == SWITCH:
            return "minilm" if n_labels < SWITCH_AT else "minilm+tfidf"
        return self.kind

    def matrix(self, choice: str) -> Any:
        """Pool rows for one of tfidf, minilm, minilm+tfidf."""
        if choice == "tfidf":
            return self.tfidf
        assert self.embeddings is not None
        if choice == "minilm":
            return self.embeddings
        if self._stacked is None:
            self._stacked = _stack(self.embeddings, self.tfidf)
        return self._stacked

    def transform(self, texts: Sequence[str], choice: str) -> Any:
        """Rows for texts outside the pool (embedded once when passed as `extra_texts`)."""
        texts = list(texts)
        if choice == "tfidf":
            return self.vectorizer.transform(texts)
        todo = [t for t in dict.fromkeys(texts) if t not in self._extra]
        if todo:
            vecs = np.asarray(self._backend.encode(todo), dtype=np.float32)
            self._extra.update(zip(todo, vecs, strict=True))
        emb = np.vstack([self._extra[t] for t in texts]) if texts else np.zeros((0, MINILM_DIM), np.float32)
        return emb if choice == "minilm" else _stack(emb, self.vectorizer.transform(texts))

    def diversity_rows(self) -> tuple[Any, str]:
        """Rows for near-duplicate checks and clustering: embeddings when there are any, else TF-IDF."""
        if self.embeddings is not None:
            return self.embeddings, "minilm"
        return self.tfidf, "tfidf"


def _stack(emb: np.ndarray, tfidf: Any) -> Any:
    from scipy import sparse

    # TF-IDF rows are L2-normalized by the vectorizer, MiniLM rows by the encoder: equal weight.
    return sparse.hstack([sparse.csr_matrix(emb), tfidf], format="csr")


def resolve(kind: str) -> tuple[str, str]:
    """(features, why): `auto` -> minilm+tfidf when MiniLM can load, else tfidf."""
    from studio.ops.embed import INSTALL_HINT, missing_parts

    forced = os.environ.get("STUDIO_EMBED", "").lower() == "hashed"
    if kind == "tfidf":
        return "tfidf", "chosen"
    missing = missing_parts()
    if kind != "auto":
        if missing:
            raise StudioError(f"features {kind!r} need MiniLM ({', '.join(missing)} missing): {INSTALL_HINT}")
        return kind, "chosen"
    if forced:
        return "tfidf", "STUDIO_EMBED=hashed: no sentence embeddings"
    if missing:
        return "tfidf", f"{', '.join(missing)} not installed: TF-IDF only; {INSTALL_HINT}"
    return SWITCH, f"embed extra installed: MiniLM sentence vectors, TF-IDF added from {SWITCH_AT} labels"


def cache_store() -> Any:
    """A store used only as an embedding cache when there is no project (e.g. `studio simulate`).

    `STUDIO_CACHE_DIR` or ~/.cache/studio, folder `embeddings`; created on first use.
    """
    from studio.store import Store

    base = Path(os.environ.get("STUDIO_CACHE_DIR") or Path.home() / ".cache" / "studio")
    return Store.init(base / "embeddings")
