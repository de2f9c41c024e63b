"""Passes around the one NER request per chunk, for small models (`studio label`).

A 1.5B model answers short lines badly: results lines ("Estovia 1 Lorvia 2"), headlines in
capitals, datelines get an empty answer; and it labels what the guideline excludes ("Dec. 5",
"coach", "Dr. Jane Doe"). Two passes, both generic (they read the guideline, not a corpus):

- **verify** (no model call): a span the guideline's own examples rule out is dropped or trimmed,
  per label (`guideline_shapes`):
  - it contains a digit while none of the label's examples does ("Dec. 5", "41 million" for
    PER/ORG/LOC/MISC; Korean DAT/QTY examples have digits, so dates and amounts stay), unless the label's
    name says it is a kind of name that often has one (products, works, laws, facilities, events, amounts:
    "iPhone 16", "Galaxy S24"; `automap.DIGITS_ALLOWED`);
  - it has no uppercase letter while every example of the label has one ("coach", "inflation";
    off for scripts without case, and for a label with an example like "iPhone" it still holds);
  - it is one of the label's negative examples ("Prime Minister", "percent") or a word its exclude
    rules name in brackets ("Minister");
  - it holds a word or phrase the label excludes (its negative examples and the items in brackets
    in its exclude rules: "Dr.", "coach", "Minister") before its last word: the words up to it are
    cut off ("Dr. Aurelio Fairweather" -> "Aurelio Fairweather", "Finance Minister Jane Doe" -> "Jane Doe");
  - (English) a label whose exclude rules name titles ("titles and roles before a name (Minister, coach,
    Dr.)") also cuts the common English titles and roles (`TITLE_WORDS`: "Bishop", "Gen.", "Sheikh", "King",
    "Chief Executive"...), not only those the rule lists;
  - (English) where every example of the label is capitalized, lower-case words at its edges are cut
    ("Arab League spokesman" -> "Arab League", "residents of Vienna" -> "Vienna"; name particles like "van",
    "de", "al" stay);
  - (Korean, with ner.v5: `LANGUAGE_RULES_VERSIONS`) an amount (a label named for quantities, money or percentages
    whose examples all have a digit) with no number in it is dropped ("물가 상승률", "선원" as QTY; number words such
    as "세 명", "열두 명", "십여 명" count), and a "%" right after a number is taken in ("3.1" -> "3.1%");
  - (Korean, with the `korean` extra installed) a span of a label for places or organizations with no proper noun
    in it is dropped ("반도체", "기자간담회", "정상회담" as ORG; `morph.name_like`), a person's span made only of
    common nouns Kiwi knows too ("실종자", "위원회"; `morph.person_like`);
  - (Korean) a place before a body's or district's name is split off into the guideline's place label ("미국 상무부"
    -> "미국" LOC and "상무부" ORG, "광주 북구" -> "광주", "북구"; "서울 방향" -> "서울"; `_split_place`, `KO_PLACES`);
  - (Korean, where titles and particles follow the name) a person label whose rules name titles (직함) cuts the title
    and what follows it, and a title before the name ("김태윤 기자" -> "김태윤", "김대중 전 대통령" -> "김대중", "배우
    송강호" -> "송강호"; `KO_TITLE_WORDS`, the label's negative examples; 모 / 군 / 양 / 님 only after a one-syllable
    surname); the predicate a small model runs on into is cut ("3일 밝혔다" -> "3일", "2%에 안착하고 있다" -> "2%");
    and a date's, time's or amount's particle after its number or unit ("20회를" -> "20회", "2조 원어치" -> "2조 원");
  - (in `label.py`, where the pretrained pipeline votes) the pipeline calls it a person or a place of two
    words or more and the guideline has no label for people or places ("Tim Cook" as ORG).
- **recall** (a second request, only where it may help): when a chunk's answer is empty, or
  leaves capitalized words outside every span (not stop words, month or day names, words the
  guideline excludes, or the first word of a sentence: `missed_words`), the model is asked again
  about those words with `prompts/ner_recall.vN.jinja` (the same system message, so the server's
  prompt cache holds). What it finds is added where it overlaps nothing found before (names it
  answered word by word are joined first).

Whether each pass runs: the project settings `label.recall_pass` / `label.verify_spans` (true or
false) when set, else by the ner prompt's version: recall with v3 only; verify with v3, the compact v4
(English's default, where it gains: docs/ner.md) and v5 (v2's request; Korean's default), off with v1 and v2. So a recorded session replayed with the
prompt it was made with asks the same requests and keeps the same spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from studio.ops.ner import morph
from studio.ops.ner.patterns import UNITS
from studio.schema import Guideline, Span

if TYPE_CHECKING:
    from studio.llm.prompts import Prompt
    from studio.llm.request import Message
    from studio.store import Store

RECALL_SETTING = "label.recall_pass"
VERIFY_SETTING = "label.verify_spans"
RECALL_PROMPT = ("ner_recall", 1)
VERSIONS_WITH_RECALL = frozenset({3})  # the ner prompt versions with which each pass is on by default
VERSIONS_WITH_VERIFY = frozenset({3, 4, 5})
# the ner prompt versions with which the verify pass adds the Korean rules and `studio label` the Korean patterns, so
# a Korean run made with v3 or v4 replays as it was made
LANGUAGE_RULES_VERSIONS = frozenset({5})
MAX_RECALL_WORDS = 12  # words named in one recall request (the rest are still in the text)
_BRACKETS = re.compile(r"\(([^()]*)\)")
_WORD = re.compile(r"\w+(?:[.'’]\w+)*\.?|[^\w\s]", re.UNICODE)
# English titles and roles before a name, cut where a label's exclude rules name titles (hand-written news, the
# embedded model's spans: F1 +0.01 to +0.02 at 0, 20 and 210 reviewed; docs/ner.md)
TITLE_WORDS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "professor",
        "sir",
        "dame",
        "lord",
        "lady",
        "king",
        "queen",
        "prince",
        "princess",
        "pope",
        "cardinal",
        "bishop",
        "archbishop",
        "rev",
        "reverend",
        "sheikh",
        "emir",
        "gen",
        "general",
        "col",
        "colonel",
        "lt",
        "capt",
        "captain",
        "sgt",
        "adm",
        "admiral",
        "gov",
        "governor",
        "sen",
        "senator",
        "rep",
        "president",
        "premier",
        "minister",
        "chancellor",
        "mayor",
        "judge",
        "justice",
        "chairman",
        "chairwoman",
        "chief",
        "executive",
        "ceo",
        "coach",
        "detective",
        "inspector",
        "novelist",
        "spokesman",
        "spokeswoman",
        "secretary",
        "ambassador",
        "commissioner",
        "striker",
        "midfielder",
        "defender",
        "goalkeeper",
    ]
)
# lower-case words that are part of names ("Ludwig van Beethoven", "Aravinda de Silva", "Bashar al-Assad")
NAME_PARTICLES = frozenset(
    [
        "van",
        "von",
        "de",
        "da",
        "di",
        "du",
        "del",
        "della",
        "der",
        "den",
        "le",
        "la",
        "al",
        "el",
        "bin",
        "ibn",
        "ben",
        "dos",
        "das",
        "y",
    ]
)

# Korean titles and roles written after a name ("김태윤 기자", "이수현 교수"), cut where a person label's rules name
# titles (직함)
KO_TITLE_WORDS = frozenset((
    "씨", "기자", "특파원", "대표", "의원", "교수", "대통령", "총리", "장관", "차관", "회장", "부회장", "사장", "위원장", "원장",
    "감독", "선수", "총재", "원내대표", "대변인", "위원", "지사", "청장", "국장", "실장", "의장", "총장", "대사", "검사", "판사",
    "변호사", "박사", "연구원", "연구팀", "팀장", "작가", "배우", "코치", "여사",
))  # fmt: skip
# after a surname alone only ("정 모 씨": 모 is "so-and-so"; "김 군", "이 양"): "앤드루 양" and "모 살라" are names
KO_SURNAME_TITLES = frozenset(("모", "군", "양", "님"))
# words before a title that go with it ("김대중 전 대통령": former; "신임 대표": new)
KO_TITLE_MODIFIERS = frozenset(("전", "현", "前", "現", "신임", "차기", "초대", "당시", "故", "고"))
# particles ("20회를", "2%에", "2조 원어치", "교수로"), longest first
KO_PARTICLES = (
    "에서", "에게", "으로", "까지", "부터", "에는", "에도", "어치", "에", "의", "을", "를", "은", "는", "이", "가", "과", "와", "씩",
    "로",
)  # fmt: skip
# labels whose spans are amounts (by the label's name, as automap reads names): in Korean each needs a number
AMOUNT_KINDS = ("MONEY", "PERCENT", "QUANTITY")
# labels of dates, times and amounts: in Korean a number's particle is cut from them ("20회를" -> "20회")
NUMBER_KINDS = ("DATE", "TIME", *AMOUNT_KINDS)
# labels for names of places and organizations: in Korean each needs a proper noun (morph.py); not people, whose
# given names are often common nouns too ("한결", "하늘")
NAME_KINDS = ("GPE", "LOC", "ORG", "NORP", "FAC")
PERSON_KINDS = ("PERSON",)
PLACE_KINDS = ("GPE", "LOC")
# Places a Korean news sentence puts before a body's or a district's name ("미국 상무부", "광주 북구", "서울 방향"): a
# small model labels the two as one; the gold splits them (`_split_place`)
_KO_PLACE_NAMES = (
    "미국 중국 일본 러시아 북한 남한 한국 영국 프랑스 독일 이탈리아 스페인 캐나다 호주 인도 베트남 태국 대만 홍콩 싱가포르 "
    "인도네시아 필리핀 말레이시아 브라질 멕시코 아르헨티나 이란 이라크 이스라엘 이집트 사우디 사우디아라비아 튀르키예 터키 "
    "우크라이나 폴란드 네덜란드 벨기에 스위스 스웨덴 노르웨이 핀란드 덴마크 오스트리아 그리스 몽골 유럽 미 중 일 "
    "美 中 日 北 韓 英 佛 獨 露 "
    "서울 부산 대구 인천 광주 대전 울산 세종 경기 강원 충북 충남 전북 전남 경북 경남 제주 경기도 강원도 제주도 "
    "충청북도 충청남도 전라북도 전라남도 경상북도 경상남도 수원 성남 고양 용인 창원 청주 천안 전주 포항 김해 평택 안산 안양 "
    "화성 여수 순천 목포 구미 경주 강릉 춘천 원주 충주 군산 익산 진주 통영 거제 양산 파주 김포 의정부 부천 "
    "워싱턴 뉴욕 도쿄 베이징 상하이 런던 파리 베를린 모스크바"
)
KO_PLACES = frozenset(_KO_PLACE_NAMES.split())
# how the rest of such a span ends when it is a body or a district of that place ("상무부", "기상청", "통계국",
# "북구", "종로구"); not a company's or a team's name ("전북 현대", "울산 바다", "부산 KCC")
KO_BODY_ENDINGS = ("부", "청", "처", "원", "국", "위원회", "지법", "지검", "법원", "경찰", "검찰", "구", "군", "시", "도", "동",
                   "읍", "면")  # fmt: skip
_NUMBER_WORDS = frozenset((
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty",
    "sixty", "seventy", "eighty", "ninety", "hundred", "hundreds", "thousand", "thousands", "million", "millions",
    "billion", "billions", "trillion", "dozen", "dozens", "half", "third", "thirds", "quarter", "quarters",
    "한", "두", "세", "네", "석", "넉", "몇", "절반",
))  # fmt: skip
# Korean number words at a word's start ("열두", "스물두", "서른", "수조", "한두", "십여", "백만")
_NUMBER_PREFIXES = (
    "다섯", "여섯", "일곱", "여덟", "아홉", "열", "스무", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔", "수십",
    "수백", "수천", "수만", "수억", "수조", "한두", "두세", "서너", "대여섯",
)  # fmt: skip
_SINO_NUMBER = re.compile(r"^[일이삼사오육칠팔구]?[십백천만억조][일이삼사오육칠팔구십백천만억조]*여?$")
_PERCENT = frozenset("%％")


@dataclass(frozen=True)
class PassSettings:
    recall: bool = False
    verify: bool = False


def pass_settings(store: Store, prompt: Prompt, recall: str = "auto", verify: str = "auto") -> PassSettings:
    """What runs for this labeling run: `recall` / `verify` when "on" or "off" (`studio label --recall-pass`,
    `--verify-spans`); for "auto" the project settings when set, else the prompt's version decides."""

    def decide(given: str, setting: str, versions: frozenset[int]) -> bool:
        if given != "auto":
            return given == "on"
        value = store.get_setting(setting)
        return prompt.version in versions if value is None else bool(value)

    return PassSettings(
        recall=decide(recall, RECALL_SETTING, VERSIONS_WITH_RECALL),
        verify=decide(verify, VERIFY_SETTING, VERSIONS_WITH_VERIFY),
    )


# -- verify ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelShape:
    """What a label's examples say about its spans."""

    needs_upper: bool = False  # every example has an uppercase letter
    no_digits: bool = False  # no example has a digit
    negatives: frozenset[str] = frozenset()  # casefolded surface forms that are never this label
    prefixes: tuple[tuple[str, ...], ...] = ()  # word sequences cut off the start of a span
    edge_lower: bool = False  # lower-case words at a span's edges are cut (English, every example capitalized)
    needs_number: bool = False  # (Korean) an amount: a span without a digit or a number word is dropped
    numeric: bool = False  # (Korean) a label that may hold digits: a "%" after a number is taken in
    suffixes: frozenset[str] = frozenset()  # (Korean, people) a title word, and what follows it, is cut
    korean: bool = False  # (Korean) predicates after the name are cut
    number_particles: bool = False  # (Korean, dates, times and amounts) a number's last particle is cut
    proper: bool = False  # (Korean, places and organizations) a span with no proper noun is dropped (morph.py)
    person: bool = False  # (Korean, people) a span made only of known common nouns is dropped (morph.py)
    place_label: str = ""  # (Korean, places and organizations) the label a leading place is split off into
    function_words: bool = False  # (English, not numbers) a lower-case span of function words only is dropped


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.casefold().rstrip(".") for w in _WORD.findall(text) if w.strip("."))


def guideline_shapes(guideline: Guideline, language_rules: bool = True) -> dict[str, LabelShape]:
    """Per label, the shape rules its examples support (see the module docstring). A rule needs at
    least two examples of the label to hold, so one odd example does not make a rule. `language_rules` False leaves
    the Korean rules out (a run with a prompt before ner.v5: `LANGUAGE_RULES_VERSIONS`)."""
    from studio.ops.ner.automap import digits_allowed, kind_of, label_of_kind
    from studio.schema import language_code

    out: dict[str, LabelShape] = {}
    with_digits = digits_allowed(guideline)
    amounts = {lab.name for lab in guideline.labels if kind_of(lab.name, AMOUNT_KINDS)}
    english = language_code(guideline.language) == "en"
    korean = language_rules and language_code(guideline.language) == "ko"
    place_label = label_of_kind(guideline, PLACE_KINDS) or ""
    for lab in guideline.labels:
        pos = [e for e in lab.positive_examples if e.strip()]
        # sentences given as examples (some guidelines do) say nothing about the shape of a name
        names = [e for e in pos if len(e.split()) <= 5 and not e.rstrip().endswith((".", "!", "?"))]
        cased = [e for e in names if any(c.isupper() or c.islower() for c in e)]
        needs_upper = len(cased) >= 2 and len(cased) == len(names) and all(any(c.isupper() for c in e) for e in names)
        no_digits = lab.name not in with_digits and len(names) >= 2 and not any(c.isdigit() for e in names for c in e)
        # the rules joined first: a YAML list written [roles before a name (Minister, coach, Dr.)] is split
        # at the commas inside the brackets
        excluded = [p.strip() for m in _BRACKETS.findall(", ".join(lab.exclude)) for p in m.split(",")]
        phrases = {_words(p) for p in [*lab.negative_examples, *excluded] if p.strip()}
        if english and any("title" in rule.casefold() for rule in lab.exclude):
            phrases |= {(w,) for w in TITLE_WORDS}
        suffixes: frozenset[str] = frozenset()
        if korean:  # titles follow the name: they are cut from the end, not the start
            person = kind_of(lab.name, PERSON_KINDS)
            if person:
                suffixes = frozenset(p[0] for p in phrases if len(p) == 1)
            titles = any("직함" in rule for rule in [lab.definition, *lab.exclude]) or any(
                "title" in rule.casefold() for rule in lab.exclude
            )
            if person and titles:
                suffixes |= KO_TITLE_WORDS | KO_SURNAME_TITLES
            phrases = {p for p in phrases if not person or len(p) > 1}
        out[lab.name] = LabelShape(
            needs_upper=needs_upper,
            no_digits=no_digits,
            negatives=frozenset(n.strip().casefold() for n in lab.negative_examples if n.strip()),
            prefixes=tuple(sorted((p for p in phrases if p), key=lambda p: (-len(p), p))),
            edge_lower=english and needs_upper,
            needs_number=korean
            and lab.name in amounts
            and bool(names)
            and all(any(c.isdigit() for c in e) for e in names),
            numeric=korean and lab.name in with_digits,
            suffixes=suffixes,
            korean=korean,
            number_particles=korean and kind_of(lab.name, NUMBER_KINDS),
            proper=korean and kind_of(lab.name, NAME_KINDS),
            person=korean and kind_of(lab.name, PERSON_KINDS),
            place_label=place_label if korean and kind_of(lab.name, NAME_KINDS) else "",
            function_words=english and lab.name not in amounts and not kind_of(lab.name, NUMBER_KINDS),
        )
    return out


@dataclass
class VerifyResult:
    spans: list[Span] = field(default_factory=list)
    dropped: list[tuple[Span, str]] = field(default_factory=list)
    trimmed: int = 0


def verify_spans(text: str, spans: list[Span], shapes: dict[str, LabelShape]) -> VerifyResult:
    """Drop or trim the spans (offsets into `text`) that the label's shape rules exclude."""
    res = VerifyResult()
    for sp in spans:
        shape = shapes.get(sp.label)
        if shape is None:
            res.spans.append(sp)
            continue
        cut = _strip_prefix(text, sp, shape.prefixes)
        if shape.edge_lower:
            cut = _strip_lower_edges(text, cut)
        if shape.korean:
            cut = _strip_korean_tail(text, cut, shape)
            if cut is None:
                res.dropped.append((sp, "a title or a predicate, not a name"))
                continue
        if shape.numeric and cut.end < len(text) and text[cut.end] in _PERCENT and text[cut.end - 1].isdigit():
            cut = _replace(text, cut, cut.start, cut.end + 1)
        if cut is not sp:
            res.trimmed += 1
        surface = text[cut.start : cut.end]
        reason = _excluded(surface, shape)
        if reason is None and shape.proper and not morph.name_like(text, cut.start, cut.end):
            reason = "no proper noun in it (Korean morphology)"
        if reason is None and shape.person and not morph.person_like(text, cut.start, cut.end):
            reason = "only common nouns (Korean morphology)"
        if reason:
            res.dropped.append((sp, reason))
            continue
        parts = _split_place(text, cut, shape.place_label) if shape.place_label else None
        if parts is None:
            res.spans.append(cut)
        else:
            res.spans.extend(parts)
            res.trimmed += 1
    return res


def _split_place(text: str, sp: Span, place_label: str) -> list[Span] | None:
    """A Korean span that starts with a place (`KO_PLACES`) and goes on: "미국 상무부" -> "미국" (the place label) and
    "상무부"; "광주 북구" -> "광주", "북구" (`KO_BODY_ENDINGS`); a place label's "서울 방향" -> "서울" (the rest is no
    name). None (kept whole) otherwise: a team's or a company's name ("전북 현대", "부산 KCC", "샌프란시스코 자이언츠"),
    and an organization named with a common noun ("울산 바다")."""
    surface = text[sp.start : sp.end]
    first, _, rest = surface.partition(" ")
    rest = rest.strip()
    if not rest or first not in KO_PLACES:
        return None
    r_start = sp.end - len(rest)
    place = Span(start=sp.start, end=sp.start + len(first), label=place_label, text=first)
    if not morph.name_like(text, r_start, sp.end):
        return [place] if sp.label == place_label else None  # "서울 방향", "천안 분기점": the place alone
    if not rest.endswith(KO_BODY_ENDINGS) or rest.endswith(morph.COMMON_ENDINGS):
        return None
    return [place, _replace(text, sp, r_start, sp.end)]


def _excluded(surface: str, shape: LabelShape) -> str | None:
    if shape.no_digits and any(c.isdigit() for c in surface):
        return "has a digit; no example of the label has one"
    if shape.needs_number and not _has_number(surface):
        return "no number; the label is an amount and every example of it has one"
    if shape.needs_upper and not any(c.isupper() for c in surface):
        return "no capital letter; every example of the label has one"
    if surface.strip().casefold() in shape.negatives:
        return "a negative example of the label"
    if _words(surface) in shape.prefixes:
        return "a word the label excludes"
    if shape.function_words and _function_words_only(surface):
        return "only function words (a pronoun, an article), not a name"
    return None


@cache
def english_stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def _function_words_only(surface: str) -> bool:
    """ "i", "me", "nobody", "a", "when": what the small model lists as people in lower-case posts once it has seen
    some (English posts, 70 reviewed: 12 of its answers on 60 posts; none of the 11,727 gold spans of the fixtures is
    one). A capital keeps a span ("US", "I", "The Who")."""
    words = re.findall(r"[\w']+", surface)
    return (
        bool(words) and not any(c.isupper() for c in surface) and all(w.lower() in english_stop_words() for w in words)
    )


def _strip_lower_edges(text: str, sp: Span) -> Span:
    """The span without the lower-case words at its start and end (not name particles), keeping one word."""
    words = list(re.finditer(r"\S+", text[sp.start : sp.end]))

    def lower(m: re.Match[str]) -> bool:
        w = m.group().strip(".,;:")
        return any(c.isalpha() for c in w) and w == w.lower() and w not in NAME_PARTICLES

    a, b = 0, len(words)
    while b - a > 1 and lower(words[b - 1]):
        b -= 1
    while b - a > 1 and lower(words[a]):
        a += 1
    if (a, b) == (0, len(words)):
        return sp
    return _replace(text, sp, sp.start + words[a].start(), sp.start + words[b - 1].end())


def _replace(text: str, sp: Span, start: int, end: int) -> Span:
    return sp.model_copy(update={"start": start, "end": end, "text": text[start:end]})


def _has_number(surface: str) -> bool:
    if any(c.isdigit() for c in surface):
        return True
    words = [w.strip(".,;:()").casefold() for w in surface.split()]
    return any(w in _NUMBER_WORDS or w.startswith(_NUMBER_PREFIXES) or _SINO_NUMBER.match(w) for w in words)


_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3


def _final_ss(syllable: str) -> bool:
    """A Hangul syllable ending in ㅆ (했, 됐, 었, 밝혔: the past tense before 다, 고, 며)."""
    code = ord(syllable)
    return _HANGUL_FIRST <= code <= _HANGUL_LAST and (code - _HANGUL_FIRST) % 28 == 20


def korean_predicate(word: str) -> bool:
    """A Korean word that reads as a verb's ending ("밝혔다", "안착하고", "있다", "구조됐으며", "하는"), not a name
    ("캐나다", "샌디에이고" are not: the syllable before 다 or 고 must be a verb's)."""
    w = word.rstrip(".,;:!?\"'”’)")
    if len(w) < 2:
        return False
    last, prev = w[-1], w[-2]
    if w.endswith(("으며", "습니다", "니다")):
        return True
    if w.endswith("다며") and len(w) >= 3:  # "밝혔다며", "있다며"
        w = w[:-1]
        last, prev = w[-1], w[-2]
    if last == "다":
        return _final_ss(prev) or prev in "있없한된는"
    if last in "고며는":
        return _final_ss(prev) or prev in "하되있없"
    return False


def _title_word(word: str, titles: frozenset[str]) -> bool:
    """`word` is a title with at most a plural and a particle after it ("기자", "기자들과", "교수로")."""
    w = word.rstrip(".,;:!?")
    for t in titles:
        if w.startswith(t):
            rest = w[len(t) :].removeprefix("들")
            if not rest or rest in KO_PARTICLES:
                return True
    return False


def _title_at(words: list[str], j: int, titles: frozenset[str]) -> bool:
    """words[j] is a title after a name: a surname title (모, 군, 양, 님) only right after a one-syllable surname."""
    if not _title_word(words[j], titles):
        return False
    bare = words[j].rstrip(".,;:!?")
    if any(bare.startswith(t) for t in titles - KO_SURNAME_TITLES):
        return True
    return j >= 1 and len(words[j - 1]) == 1


def _strip_korean_tail(text: str, sp: Span, shape: LabelShape) -> Span | None:
    """(Korean) the span without a title after the name and what follows it, without trailing predicates
    (keeping one word), and a number's last word without its particle; None when the span is only a title."""
    found = list(re.finditer(r"\S+", text[sp.start : sp.end]))
    if not found:
        return sp
    words = [m.group() for m in found]
    a, b = 0, len(words)
    if shape.suffixes:
        lead = shape.suffixes - KO_SURNAME_TITLES  # a title before the name ("배우 송강호") is cut too
        while a < b and (_title_word(words[a], lead) or words[a] in KO_TITLE_MODIFIERS):
            a += 1
        if a == b:
            return None  # only a title ("기자들과")
        b = next((j for j in range(a + 1, b) if _title_at(words, j, shape.suffixes)), b)
        while b - a > 1 and words[b - 1] in KO_TITLE_MODIFIERS:  # "김대중 전 대통령" -> "김대중"
            b -= 1
    while b - a > 1 and korean_predicate(words[b - 1]):
        b -= 1
    start, end = sp.start + found[a].start(), sp.start + found[b - 1].end()
    if shape.number_particles and any(c.isdigit() for c in text[start:end]):
        last = text[sp.start + found[b - 1].start() : end]
        for p in KO_PARTICLES:
            rest = last[: -len(p)]
            if last.endswith(p) and rest and (rest[-1].isdigit() or rest[-1] in _PERCENT or rest.endswith(UNITS)):
                end -= len(p)
                break
    return sp if (start, end) == (sp.start, sp.end) else _replace(text, sp, start, end)


def _strip_prefix(text: str, sp: Span, prefixes: tuple[tuple[str, ...], ...]) -> Span:
    """The span without the words up to the last excluded phrase in it that leaves a word after it
    ("Dr. Jane Doe", "Finance Minister Jane Doe", "Prime Minister Dr. Jane Doe" -> "Jane Doe")."""
    if not prefixes:
        return sp
    toks = [(m.start() + sp.start, m.group()) for m in _WORD.finditer(text[sp.start : sp.end])]
    words = [w.casefold().rstrip(".") for _, w in toks]
    cut = 0
    for p in prefixes:
        for j in range(len(words) - len(p)):
            if tuple(words[j : j + len(p)]) == p:
                cut = max(cut, j + len(p))
    if not cut:
        return sp
    start = toks[cut][0]
    return sp.model_copy(update={"start": start, "text": text[start : sp.end]})


# -- recall ----------------------------------------------------------------------------------------
def _calendar_words() -> frozenset[str]:
    import calendar

    names = [*calendar.month_name, *calendar.month_abbr, *calendar.day_name, *calendar.day_abbr]
    return frozenset(n.casefold() for n in names if n)


_CALENDAR = _calendar_words()
_SENTENCE_END = frozenset('.!?"“”')


def excluded_words(guideline: Guideline) -> frozenset[str]:
    """One-word phrases the guideline excludes for some label ("coach", "Dr.", "Minister"): not asked about."""
    return frozenset(p[0] for shape in guideline_shapes(guideline).values() for p in shape.prefixes if len(p) == 1)


def missed_words(text: str, spans: list[Span], lang: str, skip: frozenset[str] = frozenset()) -> list[str]:
    """Capitalized words of `text` outside every span, once each, in order; not stop words, month and
    day names, words in `skip`, nor (when some span was found) the first word of a sentence. Empty for
    scripts without case (Korean: the recall pass then runs only on an empty answer)."""
    from studio.ops.ner.tokens import get_nlp

    covered = [(s.start, s.end) for s in spans]
    out: list[str] = []
    prev = ""
    for tok in get_nlp(lang).make_doc(text):
        w, initial = tok.text, not prev or prev in _SENTENCE_END
        if not tok.is_space:
            prev = w[-1]
        if len(w) < 2 or not w[0].isupper() or tok.is_stop or not any(c.isalpha() for c in w):
            continue
        key = w.casefold().rstrip(".")
        if key in _CALENDAR or key in skip or (initial and spans):
            continue
        if any(a < tok.idx + len(w) and tok.idx < b for a, b in covered):
            continue
        if w not in out:
            out.append(w)
    return out


def recall_needed(text: str, spans: list[Span], lang: str, skip: frozenset[str] = frozenset()) -> list[str] | None:
    """The words to ask about again (possibly none: an empty answer is asked about as a whole),
    or None when the first answer leaves nothing to ask about."""
    words = missed_words(text, spans, lang, skip)
    if words:
        return words[:MAX_RECALL_WORDS]
    return [] if not spans and text.strip() else None


def recall_messages(
    prompt: Prompt, recall_prompt: Prompt, guideline: Guideline, examples: list[dict[str, str]], text: str,
    words: list[str], found: list[dict[str, Any]],
) -> list[Message]:  # fmt: skip
    """The recall request: the first request's system message (the same cached prefix), then the
    recall prompt's user message naming the words to look at again."""
    system = [m for m in prompt.render(guideline=guideline, examples=[], text="") if m["role"] == "system"]
    user = recall_prompt.render(guideline=guideline, examples=examples, text=text, words=words, found=found)
    return system + [m for m in user if m["role"] == "user"]


def merge_recall(text: str, first: list[Span], more: list[Span]) -> list[Span]:
    """The first answer's spans plus the recall spans that overlap none of them (the first wins).

    Asked about words, a small model often answers word by word ("Oksana" PER, "Sorensen" PER for
    "Oksana Sorensen"): recall spans of one label with only spaces between them are joined first."""
    joined: list[Span] = []
    for sp in sorted(more, key=lambda x: (x.start, x.end)):
        last = joined[-1] if joined else None
        if (
            last is not None
            and last.label == sp.label
            and last.end < sp.start
            and not text[last.end : sp.start].strip()
        ):
            joined[-1] = last.model_copy(update={"end": sp.end, "text": text[last.start : sp.end]})
        else:
            joined.append(sp)
    out = list(first)
    for sp in joined:
        if not any(sp.start < o.end and o.start < sp.end for o in out):
            out.append(sp)
    return out
