"""Patterns: a weak source for what Korean news writes in a few regular shapes (`studio label`).

A small model misses most numbers and datelines in Korean news. Of the amounts, dates and times in the hand-written
Korean news (`fixtures/ner/wild_ko_*`) the embedded model found fewer than half, and it skipped the datelines
("(워싱턴=연합뉴스) 김동현 특파원 =": a place, an agency, a reporter), while both come in a few regular shapes:
"3천400여 명", "2조3천억 원", "35.3%", "24일", "다음 달 2일", "오전 9시 15분", "2시간"; "(세종=뉴스1) 윤해솔
기자 =", "광주=정소윤 기자". This source proposes them by pattern, for the guideline's labels whose names say
what they are (`automap.kind_of`): dates, times and amounts (DAT / DT / date / 날짜, TIM / TI / time / 시간, QTY / QT /
quantity / 수량, money, percent; money and percentages go to a MONEY or PERCENT label when the guideline has one,
else to its quantity label), and a dateline's place, agency and reporter (LOC / LC / location / GPE / 장소, ORG /
OG / organization / 기관, PER / PS / person / 인물).

Patterns exist for Korean only (English has the pretrained pipeline, which knows dates, amounts and most
datelines); for a guideline in another language, or without such labels, `Patterns.for_guideline` gives None.
Like the pretrained pipeline's, its votes carry a constant probability; the person's finished documents teach the
learned weights how far to trust it per label (`weights.py`). It runs with the verify pass (passes.py), so a
recording made with ner.v2 proposes on replay what it proposed then.
"""

from __future__ import annotations

import re

from studio.schema import Guideline, Span, language_code

PROB = 0.9  # the probability each match carries
KINDS = ("DATE", "TIME", "QUANTITY", "MONEY", "PERCENT", "GPE", "ORG", "PERSON")

# a number as Korean news writes it: digits with separators and the myriad words ("2조3천억", "14만1천300", "3.5")
_NUM = r"\d[\d,.]*(?:[조억만천백]\d*[\d,.]*)*"
_RANGE = rf"{_NUM}(?:\s?[∼~\-]\s?{_NUM})?여?"  # "50∼150", "3천400여"
_MONEY_UNITS = ("달러", "유로", "위안", "파운드", "원", "엔")
_PERCENT_UNITS = ("%포인트", "%p", "퍼센트", "%")
_COUNT_UNITS = (
    "명", "개", "대", "곳", "건", "가구", "회", "차례", "배", "도움", "도", "㎞", "㎜", "㎝", "㎡", "㎏", "km", "kg",
    "톤", "킬로미터", "미터", "세", "살", "경기", "골", "이닝", "안타", "홈런", "타점", "타수", "연승", "연패", "승",
    "패", "선", "종", "채", "척", "마리", "표", "석", "층", "개월", "년간", "년", "주", "초", "일간", "개국", "주년",
)  # fmt: skip
# every unit a number may carry, dates' and times' too (passes.py cuts a particle after one: "20회를" -> "20회")
UNITS = (*_MONEY_UNITS, *_PERCENT_UNITS, *_COUNT_UNITS, "월", "일", "시", "분", "시간", "분기", "세기")


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))  # the longest unit first


# where a word ends: a space, punctuation, the text's end, a particle ("올해에만", "새벽에"), or 께 / 쯤 / 경 ("about")
# and 인 ("토요일인 23일"); so "2주택자", "5원칙", "2시즌", "주 4일제" are not amounts, times or dates
_AFTER = "께|쯤|경|인|에서|에는|에도|까지|부터|보다|으로|에|의|은|는|이|가|을|를|도|만|와|과|로"
_END = rf"(?=$|[^\w]|{_AFTER})"
# an amount's unit may also have 씩 ("each"), 꼴 ("rate") or 어치 ("worth") after it; money and percentages also 대
# ("3만 원대", "30%대"; not "1세대")
_COUNT_END = rf"(?=$|[^\w]|씩|꼴|어치|{_AFTER})"
_MONEY_END = rf"(?=$|[^\w]|씩|꼴|어치|대|{_AFTER})"
_AMOUNT = re.compile(
    rf"(?<![\w.]){_RANGE}\s?(?:(?:(?P<money>{_alternation(_MONEY_UNITS)})|(?P<percent>{_alternation(_PERCENT_UNITS)}))"
    rf"{_MONEY_END}|(?P<count>{_alternation(_COUNT_UNITS)}){_COUNT_END})"
)
_DAYS = "월요일|화요일|수요일|목요일|금요일|토요일|일요일"
_RELATIVE = "올해|지난해|내년|작년|이번|다음|지난|오는|이달|지난달|다음 달"
_DATE = re.compile(
    rf"(?<!\w)(?:(?:{_RELATIVE})\s?)?(?:\d{{4}}년(?:\s?\d{{1,2}}월)?(?:\s?\d{{1,2}}일)?|\d{{4}}학년도"
    rf"|\d{{1,2}}\s?[∼~]\s?\d{{1,2}}월|\d{{1,2}}월(?:\s?\d{{1,2}}일)?(?:\s?[초중말])?|\d{{1,2}}일|\d분기|[상하]반기"
    rf"|\d{{1,2}}세기){_END}"
    rf"|(?<!\w)(?:지난해 같은 기간|오늘|어제|내일|올해|지난해|내년|작년|지난주|이번 주말?|다음 주말?|지난달|이달"
    rf"|다음 달(?: [초말])?|전날|전년|연내|올여름|올겨울|올봄|올가을|{_DAYS}){_END}"
)
_TIME = re.compile(  # not a fraction: "3분의 2"
    rf"(?<!\w)\d{{1,3}}(?:시간|분)(?!의\s?\d){_END}"
    rf"|(?<!\w)(?:(?:오전|오후|새벽|밤|낮|저녁|아침)\s?)?\d{{1,2}}시(?:\s?\d{{1,2}}분)?{_END}"
    rf"|(?<!\w)(?:오전|오후|새벽){_END}"
)
_ORDER = {"DATE": 0, "TIME": 1, "MONEY": 2, "PERCENT": 2, "QUANTITY": 2}  # of two matches of one length
_NAME = r"[^\s=()\[\]]{1,12}"
_REPORTER = r"(?P<per>[가-힣]{2,4})\s?(?:기자|특파원)"
# "(세종=뉴스1) 윤해솔 기자 =", "[서울=뉴시스] 홍길동 특파원 =", and without brackets "광주=정소윤 기자" (at the text's start)
_DATELINE = re.compile(
    rf"^\s*(?:[(\[](?P<loc>{_NAME})=(?P<org>{_NAME})[)\]](?:\s*{_REPORTER}\s*=)?"
    rf"|(?P<loc2>[가-힣]{{1,6}})=(?P<per2>[가-힣]{{2,4}})\s?(?:기자|특파원))"
)


def korean_matches(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of the dates, times and amounts in Korean `text`; of overlapping matches the longest
    wins, then a date over a time over an amount ("2026년" is a date, "2시간" a time, "12년" an amount)."""
    found: list[tuple[int, int, str]] = []
    for kind, rx in (("DATE", _DATE), ("TIME", _TIME)):
        found += [(m.start(), m.end(), kind) for m in rx.finditer(text)]
    for m in _AMOUNT.finditer(text):
        kind = "MONEY" if m["money"] else "PERCENT" if m["percent"] else "QUANTITY"
        found.append((m.start(), m.end(), kind))
    kept: list[tuple[int, int, str]] = []
    for s, e, kind in sorted(found, key=lambda x: (x[0] - x[1], _ORDER[x[2]], x[0])):
        if all(e <= a or b <= s for a, b, _ in kept):
            kept.append((s, e, kind))
    return sorted(kept)


# what a photo or source credit writes where a dateline has its place: "(사진=연합뉴스)", "[그래픽=뉴스1]", "(자료=통계청)"
CREDIT_WORDS = frozenset(
    ("사진", "그래픽", "자료", "출처", "제공", "영상", "편집", "디자인", "표", "그림", "일러스트", "촬영")
)


def korean_dateline(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of the place (GPE; places joined by "·" each), agency (ORG) and reporter (PERSON) of a
    Korean news dateline at the start of `text`; not a photo or source credit."""
    m = _DATELINE.match(text)
    if m is None:
        return []
    place = m["loc"] or m["loc2"]
    if place in CREDIT_WORDS or not any(c.isalpha() for c in place):
        return []
    out: list[tuple[int, int, str]] = []
    g = "loc" if m["loc"] else "loc2"
    start = m.start(g)
    for part in place.split("·"):  # "(워싱턴·서울=연합뉴스)"
        if part.strip():
            out.append((start, start + len(part), "GPE"))
        start += len(part) + 1
    return out + [(m.start(g), m.end(g), kind) for g, kind in (("org", "ORG"), ("per", "PERSON"), ("per2", "PERSON"))
                  if m[g]]  # fmt: skip


class Patterns:
    """Dates, times, amounts and datelines by pattern, for the guideline labels of those kinds (the module
    docstring)."""

    name = "patterns"

    def __init__(self, targets: dict[str, str]) -> None:
        self.targets = targets  # pattern kind -> guideline label

    @classmethod
    def for_guideline(cls, guideline: Guideline) -> Patterns | None:
        from studio.ops.ner.automap import label_of_kind

        if language_code(guideline.language) != "ko":
            return None
        targets: dict[str, str] = {}
        for kind in KINDS:
            label = label_of_kind(guideline, ("GPE", "LOC") if kind == "GPE" else (kind,))
            if label is not None:
                targets[kind] = label
        for kind in ("MONEY", "PERCENT"):
            if kind not in targets and "QUANTITY" in targets:
                targets[kind] = targets["QUANTITY"]
        return cls(targets) if targets else None

    def predict(self, text: str) -> list[tuple[Span, float]]:
        found = korean_dateline(text) + korean_matches(text)
        return [
            (Span(start=s, end=e, label=self.targets[kind], text=text[s:e]), PROB)
            for s, e, kind in sorted(found)
            if kind in self.targets
        ]
