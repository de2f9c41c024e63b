"""`studio why`: the chain from a released label back to the human decision and the model call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.errors import NotFound
from studio.ops.release import ReleaseOptions, build_release, why
from studio.ops.release.lineage import render
from studio.schema import Document, Guideline, LabelDef, Proposal, Span
from studio.store import Store
from tests.conftest import complete_documents, run_cli

TEXT = "Maria Lopez joined Initech in Porto last spring."


def build(root: Path) -> tuple[Store, int, list[int]]:
    s = Store.init(root)
    s.start_session("t")
    g1 = s.add_guideline(
        Guideline(goal="people and companies", labels=[LabelDef(name="PER"), LabelDef(name="ORG")]), "agent"
    )
    s.decide_guideline(g1, "human:ann", "approve")
    ((doc_id, _),) = s.add_documents([Document(text=TEXT)])
    # An LLM call as the llm layer logs it; the proposal points at it.
    call_id = s.conn.execute(
        "INSERT INTO llm_calls (ts, provider, model, operation, request_hash, messages, prompt_tokens, completion_tokens)"
        " VALUES ('2025-01-01T00:00:00.000Z', 'local', 'qwen2.5-coder-1.5b', 'ner.label', 'abc', '[]', 120, 30)"
    ).lastrowid
    pids = s.add_proposals(
        [
            Proposal(
                kind="span", document_id=doc_id, source="llm:ner.v1", confidence=0.82, batch="run-1",
                payload={"span": {"start": 0, "end": 5, "label": "PER", "text": "Maria"},
                         "sources": {"llm:ner.v1": 0.82, "gazetteer": 0.0},
                         "llm_call_id": call_id, "prompt": {"name": "ner", "version": 1}},
            ),
            Proposal(
                kind="span", document_id=doc_id, source="gazetteer", confidence=1.0, batch="gaz-1",
                payload={"span": {"start": 19, "end": 26, "label": "ORG", "text": "Initech"}, "sources": {"gazetteer": 1.0}},
            ),
        ]
    )  # fmt: skip
    g2 = s.add_guideline(
        Guideline(
            goal="people, companies, places", labels=[LabelDef(name="PER"), LabelDef(name="ORG"), LabelDef(name="LOC")]
        ),
        "human:ann",
        parent=g1,
    )
    s.accept_span(pids[0], "human:ann", edited=Span(start=0, end=11, label="PER"), rationale="full name")
    s.decide_guideline(g2, "human:ann", "approve")
    s.accept_span(pids[1], "human:bo")
    s.record("human:bo", "label.add", [f"doc:{doc_id}"], {"document_id": doc_id, "span": {"start": 30, "end": 35, "label": "LOC", "text": "Porto"}}, "missed by the tools")  # fmt: skip
    return s, doc_id, pids


def test_why_chains(tmp_path: Path) -> None:
    s, doc_id, pids = build(tmp_path / "p")
    complete_documents(s, "human:ann")
    build_release(s, ReleaseOptions(license="MIT", split=(1.0, 0.0, 0.0)), "human:ann")
    chains = why(s, doc_id)
    assert [c["span"]["text"] for c in chains] == ["Maria Lopez", "Initech", "Porto"]
    per, org, loc = chains
    assert per["decision"]["action"] == "label.edit" and per["decision"]["rationale"] == "full name"
    assert per["decision"]["payload"]["before"]["text"] == "Maria"
    assert per["guideline_version"] == 1 and org["guideline_version"] == 2
    assert per["proposal"]["id"] == pids[0] and per["proposal"]["sources"] == {"gazetteer": 0.0, "llm:ner.v1": 0.82}
    assert per["llm_call"]["model"] == "qwen2.5-coder-1.5b" and per["llm_call"]["prompt_tokens"] == 120
    assert per["prompt"] == {"name": "ner", "version": 1}
    assert per["proposed_by"]["actor"] == "agent"
    assert org["llm_call"] is None and org["decision"]["actor"] == "human:bo"
    assert loc["proposal"] is None and loc["decision"]["action"] == "label.add"
    assert per["releases"] == ["0.1.0 (train)"]
    text = render(chains)
    assert "label.edit by human:ann" in text and "full name" in text and "edited from: [0:5] PER 'Maria'" in text
    assert "prompt: ner v1" in text and "local:qwen2.5-coder-1.5b (ner.label)" in text and "tokens 120+30" in text
    assert "source: gazetteer (no model call)" in text and "proposal: none (added by hand)" in text
    assert "guideline: v1" in text and "guideline: v2" in text and "released in: 0.1.0 (train)" in text
    only = why(s, doc_id, 19, 26)
    assert len(only) == 1 and only[0]["span"]["label"] == "ORG"
    with pytest.raises(NotFound, match="no approved label at"):
        why(s, doc_id, 1, 2)
    with pytest.raises(NotFound, match="document 999"):
        why(s, 999)
    s.close()


def test_why_cli(tmp_path: Path) -> None:
    s, doc_id, _ = build(tmp_path / "p")
    s.close()
    code, out, err = run_cli("--project", str(tmp_path / "p"), "why", str(doc_id), "0:11")
    assert code == 0, err
    assert "Maria Lopez" in out and "llm call #1" in out and "human:ann" in out
    code, out, err = run_cli("--project", str(tmp_path / "p"), "why", str(doc_id), "--json")
    assert code == 0, err
    assert [c["span"]["label"] for c in json.loads(out)] == ["PER", "ORG", "LOC"]
    code, _, err = run_cli("--project", str(tmp_path / "p"), "why", str(doc_id), "3-4")
    assert code == 2 and "START:END" in err
