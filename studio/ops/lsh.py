"""MinHash signatures and banded LSH in numpy: candidate near-duplicate pairs in bounded memory.

Comparing every document with every other is quadratic (10k documents: 50 million pairs). Here
each text becomes the set of its word 3-shingles (character 3-grams inside long runs without
spaces, as in Chinese or Japanese), and a MinHash signature of SIG_SIZE values estimates the
Jaccard similarity of two such sets. Signatures are cut into BANDS bands of ROWS values; two texts
whose values agree on a whole band are a candidate pair. Texts with Jaccard 0.5 collide in some
band with probability 0.87, at 0.6 with 0.98, unrelated texts almost never. Memory is
SIG_SIZE x 4 bytes per document (0.5 kB) whatever its length; time is linear in the corpus.

The candidates are then checked with the real similarity (studio.ops.dedup). Deterministic:
fixed hash functions, no randomness at run time.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

SIG_SIZE = 128
ROWS = 4
BANDS = SIG_SIZE // ROWS
SHINGLE = 3
LONG_RUN = 12  # a "word" longer than this (a run of CJK characters) is read character by character
NEIGHBOURS = 8  # in a bucket, each text is paired with this many earlier ones (chains join the rest)
_WORD = re.compile(r"\w+", re.UNICODE)
_U64 = np.uint64
_MIX = _U64(0x100000001B3)
_rng = np.random.RandomState(20261206)  # fixed: the same signatures in every run
_A = _rng.randint(1, 2**62, size=SIG_SIZE, dtype=np.uint64) * _U64(2) + _U64(1)
_B = _rng.randint(0, 2**62, size=SIG_SIZE, dtype=np.uint64)
_BAND_MIX = _rng.randint(1, 2**62, size=ROWS, dtype=np.uint64) * _U64(2) + _U64(1)


def _tokens(text: str) -> list[int]:
    out: list[int] = []
    for w in _WORD.findall(text.lower()):
        if len(w) > LONG_RUN:
            out.extend(zlib.crc32(ch.encode("utf-8")) for ch in w)
        else:
            out.append(zlib.crc32(w.encode("utf-8")))
    return out or [zlib.crc32(text.strip().encode("utf-8"))]


def signatures(texts: Sequence[str]) -> np.ndarray:
    """MinHash signatures (len(texts) x SIG_SIZE, uint32) of the texts' shingle sets."""
    seqs = [_tokens(t) for t in texts]
    out = np.empty((len(seqs), SIG_SIZE), dtype=np.uint32)
    if not seqs:
        return out
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    flat = np.fromiter((h for s in seqs for h in s), dtype=np.uint64, count=int(lens.sum()))
    n = len(flat)
    shingle = flat.copy()
    with np.errstate(over="ignore"):
        for k in range(1, SHINGLE):  # position i: the hash of tokens i .. i+SHINGLE-1
            shingle[: n - k] = shingle[: n - k] * _MIX + flat[k:]
    # each text's shingles start at its first token; a text shorter than SHINGLE has one (itself)
    windows = np.maximum(lens - SHINGLE + 1, 1)
    firsts = np.cumsum(windows) - windows
    starts = np.cumsum(lens) - lens
    pos = np.arange(int(windows.sum())) - np.repeat(firsts - starts, windows)
    short = np.repeat(lens < SHINGLE, windows)
    values = shingle[pos]
    if short.any():  # a short text's one "shingle" is the hash of all its tokens, not a partial window
        values[short] = [_whole(seqs[i]) for i in np.nonzero(lens < SHINGLE)[0]]
    # permutations at a time: the temporary (shingles x step) matrix stays under ~16 MB
    step = max(1, min(32, 2_000_000 // max(1, len(values))))
    with np.errstate(over="ignore"):
        for p in range(0, SIG_SIZE, step):
            hashed = (values[:, None] * _A[None, p : p + step] + _B[None, p : p + step]) >> _U64(32)
            out[:, p : p + step] = np.minimum.reduceat(hashed, firsts, axis=0)
    return out


def _whole(tokens: list[int]) -> int:
    h = 0
    for t in tokens:
        h = (h * 0x100000001B3 + t) & 0xFFFFFFFFFFFFFFFF
    return h


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """One 64-bit key per band (len x BANDS): equal keys mean equal values on the whole band."""
    parts = sigs[:, : BANDS * ROWS].astype(np.uint64).reshape(len(sigs), BANDS, ROWS)
    with np.errstate(over="ignore"):
        return (parts * _BAND_MIX[None, None, :]).sum(axis=2, dtype=np.uint64)


def candidate_pairs(keys: np.ndarray, query: np.ndarray | None = None) -> np.ndarray:
    """Pairs (i < j) of rows that share a band key, as an (n, 2) array, each pair once.

    With `query` (a boolean mask), only pairs with at least one query row. In a big bucket
    (boilerplate), each row is paired with its NEIGHBOURS predecessors, which still joins the
    bucket into one group.
    """
    found: list[np.ndarray] = []
    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")
        ks = keys[order, band]
        for d in range(1, NEIGHBOURS + 1):
            same = np.nonzero(ks[d:] == ks[:-d])[0]
            if not len(same):
                break
            a, b = order[same], order[same + d]
            if query is not None:
                keep = query[a] | query[b]
                a, b = a[keep], b[keep]
            found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(found).astype(np.int64), axis=0)


def estimated_jaccard(sigs: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The fraction of signature values two rows share: an estimate of their Jaccard similarity."""
    out = np.empty(len(pairs), dtype=np.float64)
    for s in range(0, len(pairs), 20000):
        p = pairs[s : s + 20000]
        out[s : s + len(p)] = (sigs[p[:, 0]] == sigs[p[:, 1]]).mean(axis=1)
    return out


def signature_matrix(chunks: Iterable[Sequence[str]]) -> np.ndarray:
    """Signatures of texts arriving in chunks (never all texts in memory at once)."""
    parts = [signatures(chunk) for chunk in chunks]
    return np.vstack(parts) if parts else np.zeros((0, SIG_SIZE), dtype=np.uint32)
