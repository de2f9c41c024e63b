"""Near-duplicate detection with MinHash LSH (datasketch).

Pages that differ only in a date, a counter or a navigation line are the same text for a
dataset; kept twice they leak between train and test. Each text becomes a set of word
5-shingles; LSH finds earlier texts whose estimated Jaccard similarity is at least the threshold.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasketch import MinHash

NUM_PERM = 64  # enough for a 0.8 threshold (estimate error ~0.05); 128 costs twice the time
SHINGLE = 5
_WORD = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, k: int = SHINGLE) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < k:
        # Too short for k-shingles (also scripts without spaces): use character 5-grams instead.
        s = "".join(words) if words else text
        return {s[i : i + k].encode("utf-8") for i in range(max(1, len(s) - k + 1))}
    return {" ".join(words[i : i + k]).encode("utf-8") for i in range(len(words) - k + 1)}


def minhash(text: str) -> MinHash:
    from datasketch import MinHash  # imported when used: it pulls in scipy (~1 s)

    m = MinHash(num_perm=NUM_PERM)
    m.update_batch(list(shingles(text)))
    return m


class NearDupIndex:
    """Texts seen so far, keyed by a string; `match` returns the closest earlier key, if any."""

    def __init__(self, threshold: float = 0.8) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._hashes: dict[str, MinHash] = {}

    def __len__(self) -> int:
        return len(self._hashes)

    def match(self, text: str) -> tuple[str, float] | None:
        """(key, estimated similarity) of the most similar indexed text above the threshold."""
        return self.match_hash(minhash(text))

    def match_hash(self, m: MinHash) -> tuple[str, float] | None:
        best: tuple[str, float] | None = None
        for key in self._lsh.query(m):
            sim = m.jaccard(self._hashes[key])
            if sim >= self.threshold and (best is None or sim > best[1]):
                best = (key, sim)
        return best

    def add(self, key: str, text: str | None = None, m: MinHash | None = None) -> None:
        if key in self._hashes:
            return
        m = m if m is not None else minhash(text or "")
        self._lsh.insert(key, m)
        self._hashes[key] = m
