"""Text normalization that remembers where each character came from.

Alignment and gold matching compare texts loosely (case, whitespace, NFC vs NFD) but must
report offsets in the ORIGINAL text. `normalize` returns the normalized string plus, for each
normalized character, the index of the original character it came from.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Scripts written without spaces between words: every character is its own token boundary.
# Han (CJK ideographs and extensions), Hiragana, Katakana, Hangul syllables and jamo.
CJK_RE = re.compile(
    r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
    r"\U00020000-\U0002fa1f]"
)


@dataclass(frozen=True)
class Normalized:
    text: str
    origin: list[int]  # origin[i] = index in the original text of normalized char i

    def to_original(self, start: int, end: int, original: str) -> tuple[int, int]:
        """Map a normalized range [start, end) back to the original text.

        The end is extended over combining marks that follow, so a match never splits a
        base letter from its accent in NFD text.
        """
        o_start = self.origin[start]
        o_end = self.origin[end - 1] + 1
        while o_end < len(original) and is_combining(original[o_end]):
            o_end += 1
        return o_start, o_end


def is_combining(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Mc", "Me")


def normalize(text: str, *, casefold: bool = True, space: str = "collapse") -> Normalized:
    """NFD-decompose, optionally casefold, drop invisible format characters (zero-width
    space, soft hyphen, ...), and collapse (`space="collapse"`) or drop (`space="drop"`)
    whitespace. NFD rather than NFC because decomposition maps each original character to
    its own run of characters, so offsets can be mapped back one character at a time.
    """
    out: list[str] = []
    origin: list[int] = []
    prev_space = True  # drop leading whitespace
    for i, ch in enumerate(text):
        if ch.isspace():
            if space == "collapse" and not prev_space:
                out.append(" ")
                origin.append(i)
            prev_space = True
            continue
        if unicodedata.category(ch) == "Cf":
            continue
        piece = unicodedata.normalize("NFD", ch)
        if casefold:
            piece = unicodedata.normalize("NFD", piece.casefold())
        for p in piece:
            out.append(p)
            origin.append(i)
        prev_space = False
    if out and out[-1] == " ":
        out.pop()
        origin.pop()
    return Normalized("".join(out), origin)


def norm_key(text: str, *, casefold: bool = True, space: str = "collapse") -> str:
    return normalize(text, casefold=casefold, space=space).text


def strip_punct(text: str, start: int, end: int, boundaries: set[int] | None = None) -> tuple[int, int]:
    """Shrink [start, end) past surrounding whitespace and punctuation.

    A punctuation character is only stripped where it is its own token (a boundary sits
    next to it, when `boundaries` are given), so "Inc." keeps its period; a closing bracket
    or quote is kept when its opener is inside the span ("Apple (US)").
    """
    while True:
        before = (start, end)
        while start < end and (text[start].isspace() or _strippable_lead(text, start, end, boundaries)):
            start += 1
        while start < end and (text[end - 1].isspace() or _strippable_tail(text, start, end, boundaries)):
            end -= 1
        if end - start >= 2 and _PAIRS.get(text[end - 1]) == text[start] and _enclosing(text, start, end, boundaries):
            start, end = start + 1, end - 1  # "(NVDA)" -> "NVDA"
        if (start, end) == before:
            return start, end


def _enclosing(text: str, start: int, end: int, boundaries: set[int] | None) -> bool:
    """True if the bracket at `start` is closed by the one at `end - 1` (not "(a) (b)")."""
    if boundaries is not None and not (start + 1 in boundaries and end - 1 in boundaries):
        return False
    depth = 0
    for i in range(start, end):
        if text[i] == text[start]:
            depth += 1
        elif text[i] == text[end - 1]:
            depth -= 1
            if depth == 0 and i < end - 1:
                return False
    return True


_PAIRS = {")": "(", "]": "[", "}": "{", "»": "«", "”": "“", "’": "‘", "」": "「", "』": "『", "）": "（"}
_OPENERS = {v: k for k, v in _PAIRS.items()}


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def _strippable_lead(text: str, start: int, end: int, boundaries: set[int] | None) -> bool:
    ch = text[start]
    if not _is_punct(ch):
        return False
    if boundaries is not None and start + 1 not in boundaries:
        return False
    closer = _OPENERS.get(ch)
    return not (closer and closer in text[start + 1 : end])


def _strippable_tail(text: str, start: int, end: int, boundaries: set[int] | None) -> bool:
    ch = text[end - 1]
    if not _is_punct(ch):
        return False
    if boundaries is not None and end - 1 not in boundaries:
        return False
    opener = _PAIRS.get(ch)
    if opener and opener in text[start : end - 1]:
        return False
    # Straight quotes are their own pair.
    return not (ch in "\"'" and ch in text[start : end - 1])
