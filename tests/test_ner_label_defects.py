"""Regressions of issue 25: defect 2 (a failed call cost another document its answer) and defect 19
(`studio label --doc N` duplicated pending proposals; two model servers wrote one server.log).

The model is a real OpenAI-compatible server on loopback that answers HTTP 500 for chosen documents.
"""

from __future__ import annotations

import json
import threading

import pytest
import yaml

from studio.llm import open_llm
from studio.ops.ner.label import LabelSettings, label_documents, unlabeled_documents
from studio.schema import Document, Guideline
from studio.store import Store
from tests.conftest import FIXTURES
from tests.openai_stub import OpenAIStub

TEXTS = [
    "Lorvia Airways hired Amara Balogun.",
    "Meridex Steel opened a plant in Brixholm.",
    "Quellon Bank sued Norvex Motors in Dunmere.",
    "Ingrid Szabo joined Vantor Energy.",
    "Halcyra Group left Castavia.",
]
ANSWERS = {
    TEXTS[0]: [("Lorvia Airways", "ORG"), ("Amara Balogun", "PERSON")],
    TEXTS[1]: [("Meridex Steel", "ORG"), ("Brixholm", "LOC")],
    TEXTS[2]: [("Quellon Bank", "ORG"), ("Norvex Motors", "ORG"), ("Dunmere", "LOC")],
    TEXTS[3]: [("Ingrid Szabo", "PERSON"), ("Vantor Energy", "ORG")],
    TEXTS[4]: [("Halcyra Group", "ORG"), ("Castavia", "LOC")],
}


def _text_of(req: dict) -> str:
    return req["messages"][-1]["content"].rsplit("<<<\n", 1)[1].split("\n>>>", 1)[0]


def _respond(req: dict) -> str:
    return json.dumps({"entities": [{"text": t, "label": lab} for t, lab in ANSWERS[_text_of(req)]]})


@pytest.fixture
def project(store: Store) -> Store:
    g = Guideline.model_validate(yaml.safe_load((FIXTURES / "ner" / "guideline.yaml").read_text()))
    store.decide_guideline(store.add_guideline(g, "agent"), "human:tester", "approve")
    store.add_documents([Document(text=t) for t in TEXTS])
    return store


def _llm(project: Store, url: str):  # type: ignore[no-untyped-def]
    return open_llm(project, f"{url}#stub", max_retries=0, use_cache=False)


def _llm_spans(project: Store, text: str) -> set[str]:
    doc_id = next(i for i in project.document_ids() if project.document(i).text == text)
    return {p.payload["span"]["text"] for p in project.proposals(kind="span", document_id=doc_id) if "llm" in p.source}


def test_a_failed_document_does_not_cost_another_its_answer(project: Store) -> None:
    failing = TEXTS[1]  # document id 2; before the fix, the document at batch position 2 lost its answer
    with OpenAIStub(respond=_respond, status=lambda req: 500 if _text_of(req) == failing else 200) as stub:
        report = label_documents(project, _llm(project, stub.url), settings=LabelSettings(docs_per_batch=8))
    ids = {project.document(i).text: i for i in project.document_ids()}
    assert set(report.failed) == {ids[failing]}
    assert report.labeled == 4 and report.documents == 5
    for text in TEXTS:
        expected = set() if text == failing else {t for t, _ in ANSWERS[text]}
        assert _llm_spans(project, text) == expected, text
    # the failed one stays unlabeled, is logged, and is the only one retried
    assert [project.document(i).text for i in unlabeled_documents(project)] == [failing]
    assert [d.payload["document_id"] for d in project.decisions(action="weak_label.fail")] == [ids[failing]]
    with OpenAIStub(respond=_respond) as stub:
        again = label_documents(project, _llm(project, stub.url))
        assert len(stub.hits) == 1
    assert again.labeled == 1 and not again.failed and _llm_spans(project, failing) == {"Meridex Steel", "Brixholm"}


def test_when_every_call_fails_nothing_is_counted_as_labeled(project: Store) -> None:
    with OpenAIStub(respond=_respond, status=lambda req: 500) as stub:
        report = label_documents(project, _llm(project, stub.url))
    assert report.labeled == 0 and len(report.failed) == 5 and report.proposals == 0
    assert project.proposals(kind="span") == []
    assert len(unlabeled_documents(project)) == 5


def test_labeling_a_document_again_does_not_duplicate_its_proposals(project: Store) -> None:
    with OpenAIStub(respond=_respond) as stub:
        llm = _llm(project, stub.url)
        first = label_documents(project, llm, [1])
        pending = project.proposals(kind="span", document_id=1)
        again = label_documents(project, llm, [1])
    assert first.proposals == len(pending) == 2
    assert again.proposals == 0 and again.already_proposed == 2
    after = project.proposals(kind="span", document_id=1)
    assert [p.id for p in after] == [p.id for p in pending]
    # a decided span is not proposed again either
    project.decide(pending[0].id or 0, "human:tester", "reject")
    with OpenAIStub(respond=_respond) as stub:
        third = label_documents(project, _llm(project, stub.url), [1])
    assert third.proposals == 0 and len(project.proposals(kind="span", document_id=1, status=None)) == 2


def test_two_model_servers_write_separate_logs(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from studio.errors import StudioError
    from studio.llm.local import LocalServer
    from studio.llm.models import runtime_available

    if not runtime_available():
        pytest.skip("the local extra (xllamacpp) is not installed")
    monkeypatch.setenv("STUDIO_MODEL_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "not-a-model.gguf"
    bad.write_text("not a model")
    a, b = LocalServer(bad), LocalServer(bad)
    errors: list[Exception] = []

    def start(server: LocalServer) -> None:
        try:
            server.start()
        except StudioError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in (a, b)]  # at once, as two processes would
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 2 and all("exited while starting" in str(e) for e in errors)
    assert a.log_path != b.log_path
    for server in (a, b):
        assert "not a GGUF model" in server.log_path.read_text() and str(server.log_path) in " ".join(map(str, errors))
