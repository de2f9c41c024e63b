"""Which of the pretrained English pipeline's entity labels mean which of the guideline's labels.

`studio label` lets the pretrained pipeline (en_core_web_sm, installed with the `local` or `spacy-model`
extra) vote by default on English projects. Its OntoNotes labels are mapped to the guideline's by the
guideline labels' names only (case, spaces, hyphens, underscores and a plural "s" ignored), with a fixed
table of the names people give these kinds of entity, e.g. PER / person / people -> PERSON, organisation /
company / corporation -> ORG, location / place -> GPE and LOC (the table also has the Korean NER standard's tags
and Korean names, which the Korean rules and patterns read: PS / 인물 -> PERSON, DT / 날짜 -> DATE). A label named MISC (or other / miscellaneous) takes
nationalities and events (NORP, EVENT), as in CoNLL-style news guidelines. A label whose name matches
nothing gets no votes from the pipeline; if no label matches, the pipeline does not vote at all.

Deterministic: the map depends only on the guideline's label names. `--spacy FROM=TO ...` replaces it,
`--spacy off` turns the pipeline off.
"""

from __future__ import annotations

import re

from studio.schema import Guideline, language_code

# OntoNotes label -> the names (normalized: lower case, letters (also Hangul) and digits only, without a plural
# "s") a guideline may give it: English names and abbreviations, the Korean NER standard's tags (KLUE, TTA: PS,
# LC, OG, DT, TI, QT) and Korean names (인물, 장소, 기관, 날짜, 시간, 수량). The Korean rules of the verify pass
# and the Korean patterns find their labels by these names.
NAMES: dict[str, tuple[str, ...]] = {
    "PERSON": ("per", "pers", "person", "people", "personname", "ps", "인물", "사람", "인명", "이름"),
    "ORG": ("org", "organization", "organisation", "company", "companies", "corporation", "corp", "institution",
            "og", "기관", "조직", "단체", "기업", "회사", "기관명"),
    "GPE": ("gpe", "loc", "location", "place", "geo", "geopolitical", "lc", "장소", "지명", "위치", "지역"),
    "LOC": ("loc", "location", "place", "geo", "lc", "장소", "지명", "위치", "지역"),
    "FAC": ("fac", "facility", "facilities"),
    "NORP": ("norp", "nationality", "nationalities"),
    "EVENT": ("event",),
    "PRODUCT": ("product",),
    "WORK_OF_ART": ("workofart", "creativework", "artwork"),
    "LAW": ("law",),
    "LANGUAGE": ("language",),
    "DATE": ("date", "dat", "dt", "날짜", "일자"),
    "TIME": ("time", "tim", "ti", "시간", "시각"),
    "MONEY": ("money", "currency", "금액"),
    "PERCENT": ("percent", "percentage", "pct", "비율"),
    "QUANTITY": ("quantity", "quantities", "qty", "qt", "수량", "수치"),
}  # fmt: skip
MISC_NAMES = ("misc", "miscellaneous", "other", "others", "othernames")
MISC_TAKES = ("NORP", "EVENT")  # what CoNLL-style MISC holds that the pipeline knows well
# Kinds of name that often hold a digit ("iPhone 16", "Euro 2024", "10 Downing Street"): the verify pass
# (passes.py) does not drop a digit from a label named for one of them, whatever its examples show.
DIGITS_ALLOWED = ("PRODUCT", "WORK_OF_ART", "LAW", "FAC", "EVENT", "DATE", "TIME", "MONEY", "PERCENT", "QUANTITY")


def _matches(norm: str, names: tuple[str, ...]) -> bool:
    return norm in names or norm.removesuffix("s") in names


def digits_allowed(guideline: Guideline) -> set[str]:
    """The guideline's labels whose names are those of a kind of name that often holds a digit (any language:
    the names are read, not the texts). A MISC label is not one, though it takes events."""
    return {lab.name for lab in guideline.labels if kind_of(lab.name, DIGITS_ALLOWED)}


def kind_of(label: str, kinds: tuple[str, ...]) -> bool:
    """The label's name is that of one of these pipeline kinds ("QTY" and "quantity" for QUANTITY)."""
    return any(_matches(normalize(label), (normalize(k), *NAMES[k])) for k in kinds)


def label_of_kind(guideline: Guideline, kinds: tuple[str, ...]) -> str | None:
    """The guideline's first label whose name is that of one of these kinds (`kind_of`), or None."""
    return next((lab.name for lab in guideline.labels if kind_of(lab.name, kinds)), None)


def normalize(name: str) -> str:
    return re.sub(r"[^0-9a-z가-힣]", "", name.lower())


def auto_label_map(guideline: Guideline) -> dict[str, str]:
    """{pipeline label: guideline label} from the guideline's label names; {} for a non-English guideline.

    A pipeline label goes to at most one guideline label: the first (in guideline order) whose name
    matches it; a guideline label named exactly like the pipeline's (GPE, LOC) wins over a synonym."""
    if language_code(guideline.language) != "en":
        return {}
    return label_map_for_names([lab.name for lab in guideline.labels])


def label_map_for_names(names: list[str]) -> dict[str, str]:
    """`auto_label_map` from the label names alone (in guideline order)."""
    labels = [(name, normalize(name)) for name in names]
    out: dict[str, str] = {}
    for onto, names in NAMES.items():
        exact = [name for name, norm in labels if norm == normalize(onto)]
        matches = exact or [name for name, norm in labels if _matches(norm, names)]
        if matches:
            out[onto] = matches[0]
    misc = [name for name, norm in labels if norm in MISC_NAMES]
    if misc:
        for onto in MISC_TAKES:
            out.setdefault(onto, misc[0])
    return out
