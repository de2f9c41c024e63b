"""`studio synth` against a real OpenAI-compatible server on loopback, with literal answers.

The answers cover good sentences, an entity not in its sentence, a near-copy and a verbatim copy
of a corpus document, and malformed output. Then releases: synthetic documents stay out of the
test split and can be left out entirely.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from studio.llm import open_llm
from studio.llm.client import StructuredOutputError
from studio.ops.embed import HashedNgrams
from studio.ops.synth import SynthSettings, synthesize, thin_labels
from studio.schema import Document, Guideline, Proposal, Span
from studio.store import Store
from tests.conftest import FIXTURES, complete_documents
from tests.openai_stub import OpenAIStub

CORPUS = [
    "Apple unveiled the iPhone 16 in Cupertino on Monday.",
    "Samsung said the Galaxy S25 sells well in Europe.",
    "Nvidia shares rose on Tuesday after strong chip sales.",
    "Microsoft opened a new office in Berlin this spring.",
]

GOOD = {
    "sentences": [
        {
            # The v2 shape: the target mentions first, then the other entities.
            "mentions": ["Tim Cook", "Satya Nadella"],
            "text": "Tim Cook met Satya Nadella in Seattle last week.",
            "entities": [{"text": "Seattle", "label": "LOC"}],
        },
        {
            # The v1 shape (no "mentions") still reads. "Jensen Huang" is not in the sentence:
            # dropped and counted; the sentence stays.
            "text": "Lisa Su told reporters the chips ship in May.",
            "entities": [{"text": "Lisa Su", "label": "PERSON"}, {"text": "Jensen Huang", "label": "PERSON"}],
        },
        {
            # A near-copy of a corpus document with a name swapped in.
            "text": "Apple unveiled the iPhone 16 in Cupertino on Monday, said Tim Cook.",
            "entities": [{"text": "Tim Cook", "label": "PERSON"}],
        },
        {
            # Copied verbatim from the corpus.
            "text": "Samsung said the Galaxy S25 sells well in Europe.",
            "entities": [{"text": "Samsung", "label": "PERSON"}],
        },
        {
            # No PERSON mention that is really in the text: nothing for the label asked for.
            "text": "The new laptop ships in three colours.",
            "entities": [{"text": "Ada Lovelace", "label": "PERSON"}],
        },
    ]
}


@pytest.fixture
def project(store: Store) -> Store:
    g = Guideline.model_validate(yaml.safe_load((FIXTURES / "ner" / "guideline.yaml").read_text()))
    store.decide_guideline(store.add_guideline(g, "agent"), "human:tester", "approve")
    store.add_documents([Document(text=t) for t in CORPUS])
    return store


def _synth(store: Store, answer: str, **kw: object) -> tuple[object, OpenAIStub]:
    with OpenAIStub(respond=lambda req: answer) as stub:
        report = synthesize(
            store, open_llm(store, f"{stub.url}#stub"), ["PERSON"], SynthSettings(n=5, **kw), backend=HashedNgrams()
        )
    return report, stub


def test_synth_keeps_good_sentences_and_drops_the_rest(project: Store) -> None:
    assert "PERSON" in thin_labels(project, ["ORG", "PERSON"], 20)
    report, stub = _synth(project, json.dumps(GOOD))
    # The prompt shows real documents and the guideline, and asks for the label.
    prompt = stub.hits[0]["messages"][-1]["content"]
    assert "Real document:" in prompt and "PERSON" in prompt
    assert stub.hits[0]["response_format"]["type"] == "json_schema"
    sent_schema = stub.hits[0]["response_format"]["json_schema"]["schema"]["$defs"]["SynthSentence"]
    assert sent_schema["required"][0] == "mentions" and sent_schema["properties"]["mentions"]["minItems"] == 1

    assert report.generated == 5 and report.kept == 2
    assert report.dropped == {"empty": 0, "no_target_label": 1, "copy": 1, "near_duplicate": 1}
    assert report.entities_not_in_text == 2  # Jensen Huang, Ada Lovelace
    docs = list(project.documents(source="synthetic"))
    assert [d.text for d in docs] == [s["text"] for s in GOOD["sentences"][:2]]
    prov = docs[0].provenance
    assert prov["synthetic"] is True and prov["label"] == "PERSON" and prov["prompt"] == "synth.v2"
    assert prov["llm"].endswith("#stub") and prov["model"] and prov["seed"] == 0

    props = project.proposals(kind="span")
    assert len(props) == report.proposals == 4
    assert all(p.status == "pending" and p.source == "synth:synth.v2" for p in props)
    spans = {(project.document(p.document_id or 0).text[p.payload["span"]["start"] : p.payload["span"]["end"]],
              p.payload["span"]["label"]) for p in props}  # fmt: skip
    assert spans == {("Tim Cook", "PERSON"), ("Satya Nadella", "PERSON"), ("Seattle", "LOC"), ("Lisa Su", "PERSON")}
    assert project.status()["approved_labels"] == 0  # nothing is a label until a human decides

    [run] = project.decisions(action="synth.run")
    assert run.actor == "tool" and run.payload["kept"] == 2 and run.payload["dropped"]["copy"] == 1
    assert run.payload["backend"] == "hashed"


def test_malformed_output_fails_clearly_and_stores_nothing(project: Store) -> None:
    before = project.status()
    with pytest.raises(StructuredOutputError, match="did not give a valid answer"):
        _synth(project, "Sure! Here are some sentences: Tim Cook went to Paris.")
    after = project.status()
    assert after["documents"] == before["documents"] and after["pending_proposals"] == 0
    assert not project.decisions(action="synth.run")


def _studio(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The real entry point in-process."""
    from studio.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_synth_cli(project: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_EMBED", "hashed")
    root = str(project.root)
    with OpenAIStub(respond=lambda req: json.dumps(GOOD)) as stub:
        code, out, err = _studio(
            capsys, "--project", root, "--llm", f"{stub.url}#stub", "synth", "--label", "PERSON", "--json"
        )
        assert code == 0, err
        assert json.loads(out)["kept"] == 2
        code, out, err = _studio(capsys, "--project", root, "--llm", f"{stub.url}#stub", "synth", "--label", "NOPE")
    assert code == 1 and err.startswith("error: unknown label(s) NOPE") and "Traceback" not in err


def _approve_all(store: Store) -> None:
    for p in store.proposals(kind="span"):
        store.accept_span(p.id or 0, "human:tester")


def test_release_keeps_synthetic_out_of_test_and_can_exclude_it(project: Store) -> None:
    from studio.ops.release import ReleaseOptions, build_release

    # Label the corpus documents, then add synthetic ones and approve everything.
    for doc in project.documents():
        word = doc.text.split()[0]
        span = Span(start=0, end=len(word), label="ORG", text=word)
        project.add_proposals([Proposal(kind="span", document_id=doc.id, payload={"span": span.model_dump()})])
    _synth(project, json.dumps(GOOD))
    _approve_all(project)
    complete_documents(project)

    opts = ReleaseOptions(version="1.0.0", license="CC-BY-4.0", split=(0.5, 0.25, 0.25))
    res = build_release(project, opts, "human:tester")
    info = json.loads((Path(res.path) / "release.json").read_text())
    synthetic = {d.id for d in project.documents(source="synthetic")}
    test_ids = [json.loads(line)["id"] for line in (Path(res.path) / "data" / "test.jsonl").read_text().splitlines()]
    assert synthetic and not synthetic & set(test_ids)
    share = info["synthetic"]
    assert share["documents"] == {"train": 2, "validation": 0, "test": 0}
    assert share["spans"]["PERSON"]["train"] == 3 and share["spans"]["ORG"]["train"] == 0
    assert "Synthetic share" in (Path(res.path) / "README.md").read_text()

    res2 = build_release(
        project, opts.model_copy(update={"version": "1.0.1", "exclude_synthetic": True}), "human:tester"
    )
    assert res2.documents == res.documents - 2
    lines = "".join((Path(res2.path) / "data" / f"{s}.jsonl").read_text() for s in ("train", "validation", "test"))
    assert "Tim Cook" not in lines
    info2 = json.loads((Path(res2.path) / "release.json").read_text())
    assert info2["synthetic"]["excluded"] == 2


def test_replayed_real_synth_session(tmp_path: Path) -> None:
    """A synth run recorded with the embedded model (Qwen2.5-Coder-1.5B, `synth.v2`), replayed.

    Ten fixture sentences carry approved gold spans (five PERSON, under the 20 that make a label
    thin); the model wrote six PERSON sentences. Every kept sentence is a synthetic document whose spans
    index its text exactly; the mention the model invented but never wrote ("Satya Nadella" in
    the Meta sentence) is dropped; the near-repeat of an earlier sentence is dropped; nothing is
    approved. Re-record with `python -m tests.sessions record synth_en`.
    """
    from tests import sessions

    store, out = sessions.replay("synth_en", tmp_path)
    report = out["report"]
    assert report.labels == ["PERSON"] and report.llm_calls == 1 and report.generated == 6
    assert report.kept + sum(report.dropped.values()) == report.generated
    assert report.dropped["near_duplicate"] == 1 and report.entities_not_in_text == 1
    assert report.kept == len(report.documents) == 5

    synthetic = list(store.documents(source="synthetic"))
    assert [d.id for d in synthetic] == report.documents
    corpus = [d.text for d in store.documents() if d.source != "synthetic"]
    for doc in synthetic:
        assert doc.provenance["synthetic"] is True and doc.provenance["prompt"] == "synth.v2"
        assert doc.provenance["model"] == "qwen2.5-coder-1.5b-instruct-q4_k_m" and doc.provenance["seed"] == 7
        assert doc.text not in corpus
    props = [p for p in store.proposals(kind="span") if p.source == "synth:synth.v2"]
    assert len(props) == report.proposals and all(p.status == "pending" for p in props)
    persons = set()
    for p in props:
        span = p.payload["span"]
        assert store.document(p.document_id or 0).text[span["start"] : span["end"]] == span["text"]
        if span["label"] == "PERSON":
            persons.add(span["text"])
    assert {"Tim Cook", "Mark Zuckerberg", "Jensen Huang"} <= persons
    # "Meta" was among the model's PERSON picks but annotated ORG: it stays ORG.
    assert not any(p.payload["span"]["text"] == "Meta" and p.payload["span"]["label"] == "PERSON" for p in props)
    # No two kept sentences are near-copies of each other under the backend that judged them.
    from studio.ops.embed import HashedNgrams, cosine

    vecs = HashedNgrams().encode([d.text for d in synthetic])
    sims = cosine(vecs, vecs) - np.eye(len(synthetic))
    assert sims.max() < report.threshold
    gold = sum(
        len(json.loads(line)["spans"]) for line in (FIXTURES / "ner" / "tech_news.jsonl").read_text().splitlines()[:10]
    )
    assert store.status()["approved_labels"] == gold  # synthetic spans await review
