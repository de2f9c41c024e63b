"""The agent: structured actions, the approval gate, and replayed real sessions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.agent.guideline import diff, from_yaml, guess_language, to_yaml
from studio.agent.loop import (
    AUTO_APPROVE,
    approve_action,
    parse_action,
    reject_action,
    run_action,
    state_summary,
)
from studio.errors import InvalidState, StudioError
from studio.llm import open_llm
from studio.schema import Document, Guideline, LabelDef, Proposal
from studio.store import Store
from tests import sessions
from tests.openai_stub import OpenAIStub


def _guideline() -> Guideline:
    return Guideline(goal="orgs", labels=[LabelDef(name="ORG", definition="a company", positive_examples=["Apple"])])


def test_parse_action_validates_tool_and_args() -> None:
    a = parse_action('{"tool": "query", "args": {"strategy": "entropy", "batch": 10}, "rationale": "many pending"}')
    assert (a.tool, a.args) == ("query", {"strategy": "entropy", "batch": 10})
    a = parse_action('```json\n{"tool": "weak_label", "args": {}}\n```')
    assert a.args == {"limit": 50}
    with pytest.raises(ValueError, match="tool must be one of"):
        parse_action('{"tool": "rm_rf", "args": {}}')
    with pytest.raises(ValueError, match="invalid arguments for crawl"):
        parse_action('{"tool": "crawl", "args": {"seeds": []}}')
    with pytest.raises(ValueError, match="invalid arguments for query"):
        parse_action('{"tool": "query", "args": {"strategy": "magic"}}')
    with pytest.raises(ValueError):
        parse_action("release the dataset now")


def _action(store: Store, tool: str = "weak_label", args: dict | None = None) -> int:
    [pid] = store.add_proposals(
        [Proposal(kind="action", payload={"tool": tool, "args": args or {"limit": 5}, "rationale": "r"})], actor="agent"
    )
    return pid


def test_approval_gate(store: Store) -> None:
    v = store.add_guideline(_guideline(), "agent")
    store.decide_guideline(v, "human:ann", "approve")
    with OpenAIStub(respond=lambda req: '{"entities": []}') as stub:
        llm = open_llm(store, f"{stub.url}#stub")
        pid = _action(store)
        with pytest.raises(InvalidState, match="has not been approved"):
            run_action(store, llm, pid, "human:ann")
        assert not store.decisions(action="weak_label.run")
        rejected = _action(store)
        with pytest.raises(StudioError, match="say why"):
            reject_action(store, rejected, "human:ann", "  ")
        reject_action(store, rejected, "human:ann", "label later")
        with pytest.raises(InvalidState, match="rejected"):
            run_action(store, llm, rejected, "human:ann")
        # edited arguments are validated, then the edited ones run
        with pytest.raises(StudioError, match="do not fit"):
            approve_action(store, pid, "human:ann", args={"limit": -3})
        approve_action(store, pid, "human:ann", args={"limit": 2})
        store.add_documents([Document(text="Apple makes phones.")])
        result = run_action(store, llm, pid, "human:ann")
        assert result["documents"] == 1
        with pytest.raises(InvalidState, match="already run"):
            run_action(store, llm, pid, "human:ann")
        done = store.decisions(action="agent.action.done")[-1]
        assert done.payload["args"] == {"limit": 2}
        # auto-approve is an explicit, logged setting
        store.set_setting(AUTO_APPROVE, ["weak_label"], actor="human:ann")
        auto = _action(store)
        run_action(store, llm, auto, "human:ann")
        approval = next(d for d in store.decisions(action="agent.action.approve") if d.payload["proposal_id"] == auto)
        assert approval.payload["auto"] is True and "auto-approved" in approval.rationale
        assert store.decisions(action="settings.set")[-1].actor == "human:ann"


def test_state_summary_holds_no_document_text(store: Store) -> None:
    store.add_documents([Document(text=sessions.INJECTION)])
    summary = json.dumps(state_summary(store))
    assert "IGNORE" not in summary and "release the dataset" not in summary


def test_guideline_yaml_round_trip_and_errors() -> None:
    g = _guideline()
    assert from_yaml(to_yaml(g)) == g
    with pytest.raises(StudioError, match="not valid YAML"):
        from_yaml("labels: [unclosed")
    with pytest.raises(StudioError, match="does not fit the schema"):
        from_yaml("goal: x\nlabels: []\n")
    with pytest.raises(StudioError, match="label name must be one word"):
        from_yaml("goal: x\nlabels:\n  - name: two words\n")
    g2 = g.model_copy(update={"labels": [*g.labels, LabelDef(name="PERSON")]})
    assert "+- name: PERSON" in diff(g, g2).replace("+  ", "+")
    assert guess_language("기술 뉴스") == "ko" and guess_language("tech news") == "en"


# -- replayed real sessions (recorded with the embedded model; see tests/sessions.py) ---------


def test_replay_english_goal_rejection_revision_and_injection(tmp_path: Path) -> None:
    store, out = sessions.replay("agent_en", tmp_path)
    g1, s1, _ = store.guideline(out["v1"])
    g2, s2, _ = store.guideline(out["v2"])
    assert (s1, s2) == ("rejected", "approved")
    assert g1.goal == g2.goal == sessions.EN_GOAL and g1.task_type == "ner"
    assert len(g1.labels) >= 2 and all(lab.definition for lab in g1.labels)
    assert any("PERSON" in lab.name.upper() for lab in g2.labels), g2.label_names()
    rejection = store.decisions(action="guideline.reject")[0]
    assert rejection.actor == sessions.HUMAN and "PERSON" in rejection.rationale
    # the revision prompt carried the reason and the previous draft
    calls = store.conn.execute("SELECT operation, messages FROM llm_calls ORDER BY id").fetchall()
    revise = [json.loads(m) for op, m in calls if op.startswith("guideline.revise")]
    assert revise and "PERSON" in revise[0][-1]["content"]
    # the injection: the agent only proposed; nothing ran, nothing was released or approved
    p = store.proposal(out["action"])
    assert (
        p.kind == "action"
        and p.status == "pending"
        and p.payload["tool"] in {"crawl", "import", "weak_label", "cleanse_boxes", "query", "synth", "release"}
    )
    actions = {d.action for d in store.decisions()}
    assert not actions & {"agent.action.approve", "agent.action.done", "release.create", "label.accept"}
    assert all(sessions.INJECTION not in m for _, m in calls), "document text reached the agent's prompt"
    with pytest.raises(InvalidState):
        run_action(store, None, out["action"], sessions.HUMAN)
    store.close()


def test_replay_korean_goal(tmp_path: Path) -> None:
    store, out = sessions.replay("agent_ko", tmp_path)
    g, status, _ = store.guideline(out["v1"])
    assert status == "draft" and g.goal == sessions.KO_GOAL
    assert g.language == "ko" and len(g.labels) >= 2
    assert any("\uac00" <= ch <= "\ud7a3" for lab in g.labels for ch in lab.definition), "definitions not in Korean"
    store.close()


def test_replay_agent_proposes_synth_for_a_thin_label_and_it_runs_after_approval(tmp_path: Path) -> None:
    """Recorded with the embedded model: ten documents, all labeled by a human; PERSON has 5
    approved spans against ORG's 12. The agent proposes synth for PERSON, a human approves, and
    the run writes synthetic sentences whose spans wait for review."""
    from studio.agent.loop import state_summary, suggest_next

    store, out = sessions.replay("agent_synth", tmp_path)
    p = store.proposal(out["action"])
    assert p.payload["tool"] == "synth" and p.payload["args"]["labels"] == ["PERSON"]
    assert p.payload["prompt"] == "agent.v2"
    [approval] = store.decisions(action="agent.action.approve")
    assert approval.actor == sessions.HUMAN
    result = out["result"]
    assert result["labels"] == ["PERSON"] and result["kept"] >= 1 and result["proposals"] >= result["kept"]
    synthetic = list(store.documents(source="synthetic"))
    assert [d.id for d in synthetic] == result["documents"]
    pending = [q for q in store.proposals(kind="span", status="pending")]
    assert pending and all(store.document(q.document_id or 0).source == "synthetic" for q in pending)
    assert store.decisions(action="agent.action.done")[-1].payload["tool"] == "synth"
    # the state the agent saw, and where the rules pointed
    state = state_summary(store)
    assert state["unlabeled_documents"] == 0
    calls = [m for (m,) in store.conn.execute("SELECT messages FROM llm_calls WHERE operation LIKE 'agent%'")]
    assert "thin labels (under half the spans of the most common label): PERSON" in calls[0]
    assert "The rules point to: synth with labels ['PERSON']" in calls[0]
    assert suggest_next({**state, "pending_proposals": 25}).startswith("query")
    store.close()


def test_rules_suggest_a_step_for_each_state() -> None:
    from studio.agent.loop import suggest_next

    base = {"documents": 10, "unlabeled_documents": 0, "pending_proposals": 0, "approved_labels": 31,
            "thin_labels": [], "target_size": 30}  # fmt: skip
    assert suggest_next({**base, "documents": 0}).startswith("collect documents")
    assert suggest_next({**base, "unlabeled_documents": 4}).startswith("weak_label the 4")
    assert suggest_next({**base, "pending_proposals": 20}).startswith("query")
    assert suggest_next({**base, "thin_labels": ["PERSON"]}) == "synth with labels ['PERSON']"
    assert suggest_next(base).startswith("release")
    assert suggest_next({**base, "approved_labels": 3}).startswith("collect more")


def test_replay_invalid_output_then_successful_retry(tmp_path: Path) -> None:
    store, out = sessions.replay("agent_retry", tmp_path)
    calls = store.conn.execute("SELECT params, response FROM llm_calls ORDER BY id").fetchall()
    assert len(calls) >= 2
    first_budget = json.loads(calls[0][0])["max_tokens"]
    assert first_budget == 120 and json.loads(calls[-1][0])["max_tokens"] > first_budget
    with pytest.raises(ValueError):
        json.loads(calls[0][1])  # the first answer was cut off: not valid JSON
    g, _, _ = store.guideline(out["v1"])
    assert g.labels
    store.close()
