"""The weak-labeling pipeline end to end against a real OpenAI-compatible server on loopback.

The server answers with literal response strings chosen per document, covering a good answer,
a fenced one, a hallucinated mention, a repeated mention and an unreadable answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from studio.errors import InvalidState
from studio.llm import open_llm
from studio.ops.ner.label import FewShot, LabelSettings, chunk_text, label_documents, unlabeled_documents
from studio.schema import Document, Guideline
from studio.store import Store
from tests.conftest import FIXTURES
from tests.openai_stub import OpenAIStub

DOCS = {
    "Apple unveiled the iPhone 16 in Cupertino.": '{"entities": [{"text": "Apple", "label": "ORG"}, {"text": "iPhone 16", "label": "PRODUCT"}, {"text": "Cupertino", "label": "LOC"}]}',
    "Samsung said the Galaxy S25 sells well.": '```json\n{"entities": [{"text": "Samsung", "label": "ORG"}, {"text": "Galaxy S25", "label": "PRODUCT"}]}\n```',
    "Nvidia shares rose on Tuesday.": '{"entities": [{"text": "Nvidia", "label": "ORG"}, {"text": "Intel", "label": "ORG"}]}',
    "Meta hired engineers; Meta also bought a startup.": '{"entities": [{"text": "Meta", "label": "ORG", "context": "Meta also bought"}]}',
    "This answer will be garbage.": "I am sorry, I cannot help with that",
}


def _respond(req: dict) -> str:
    user = req["messages"][-1]["content"]
    text = user.rsplit("<<<\n", 1)[1].split("\n>>>", 1)[0]
    return DOCS[text]


@pytest.fixture
def project(store: Store) -> Store:
    g = Guideline.model_validate(yaml.safe_load((FIXTURES / "ner" / "guideline.yaml").read_text()))
    v = store.add_guideline(g, "agent")
    store.decide_guideline(v, "human:tester", "approve")
    store.add_documents([Document(text=t) for t in DOCS])
    return store


def test_label_documents_through_a_real_server(project: Store) -> None:
    with OpenAIStub(respond=_respond) as stub:
        llm = open_llm(project, f"{stub.url}#stub")
        # ner.v2: one request per document (the default ner.v3 adds its recall pass: tests/test_ner_passes.py)
        report = label_documents(project, llm, settings=LabelSettings(docs_per_batch=2, prompt_version=2))
        assert len(stub.hits) == 5
    assert report.labeled == 4 and len(report.failed) == 1
    assert "no JSON" in next(iter(report.failed.values())) or "JSON" in next(iter(report.failed.values()))
    assert report.hallucinated == 1  # "Intel" is not in the text
    assert report.repaired == 1  # the fenced answer
    spans = {}
    for p in project.proposals(kind="span"):
        doc = project.document(p.document_id or 0)
        s = p.payload["span"]
        assert doc.text[s["start"] : s["end"]] == s["text"]
        assert 0 < (p.confidence or 0) <= 1 and "llm" in p.payload["sources"]
        spans.setdefault(doc.text[:5], []).append((s["text"], s["label"], s["start"]))
    assert sorted(spans["Apple"]) == [("Apple", "ORG", 0), ("Cupertino", "LOC", 32), ("iPhone 16", "PRODUCT", 19)]
    assert spans["Meta "] == [("Meta", "ORG", 22)]  # the context picked the second occurrence
    # the failed document is logged with its reason and will be retried; labeled ones will not
    fails = project.decisions(action="weak_label.fail")
    assert len(fails) == 1 and fails[0].payload["reason"]
    assert [project.document(i).text for i in unlabeled_documents(project)] == ["This answer will be garbage."]
    run = project.decisions(action="weak_label.run")[-1]
    assert run.payload["proposals"] == report.proposals and run.payload["prompt"] == "ner.v2"
    assert run.payload["few_shot_similarity"] is None  # no approved documents: the guideline's example
    # nothing became a label
    assert project.status()["approved_labels"] == 0


def test_label_refuses_without_approved_guideline(store: Store) -> None:
    store.add_documents([Document(text="Apple")])
    with pytest.raises(InvalidState, match="approve a guideline"):
        label_documents(store, open_llm(store, "http://127.0.0.1:9/v1#x"))


def test_chunks_keep_offsets() -> None:
    text = "First sentence here. Second one! " * 40 + "\n\nA last paragraph without end"
    chunks = chunk_text(text, 200)
    assert len(chunks) > 5 and all(len(c) <= 400 for _, c in chunks)
    for off, c in chunks:
        assert text[off : off + len(c)] == c
    joined = "".join(text[off : off + len(c)] for off, c in chunks)
    assert joined.replace(" ", "") == text.replace(" ", "").replace("\n", "").strip() or len(joined) <= len(text)


def test_few_shot_picks_the_most_similar_approved_document(project: Store) -> None:
    from studio.schema import Proposal, Span

    ids = {project.document(i).text: i for i in project.document_ids()}
    for text, sub, label in [
        ("Apple unveiled the iPhone 16 in Cupertino.", "Apple", "ORG"),
        ("Nvidia shares rose on Tuesday.", "Nvidia", "ORG"),
    ]:
        s = text.index(sub)
        [pid] = project.add_proposals(
            [
                Proposal(
                    kind="span",
                    document_id=ids[text],
                    payload={"span": Span(start=s, end=s + len(sub), label=label, text=sub).model_dump()},
                )
            ]
        )
        project.accept_span(pid, "human:tester")
    few = FewShot(project, ["ORG", "PRODUCT", "LOC", "PERSON"], k=1, mode="similar")
    assert few.similarity is not None and few.similarity.name in ("minilm", "hashed")  # the best installed
    assert few.pick("Nvidia shares fell on Monday.")[0]["text"].startswith("Nvidia")
    assert few.pick("Apple unveiled the iPhone 17.")[0]["text"].startswith("Apple")
    assert json.loads(few.pick("Apple")[0]["answer"]) == {"entities": [{"text": "Apple", "label": "ORG"}]}
    fixed = FewShot(project, ["ORG"], k=1, mode="fixed")
    assert fixed.pick("Nvidia shares fell")[0]["text"].startswith("Apple") and fixed.similarity is None


def test_prompt_renders_fully() -> None:
    from studio.llm.prompts import available, load_prompt

    g = Guideline.model_validate(yaml.safe_load((FIXTURES / "ner" / "guideline.yaml").read_text()))
    msgs = load_prompt("ner").render(guideline=g, examples=[{"text": "Apple", "answer": "{}"}], text="Hello")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "ORG: Companies" in msgs[0]["content"] and "Hello" in msgs[1]["content"]
    assert set(available()) >= {"ner", "guideline", "agent"}


def test_studio_label_cli(project: Store, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    root = str(project.root)
    with OpenAIStub(respond=_respond) as stub:
        code, out, err = run_cli("--project", root, "--llm", f"{stub.url}#stub", "label", "--limit", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["labeled"] == 2


def test_guideline_example_until_enough_approved_documents(project: Store) -> None:
    from studio.ops.ner.label import guideline_example

    g, _ = project.approved_guideline() or (None, 0)
    assert g is not None
    ex = guideline_example(g)
    assert ex is not None
    names = [e["text"] for e in json.loads(ex["answer"])["entities"]]
    assert names and all(n in ex["text"] for n in names)
    british = guideline_example(g.model_copy(update={"language": "en-GB"}))
    assert british is not None and british["text"].endswith("were in the news today.")
    few = FewShot(project, g.label_names(), k=2, mode="similar", guideline=g)
    assert few.pick("anything") == [ex]  # no approved documents yet: only the guideline's example
