"""Parsing the model's NER answer: literal response strings, as models really write them."""

from __future__ import annotations

import json

import pytest

from studio.ops.ner.parse import NerAnswer, ParseFailure, answer_json_schema, parse_answer

LABELS = ["ORG", "PERSON", "PRODUCT"]


def texts(result) -> list[tuple[str, str]]:
    return [(m.text, m.label) for m in result.mentions]


def test_clean_answer_is_not_repaired() -> None:
    raw = '{"entities": [{"text": "Apple", "label": "ORG", "context": "Apple released"}, {"text": "Tim Cook", "label": "PERSON"}]}'
    r = parse_answer(raw, LABELS)
    assert texts(r) == [("Apple", "ORG"), ("Tim Cook", "PERSON")]
    assert r.mentions[0].context == "Apple released" and r.mentions[1].context == ""
    assert not r.repaired and r.errors == []


def test_fenced_answer() -> None:
    raw = 'Here you go:\n```json\n{"entities": [{"text": "iPhone 16", "label": "PRODUCT"}]}\n```\nAnything else?'
    r = parse_answer(raw, LABELS)
    assert texts(r) == [("iPhone 16", "PRODUCT")]
    assert r.repaired and any("fence" in e for e in r.errors)


def test_prose_around_one_object() -> None:
    raw = 'Sure! The entities are {"entities": [{"text": "Nvidia", "label": "ORG"}]} -- hope that helps.'
    r = parse_answer(raw, LABELS)
    assert texts(r) == [("Nvidia", "ORG")] and r.repaired


def test_two_objects_are_ambiguous() -> None:
    raw = '{"entities": [{"text": "A", "label": "ORG"}]} or maybe {"entities": []}'
    with pytest.raises(ParseFailure, match="more than one JSON object"):
        parse_answer(raw, LABELS)


def test_truncated_inside_an_entity_keeps_complete_ones() -> None:
    raw = '{"entities": [{"text": "Apple", "label": "ORG"}, {"text": "Tim Cook", "label": "PERSON"}, {"text": "Vis'
    r = parse_answer(raw, LABELS)
    assert texts(r) == [("Apple", "ORG"), ("Tim Cook", "PERSON")]
    assert r.repaired and any("dropped it and kept the 2" in e for e in r.errors)


def test_truncated_between_entities_and_unclosed_fence() -> None:
    raw = '```json\n{"entities": [{"text": "Apple", "label": "ORG"},\n  '
    r = parse_answer(raw, LABELS)
    assert texts(r) == [("Apple", "ORG")]
    assert any("cut off" in e for e in r.errors)


def test_truncated_before_the_list_fails() -> None:
    with pytest.raises(ParseFailure, match="malformed or cut off"):
        parse_answer('{"entit', LABELS)


def test_labels_case_insensitive_and_unknown_dropped() -> None:
    raw = json.dumps(
        {
            "entities": [
                {"text": "Apple", "label": "org"},
                {"text": "Cupertino", "label": "LOCATION"},
                {"text": "Tim", "label": " Person "},
            ]
        }
    )
    r = parse_answer(raw, LABELS)
    assert texts(r) == [("Apple", "ORG"), ("Tim", "PERSON")]
    assert len(r.errors) == 1 and "LOCATION" in r.errors[0] and "not in the guideline" in r.errors[0]
    assert not r.repaired  # dropping a label is a note, not a repair of the JSON


def test_malformed_items_dropped_with_notes() -> None:
    raw = '{"entities": [{"text": "Apple", "label": "ORG"}, "Google", {"label": "ORG"}, {"text": "  ", "label": "ORG"}, {"text": 5, "label": "ORG"}]}'
    r = parse_answer(raw, LABELS)
    assert texts(r) == [("Apple", "ORG")]
    assert len(r.errors) == 4
    assert "entity 1: expected an object" in r.errors[0]
    assert r.errors[1].startswith("entity 2: text:")


def test_bare_list_is_accepted() -> None:
    r = parse_answer('[{"text": "Apple", "label": "ORG"}]', LABELS)
    assert texts(r) == [("Apple", "ORG")] and r.repaired


def test_empty_entities_is_fine() -> None:
    r = parse_answer('{"entities": []}', LABELS)
    assert r.mentions == [] and not r.repaired


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty answer"),
        ("   \n", "empty answer"),
        ("I could not find any entities in this text.", "no JSON object"),
        ('{"people": ["Tim Cook"]}', 'no "entities" list'),
        ('{"entities": "Apple"}', "must be a list"),
        ("42", 'no "entities" list'),
    ],
)
def test_garbage_raises_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(ParseFailure) as info:
        parse_answer(raw, LABELS)
    assert reason in info.value.reason
    assert reason in str(info.value)


def test_json_schema_restricts_labels() -> None:
    schema = answer_json_schema(LABELS)
    mention = schema["properties"]["entities"]["items"]
    assert mention["properties"]["label"]["enum"] == LABELS
    assert mention["required"] == ["text", "label"] and mention["additionalProperties"] is False
    assert schema["required"] == ["entities"]
    assert answer_json_schema(LABELS, strict=True)["properties"]["entities"]["items"]["required"] == [
        "text",
        "label",
        "context",
    ]
    # An answer the schema allows is what parse_answer reads.
    answer = {"entities": [{"text": "Apple", "label": "ORG", "context": "Apple released"}]}
    assert set(answer["entities"][0]) == set(mention["properties"])
    assert NerAnswer.model_validate(answer).entities[0].context == "Apple released"
    assert texts(parse_answer(json.dumps(answer), LABELS)) == [("Apple", "ORG")]
