"""A PII scan over released texts: emails, phone numbers, IPv4 addresses, card and IBAN numbers.

Patterns favour precision: card numbers must pass the Luhn check, IBANs the mod-97 check, and
phone numbers need a leading + or separators and 9-15 digits (dates are not phones). Kinds are
tried in a fixed order and a later match that overlaps an earlier one is dropped.

Redaction replaces a match with a placeholder and shifts span offsets. A match inside a labeled
span is redacted with it (the span then covers the placeholder); a match that crosses a span
boundary, or a span that lies inside a match, is refused: there is no honest way to keep that
label, so the user fixes the label or chooses --pii keep.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from studio.errors import StudioError
from studio.schema import Span

PLACEHOLDER = {
    "email": "[EMAIL]",
    "iban": "[IBAN]",
    "credit_card": "[CREDIT_CARD]",
    "ipv4": "[IP]",
    "phone": "[PHONE]",
}
KINDS = tuple(PLACEHOLDER)

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"),
    "iban": re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])"),
    "credit_card": re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
    "ipv4": re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)"),
    "phone": re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,5}){1,4}(?![\w-])"),
}
_DATE_RE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    start: int
    end: int


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(raw: str) -> bool:
    s = raw.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def _valid(kind: str, text: str) -> bool:
    if kind == "credit_card":
        digits = re.sub(r"\D", "", text)
        return 13 <= len(digits) <= 19 and luhn_ok(digits)
    if kind == "iban":
        return iban_ok(text)
    if kind == "phone":
        if _DATE_RE.fullmatch(text):
            return False
        digits = re.sub(r"\D", "", text)
        has_sep = text.startswith("+") or bool(re.search(r"[ .()-]", text))
        return has_sep and 9 <= len(digits) <= 15
    return True


# Cheap necessary conditions, so most texts skip most patterns: an email has an @, an IPv4
# address and a phone number a digit, separator, digit (`1.2`, `55 12`), a card 13 digits.
_SEP_DIGIT_RE = re.compile(r"\d[ .-]\d")
_DIGIT_RE = re.compile(r"\d")


def _kinds_possible(text: str) -> list[str]:
    kinds = []
    sep_digit = _SEP_DIGIT_RE.search(text) is not None
    for kind in KINDS:
        if kind == "email" and "@" not in text:
            continue
        if kind in ("ipv4", "phone") and not sep_digit:
            continue
        if kind == "credit_card" and len(_DIGIT_RE.findall(text)) < 13:
            continue
        kinds.append(kind)
    return kinds


def scan(text: str, prefilter: bool = True) -> list[Match]:
    """PII matches in `text`, non-overlapping, in text order (`prefilter=False`: every pattern
    runs, the reference the prefilter is tested against)."""
    taken: list[Match] = []
    for kind in _kinds_possible(text) if prefilter else KINDS:
        for m in _PATTERNS[kind].finditer(text):
            if not _valid(kind, m.group()):
                continue
            if any(m.start() < t.end and t.start < m.end() for t in taken):
                continue
            taken.append(Match(kind=kind, start=m.start(), end=m.end()))
    return sorted(taken, key=lambda t: t.start)


def count(matches: Iterable[Match]) -> dict[str, int]:
    c = Counter(m.kind for m in matches)
    return {k: c[k] for k in KINDS}


def redact(doc_id: int, text: str, spans: list[Span], matches: list[Match]) -> tuple[str, list[Span]]:
    """Replace each match with its placeholder; return the new text and the spans moved with it."""
    if not matches:
        return text, spans
    for m in matches:
        for s in spans:
            inside = s.start <= m.start and m.end <= s.end
            apart = m.end <= s.start or s.end <= m.start
            if not (inside or apart):
                raise StudioError(
                    f"document {doc_id}: a {m.kind} at [{m.start}:{m.end}] crosses the labeled span "
                    f"[{s.start}:{s.end}] {s.label}; fix that label (see `studio why {doc_id}`) "
                    "or release with --pii keep"
                )
    parts: list[str] = []
    pos = 0
    for m in matches:
        parts.append(text[pos : m.start])
        parts.append(PLACEHOLDER[m.kind])
        pos = m.end
    parts.append(text[pos:])
    new_text = "".join(parts)

    def shift(offset: int) -> int:
        # An offset moves by the length change of every match that ends at or before it.
        return offset + sum(len(PLACEHOLDER[m.kind]) - (m.end - m.start) for m in matches if m.end <= offset)

    moved = []
    for s in spans:
        start, end = shift(s.start), shift(s.end)
        moved.append(Span(start=start, end=end, label=s.label, text=new_text[start:end]))
    return new_text, moved
