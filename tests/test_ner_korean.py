"""Korean proposals (ner.v5): the verify pass's Korean rules (passes.py), the patterns (patterns.py), and a
labeling run end to end against a real OpenAI-compatible server on loopback answering literal strings."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml

from studio.llm import open_llm
from studio.llm.prompts import use_prompts
from studio.ops.ner import passes
from studio.ops.ner.label import LabelSettings, label_documents
from studio.ops.ner.patterns import Patterns, korean_dateline, korean_matches
from studio.schema import Document, Guideline, Span
from studio.store import Store
from tests.conftest import FIXTURES
from tests.openai_stub import OpenAIStub

KO = Guideline.model_validate(yaml.safe_load((FIXTURES / "ner" / "news_ko_guideline.yaml").read_text(encoding="utf-8")))


def _span(text: str, sub: str, label: str) -> Span:
    i = text.index(sub)
    return Span(start=i, end=i + len(sub), label=label, text=sub)


def _verified(text: str, spans: list[tuple[str, str]]) -> list[tuple[str, str]]:
    res = passes.verify_spans(text, [_span(text, s, lab) for s, lab in spans], passes.guideline_shapes(KO))
    return [(s.text, s.label) for s in res.spans]


def test_titles_after_a_name_are_cut_and_a_lone_title_is_dropped() -> None:
    t = "(대전=뉴스1) 김태윤 기자 = 한국과학기술원 이수현 교수 연구팀은 트럼프 대통령과 기자들과 정 모 씨를 만났다."
    got = _verified(t, [("김태윤 기자", "PER"), ("이수현 교수 연구팀은", "PER"), ("기자들과", "PER"),
                        ("한국과학기술원", "ORG"), ("트럼프", "PER"), ("정 모 씨", "PER")])  # fmt: skip
    assert got == [("김태윤", "PER"), ("이수현", "PER"), ("한국과학기술원", "ORG"), ("트럼프", "PER"), ("정", "PER")]


def test_titles_around_names_that_look_like_titles() -> None:
    """A title before the name is cut, "전" (former) goes with its title, and 모 / 군 / 양 / 님 are titles only after a
    one-syllable surname ("모 살라" and "앤드루 양" are names)."""
    t = "김대중 전 대통령과 김 전 대표, 배우 송강호, 모 살라, 양 감독, 앤드루 양, 정 모 씨를 만났다."
    spans = [("김대중 전 대통령", "PER"), ("김 전 대표", "PER"), ("배우 송강호", "PER"), ("모 살라", "PER"),
             ("양 감독", "PER"), ("앤드루 양", "PER"), ("정 모 씨", "PER")]  # fmt: skip
    assert [s for s, _ in _verified(t, spans)] == ["김대중", "김", "송강호", "모 살라", "양", "앤드루 양", "정"]
    # a title in a definition of another kind of label is not a person's title: a work of art keeps its words
    work = KO.model_copy(update={"labels": [*KO.labels, KO.labels[0].model_copy(
        update={"name": "WORK_OF_ART", "definition": "영화, 책의 제목 (title)", "negative_examples": []})]})  # fmt: skip
    t = "영화 대통령의 7시간 개봉"
    res = passes.verify_spans(t, [_span(t, "대통령의 7시간", "WORK_OF_ART")], passes.guideline_shapes(work))
    assert [s.text for s in res.spans] == ["대통령의 7시간"]


def test_a_particle_is_cut_only_after_a_number_or_unit_of_a_date_time_or_amount() -> None:
    t = "3% 증가했고 30개 국가, 1~3일 사이, 20회를 열었다. G20 정상회의는 종로3가에서."
    got = _verified(t, [("3% 증가", "QTY"), ("30개 국가", "QTY"), ("1~3일 사이", "DAT"), ("20회를", "QTY")])
    assert got == [("3% 증가", "QTY"), ("30개 국가", "QTY"), ("1~3일 사이", "DAT"), ("20회", "QTY")]
    # labels of other kinds keep their last syllable
    event = KO.model_copy(update={"labels": [*KO.labels, KO.labels[1].model_copy(update={"name": "EVENT"})]})
    res = passes.verify_spans(t, [_span(t, "G20 정상회의", "EVENT")], passes.guideline_shapes(event))
    assert [s.text for s in res.spans] == ["G20 정상회의"]


def test_predicates_and_a_numbers_particle_are_cut() -> None:
    t = "물가 상승률이 2%에 안착하고 있다며 개인은 2조3천억 원어치를 3일 밝혔다. 캐나다 토론토와 우간다."
    got = _verified(t, [("2%에 안착하고 있다", "QTY"), ("2조3천억 원어치", "QTY"), ("3일 밝혔다", "DAT"),
                        ("캐나다 토론토", "LOC"), ("우간다", "LOC")])  # fmt: skip
    # "캐나다" and "우간다" end in 다 but are not verbs: the syllable before 다 is not a verb's
    assert got == [("2%", "QTY"), ("2조3천억 원", "QTY"), ("3일", "DAT"), ("캐나다 토론토", "LOC"), ("우간다", "LOC")]


def test_an_amount_needs_a_number_and_takes_its_percent_sign() -> None:
    t = "선원 8명 가운데 5명이 구조됐으며 출생아는 3.1% 늘었고 세 명, 열두 명, 십여 명, 수조 원대가 오갔다."
    got = _verified(t, [("선원", "QTY"), ("구조됐으며", "QTY"), ("8명", "QTY"), ("3.1", "QTY"), ("세 명", "QTY"),
                        ("열두 명", "QTY"), ("십여 명", "QTY"), ("수조 원대", "QTY")])  # fmt: skip
    assert got == [("8명", "QTY"), ("3.1%", "QTY"), ("세 명", "QTY"), ("열두 명", "QTY"), ("십여 명", "QTY"),
                   ("수조 원대", "QTY")]  # fmt: skip
    shapes = passes.guideline_shapes(KO)
    assert shapes["QTY"].needs_number and not shapes["DAT"].needs_number  # "오늘" and "올해" are dates without digits


def test_common_nouns_labeled_as_names_are_dropped() -> None:
    """With Kiwi (the korean extra, installed with local): a name label's span needs a proper noun, or must end like
    a public body or a place; dates and amounts are not checked."""
    t = "미국 상무부는 수입 반도체에 관세를 매기고 보건당국은 수도권 초등학교에서 기자간담회를 열어 24일 발표했다."
    got = _verified(t, [("미국", "LOC"), ("상무부", "ORG"), ("반도체", "ORG"), ("보건당국", "ORG"), ("수도권", "LOC"),
                        ("초등학교", "LOC"), ("기자간담회", "ORG"), ("24일", "DAT")])  # fmt: skip
    assert got == [("미국", "LOC"), ("상무부", "ORG"), ("수도권", "LOC"), ("24일", "DAT")]


def test_without_kiwi_the_rule_is_off_and_the_run_says_so(korean: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.ops.ner import morph

    monkeypatch.setattr(morph, "_load", lambda: (None, "kiwipiepy is not installed"))  # as where it is not
    assert morph.name_like("보건당국은", 0, 4) and not morph.available()
    with OpenAIStub(respond=lambda req: ANSWER) as stub:
        from studio.ops import registry

        res = registry.run("label", {}, registry.OpContext(store=korean, llm_spec=f"{stub.url}#stub"))
    assert res.morphology is not None and res.morphology.startswith("off: kiwipiepy is not installed")
    assert "pip install 'studio[korean]'" in res.summary()


@pytest.mark.parametrize(
    ("word", "verb"),
    [("밝혔다", True), ("안착하고", True), ("구조됐으며", True), ("있다", True), ("한다", True), ("하는", True),
     ("캐나다", False), ("우간다", False), ("샌디에이고", False), ("플로리다", False), ("기자", False)],
)  # fmt: skip
def test_korean_predicates(word: str, verb: bool) -> None:
    assert passes.korean_predicate(word) is verb


def _matches(text: str) -> list[tuple[str, str]]:
    return [(text[s:e], kind) for s, e, kind in korean_matches(text)]


def test_number_patterns_find_korean_dates_times_and_amounts() -> None:
    t = "12일 오전 9시 15분께 경부고속도로에서 차량 7대가 부딪혀 3천400여 명이 2시간 동안 발이 묶였다."
    assert _matches(t) == [("12일", "DATE"), ("오전 9시 15분", "TIME"), ("7대", "QUANTITY"),
                           ("3천400여 명", "QUANTITY"), ("2시간", "TIME")]  # fmt: skip
    t = "올해 상반기 경상수지는 512억8천만 달러로 지난해 같은 기간보다 35.3% 늘었고 금리는 0.25%p 내렸다."
    assert _matches(t) == [("올해 상반기", "DATE"), ("512억8천만 달러", "MONEY"), ("지난해 같은 기간", "DATE"),
                           ("35.3%", "PERCENT"), ("0.25%p", "PERCENT")]  # fmt: skip
    # a year is a date, a count of years an amount; a particle after a word does not hide it
    t = "2026년 다음 달 말까지 12년 만에 새벽에 50∼150㎜의 비가 내린다."
    assert _matches(t) == [("2026년", "DATE"), ("다음 달 말", "DATE"), ("12년", "QUANTITY"), ("새벽", "TIME"),
                           ("50∼150㎜", "QUANTITY")]  # fmt: skip
    assert _matches("삼성전자와 한국은행은 천안에서 만났다.") == []  # 천 in a place name is not a thousand
    # a unit must end its word: not "2주택자", "1세대", "5원칙", "2시즌", "주 4일제"; nor a fraction, "3분의 2"
    assert _matches("2주택자와 1세대 1주택자, 평화 5원칙, 2시즌, 주 4일제, 3분의 2 이상") == []
    assert _matches("20개국 50주년에 3만 원대 30%대") == [("20개국", "QUANTITY"), ("50주년", "QUANTITY"),
                                                       ("3만 원", "MONEY"), ("30%", "PERCENT")]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "found"),
    [("(워싱턴=연합뉴스) 김동현 특파원 = 미국 상무부는", [("워싱턴", "GPE"), ("연합뉴스", "ORG"), ("김동현", "PERSON")]),
     ("[세종=뉴스1] 윤해솔 기자 = 국토교통부는", [("세종", "GPE"), ("뉴스1", "ORG"), ("윤해솔", "PERSON")]),
     ("(도쿄=뉴시스) 일본 도요타자동차는", [("도쿄", "GPE"), ("뉴시스", "ORG")]),
     ("광주=정소윤 기자 광주 북구의 한 초등학교에서", [("광주", "GPE"), ("정소윤", "PERSON")]),
     ("(워싱턴·서울=연합뉴스) 김동현 특파원 =", [("워싱턴", "GPE"), ("서울", "GPE"), ("연합뉴스", "ORG"),
                                            ("김동현", "PERSON")]),
     ("(사진=연합뉴스) 설명", []), ("[그래픽=뉴스1]", []), ("(1=2) 수식", []),
     ("국토교통부는 (세종=뉴스1) 뒤에", []), ("2+2=4 라고 말했다", [])],
)  # fmt: skip
def test_korean_datelines(text: str, found: list[tuple[str, str]]) -> None:
    assert [(text[s:e], kind) for s, e, kind in korean_dateline(text)] == found


def test_patterns_go_to_the_guidelines_labels_by_their_names() -> None:
    src = Patterns.for_guideline(KO)
    assert src is not None and src.targets == {"DATE": "DAT", "TIME": "TIM", "QUANTITY": "QTY", "MONEY": "QTY",
                                               "PERCENT": "QTY", "GPE": "LOC", "ORG": "ORG", "PERSON": "PER"}  # fmt: skip
    t = "주가는 5% 올라 3만 원이 됐다."
    assert [(s.text, s.label) for s, _ in src.predict(t)] == [("5%", "QTY"), ("3만 원", "QTY")]
    money = KO.model_copy(update={"labels": [*KO.labels, KO.labels[0].model_copy(update={"name": "MONEY"})]})
    src = Patterns.for_guideline(money)
    assert src is not None and [(s.text, s.label) for s, _ in src.predict(t)] == [("5%", "QTY"), ("3만 원", "MONEY")]
    others = KO.model_copy(update={"labels": [lab.model_copy(update={"name": f"X{lab.name}"}) for lab in KO.labels]})
    english = KO.model_copy(update={"language": "en"})
    assert Patterns.for_guideline(others) is None and Patterns.for_guideline(english) is None


@pytest.mark.parametrize(
    "names",
    [
        {"PER": "PS", "LOC": "LC", "ORG": "OG", "DAT": "DT", "TIM": "TI", "QTY": "QT"},  # KLUE's and TTA's tags
        {"PER": "인물", "LOC": "장소", "ORG": "기관", "DAT": "날짜", "TIM": "시간", "QTY": "수량"},
        {"PER": "Person", "LOC": "location", "ORG": "organisation", "DAT": "date", "TIM": "time", "QTY": "quantity"},
    ],
)
def test_a_korean_guideline_gets_its_rules_whatever_it_calls_its_labels(names: dict[str, str]) -> None:
    """The patterns and the verify pass's Korean rules find the guideline's labels by name: the Korean NER
    standard's tags (PS, LC, OG, DT, TI, QT) and Korean names get the same rules as PER, LOC, ORG, DAT, TIM, QTY."""
    renamed = KO.model_copy(update={"labels": [lab.model_copy(update={"name": names[lab.name]}) for lab in KO.labels]})
    src = Patterns.for_guideline(renamed)
    assert src is not None and src.targets == {
        kind: names[label] for kind, label in Patterns.for_guideline(KO).targets.items()
    }  # type: ignore[union-attr]
    ours, theirs = passes.guideline_shapes(KO, True), passes.guideline_shapes(renamed, True)
    assert {names[k]: replace(v, place_label=names.get(v.place_label, "")) for k, v in ours.items()} == theirs
    t = "(세종=뉴스1) 윤해솔 기자 = 국토교통부는 21일 밝혔다."
    spans = [_span(t, "윤해솔 기자", names["PER"]), _span(t, "21일 밝혔다", names["DAT"])]
    got = passes.verify_spans(t, spans, theirs)
    assert [(s.text, s.label) for s in got.spans] == [("윤해솔", names["PER"]), ("21일", names["DAT"])]


# -- end to end ------------------------------------------------------------------------------------------------
TEXT = "(세종=뉴스1) 윤해솔 기자 = 국토교통부는 수도권에 5만 가구를 추가로 공급하겠다고 21일 밝혔다."
ANSWER = json.dumps({"entities": [{"text": "윤해솔 기자", "label": "PER"}, {"text": "국토교통부", "label": "ORG"},
                                  {"text": "수도권", "label": "LOC"}, {"text": "21일 밝혔다", "label": "DAT"}]},
                    ensure_ascii=False)  # fmt: skip


@pytest.fixture
def korean(store: Store) -> Store:
    store.decide_guideline(store.add_guideline(KO, "agent"), "human:tester", "approve")
    store.add_documents([Document(text=TEXT, lang="ko")])
    return store


def _proposed(store: Store) -> dict[tuple[str, str], dict[str, float]]:
    return {(p.payload["span"]["text"], p.payload["span"]["label"]): p.payload["sources"]
            for p in store.proposals(kind="span")}  # fmt: skip


def test_korean_projects_verify_the_answer_and_add_the_patterns(korean: Store) -> None:
    with OpenAIStub(respond=lambda req: ANSWER) as stub:
        label_documents(korean, open_llm(korean, f"{stub.url}#stub"))
        assert len(stub.hits) == 1  # v2's request: no recall pass
    run = korean.decisions(action="weak_label.run")[-1].payload
    assert run["prompt"] == "ner.v5" and run["morphology"].startswith("kiwipiepy 0.24")
    got = _proposed(korean)
    assert set(got) == {("세종", "LOC"), ("뉴스1", "ORG"), ("윤해솔", "PER"), ("국토교통부", "ORG"), ("수도권", "LOC"),
                        ("21일", "DAT"), ("5만 가구", "QTY")}  # fmt: skip
    assert got[("21일", "DAT")]["patterns"] > 0.5 and got[("21일", "DAT")]["llm"] == 1.0
    assert got[("윤해솔", "PER")]["patterns"] > 0.5 and got[("윤해솔", "PER")]["llm"] == 1.0  # "윤해솔 기자", trimmed
    assert got[("5만 가구", "QTY")]["patterns"] > 0.5 and got[("5만 가구", "QTY")].get("llm", 0.0) == 0.0
    conf = {(p.payload["span"]["text"]): p.confidence for p in korean.proposals(kind="span")}
    assert conf["5만 가구"] > 0.5 and conf["21일"] > conf["5만 가구"]  # the patterns alone still pass the default 0.5


def test_a_korean_run_with_ner_v4_and_the_verify_pass_keeps_its_rules(korean: Store) -> None:
    """The Korean rules and patterns come with ner.v5: a run made with v3 or v4 (verify on) replays as it was."""
    pairs = json.dumps(
        {"names": [["윤해솔 기자", "PER"], ["국토교통부", "ORG"], ["21일 밝혔다", "DAT"]]}, ensure_ascii=False
    )
    with OpenAIStub(respond=lambda req: pairs) as stub:
        label_documents(korean, open_llm(korean, f"{stub.url}#stub"), settings=LabelSettings(prompt_version=4))
    run = korean.decisions(action="weak_label.run")[-1].payload
    assert run["prompt"] == "ner.v4" and "morphology" not in run
    assert set(_proposed(korean)) == {("윤해솔 기자", "PER"), ("국토교통부", "ORG"), ("21일 밝혔다", "DAT")}


def test_ner_v5_asks_what_ner_v2_asks() -> None:
    from studio.llm.prompts import load_prompt

    ctx = {"guideline": KO, "examples": [{"text": TEXT, "answer": ANSWER}], "text": TEXT}
    v2, v5 = load_prompt("ner", 2).render(**ctx), load_prompt("ner", 5).render(**ctx)
    assert v5 == v2 and [m["role"] for m in v5] == ["system", "user"] and "QTY" in v5[0]["content"]


def test_a_korean_recording_made_with_ner_v2_replays_without_them(korean: Store) -> None:
    with OpenAIStub(respond=lambda req: ANSWER) as stub, use_prompts({"ner": 2}):
        label_documents(korean, open_llm(korean, f"{stub.url}#stub"))
    assert korean.decisions(action="weak_label.run")[-1].payload["prompt"] == "ner.v2"
    assert set(_proposed(korean)) == {("윤해솔 기자", "PER"), ("국토교통부", "ORG"), ("수도권", "LOC"),
                                      ("21일 밝혔다", "DAT")}  # fmt: skip


KO_REVIEW = "미국 상무부는 3일(현지시간) 한국과학기술원(KAIST)과 협력한다고 밝혔다."


def test_review_words_in_korean_are_names_numbers_and_particles_not_syllables(monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.ops.ner import morph
    from studio.ops.review.document import review_words, tokenize

    tokens = tokenize(KO_REVIEW, "ko")
    assert [t.text for t in tokens][:3] == ["미", "국", "상"]  # the alignment reads Korean by syllable
    words = review_words(KO_REVIEW, "ko", tokens)
    assert [w.text for w in words] == ["미국", "상무부", "는", "3일", "(", "현지시간", ")", "한국과학기술원", "(", "KAIST",
                                       ")", "과", "협력", "한다고", "밝혔다", "."]  # fmt: skip
    assert all(KO_REVIEW[w.start : w.end] == w.text for w in words)
    starts, ends = {t.start for t in tokens}, {t.end for t in tokens}
    assert all(w.start in starts and w.end in ends for w in words)  # a word is a run of tokens: no snapping
    english = "Apple hired Tim Cook."
    assert review_words(english, "en", tokenize(english, "en")) == tokenize(english, "en")
    # Without Kiwi: a space-delimited word, with its punctuation apart (the particles stay on).
    monkeypatch.setattr(morph, "_load", lambda: (None, "kiwipiepy is not installed"))
    morph._morphs.cache_clear()
    words = review_words(KO_REVIEW, "ko", tokens)
    assert [w.text for w in words][:6] == ["미국", "상무부는", "3일", "(", "현지시간", ")"]
    morph._morphs.cache_clear()


def test_moving_an_edge_in_korean_goes_by_a_word(korean: Store) -> None:
    from studio.ops import review as rv

    [(doc, _)] = korean.add_documents([Document(text=KO_REVIEW, source="test", lang="ko")])
    ch = rv.add_span(korean, doc, 0, 6, "ORG", "human:ann")  # "미국 상무부", the two as one
    assert ch.span is not None and ch.span.text == "미국 상무부"
    moved = rv.move_boundary(korean, doc, "l:0:6:ORG", "start", 1, "human:ann")
    assert moved.span is not None and moved.span.text == "상무부"  # one word, not the syllable "국"
    wider = rv.move_boundary(korean, doc, "l:3:6:ORG", "end", 1, "human:ann")
    assert wider.span is not None and wider.span.text == "상무부는"


def test_a_person_needs_a_proper_noun_or_the_shape_of_a_name() -> None:
    t = "실종자 가족과 안하린 씨, 트럼프 대통령, 이창용 총재가 국내총생산을 논의했다."
    got = _verified(
        t, [("실종자", "PER"), ("안하린", "PER"), ("트럼프", "PER"), ("이창용", "PER"), ("국내총생산", "PER")]
    )
    # 안하린: unknown to Kiwi, cut into odd pieces
    assert got == [("안하린", "PER"), ("트럼프", "PER"), ("이창용", "PER")]
    # three words or more ending in a common noun: a phrase about people, not a name; two words, or a name last, are
    t = "경기도 내 전세사기 피해자는 주최 측 추산 3만 명으로, 샘 올트먼과 마틴 루서 킹 목사를 언급했다."
    got = _verified(t, [("경기도 내 전세사기 피해자", "PER"), ("주최 측 추산", "PER"), ("샘 올트먼", "PER"),
                        ("마틴 루서 킹", "PER")])  # fmt: skip
    assert got == [("샘 올트먼", "PER"), ("마틴 루서 킹", "PER")]


def test_a_korean_students_names_are_checked_like_the_models() -> None:
    from studio.ops.ner.train import _name_like

    t = "실종자 가족과 안하린 씨가 기자간담회에서 서울시와 만났다."
    assert not _name_like(t, _span(t, "실종자", "PER")) and _name_like(t, _span(t, "안하린", "PER"))
    assert not _name_like(t, _span(t, "기자간담회", "ORG")) and _name_like(t, _span(t, "서울시", "LOC"))
    assert _name_like(t, _span(t, "가족", "QTY"))  # not a name's label: not checked


def test_a_place_before_a_body_is_split_off() -> None:
    t = "미국 상무부는 광주 북구와 서울 방향 도로, 샌프란시스코 자이언츠와 부산 KCC, 전북 현대, 울산 바다를 언급했다."
    spans = [("미국 상무부", "ORG"), ("광주 북구", "LOC"), ("서울 방향", "LOC"), ("샌프란시스코 자이언츠", "ORG"),
             ("부산 KCC", "ORG"), ("전북 현대", "ORG"), ("울산 바다", "ORG")]  # fmt: skip
    assert _verified(t, spans) == [("미국", "LOC"), ("상무부", "ORG"), ("광주", "LOC"), ("북구", "LOC"), ("서울", "LOC"),
                                   ("샌프란시스코 자이언츠", "ORG"), ("부산 KCC", "ORG"), ("전북 현대", "ORG"),
                                   ("울산 바다", "ORG")]  # fmt: skip


def test_studio_train_on_korean_reads_morphemes_and_says_so(korean: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from studio.ops import registry
    from studio.ops.ner.sources import newest_student
    from tests.ner_helpers import read_news

    data = tmp_path / "gold.jsonl"
    data.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in read_news("news_ko_train", 12)), "utf-8")
    args = {"base": "blank", "max_epochs": 2, "patience": 2, "cv_folds": 2, "data": str(data)}
    res = registry.run("train", args, registry.OpContext(store=korean))
    assert res.tokens == "morphemes" and "from blank (on Kiwi morphemes)" in res.summary()
    student = newest_student(korean.root)
    assert student is not None and student.card["tokens"] == "morphemes"
    assert student.nlp.meta["studio_tokens"] == "morphemes"  # what `predict` reads back after loading
    text = "이정후는 3일 샌프란시스코에서 기자들과 만났다."
    for span, _ in student.predict(text):
        assert text[span.start : span.end] == span.text  # offsets into the text, whatever it finds after 2 epochs


def test_a_company_kiwi_does_not_know_keeps_its_name() -> None:
    t = "한빛전자와 미래항공, 다온식품은 자동차 업계와 반도체 소재를 논의했다."
    got = _verified(
        t, [("한빛전자", "ORG"), ("미래항공", "ORG"), ("다온식품", "ORG"), ("자동차", "ORG"), ("반도체", "ORG")]
    )
    assert got == [("한빛전자", "ORG"), ("미래항공", "ORG"), ("다온식품", "ORG")]  # an ending alone is no name
