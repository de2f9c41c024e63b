"""The compact ner.v4 prompt: [name, label] pairs. Rendering for the shipped English and Korean guidelines, the
parser on literal answers (the ones marked "model" are what the embedded model wrote in bench_prompting.py runs),
repeated names, and a labeling run end to end against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import json

import pytest
import yaml

from studio.llm import open_llm
from studio.llm.prompts import load_prompt
from studio.ops.ner import passes
from studio.ops.ner.align import align_mentions
from studio.ops.ner.label import FewShot, LabelSettings, guideline_example, label_documents
from studio.ops.ner.parse import (
    ParseFailure,
    answer_format,
    compact_answer,
    pairs_json_schema,
    parse_answer,
    parse_pairs,
)
from studio.schema import Document, Guideline, Proposal
from studio.store import Store
from tests.conftest import FIXTURES
from tests.openai_stub import OpenAIStub

EN = ["PER", "ORG", "LOC", "MISC"]


def _guideline(name: str) -> Guideline:
    return Guideline.model_validate(yaml.safe_load((FIXTURES / "ner" / name).read_text(encoding="utf-8")))


def _pairs(result) -> list[tuple[str, str]]:
    return [(m.text, m.label) for m in result.mentions]


# -- rendering ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["news_guideline.yaml", "news_ko_guideline.yaml"])
def test_v4_renders_the_guideline_and_compact_examples(name: str) -> None:
    g = _guideline(name)
    prompt = load_prompt("ner", 4)
    ex = guideline_example(g)
    assert ex is not None
    shown = {**ex, "answer": compact_answer(ex["answer"])}
    system, user = prompt.render(guideline=g, examples=[shown], text="본문 text")
    labels = g.label_names()
    # the guideline as ner.v2 renders it, then the compact answer form with this guideline's labels
    v2 = load_prompt("ner", 2).render(guideline=g, examples=[], text="x")[0]["content"]
    assert system["content"].split("Label every name")[0] == v2.split("Label every name")[0]
    assert f'{{"names": [["...", "{labels[0]}"], ["...", "{labels[-1]}"]]}}' in system["content"]
    assert f"The label is one of: {', '.join(labels)}." in system["content"]
    assert '"context"' not in system["content"]
    # the example answers in the same form, in the guideline's own script
    answer = json.loads(user["content"].split("Answer: ", 1)[1].split("\n", 1)[0])
    assert answer["names"][0] == [g.labels[0].positive_examples[0], labels[0]]
    assert {label for _, label in answer["names"]} == set(labels)
    assert user["content"].endswith("본문 text\n>>>\nAnswer:")
    # the system block depends on the guideline only: the server's cached prefix
    assert prompt.render(guideline=g, examples=[], text="other")[0] == system


def test_the_prompt_version_chooses_the_answer_form() -> None:
    assert [answer_format(v) for v in (1, 2, 3, 4, 5)] == ["entities", "entities", "entities", "pairs", "entities"]
    schema = pairs_json_schema(EN)
    pair = schema["properties"]["names"]["items"]
    assert schema["required"] == ["names"] and pair["prefixItems"][1]["enum"] == EN
    assert (pair["minItems"], pair["maxItems"]) == (2, 2)


def test_compact_answer_lists_a_name_once() -> None:
    v2 = {"entities": [{"text": "Apple", "label": "ORG"}, {"text": "Tim Cook", "label": "PER"},
                       {"text": "Apple", "label": "ORG"}, {"text": "Apple", "label": "PER"}]}  # fmt: skip
    assert json.loads(compact_answer(json.dumps(v2))) == {
        "names": [["Apple", "ORG"], ["Tim Cook", "PER"], ["Apple", "PER"]]
    }
    assert compact_answer('{"entities": []}') == '{"names": []}'


# -- parsing literal answers -------------------------------------------------------------------------
def test_model_answers_parse() -> None:
    raw = '{"names": [["Bank of Nordhaven", "ORG"], ["Tariq Dvorak", "PER"]]}'  # model
    r = parse_pairs(raw, EN)
    assert _pairs(r) == [("Bank of Nordhaven", "ORG"), ("Tariq Dvorak", "PER")]
    assert not r.repaired and r.errors == [] and all(m.context == "" for m in r.mentions)
    assert parse_pairs('{"names": []}', EN).mentions == []


def test_repeated_and_unknown_labels() -> None:
    raw = '{"names": [["Meridex", "ORG"], ["Meridex", "ORG"], ["Dec. 5", "DATE"], ["Lorvia", "loc"]]}'
    r = parse_pairs(raw, EN)
    # a repeated pair is kept (the aligner proposes each place once); a label in another case is the guideline's
    assert _pairs(r) == [("Meridex", "ORG"), ("Meridex", "ORG"), ("Lorvia", "LOC")]
    assert r.errors == ["name 2 ('Dec. 5'): label 'DATE' is not in the guideline; dropped"]


def test_malformed_items_are_dropped_with_a_note() -> None:
    raw = '{"names": [["Ostrava"], "Belmora", ["Glenmoor", "LOC"], [1, "ORG"], ["", "PER"]]}'
    r = parse_pairs(raw, EN)
    assert _pairs(r) == [("Glenmoor", "LOC")]
    assert [e.split(":")[0] for e in r.errors] == ["name 0", "name 1", "name 3", "name 4"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty answer"),
        ("   \n", "empty answer"),
        ("I found no names.", "no JSON object in the answer"),
        ('{"PER": ["Jane Doe"]}', 'the JSON has no "names" list (got PER)'),
        ('{"names": {"Jane Doe": "PER"}}', '"names" must be a list, got dict'),
        ('{"nam', "the JSON is malformed or cut off before the entity list"),
    ],
)
def test_unreadable_answers_fail_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(ParseFailure) as exc:
        parse_pairs(raw, EN)
    assert exc.value.reason == reason


def test_repairs() -> None:
    cut = parse_pairs('{"names": [["San Teodoro", "LOC"], ["Dispatch Wi', EN)
    assert _pairs(cut) == [("San Teodoro", "LOC")] and cut.repaired
    assert cut.errors == ["the answer was cut off inside an entity; dropped it and kept the 1 complete ones"]
    fenced = parse_pairs('```json\n{"names": [["Kestrel FC", "ORG"]]}\n```', EN)
    assert _pairs(fenced) == [("Kestrel FC", "ORG")] and fenced.repaired
    bare = parse_pairs('[["Kestrel FC", "ORG"]]', EN)
    assert _pairs(bare) == [("Kestrel FC", "ORG")] and bare.repaired
    # an answer in the entity form (a backend without the grammar) is read as such
    old = parse_pairs('{"entities": [{"text": "Quispe", "label": "PER"}]}', EN)
    assert _pairs(old) == [("Quispe", "PER")] and "read an answer in the entity form" in old.errors
    assert _pairs(old) == _pairs(parse_answer('{"entities": [{"text": "Quispe", "label": "PER"}]}', EN))


# -- repeated names ----------------------------------------------------------------------------------
def test_a_name_listed_once_is_proposed_wherever_it_occurs() -> None:
    text = "Apple sued Apple Music fans; Apple lost. Pineapple is not a name."
    once = parse_pairs('{"names": [["Apple", "ORG"], ["Apple Music", "MISC"]]}', EN).mentions
    twice = parse_pairs('{"names": [["Apple", "ORG"], ["Apple", "ORG"], ["Apple Music", "MISC"]]}', EN).mentions
    for mentions in (once, twice):
        got = align_mentions(text, mentions, "en")
        spans = [(a.span.start, a.span.text, a.span.label) for a in got.spans]
        # both places of "Apple", the longer overlapping name wins inside "Apple Music", never inside "Pineapple"
        assert spans == [(0, "Apple", "ORG"), (11, "Apple Music", "MISC"), (29, "Apple", "ORG")]
        assert got.hallucinated == []


# -- a labeling run through the product path ---------------------------------------------------------
SENTENCES = {
    "Bank of Nordhaven chief Tariq Dvorak met Tariq Dvorak's critics.": '{"names": [["Bank of Nordhaven", "ORG"], ["Tariq Dvorak", "PER"]]}',
    "Jovanovic scored for Kestrel FC against Brixholm Rovers.": '{"names": [["Jovanovic", "PER"], ["Kestrel FC", "ORG"], ["Brixholm Rovers", "ORG"], ["Zagreb", "LOC"]]}',
    "A line the model answered badly.": "I cannot label this text.",
}  # fmt: skip
REVIEWED = "Quispe and Rautio flew from Lima to Helsinki for Nokia."


def _respond(req: dict) -> str:
    text = req["messages"][-1]["content"].rsplit("<<<\n", 1)[1].split("\n>>>", 1)[0]
    return SENTENCES[text]


@pytest.fixture
def news(store: Store) -> Store:
    store.decide_guideline(store.add_guideline(_guideline("news_guideline.yaml"), "agent"), "human:tester", "approve")
    doc_id, _ = store.add_document(Document(text=REVIEWED))
    spans = [{"start": REVIEWED.index(t), "end": REVIEWED.index(t) + len(t), "label": lab, "text": t}
             for t, lab in [("Quispe", "PER"), ("Rautio", "PER"), ("Lima", "LOC"), ("Helsinki", "LOC"), ("Nokia", "ORG")]]  # fmt: skip
    for pid in store.add_proposals(
        [Proposal(kind="span", document_id=doc_id, payload={"span": s}, source="human") for s in spans], "human:tester"
    ):
        store.accept_span(pid, "human:tester")
    store.add_documents([Document(text=t) for t in SENTENCES])
    return store


def test_a_v4_labeling_run(news: Store) -> None:
    approved = news.approved_spans(1)
    with OpenAIStub(respond=_respond) as stub:
        report = label_documents(news, open_llm(news, f"{stub.url}#stub"), [2, 3, 4],
                                 settings=LabelSettings(prompt_version=4, few_shot=1, student=False))  # fmt: skip
        hits = list(stub.hits)
    # one request per sentence (no recall pass with v4), the pairs schema, the reviewed document's answer compact
    assert len(hits) == 3 and report.llm_calls == 3
    assert hits[0]["response_format"]["json_schema"]["schema"] == pairs_json_schema(EN)
    user = hits[0]["messages"][-1]["content"]
    assert f"Example text:\n<<<\n{REVIEWED}\n>>>\n" in user
    assert (
        'Answer: {"names": [["Quispe", "PER"], ["Rautio", "PER"], ["Lima", "LOC"], ["Helsinki", "LOC"], ["Nokia", "ORG"]]}'
        in user
    )
    assert len({h["messages"][0]["content"] for h in hits}) == 1  # one system message: the cached prefix
    got = {(p.document_id, p.payload["span"]["start"], p.payload["span"]["text"], p.payload["span"]["label"])
           for p in news.proposals(kind="span")}  # fmt: skip
    assert got >= {(2, 0, "Bank of Nordhaven", "ORG"), (2, 24, "Tariq Dvorak", "PER"), (2, 41, "Tariq Dvorak", "PER"),
                   (3, 0, "Jovanovic", "PER"), (3, 21, "Kestrel FC", "ORG"), (3, 40, "Brixholm Rovers", "ORG")}  # fmt: skip
    assert report.hallucinated == 1  # "Zagreb" is not in the text
    # the answer without JSON fails its document with the reason; the others and the approved labels stay
    assert report.failed == {4: "no JSON object in the answer"}
    assert not news.proposals(kind="span", document_id=4)
    assert news.approved_spans(1) == approved
    run = news.decisions(action="weak_label.run")[-1].payload
    assert run["prompt"] == "ner.v4" and run["labeled"] == 2
    assert passes.pass_settings(news, load_prompt("ner", 4)) == passes.PassSettings(recall=False, verify=True)


def test_few_shot_examples_keep_their_entity_form_for_older_prompts(news: Store) -> None:
    few = FewShot(news, EN, k=1, mode="fixed")
    assert json.loads(few.pick("x")[0]["answer"])["entities"][0] == {"text": "Quispe", "label": "PER"}


def test_the_recall_pass_asks_for_pairs_when_turned_on(news: Store) -> None:
    """Off by default with v4; a project that turns it on gets its second request in the same form."""
    news.set_setting(passes.RECALL_SETTING, True)
    text = "Jovanovic scored for Kestrel FC against Brixholm Rovers."

    def respond(req: dict) -> str:
        if "Names may still be missing" in req["messages"][-1]["content"]:
            return '{"names": [["Brixholm Rovers", "ORG"]]}'
        return '{"names": [["Jovanovic", "PER"], ["Kestrel FC", "ORG"]]}'

    with OpenAIStub(respond=respond) as stub:
        label_documents(news, open_llm(news, f"{stub.url}#stub"), [3],
                        settings=LabelSettings(prompt_version=4, few_shot=1, student=False))  # fmt: skip
        hits = list(stub.hits)
    assert len(hits) == 2 and "these words of the text: Brixholm, Rovers." in hits[1]["messages"][-1]["content"]
    assert hits[1]["response_format"]["json_schema"]["schema"] == pairs_json_schema(EN)
    assert '[["Quispe", "PER"]' in hits[1]["messages"][-1]["content"]  # the examples in the same form
    got = {(p.payload["span"]["text"], p.payload.get("pass")) for p in news.proposals(kind="span", document_id=3)}
    assert got == {("Jovanovic", None), ("Kestrel FC", None), ("Brixholm Rovers", "recall")}
    assert text == news.document(3).text


def test_studio_label_takes_the_prompt_version(news: Store) -> None:
    """`studio label --prompt-version 4` through the registry (what the CLI and the app call); an unknown
    version is refused with the versions there are, before any request."""
    from studio.errors import StudioError
    from studio.ops import registry

    with OpenAIStub(respond=_respond) as stub:
        ctx = registry.OpContext(store=news, actor="tool", llm_spec=f"{stub.url}#stub")
        res = registry.run("label", {"doc": [2, 3], "prompt_version": 4, "spacy": ["off"], "student": False}, ctx)
        with pytest.raises(StudioError, match="ner"):
            registry.run("label", {"doc": [2], "prompt_version": 9, "spacy": ["off"]}, ctx)
        assert len(stub.hits) == 2
    assert res.labeled == 2
    run = news.decisions(action="weak_label.run")[-1].payload
    assert run["prompt"] == "ner.v4" and run["settings"]["prompt_version"] == 4


def test_english_projects_use_the_compact_prompt_unless_a_recording_says_otherwise(news: Store) -> None:
    """English guidelines have their own pin (ner.v4 with the verify pass); the version is resolved when labeling
    starts, so the run's settings name it; a recording made before the pin ("ner": 2 only) replays with v2."""
    from studio.llm.prompts import PINNED, pinned_versions, prompt_version, use_prompts
    from studio.ops import registry

    assert news.approved_guideline()[0].language == "en"
    with OpenAIStub(respond=_respond) as stub:
        ctx = registry.OpContext(store=news, actor="tool", llm_spec=f"{stub.url}#stub")
        registry.run("label", {"doc": [2], "spacy": ["off"], "student": False}, ctx)
        run = news.decisions(action="weak_label.run")[-1].payload
        assert run["prompt"] == "ner.v4" and run["settings"]["prompt_version"] == 4
        assert stub.hits[-1]["response_format"]["json_schema"]["schema"] == pairs_json_schema(EN)
        with use_prompts({"ner": 2}):
            assert pinned_versions()["ner@en"] == 2
            registry.run("label", {"doc": [3], "spacy": ["off"], "student": False}, ctx)
        run = news.decisions(action="weak_label.run")[-1].payload
        assert run["prompt"] == "ner.v2" and "json_schema" in stub.hits[-1]["response_format"]
        assert stub.hits[-1]["response_format"]["json_schema"]["schema"] != pairs_json_schema(EN)
    assert prompt_version("ner", "en-GB") == prompt_version("ner", "English") == 4
    assert prompt_version("ner") == PINNED["ner"] == 2
    assert prompt_version("ner", "ko") == 5  # Korean: v2's request with the verify pass and the number patterns
    with use_prompts({"ner": 2}):  # a Korean recording made before its pin
        assert prompt_version("ner", "ko") == 2
    with use_prompts({"ner": 2, "ner@en": 4}):  # a recording made with the pin
        assert prompt_version("ner", "en") == 4
