"""Tokenization for span snapping and phrase matching: spaCy blank pipelines, cached per language.

spaCy's blank `ja` and `ko` pipelines need extra packages (SudachiPy, mecab-ko) and its `zh`
default splits Latin words into letters, so for these languages (and any whose blank
pipeline fails to load) Studio uses the language-neutral `xx` pipeline. Every pipeline is
wrapped so that Han, kana and Hangul characters are single-character tokens: text in those
scripts has no spaces between words, and a character-level boundary lets "삼성전자" be found
in "삼성전자가" without the particle.
"""

from __future__ import annotations

import threading
import unicodedata
from typing import TYPE_CHECKING, Any

from studio.ops.ner.textnorm import CJK_RE

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# Languages whose spaCy blank pipeline is replaced by `xx` + character-level CJK tokens.
CHAR_LEVEL_LANGS = {"zh", "ja", "ko"}

_CACHE: dict[str, Language] = {}
_LOCK = threading.Lock()


class CJKSplitTokenizer:
    """Runs a base tokenizer, then splits any token that contains CJK characters so each
    CJK character is one token and runs of other word characters stay together."""

    def __init__(self, base: Any, vocab: Any) -> None:
        self.base = base
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        from spacy.tokens import Doc

        doc = self.base(text)
        if not CJK_RE.search(text):
            return doc
        words: list[str] = []
        spaces: list[bool] = []
        for tok in doc:
            pieces = _split_cjk(tok.text) if CJK_RE.search(tok.text) else [tok.text]
            words.extend(pieces)
            spaces.extend([False] * (len(pieces) - 1) + [bool(tok.whitespace_)])
        return Doc(self.vocab, words=words, spaces=spaces)

    # spaCy calls these when a pipeline is serialized; the wrapper has nothing of its own to save.
    def to_bytes(self, **_: Any) -> bytes:
        return b""

    def from_bytes(self, _data: bytes, **_: Any) -> CJKSplitTokenizer:
        return self


def _split_cjk(token: str) -> list[str]:
    pieces: list[str] = []
    run = ""
    for ch in token:
        if CJK_RE.match(ch) or not (ch.isalnum() or unicodedata.category(ch).startswith("M")):
            if run:
                pieces.append(run)
                run = ""
            pieces.append(ch)
        else:
            run += ch
    if run:
        pieces.append(run)
    return pieces


def get_nlp(lang: str) -> Language:
    """A blank pipeline for `lang` with CJK-aware tokenization (cached; thread-safe)."""
    lang = (lang or "en").lower().split("-")[0].split("_")[0]
    with _LOCK:
        nlp = _CACHE.get(lang)
        if nlp is None:
            nlp = _build(lang)
            _CACHE[lang] = nlp
        return nlp


def _build(lang: str) -> Language:
    import spacy

    nlp = None
    if lang not in CHAR_LEVEL_LANGS:
        try:
            nlp = spacy.blank(lang)
        except Exception:  # unknown code or missing optional dependency: fall back below
            nlp = None
    if nlp is None:
        nlp = spacy.blank("xx")
    nlp.tokenizer = CJKSplitTokenizer(nlp.tokenizer, nlp.vocab)
    return nlp


def boundaries(doc: Doc) -> set[int]:
    """Character offsets where a token starts or ends (whitespace tokens included)."""
    out: set[int] = set()
    for tok in doc:
        out.add(tok.idx)
        out.add(tok.idx + len(tok.text))
    out.add(0)
    out.add(len(doc.text))
    return out


def snap(start: int, end: int, bounds: list[int]) -> tuple[int, int]:
    """Expand [start, end) outward to the nearest token boundaries (`bounds` sorted)."""
    import bisect

    i = bisect.bisect_right(bounds, start) - 1
    j = bisect.bisect_left(bounds, end)
    return bounds[max(i, 0)], bounds[min(j, len(bounds) - 1)]
