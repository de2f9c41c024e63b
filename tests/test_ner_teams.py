"""Clubs named after their town in results lines (teams.py): the rule on texts, which guidelines turn it on, the
project's own documents turning it off, and `studio label`'s proposals through the real path (a real store, the
pretrained pipeline voting, the model an OpenAI-compatible stub on loopback that calls every town a place, as the
embedded model does)."""

from __future__ import annotations

import json
import re
from typing import Any

from studio.llm import open_llm
from studio.ops.ner.label import LabelSettings, _team_rule, label_documents
from studio.ops.ner.teams import countries, results_line, team_position, team_rule
from studio.schema import Guideline, LabelDef, Span
from studio.store import Store
from tests.ner_helpers import add_docs, complete_like_gold, news_guideline, news_project
from tests.openai_stub import OpenAIStub

NBA = "NBA results on Tuesday : Chicago 107 New York 102 ( OT ) , Utah 98 Miami 90"
STANDINGS = "Standings ( W L PCT GB ) : Utah 38 12 .760 - Houston 34 17 .667 - San Antonio 31 19 .620"
WEATHER = "Lisbon 24 sunny ; Madrid 27 sunny ; Paris 18 cloudy ; Oslo 9 rain"
RAIN = "Rainfall in mm, 24 hours to 8:30 a.m.: Chennai 112 ; Puducherry 86 ; Cuddalore 140"
QUALIFIER = "World Cup qualifiers : Norway 2 Sweden 1 , Scotland 0 England 3"
DOWNHILL = "1. Marit Lunde ( Norway ) 1:19.44 2. Hanna Eriksson ( Sweden ) 1:19.80"


def _at(text: str, name: str, label: str = "LOC") -> Span:
    start = text.index(name)
    return Span(start=start, end=start + len(name), label=label)


def _labels(text: str, spans: list[Span]) -> dict[str, str]:
    return {text[s.start : s.end]: s.label for s in spans}


def test_towns_in_results_and_standings_become_clubs_countries_and_tables_do_not() -> None:
    rule = team_rule(news_guideline())
    assert rule is not None and rule.org == "ORG" and rule.places == {"LOC"}
    nba = rule.relabel(NBA, [_at(NBA, n) for n in ("Chicago", "New York", "Utah", "Miami")])
    assert _labels(NBA, nba) == {"Chicago": "ORG", "New York": "ORG", "Utah": "ORG", "Miami": "ORG"}
    rows = rule.relabel(STANDINGS, [_at(STANDINGS, n) for n in ("Utah", "Houston", "San Antonio")])
    assert set(_labels(STANDINGS, rows).values()) == {"ORG"}
    # national teams stay places; towns in weather and rainfall tables and nations in a times list are not teams
    for text, names in ((QUALIFIER, ("Norway", "Sweden", "Scotland", "England")),
                        (WEATHER, ("Lisbon", "Madrid", "Paris", "Oslo")), (RAIN, ("Chennai", "Puducherry")),
                        (DOWNHILL, ("Norway", "Sweden"))):  # fmt: skip
        spans = [_at(text, n) for n in names]
        assert rule.relabel(text, spans) == spans, text
    # a person or an organization already so labeled is left alone; a vote twice for one span keeps the higher
    kept = [_at(NBA, "Chicago", "PER"), _at(NBA, "Miami", "ORG")]
    assert rule.relabel(NBA, kept) == kept
    votes = rule.relabel_votes(NBA, {"src": [(_at(NBA, "Utah"), 0.4), (_at(NBA, "Utah", "ORG"), 0.7)]})
    assert votes == {"src": [(_at(NBA, "Utah", "ORG"), 0.7)]}
    assert not results_line("Boeing 737 deliveries rose 12 percent in May") and results_line(NBA)
    assert not team_position(WEATHER, 0, 6) and team_position(NBA, *_span_of(NBA, "New York"))
    assert {"Norway", "South Korea", "United States", "England", "U.S."} <= countries() and "Chicago" not in countries()


def _span_of(text: str, name: str) -> tuple[int, int]:
    s = _at(text, name)
    return s.start, s.end


def test_only_a_guideline_whose_organizations_take_clubs_or_teams_turns_it_on() -> None:
    g = news_guideline()
    assert team_rule(g) is not None  # ORG includes "sports clubs"
    plain = g.model_copy(update={"labels": [
        lab.model_copy(update={"definition": "Companies and agencies.", "include": [], "positive_examples": []})
        if lab.name == "ORG" else lab for lab in g.labels]})  # fmt: skip
    assert team_rule(plain) is None
    # where the guideline is silent, the person's documents turn it on: clubs in results lines labeled organizations
    clubs = [(NBA, [_at(NBA, n, "ORG") for n in ("Chicago", "New York", "Utah", "Miami")])]
    assert team_rule(plain, clubs) is not None and team_rule(plain, [(NBA, clubs[0][1][:2])]) is None
    national = g.model_copy(update={"labels": [
        lab.model_copy(update={"definition": "Companies, agencies and national teams.", "include": [],
                               "positive_examples": []}) if lab.name == "ORG" else lab for lab in g.labels]})  # fmt: skip
    assert team_rule(national) is None
    no_place = Guideline(task_type="ner", goal="teams", language="en",
                         labels=[LabelDef(name="ORG", definition="Companies and sports clubs.")])  # fmt: skip
    assert team_rule(no_place) is None
    assert team_rule(news_guideline("ko")) is None  # English text only


def test_the_projects_documents_turn_it_off_where_the_person_labels_such_names_as_places() -> None:
    g = news_guideline()
    invented = "Estovia 1 Lorvia 2 ( halftime 1-1 )"
    also = "Belmora 3 Drennland 0 , Ulmaria 1 Sarkova 1"
    places = [(invented, [_at(invented, "Estovia"), _at(invented, "Lorvia")]),
              (also, [_at(also, n) for n in ("Belmora", "Drennland", "Ulmaria", "Sarkova")])]  # fmt: skip
    assert team_rule(g, places) is None
    clubs = [(NBA, [_at(NBA, n, "ORG") for n in ("Chicago", "New York", "Utah", "Miami")])]
    assert team_rule(g, clubs) is not None
    clubs.append((STANDINGS, [_at(STANDINGS, n, "ORG") for n in ("Utah", "Houston", "San Antonio")]))
    assert team_rule(g, clubs + places[:1]) is not None  # 2 of 9 labeled as places: under a quarter
    assert team_rule(g, clubs + places) is None  # 6 of 13


def _answer(req: dict[str, Any]) -> str:
    """What a small model answers: every capitalized town or country a place."""
    text = req["messages"][-1]["content"]
    names = [n for n in ("Chicago", "New York", "Utah", "Miami", "Lisbon", "Madrid", "Norway", "Sweden",
                         "Estovia", "Lorvia", "Belmora", "Drennland") if re.search(rf"\b{n}\b", text)]  # fmt: skip
    return json.dumps({"names": [[n, "LOC"] for n in names]})


def _proposed(store: Store, doc_id: int) -> dict[str, str]:
    text = store.document(doc_id).text
    return {
        text[p.payload["span"]["start"] : p.payload["span"]["end"]]: p.payload["span"]["label"]
        for p in store.proposals(kind="span", status="pending", document_id=doc_id)
    }


def test_label_proposes_clubs_as_organizations_and_learns_from_the_person(tmp_path: Any) -> None:
    store = news_project(Store.init(tmp_path / "proj"))
    with OpenAIStub(respond=_answer) as stub:
        llm = open_llm(store, f"{stub.url}#stub", use_cache=False)
        nba, weather, qual = add_docs(store, [{"text": NBA}, {"text": WEATHER}, {"text": "Norway 2 Sweden 1"}])
        label_documents(store, llm, [nba, weather, qual], settings=LabelSettings(few_shot=0))
        got = _proposed(store, nba)
        assert {n: got.get(n) for n in ("Chicago", "New York", "Utah", "Miami")} == dict.fromkeys(
            ("Chicago", "New York", "Utah", "Miami"), "ORG"
        )
        assert set(_proposed(store, weather).values()) == {"LOC"} and "Lisbon" in _proposed(store, weather)
        assert {n: _proposed(store, qual).get(n) for n in ("Norway", "Sweden")} == {"Norway": "LOC", "Sweden": "LOC"}
        # the person labels invented national teams as places: the rule is off for this project from then on
        first = add_docs(store, [{"text": "Estovia 1 Lorvia 2 ( halftime 1-1 )"}, {"text": "Belmora 3 Drennland 0"}])
        label_documents(store, llm, first, settings=LabelSettings(few_shot=0))
        approved = store.approved_guideline()
        assert approved is not None and _team_rule(store, approved[0]) is not None
        for i in first:
            text = store.document(i).text
            complete_like_gold(store, i, [{"start": s.start, "end": s.end, "label": "LOC"} for s in
                                          (_at(text, n) for n in re.findall(r"[A-Z][a-z]+", text))])  # fmt: skip
        assert _team_rule(store, approved[0]) is None
        (again,) = add_docs(store, [{"text": "Chicago 99 Utah 97 , Miami 101 New York 96"}])
        label_documents(store, llm, [again], settings=LabelSettings(few_shot=0))
        got = _proposed(store, again)
        assert {n: got.get(n) for n in ("Chicago", "Utah", "Miami")} == dict.fromkeys(
            ("Chicago", "Utah", "Miami"), "LOC"
        )
    store.close()
