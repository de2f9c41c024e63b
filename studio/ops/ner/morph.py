"""Korean morphology (Kiwi): which words of a text are proper nouns (the verify pass, passes.py), the review's words
and the Korean student's tokens.

A small model labels Korean common nouns as names ("반도체", "기자간담회", "계열사", "정상회담", "보건당국" as ORG).
Korean has no capital letters to tell a name from a noun; a morphological analyzer does: Kiwi (`kiwipiepy`, the
`korean` extra: a 12 MB wheel and an 88 MB model package, both from PyPI, loaded once in about a second, 0.6 ms a
sentence) tags proper nouns NNP and foreign or Chinese-character words SL / SH. Without it installed the rule is
off and `studio label` says so (`morphology` in its result).

`word_cuts(text)`: where the review's words start in Korean text (the word keys of the Labels screen move by
them): a name, a number with its unit, a particle, a verb with its endings, each punctuation mark.

`morphemes(text)`: the text as Kiwi's morphemes, the Korean student's tokens (train.py): a proper noun, a number,
a particle, an ending each a token, where the alignment's tokens are single syllables.

`name_like(text, start, end)`: the span holds a proper noun, a foreign or Chinese-character word, or ends like a
public body or a place ("국토교통부", "기상청", "공정거래위원회", "수도권", "중부지방") or a company ("한빛전자",
"미래항공") that Kiwi tags as common nouns.
`person_like(text, start, end)`: the span is not made only of common nouns Kiwi knows ("실종자", "위원회"), nor
three words or more ending in one ("경기도 내 전세사기 피해자").
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

NAME_TAGS = frozenset({"NNP", "SL", "SH"})  # proper noun, foreign word (Latin letters), Chinese characters
# how the names of public bodies and places end, where Kiwi tags them as common nouns
NAME_ENDINGS = (
    "부", "청", "처", "원", "국", "소", "실", "위", "대", "위원회", "협의회", "연대", "공사", "공단", "은행", "법원", "지검",
    "지법", "협회", "재단", "당", "국회", "검찰", "경찰", "해경", "의힘", "권", "지방", "도", "시", "군", "구",
)  # fmt: skip
COMMON_ENDINGS = ("당국",)  # "보건당국", "금융당국": the authorities, not a body's name
# how a company's name ends when Kiwi does not know it and reads it as common nouns ("한빛전자", "미래항공",
# "다온식품"): a name needs two syllables or more before the ending ("자동차" alone, "전자" alone are no names)
COMPANY_ENDINGS = (
    "전자", "항공", "자동차", "식품", "에너지", "통신", "건설", "제약", "화학", "증권", "보험", "은행", "그룹", "산업", "물산",
    "중공업", "조선", "해운", "철강", "바이오", "엔터테인먼트", "제과", "유통", "백화점", "카드", "캐피탈", "생명", "화재",
)  # fmt: skip


@cache
def _load() -> tuple[Any | None, str]:
    try:
        from kiwipiepy import Kiwi
    except ImportError:
        return None, "kiwipiepy is not installed"
    try:
        return Kiwi(), ""
    except Exception as exc:  # a broken or missing model package: labeling goes on without the rule
        return None, f"Kiwi did not load ({type(exc).__name__}: {exc})"


def tagger() -> Any | None:
    """Kiwi, loaded once; None when `kiwipiepy` is not installed or its model does not load (`why_not`)."""
    return _load()[0]


def why_not() -> str:
    """Why `tagger()` is None ("" when it is not)."""
    return _load()[1]


def available() -> bool:
    return tagger() is not None


def version() -> str | None:
    """The installed kiwipiepy's version (what a labeling run records), or None."""
    if tagger() is None:
        return None
    from importlib.metadata import version as installed

    return installed("kiwipiepy")


@lru_cache(maxsize=1024)
def _morphs(text: str) -> tuple[tuple[int, int, str], ...]:
    """Kiwi's analysis of `text`, once per text for every use below: (start, end, tag) of each morpheme."""
    kiwi = tagger()
    return tuple((t.start, t.start + t.len, t.tag) for t in kiwi.tokenize(text)) if kiwi is not None else ()


def name_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of the proper nouns and foreign or Chinese-character words of `text`."""
    return tuple((a, b) for a, b, tag in _morphs(text) if tag in NAME_TAGS)


def person_like(text: str, start: int, end: int) -> bool:
    """The span [start, end) could be a person's name: it is not made only of common nouns Kiwi knows, each of two
    syllables or more ("실종자", "위원회", "소설가", "국내총생산" as a person are not), and a span of three words or
    more does not end in such a noun (a phrase about people: "경기도 내 전세사기 피해자", "주최 측 추산"; no
    person of the Korean fixtures' 244 is one). A name Kiwi does not know is cut into odd short pieces
    ("안|하|린", "권|하|은") or tagged a proper noun ("이창용", "살라"): kept. True without Kiwi."""
    if tagger() is None:
        return True
    inside = [(a, b, tag) for a, b, tag in _morphs(text) if a < end and start < b]
    words = [(a, b, tag) for a, b, tag in inside if not tag.startswith(("S", "J"))]  # marks and particles aside
    if not words:
        return True
    common = [tag == "NNG" and b - a >= 2 for a, b, tag in words]
    return not all(common) and not (len(text[start:end].split()) >= 3 and common[-1])


def name_like(text: str, start: int, end: int) -> bool:
    """The span [start, end) of `text` could be a name (module docstring); True when Kiwi is not installed."""
    if tagger() is None:
        return True
    if any(a < end and start < b for a, b in name_ranges(text)):
        return True
    surface = text[start:end].strip()
    if any(surface.endswith(e) and len(surface) >= len(e) + 2 for e in COMPANY_ENDINGS):
        return True
    return len(surface) >= 2 and surface.endswith(NAME_ENDINGS) and not surface.endswith(COMMON_ENDINGS)


# the review's words (word_cuts): morphemes of one class within a space-delimited word are one review word
_TAIL = ("J", "E", "VC", "VV", "VA", "VX", "XSV", "XSA")  # particles, endings, copulas, verbs and their suffixes


def _word_class(tag: str) -> str:
    if tag.startswith("S") and tag not in ("SN", "SL", "SH"):
        return "mark"  # punctuation: each mark is a word of its own
    return "tail" if tag.startswith(_TAIL) else "stem"


def word_cuts(text: str) -> frozenset[int]:
    """Offsets where a review word starts inside a space-delimited word of Korean `text` ("이정후|는",
    "상무부|는", "협력|한다고", "(|KAIST|)|과"); empty when Kiwi is not installed."""
    if tagger() is None:
        return frozenset()
    cuts: set[int] = set()
    prev_class, prev_end = "", -1
    for start, end, tag in _morphs(text):
        cls = _word_class(tag)
        if cls == "mark" or cls != prev_class or start > prev_end:
            cuts.add(start)
        if cls == "mark":
            cuts.add(end)
        prev_class, prev_end = cls, max(prev_end, end)
    return frozenset(cuts)


def morphemes(text: str) -> tuple[tuple[str, ...], tuple[bool, ...]] | None:
    """`text` as spaCy words and spaces (`Doc(vocab, words, spaces)` gives back `text` exactly), one word per
    morpheme (overlapping morphemes, as Kiwi gives a contracted ending with its stem, are one word; what Kiwi
    leaves out, e.g. a line break or two spaces, is a word of its own); None when Kiwi is not installed."""
    if tagger() is None:
        return None
    words: list[str] = []
    spaces: list[bool] = []
    pos = 0

    def gap(upto: int) -> None:
        between = text[pos:upto]
        if between == " " and words and not spaces[-1]:
            spaces[-1] = True
        elif between:
            words.append(between)
            spaces.append(False)

    for start, end, _ in _morphs(text):
        a, b = max(start, pos), end
        if b <= a:
            continue
        if a > pos:
            gap(a)
        if start < pos and words and not spaces[-1]:  # overlaps the word before: one word
            words[-1] += text[pos:b]
        else:
            words.append(text[a:b])
            spaces.append(False)
        pos = b
    gap(len(text))
    return tuple(words), tuple(spaces)
