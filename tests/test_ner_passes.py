"""The verify and recall passes (studio/ops/ner/passes.py): rules read from the shipped guidelines, and the
labeling run end to end against a real OpenAI-compatible server on loopback answering literal strings."""

from __future__ import annotations

import json

import pytest
import yaml

from studio.llm import open_llm
from studio.llm.prompts import load_prompt
from studio.ops.ner import passes
from studio.ops.ner.label import LabelSettings, label_documents
from studio.schema import Document, Guideline, Span
from studio.store import Store
from tests.conftest import FIXTURES
from tests.openai_stub import OpenAIStub


def _guideline(name: str) -> Guideline:
    return Guideline.model_validate(yaml.safe_load((FIXTURES / "ner" / name).read_text(encoding="utf-8")))


def _span(text: str, sub: str, label: str) -> Span:
    i = text.index(sub)
    return Span(start=i, end=i + len(sub), label=label, text=sub)


def test_shapes_come_from_the_guideline_examples() -> None:
    en = passes.guideline_shapes(_guideline("news_guideline.yaml"))
    assert en["PER"].needs_upper and en["PER"].no_digits
    # the brackets of "titles and roles before a name (Minister, coach, Dr.)", which YAML split at its commas
    assert {("minister",), ("dr",), ("coach",), ("prime", "minister")} <= set(en["PER"].prefixes)
    ko = passes.guideline_shapes(_guideline("news_ko_guideline.yaml"))
    # Korean has no case; its dates, times and amounts have digits in their examples, its names do not
    assert not any(s.needs_upper for s in ko.values())
    assert {k for k, s in ko.items() if s.no_digits} == {"PER", "LOC", "ORG"}
    tech = passes.guideline_shapes(_guideline("guideline.yaml"))
    assert not tech["PRODUCT"].no_digits and tech["PRODUCT"].needs_upper  # "iPhone 16" has both


def test_product_names_keep_their_digits_whatever_the_examples_show() -> None:
    """The demo's drafted guideline: PRODUCT examples iPhone, Google Pixel, Amazon Echo (no digit). A product's
    name says digits are normal ("iPhone 16"); ORG's examples still rule out "Tech briefing 1"."""
    g = Guideline.model_validate({
        "goal": "companies and products in tech news", "task_type": "ner", "language": "en",
        "labels": [{"name": "ORG", "definition": "A company.", "positive_examples": ["Apple", "OpenAI", "Samsung"]},
                   {"name": "PRODUCT", "definition": "A product.",
                    "positive_examples": ["iPhone", "Google Pixel", "Amazon Echo"]}],
    })  # fmt: skip
    shapes = passes.guideline_shapes(g)
    assert shapes["ORG"].no_digits and not shapes["PRODUCT"].no_digits
    t = "Tech briefing 1\nApple unveiled the iPhone 16 and the Galaxy S24."
    spans = [_span(t, "Tech briefing 1", "ORG"), _span(t, "Apple", "ORG"), _span(t, "iPhone 16", "PRODUCT"),
             _span(t, "Galaxy S24", "PRODUCT")]  # fmt: skip
    res = passes.verify_spans(t, spans, shapes)
    assert [s.text for s in res.spans] == ["Apple", "iPhone 16", "Galaxy S24"]
    assert [s.text for s, _ in res.dropped] == ["Tech briefing 1"]


def test_verify_drops_and_trims_what_the_guideline_excludes() -> None:
    shapes = passes.guideline_shapes(_guideline("news_guideline.yaml"))
    t = "Brixholm (Lorvia Press) - Dr. Aurelio Fairweather said on Dec. 5 the coach met Finance Minister Jane Doe."
    spans = [_span(t, s, lab) for s, lab in [("Brixholm", "LOC"), ("Dr. Aurelio Fairweather", "PER"),
             ("Dec. 5", "MISC"), ("coach", "PER"), ("Finance Minister Jane Doe", "PER"), ("Lorvia Press", "ORG")]]  # fmt: skip
    res = passes.verify_spans(t, spans, shapes)
    assert [(s.text, t[s.start : s.end]) for s in res.spans] == [
        ("Brixholm", "Brixholm"), ("Aurelio Fairweather", "Aurelio Fairweather"), ("Jane Doe", "Jane Doe"),
        ("Lorvia Press", "Lorvia Press"),
    ]  # fmt: skip
    assert [s.text for s, _ in res.dropped] == ["Dec. 5", "coach"] and res.trimmed == 2


def test_verify_cuts_english_titles_and_lower_case_edges() -> None:
    """Spans the embedded model gave on hand-written news (fixtures/ner/wild_en_test.jsonl)."""
    shapes = passes.guideline_shapes(_guideline("news_guideline.yaml"))
    assert ("bishop",) in shapes["PER"].prefixes and ("bishop",) not in shapes["ORG"].prefixes
    assert all(s.edge_lower for s in shapes.values())
    t = ("Bishop Kwame Mensah and Gen. Mark Milley met the Arab League spokesman, residents of Vienna, "
         "Aravinda de Silva, Ludwig van Beethoven and Chief Executive Tim Cook of Apple.")  # fmt: skip
    spans = [_span(t, s, lab) for s, lab in [("Bishop Kwame Mensah", "PER"), ("Gen. Mark Milley", "PER"),
             ("Arab League spokesman", "ORG"), ("residents of Vienna", "LOC"), ("Aravinda de Silva", "PER"),
             ("Ludwig van Beethoven", "PER"), ("Chief Executive Tim Cook", "PER"), ("Apple", "ORG")]]  # fmt: skip
    res = passes.verify_spans(t, spans, shapes)
    assert [s.text for s in res.spans] == ["Kwame Mensah", "Mark Milley", "Arab League", "Vienna", "Aravinda de Silva",
                                           "Ludwig van Beethoven", "Tim Cook", "Apple"]  # fmt: skip
    assert all(t[s.start : s.end] == s.text for s in res.spans) and res.trimmed == 5
    # a guideline whose names are written in lower case (the social posts) keeps lower-case words
    social = passes.guideline_shapes(_guideline("social_guideline.yaml"))
    post = "omg lionel messi scored again"
    assert passes.verify_spans(post, [_span(post, "lionel messi", "person")], social).spans[0].text == "lionel messi"


def test_verify_drops_lower_case_function_words_in_english_posts() -> None:
    """What the small model lists as people in lower-case posts after seeing some ("i", "nobody", "me"); a capital
    keeps a span ("I", "US", "The Who"), and a word that is not a function word stays (not a name either: the
    weights decide)."""
    shapes = passes.guideline_shapes(_guideline("social_guideline.yaml"))
    t = "nobody: me at 2am, i said when US fans and The Who met getting lost"
    spans = [("nobody", "person"), ("me", "person"), ("i", "person"), ("when", "person"), ("US", "location"),
             ("The Who", "group"), ("getting", "person")]  # fmt: skip
    res = passes.verify_spans(t, [_span(t, s, lab) for s, lab in spans], shapes)
    assert [s.text for s in res.spans] == ["US", "The Who", "getting"]
    assert {why for _, why in res.dropped} == {"only function words (a pronoun, an article), not a name"}


def test_verify_keeps_korean_dates_and_amounts() -> None:
    shapes = passes.guideline_shapes(_guideline("news_ko_guideline.yaml"))
    t = "삼성전자는 2020년 3월 10명을 뽑았다고 기자 홍길동이 밝혔다."
    spans = [_span(t, "삼성전자", "ORG"), _span(t, "2020년 3월", "DAT"), _span(t, "10명", "QTY"), _span(t, "10명", "ORG"),
             _span(t, "기자", "PER"), _span(t, "홍길동", "PER")]  # fmt: skip
    res = passes.verify_spans(t, spans, shapes)
    kept = [("삼성전자", "ORG"), ("2020년 3월", "DAT"), ("10명", "QTY"), ("홍길동", "PER")]
    assert [(s.text, s.label) for s in res.spans] == kept


def test_recall_asks_about_capitalized_words_left_out() -> None:
    t = "SOCCER - WESTERBY HOTSPUR SACK COACH AFTER DEFEAT BY BRIXHOLM ROVERS"
    words = ["SOCCER", "WESTERBY", "HOTSPUR", "SACK", "COACH", "DEFEAT", "BRIXHOLM", "ROVERS"]  # not AFTER, BY
    assert passes.missed_words(t, [], "en") == words
    t = "The Bank of Nordhaven kept its rate, coach Tariq Dvorak said."
    found = [_span(t, "Bank of Nordhaven", "ORG"), _span(t, "Tariq Dvorak", "PER")]
    assert passes.recall_needed(t, found, "en") is None  # "The" is a stop word
    assert passes.recall_needed("Estovia 1 Lorvia 2", [], "en") == ["Estovia", "Lorvia"]
    assert passes.recall_needed("삼성전자는 어제 밝혔다.", [], "ko") == []  # no case: an empty answer is asked again
    assert passes.recall_needed("삼성전자는 어제 밝혔다.", [_span("삼성전자는", "삼성전자", "ORG")], "ko") is None


def test_recall_joins_a_name_answered_word_by_word() -> None:
    t = "spokesman Lombardi met Oksana Sorensen and Eszter Oyelaran of Stonebridge Group."
    first = [_span(t, "Lombardi", "PER")]
    more = [_span(t, w, lab) for w, lab in [("Oksana", "PER"), ("Sorensen", "PER"), ("Eszter", "PER"),
            ("Oyelaran", "PER"), ("Stonebridge", "ORG"), ("Group", "ORG"), ("Lombardi", "PER")]]  # fmt: skip
    merged = passes.merge_recall(t, first, more)
    assert [(s.text, t[s.start : s.end]) for s in merged] == [(n, n) for n in
            ["Lombardi", "Oksana Sorensen", "Eszter Oyelaran", "Stonebridge Group"]]  # fmt: skip


# -- end to end: the passes in `label_documents` -------------------------------------------------------------
# national teams by a country's name: places (a club named by its town would be an organization, teams.py)
RESULTS = "Norway 1 Sweden 2 ( halftime 1-1 )"
DATELINE = "Brixholm (Lorvia Press) - Dr. Aurelio Fairweather said on Dec. 5 the ceasefire was over."
FIRST = {
    RESULTS: '{"entities": []}',
    DATELINE: json.dumps({"entities": [{"text": "Brixholm", "label": "LOC"}, {"text": "Lorvia Press", "label": "ORG"},
                                       {"text": "Dr. Aurelio Fairweather", "label": "PER"}, {"text": "Dec. 5", "label": "MISC"}]}),
}  # fmt: skip
RECALL = {RESULTS: '{"entities": [{"text": "Norway", "label": "LOC"}, {"text": "Sweden", "label": "LOC"}]}'}


def _respond(req: dict) -> str:
    user = req["messages"][-1]["content"]
    text = user.rsplit("<<<\n", 1)[1].split("\n>>>", 1)[0]
    return RECALL[text] if "Names may still be missing" in user else FIRST[text]


@pytest.fixture
def news(store: Store) -> Store:
    v = store.add_guideline(_guideline("news_guideline.yaml"), "agent")
    store.decide_guideline(v, "human:tester", "approve")
    store.add_documents([Document(text=t) for t in FIRST])
    return store


def _proposed(store: Store) -> dict[tuple[str, str], str | None]:
    return {(p.payload["span"]["text"], p.payload["span"]["label"]): p.payload.get("pass")
            for p in store.proposals(kind="span")}  # fmt: skip


def test_ner_v3_runs_both_passes(news: Store) -> None:
    with OpenAIStub(respond=_respond) as stub:
        report = label_documents(news, open_llm(news, f"{stub.url}#stub"), settings=LabelSettings(prompt_version=3))
        users = [h["messages"][-1]["content"] for h in stub.hits]
    # one request per sentence, and one recall request for the results line the first answer left empty
    assert len(users) == 3 and report.llm_calls == 3
    recall = [u for u in users if "Names may still be missing" in u]
    assert len(recall) == 1 and "these words of the text: Norway, Sweden." in recall[0]
    assert stub.hits[0]["messages"][0] == stub.hits[2]["messages"][0]  # the same system message (cached prefix)
    assert _proposed(news) == {
        ("Norway", "LOC"): "recall", ("Sweden", "LOC"): "recall",  # found by the recall pass
        ("Brixholm", "LOC"): None, ("Lorvia Press", "ORG"): None,
        ("Aurelio Fairweather", "PER"): "trimmed",  # "Dr." cut off; "Dec. 5" dropped
    }  # fmt: skip
    run = news.decisions(action="weak_label.run")[-1]
    assert run.payload["prompt"] == "ner.v3"


def test_the_passes_can_be_turned_off(news: Store) -> None:
    news.set_setting(passes.RECALL_SETTING, False)
    news.set_setting(passes.VERIFY_SETTING, False)
    with OpenAIStub(respond=_respond) as stub:
        label_documents(news, open_llm(news, f"{stub.url}#stub"), settings=LabelSettings(prompt_version=3))
        assert len(stub.hits) == 2
    assert _proposed(news) == {("Brixholm", "LOC"): None, ("Lorvia Press", "ORG"): None,
                               ("Dr. Aurelio Fairweather", "PER"): None, ("Dec. 5", "MISC"): None}  # fmt: skip


def test_older_prompts_ask_what_they_asked(news: Store) -> None:
    """A session recorded with ner.v2 replays with it: no recall requests, no verification."""
    assert passes.pass_settings(news, load_prompt("ner", 2)) == passes.PassSettings(recall=False, verify=False)
    with OpenAIStub(respond=_respond) as stub:
        label_documents(news, open_llm(news, f"{stub.url}#stub"), settings=LabelSettings(prompt_version=2))
        assert len(stub.hits) == 2
    assert ("Dec. 5", "MISC") in _proposed(news)
    news.set_setting(passes.VERIFY_SETTING, True)  # a project can opt in with an older prompt
    assert passes.pass_settings(news, load_prompt("ner", 2)) == passes.PassSettings(recall=False, verify=True)


def test_the_command_line_turns_the_passes_on_and_off(news: Store) -> None:
    """`studio label --recall-pass on --verify-spans on` with the pinned ner.v2; "off" wins over a setting."""
    from studio.ops import registry

    news.set_setting(passes.VERIFY_SETTING, True)
    with OpenAIStub(respond=_respond) as stub:
        spec = f"{stub.url}#stub"
        ctx = registry.OpContext(store=news, llm_spec=spec)
        registry.run("label", {"recall_pass": "on", "verify_spans": "off", "doc": [1, 2]}, ctx)
        assert sum("Names may still be missing" in h["messages"][-1]["content"] for h in stub.hits) == 1
    got = _proposed(news)
    assert got[("Norway", "LOC")] == "recall" and ("Dr. Aurelio Fairweather", "PER") in got  # no verify
    run = news.decisions(action="weak_label.run")[-1].payload
    assert run["settings"]["recall_pass"] == "on" and run["settings"]["verify_spans"] == "off"
    assert passes.pass_settings(news, load_prompt("ner", 2)) == passes.PassSettings(recall=False, verify=True)
