"""The pretrained English pipeline votes by default on English projects, its labels mapped to the
guideline's by name (studio/ops/ner/automap.py); `--spacy off` leaves it out; the run replays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from studio.agent.guideline import to_yaml
from studio.cli import cli
from studio.ops.ner.automap import auto_label_map
from studio.ops.ner.sources import mostly_latin, pretrained_available
from studio.schema import Guideline, LabelDef
from studio.store import Store
from tests.openai_stub import OpenAIStub


def _guideline(*names: str, language: str = "en") -> Guideline:
    labels = [LabelDef(name=n, definition=f"{n} mentions.") for n in names]
    return Guideline(goal="names in news", labels=labels, language=language)


def test_conll_style_labels_map_like_the_news_benchmarks() -> None:
    got = auto_label_map(_guideline("PER", "ORG", "LOC", "MISC"))
    assert got == {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "NORP": "MISC", "EVENT": "MISC"}


def test_social_media_style_names_case_and_hyphens_ignored() -> None:
    got = auto_label_map(_guideline("person", "location", "corporation", "product", "creative-work", "group"))
    assert got == {"PERSON": "person", "ORG": "corporation", "GPE": "location", "LOC": "location",
                   "PRODUCT": "product", "WORK_OF_ART": "creative-work"}  # fmt: skip


def test_an_exact_pipeline_name_wins_and_unknown_labels_get_nothing() -> None:
    assert auto_label_map(_guideline("GPE", "Location", "Person")) == {
        "PERSON": "Person", "GPE": "GPE", "LOC": "Location"}  # fmt: skip
    assert auto_label_map(_guideline("SYMPTOM", "DRUG")) == {}


def test_only_english_guidelines_get_a_map() -> None:
    assert auto_label_map(_guideline("PER", "ORG", "LOC", language="ko")) == {}
    assert auto_label_map(_guideline("PER", language="en-GB")) == {"PERSON": "PER"}


def test_mostly_latin() -> None:
    assert mostly_latin("Olaf Scholz met Émilie Dubois in Zürich.")
    assert not mostly_latin("삼성전자는 화요일 서울에서 갤럭시 S25를 공개했다.")
    assert mostly_latin("12 : 0")  # no letters: nothing to judge, the pipeline may look


DOCS = [
    "British Prime Minister Tony Blair met Microsoft executives in Berlin on Monday.",
    "삼성전자는 화요일 서울에서 갤럭시 S25를 공개했다.",
]


def _run(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, (args, res.output, res.exception)
    return res.stdout


def _project(root: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    g = inputs / "guideline.yaml"
    g.write_text(to_yaml(_guideline("PER", "ORG", "LOC", "MISC")), encoding="utf-8")
    docs = inputs / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in DOCS), encoding="utf-8")
    p = ("--project", str(root), "--user", "ana")
    _run("init", str(root))
    monkeypatch.setenv("EDITOR", f"cp {g}")
    _run(*p, "guideline", "new")
    _run(*p, "guideline", "approve")
    _run(*p, "import", str(docs))
    return p


@pytest.mark.skipif(not pretrained_available(), reason="the pretrained pipeline is not installed")
def test_label_lets_the_pipeline_vote_by_default_and_the_run_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_EMBED", "hashed")
    monkeypatch.delenv("VISUAL", raising=False)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    silent = lambda req: json.dumps({"entities": []})  # noqa: E731  the model finds nothing

    p = _project(tmp_path / "a", inputs, monkeypatch)
    with OpenAIStub(respond=silent) as stub:
        out = json.loads(_run(*p, "--llm", f"{stub.url}#stub", "label", "--json"))
    assert out["pretrained"]["PERSON"] == "PER" and out["pretrained"]["NORP"] == "MISC"
    store = Store.open(tmp_path / "a")
    spans = {(pr.payload["span"]["text"], pr.payload["span"]["label"], pr.document_id)
             for pr in store.proposals(kind="span", status=None)}  # fmt: skip
    store.close()
    assert {("Tony Blair", "PER", 1), ("Microsoft", "ORG", 1), ("Berlin", "LOC", 1), ("British", "MISC", 1)} <= spans
    assert not [s for s in spans if s[2] == 2]  # the Korean document: the English pipeline says nothing

    q = _project(tmp_path / "b", inputs, monkeypatch)
    with OpenAIStub(respond=silent) as stub:
        off = json.loads(_run(*q, "--llm", f"{stub.url}#stub", "label", "--spacy", "off", "--json"))
    assert off["proposals"] == 0 and off.get("pretrained") is None

    recording = tmp_path / "session.jsonl"
    _run(*p, "session", "export", "-o", str(recording))
    replayed = json.loads(_run("replay", str(recording), "--headless", "--json", "--into", str(tmp_path / "c")))
    again = Store.open(tmp_path / "c")
    assert {(pr.payload["span"]["text"], pr.payload["span"]["label"], pr.document_id)
            for pr in again.proposals(kind="span", status=None)} == spans  # fmt: skip
    again.close()
    assert replayed["decisions"] > 0


@pytest.mark.skipif(not pretrained_available(), reason="the pretrained pipeline is not installed")
def test_verify_drops_people_and_places_when_no_label_is_for_them(store: Store) -> None:
    """A guideline for companies and products: a small model labels "Tim Cook" and "New York" ORG for want of a
    label; the pipeline calls them a person and a place (two words or more), so verify drops them. One-word names
    stay (the pipeline calls brands people: "Meta"), and with a person label the rule is off for people."""
    from studio.llm import open_llm
    from studio.ops.ner.label import LabelSettings, label_documents
    from studio.ops.ner.sources import SpacyModelSource
    from studio.schema import Document

    text = "Apple chief Tim Cook showed the iPhone 16 in New York, and Meta answered."
    answer = '{"names": [["Apple", "ORG"], ["Tim Cook", "ORG"], ["iPhone 16", "PRODUCT"], ["New York", "ORG"], ["Meta", "ORG"]]}'
    tech = SpacyModelSource({"ORG": "ORG", "PRODUCT": "PRODUCT"})
    assert tech.unlabelled_names([text]) == [{(12, 20), (45, 53)}]
    assert SpacyModelSource({"PERSON": "PER", "ORG": "ORG"}).unlabelled_names([text]) == [{(45, 53)}]
    store.decide_guideline(store.add_guideline(_guideline("ORG", "PRODUCT"), "agent"), "human:t", "approve")
    store.add_documents([Document(text=text), Document(text=text + " ")])

    def llm_spans(doc_id: int) -> set[str]:
        return {p.payload["span"]["text"] for p in store.proposals(kind="span", document_id=doc_id)
                if p.payload["sources"].get("llm", 0) >= 0.5}  # fmt: skip

    with OpenAIStub(respond=lambda req: answer) as stub:
        llm = open_llm(store, f"{stub.url}#stub")
        label_documents(store, llm, [1], settings=LabelSettings(spacy_auto=True, student=False))
        label_documents(store, llm, [2], settings=LabelSettings(spacy_auto=True, student=False, verify_spans="off"))
    assert llm_spans(1) == {"Apple", "iPhone 16", "Meta"}
    assert llm_spans(2) == {"Apple", "Tim Cook", "iPhone 16", "New York", "Meta"}
