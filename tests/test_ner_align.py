"""Aligning mentions to offsets: real spaCy tokenization, offsets into the original text."""

from __future__ import annotations

import unicodedata

from studio.ops.ner.align import align_mentions
from studio.ops.ner.parse import Mention
from studio.ops.ner.tokens import get_nlp


def m(text: str, label: str = "ORG", context: str = "") -> Mention:
    return Mention(text=text, label=label, context=context)


def got(result) -> list[tuple[str, int, int, str, str]]:
    return [(a.span.text, a.span.start, a.span.end, a.span.label, a.method) for a in result.spans]


def check_offsets(text: str, result) -> None:
    for a in result.spans:
        assert text[a.span.start : a.span.end] == a.span.text


def test_exact_and_punctuation_snapping() -> None:
    text = "Apple, Microsoft and Nvidia (NVDA) rose."
    r = align_mentions(text, [m("Apple,"), m("Microsoft"), m("(NVDA)")])
    assert got(r) == [
        ("Apple", 0, 5, "ORG", "exact"),
        ("Microsoft", 7, 16, "ORG", "exact"),
        ("NVDA", 29, 33, "ORG", "exact"),
    ]
    assert all(a.score == 100 for a in r.spans)
    check_offsets(text, r)


def test_abbreviation_period_and_brackets_kept() -> None:
    text = "Apple Inc. and Alphabet (Google) both said so."
    r = align_mentions(text, [m("Apple Inc."), m("Alphabet (Google)")])
    assert [a.span.text for a in r.spans] == ["Apple Inc.", "Alphabet (Google)"]


def test_case_and_whitespace_insensitive() -> None:
    text = "We use Open  AI tools and OPENAI models."
    r = align_mentions(text, [m("Open AI"), m("OpenAI")], repeat="all")
    assert got(r) == [("Open  AI", 7, 15, "ORG", "casefold"), ("OPENAI", 26, 32, "ORG", "casefold")]


def test_fuzzy_above_threshold_only() -> None:
    text = "OpenAI and Samsung Electronics signed."
    r = align_mentions(text, [m("Open AI"), m("Samsung Electronic"), m("Samsung Group")])
    assert [(s, meth) for s, _, _, _, meth in got(r)] == [("OpenAI", "fuzzy"), ("Samsung Electronics", "exact")]
    assert r.spans[0].score >= 90
    # "Samsung Group" scores far below 90 against any part of the text: a hallucination.
    assert [h.text for h in r.hallucinated] == ["Samsung Group"]
    # The snapped span scores 97.3 against the mention: a stricter threshold rejects it.
    r2 = align_mentions(text, [m("Samsung Electronic")], fuzzy_threshold=99.9)
    assert r2.spans == [] and len(r2.hallucinated) == 1


def test_hallucination_counted_and_no_partial_word() -> None:
    text = "We had lunch at Applebee's near the campus."
    r = align_mentions(text, [m("Apple"), m("Google")])
    assert r.spans == []
    assert [h.text for h in r.hallucinated] == ["Apple", "Google"]


def test_nfd_text_and_combining_characters() -> None:
    text = unicodedata.normalize("NFD", "Le Café Mocha de Zürich ouvre.")
    assert len(text) == len("Le Café Mocha de Zürich ouvre.") + 2
    r = align_mentions(text, [m("Café Mocha"), m("Zürich", "LOC")], lang="de")
    assert [a.span.text for a in r.spans] == [
        unicodedata.normalize("NFD", "Café Mocha"),
        unicodedata.normalize("NFD", "Zürich"),
    ]
    assert [a.method for a in r.spans] == ["casefold", "casefold"]
    check_offsets(text, r)
    # the span ends after the combining accent, not between base letter and accent
    assert text[r.spans[0].span.end - 1] == "a" and unicodedata.combining(text[r.spans[0].span.start + 3 + 1])


def test_match_never_splits_an_accent() -> None:
    text = unicodedata.normalize("NFD", "Visit Cafe\u0301 now")
    r = align_mentions(text, [m("Cafe")])  # the text says Café: "Cafe" is not there
    assert r.spans == [] and len(r.hallucinated) == 1


def test_repeated_mention_resolved_by_context() -> None:
    text = "Apple released a phone. Later, Apple shares fell."
    r = align_mentions(text, [m("Apple", context="Apple shares fell")])
    assert [(a.span.start, a.span.end) for a in r.spans] == [(31, 36)]
    r = align_mentions(text, [m("Apple", context="Apple released a")])
    assert [(a.span.start, a.span.end) for a in r.spans] == [(0, 5)]


def test_repeated_mention_all_or_without_context() -> None:
    text = "Apple released a phone. Later, Apple shares fell."
    want = [(0, 5), (31, 36)]
    r = align_mentions(text, [m("Apple", context="Apple shares fell")], repeat="all")
    assert [(a.span.start, a.span.end) for a in r.spans] == want
    r = align_mentions(text, [m("Apple")], repeat="context")  # no context: every occurrence
    assert [(a.span.start, a.span.end) for a in r.spans] == want


def test_overlaps_resolved_by_documented_rule() -> None:
    text = "Apple Music launched in Paris."
    r = align_mentions(text, [m("Apple", "ORG"), m("Apple Music", "PRODUCT"), m("Paris", "LOC"), m("Paris", "ORG")])
    # same method and score: the longer wins; same span twice: the earlier mention (exact tie -> start)
    assert [(a.span.text, a.span.label) for a in r.spans] == [("Apple Music", "PRODUCT"), ("Paris", "LOC")]
    assert sorted((a.span.text, a.span.label) for a in r.overlapping) == [("Apple", "ORG"), ("Paris", "ORG")]
    # an exact match beats a longer fuzzy one
    text = "Samsung Electronic Co said"
    r = align_mentions(text, [m("Samsung Electronics Co"), m("Samsung")])
    assert [(a.span.text, a.method) for a in r.spans] == [("Samsung", "exact")]
    assert [a.method for a in r.overlapping] == ["fuzzy"]
    # without resolution both are returned; duplicates still merged
    r = align_mentions(text, [m("Samsung Electronics Co"), m("Samsung"), m("Samsung")], resolve_overlaps=False)
    assert len(r.spans) == 2


def test_korean_without_spaces_between_noun_and_particle() -> None:
    text = "삼성전자가 새로운 갤럭시를 서울에서 발표했다."
    r = align_mentions(text, [m("삼성전자"), m("갤럭시", "PRODUCT"), m("서울", "LOC")], lang="ko")
    assert got(r) == [
        ("삼성전자", 0, 4, "ORG", "exact"),
        ("갤럭시", 10, 13, "PRODUCT", "exact"),
        ("서울", 15, 17, "LOC", "exact"),
    ]


def test_japanese_and_chinese_with_latin_words() -> None:
    r = align_mentions("東京でAppleが新製品を発表。", [m("Apple"), m("東京", "LOC")], lang="ja")
    assert [a.span.text for a in r.spans] == ["東京", "Apple"]
    r = align_mentions("苹果公司发布了iPhone 16。", [m("苹果公司"), m("iPhone 16", "PRODUCT"), m("iPhone")], lang="zh")
    assert [a.span.text for a in r.spans] == ["苹果公司", "iPhone 16"]
    # "iPhone" alone is a sub-span of "iPhone 16": kept as an overlap loser, not a partial token
    assert [a.span.text for a in r.overlapping] == ["iPhone"]


def test_cjk_inside_english_text_is_split() -> None:
    r = align_mentions("The brand 华为Mate sold well.", [m("华为")], lang="en")
    assert [a.span.text for a in r.spans] == ["华为"]


def test_blank_pipelines_cached_and_fallback() -> None:
    assert get_nlp("en") is get_nlp("en")
    assert get_nlp("ko").lang == "xx"  # blank "ko" needs mecab-ko: character-level fallback
    assert get_nlp("qq").lang == "xx"  # unknown language code
    assert [t.text for t in get_nlp("ko")("삼성전자가 Galaxy를")] == ["삼", "성", "전", "자", "가", "Galaxy", "를"]


def test_empty_inputs() -> None:
    assert align_mentions("", [m("Apple")]).hallucinated[0].text == "Apple"
    assert align_mentions("Apple", []).spans == []
    assert align_mentions("Apple!", [m("!!")]).hallucinated[0].text == "!!"
