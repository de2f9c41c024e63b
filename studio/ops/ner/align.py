"""Align the model's mentions to character offsets in the ORIGINAL document text.

For each mention, in order, the first stage that finds it wins:
1. `exact`: the mention text (surrounding whitespace/punctuation stripped) occurs verbatim.
2. `casefold`: it occurs after casefolding, collapsing whitespace, NFD-normalizing and
   removing invisible format characters on both sides ("Open  AI" ~ "open ai",
   NFC "Café" ~ NFD "Cafe\u0301").
3. `fuzzy`: the region of rapidfuzz's best partial alignment (searched with a cutoff
   `FUZZY_SEARCH_SLACK` below the threshold), as is or widened by one token on either side,
   whichever scores best; it must score at least `fuzzy_threshold` (0-100) after snapping.
Each candidate is stripped of surrounding punctuation (only where it is its own token), then
expanded to token boundaries. `score` is the similarity (0-100) of the final span's text to
the mention's; a candidate scoring below `fuzzy_threshold` after snapping is rejected, so
"Apple" never becomes "Applebee's". A mention with no accepted candidate is dropped and
returned in `hallucinated`.

Repeats: with `repeat="all"` every occurrence found by stages 1-2 is proposed; with
`repeat="context"` (default) the occurrence whose surroundings best match the mention's
`context` is chosen (ties: the earliest), and a mention without context is proposed at every
occurrence. Fuzzy matching yields one (the best) occurrence.

Overlaps (`resolve_overlaps=True`): identical spans are merged; of overlapping spans, keep
the better method (exact > casefold > fuzzy), then the higher score, then the longer, then
the earlier. The losers are returned in `overlapping` so the caller can log them.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from studio.ops.ner.parse import Mention
from studio.ops.ner.textnorm import Normalized, is_combining, normalize, strip_punct
from studio.ops.ner.tokens import boundaries, get_nlp, snap
from studio.schema import Span

if TYPE_CHECKING:
    from spacy.language import Language

Method = Literal["exact", "casefold", "fuzzy"]
Repeat = Literal["context", "all"]
METHOD_RANK = {"exact": 0, "casefold": 1, "fuzzy": 2}
DEFAULT_FUZZY_THRESHOLD = 90.0
# How far below the threshold the fuzzy search looks for a region to judge (see _fuzzy).
FUZZY_SEARCH_SLACK = 20.0


class AlignedSpan(BaseModel):
    span: Span
    method: Method
    score: float = Field(ge=0, le=100)
    mention: Mention


class AlignResult(BaseModel):
    spans: list[AlignedSpan] = Field(default_factory=list)
    hallucinated: list[Mention] = Field(default_factory=list)
    overlapping: list[AlignedSpan] = Field(default_factory=list)


class _Doc:
    """The document text with what every mention needs: token boundaries, normalized form."""

    def __init__(self, text: str, nlp: Language) -> None:
        self.text = text
        self.bset = boundaries(nlp.make_doc(text))
        self.bounds = sorted(self.bset)
        self.norm: Normalized = normalize(text)


def align_mentions(
    text: str,
    mentions: list[Mention],
    lang: str = "en",
    *,
    repeat: Repeat = "context",
    fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
    resolve_overlaps: bool = True,
    nlp: Language | None = None,
) -> AlignResult:
    """Find each mention in `text`; see the module docstring for the rules."""
    if repeat not in ("context", "all"):
        raise ValueError(f"repeat must be 'context' or 'all', got {repeat!r}")
    doc = _Doc(text, nlp or get_nlp(lang))
    result = AlignResult()
    found: list[AlignedSpan] = []
    for m in mentions:
        spans = _align_one(doc, m, repeat, fuzzy_threshold)
        if spans:
            found.extend(spans)
        else:
            result.hallucinated.append(m)
    if resolve_overlaps:
        result.spans, result.overlapping = resolve(found)
    else:
        result.spans = _dedupe(found)
    return result


def _align_one(doc: _Doc, m: Mention, repeat: Repeat, threshold: float) -> list[AlignedSpan]:
    raw = m.text.strip()
    t0, t1 = strip_punct(raw, 0, len(raw))
    # The mention as given, and without the punctuation models sometimes copy ("Apple,").
    targets = list(dict.fromkeys(t for t in (raw, raw[t0:t1]) if t))
    wants = [w for w in dict.fromkeys(normalize(t).text for t in targets) if w]
    if not wants:
        return []
    stages: list[tuple[Method, list[tuple[int, int]]]] = [
        ("exact", [r for t in targets for r in _exact(doc.text, t)]),
        ("casefold", [r for w in wants for r in _casefold(doc, w)]),
    ]
    for method, ranges in stages:
        cands = _accept(doc, ranges, wants, threshold)
        if cands:
            if len(cands) > 1 and repeat == "context" and m.context.strip():
                cands = [_by_context(doc, cands, m.context)]
            return [_make(doc, s, e, score, method, m) for s, e, score in cands]
    fuzzy = [r for w in wants for r in _fuzzy(doc, w, threshold)]
    cands = sorted(_accept(doc, fuzzy, wants, threshold), key=lambda c: (-c[2], c[1] - c[0], c[0]))
    return [_make(doc, s, e, score, "fuzzy", m) for s, e, score in cands[:1]]


def _exact(text: str, target: str) -> list[tuple[int, int]]:
    out = []
    i = text.find(target)
    while i >= 0:
        out.append((i, i + len(target)))
        i = text.find(target, i + 1)
    return out


def _casefold(doc: _Doc, want: str) -> list[tuple[int, int]]:
    out = []
    norm = doc.norm.text
    i = norm.find(want)
    while i >= 0:
        j = i + len(want)
        # Never end a match between a base letter and its accent ("cafe" in "cafe\u0301").
        if j >= len(norm) or (doc.norm.origin[j] != doc.norm.origin[j - 1] and not is_combining(norm[j])):
            out.append(doc.norm.to_original(i, j, doc.text))
        i = norm.find(want, i + 1)
    return out


def _fuzzy(doc: _Doc, want: str, threshold: float) -> list[tuple[int, int]]:
    """The best partial alignment, and the same widened by one token on either side.

    rapidfuzz aligns a window as long as the mention, so a mention missing a letter
    ("Micosoft") scores low against the window but high against the whole token; the search
    therefore uses a looser cutoff, and `_accept` judges each snapped candidate by `threshold`.
    """
    norm = doc.norm.text
    if len(want) > len(norm) or not norm:
        return []
    al = fuzz.partial_ratio_alignment(want, norm, score_cutoff=max(0.0, threshold - FUZZY_SEARCH_SLACK))
    if al is None or al.dest_end <= al.dest_start:
        return []
    s, e = doc.norm.to_original(al.dest_start, al.dest_end, doc.text)
    s, e = snap(s, e, doc.bounds)
    left, right = _prev_token(doc, s), _next_token(doc, e)
    return [(s, e), (s, right), (left, e), (left, right)]


def _next_token(doc: _Doc, e: int) -> int:
    p = e
    while p < len(doc.text) and doc.text[p].isspace():
        p += 1
    i = bisect.bisect_right(doc.bounds, p)
    return doc.bounds[i] if p < len(doc.text) and i < len(doc.bounds) else e


def _prev_token(doc: _Doc, s: int) -> int:
    p = s
    while p > 0 and doc.text[p - 1].isspace():
        p -= 1
    i = bisect.bisect_left(doc.bounds, p) - 1
    return doc.bounds[i] if p > 0 and i >= 0 else s


def _accept(
    doc: _Doc, ranges: list[tuple[int, int]], wants: list[str], threshold: float
) -> list[tuple[int, int, float]]:
    """Strip, snap to tokens, and keep candidates still similar enough to the mention."""
    out: list[tuple[int, int, float]] = []
    seen: set[tuple[int, int]] = set()
    for s, e in sorted(ranges):
        s, e = strip_punct(doc.text, s, e, doc.bset)
        if e <= s:
            continue
        s, e = snap(s, e, doc.bounds)
        s, e = strip_punct(doc.text, s, e, doc.bset)
        if e <= s or (s, e) in seen:
            continue
        seen.add((s, e))
        got = normalize(doc.text[s:e]).text
        score = max(100.0 if got == w else float(Indel.normalized_similarity(w, got) * 100) for w in wants)
        if score >= threshold:
            out.append((s, e, round(score, 2)))
    return out


def _by_context(doc: _Doc, cands: list[tuple[int, int, float]], context: str) -> tuple[int, int, float]:
    ctx = normalize(context).text
    best, best_score = cands[0], -1.0
    for c in cands:
        s, e, _ = c
        window = normalize(doc.text[max(0, s - len(context)) : e + len(context)]).text
        score = fuzz.partial_ratio(ctx, window)
        if score > best_score:  # strict: ties keep the earliest
            best, best_score = c, score
    return best


def _make(doc: _Doc, s: int, e: int, score: float, method: Method, m: Mention) -> AlignedSpan:
    return AlignedSpan(
        span=Span(start=s, end=e, label=m.label, text=doc.text[s:e]), method=method, score=score, mention=m
    )


def _key(a: AlignedSpan) -> tuple[int, float, int, int]:
    return (METHOD_RANK[a.method], -a.score, -(a.span.end - a.span.start), a.span.start)


def _dedupe(spans: list[AlignedSpan]) -> list[AlignedSpan]:
    best: dict[tuple[int, int, str], AlignedSpan] = {}
    for a in spans:
        k = (a.span.start, a.span.end, a.span.label)
        if k not in best or _key(a) < _key(best[k]):
            best[k] = a
    return sorted(best.values(), key=lambda a: (a.span.start, a.span.end, a.span.label))


def resolve(spans: list[AlignedSpan]) -> tuple[list[AlignedSpan], list[AlignedSpan]]:
    """Keep non-overlapping spans by the documented preference; return (kept, dropped)."""
    kept: list[AlignedSpan] = []
    dropped: list[AlignedSpan] = []
    for a in sorted(_dedupe(spans), key=_key):
        if any(a.span.start < k.span.end and k.span.start < a.span.end for k in kept):
            dropped.append(a)
        else:
            kept.append(a)
    kept.sort(key=lambda a: (a.span.start, a.span.end))
    return kept, dropped
