"""Agreement measures on plain values: span F1 (strict and partial), Cohen's kappa, Krippendorff's alpha.

Nothing here reads the store; `agreement.py` feeds these from the annotators' versions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

SpanT = tuple[int, int, str]  # (start, end, label)


def span_matches(a: Iterable[SpanT], b: Iterable[SpanT], partial: bool = False) -> int:
    """Spans of `a` matched one-to-one with spans of `b`: equal (strict) or overlapping with the same label.

    Partial matching pairs the largest overlaps first, so one long span cannot match two short ones.
    """
    a_set, b_set = sorted(set(a)), sorted(set(b))
    if not partial:
        return len(set(a_set) & set(b_set))
    candidates = []
    for i, (s1, e1, l1) in enumerate(a_set):
        for j, (s2, e2, l2) in enumerate(b_set):
            overlap = min(e1, e2) - max(s1, s2)
            if l1 == l2 and overlap > 0:
                candidates.append((-overlap, i, j))
    used_a: set[int] = set()
    used_b: set[int] = set()
    for _, i, j in sorted(candidates):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return len(used_a)


def f1(matches: int, n_a: int, n_b: int) -> float | None:
    """Pairwise F1 between two annotators (symmetric: either one taken as the reference)."""
    if n_a + n_b == 0:
        return None
    return 2 * matches / (n_a + n_b)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters over the same items; None when chance agreement is total (undefined)."""
    if len(a) != len(b):
        raise ValueError("the two raters must rate the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[c] * cb[c] for c in ca) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


def krippendorff_alpha(units: Iterable[Sequence[Hashable]]) -> float | None:
    """Nominal Krippendorff's alpha. Each unit is the list of values its coders gave (any number,
    missing coders simply absent); units with fewer than two values cannot be paired and are skipped."""
    coincidence: Counter[tuple[Hashable, Hashable]] = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nc - 1) if c == k else nc * nk
                if pairs:
                    coincidence[(c, k)] += pairs / (m - 1)
    totals: Counter[Hashable] = Counter()
    for (c, _), v in coincidence.items():
        totals[c] += v
    n = sum(totals.values())
    if n <= 1:
        return None
    disagree = sum(v for (c, k), v in coincidence.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if expected == 0:
        return None
    return 1 - (n - 1) * disagree / expected


def token_tags(tokens: Sequence[tuple[int, int]], spans: Iterable[SpanT], outside: str = "O") -> list[str]:
    """The label of the span each token lies in (IO tags without B/I), `outside` for the rest."""
    tags = [outside] * len(tokens)
    for s, e, label in sorted(spans):
        for i, (ts, te) in enumerate(tokens):
            if ts >= s and te <= e:
                tags[i] = label
    return tags
