"""The agent loop: propose the next action from the project state; run it only once approved.

The approval gate lives here, in the core, not in any UI: `run_action` refuses a proposal a
human has not approved, unless the person set `agent.auto_approve` for that tool (a setting
change is itself a logged decision). Document text never enters the agent's prompt: it sees
counts and action names only, so a document cannot instruct it.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from studio.agent.guideline import to_yaml
from studio.agent.tools import Args, Tool, ToolContext, agent_tools, args_schema_text, run_tool
from studio.errors import InvalidState, StudioError
from studio.llm import LLM, Request
from studio.llm.client import strip_fences
from studio.llm.prompts import load_prompt
from studio.schema import Decision, Proposal
from studio.store import Store

AUTO_APPROVE = "agent.auto_approve"


class ActionChoice(BaseModel):
    """What the model answers; `args` is validated against the chosen tool's schema after."""

    tool: str  # one of the agent's tools: the schema sent to the model lists them (action_schema)
    args: dict[str, Any] = Field(default_factory=dict)
    rationale: str = ""


class Action(BaseModel):
    tool: str
    args: dict[str, Any]
    rationale: str = ""

    def validated_args(self) -> Args:
        return _tool(self.tool).args_model.model_validate(self.args)


def _tool(name: str) -> Tool:
    tools = agent_tools()
    if name not in tools:
        raise StudioError(f"{name!r} is not a tool of the agent; tools: {', '.join(tools)}")
    return tools[name]


def action_schema() -> dict[str, Any]:
    """The JSON schema of the model's answer, with `tool` limited to the agent's tools."""
    schema = ActionChoice.model_json_schema()
    schema["properties"]["tool"]["enum"] = sorted(agent_tools())
    return schema


def parse_action(text: str) -> Action:
    """Parse and validate a proposed action; ValueError carries what to fix (fed back to the model)."""
    choice = ActionChoice.model_validate_json(strip_fences(text))
    tools = agent_tools()
    if choice.tool not in tools:
        raise ValueError(f"tool must be one of {', '.join(sorted(tools))}, not {choice.tool!r}")
    try:
        args = tools[choice.tool].args_model.model_validate(choice.args)
    except ValidationError as exc:
        problems = "; ".join(f"args.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise ValueError(f"invalid arguments for {choice.tool}: {problems}") from exc
    return Action(tool=choice.tool, args=args.model_dump(exclude_none=True), rationale=choice.rationale)


def state_summary(store: Store) -> dict[str, Any]:
    """What the agent may know: counts and recent action names, never document text."""
    s = store.status()
    approved = store.approved_guideline()
    recent = []
    for d in store.decisions(action="agent.action", limit=8):
        if d.action.endswith((".approve", ".reject", ".edit", ".done", ".fail")):
            recent.append(f"{d.payload.get('tool', '?')} {d.action.rsplit('.', 1)[1]}")
    from studio.ops.ner.label import unlabeled_documents
    from studio.ops.synth import approved_counts

    counts = approved_counts(store)
    names = approved[0].label_names() if approved else sorted(counts)
    most = max(counts.values(), default=0)
    return {
        "documents": s["documents"],
        "unlabeled_documents": len(unlabeled_documents(store)),
        "pending_proposals": s["pending_proposals"],
        "approved_labels": s["approved_labels"],
        "approved_by_label": {name: counts.get(name, 0) for name in names},
        # labels with under half the approved spans of the most common one: candidates for synth
        "thin_labels": [name for name in names if most and counts.get(name, 0) < most / 2],
        "labeled_documents": s["labeled_documents"],
        "guideline_version": approved[1] if approved else None,
        "target_size": approved[0].target_size if approved else None,
        "recent_actions": recent,
    }


def suggest_next(state: dict[str, Any]) -> str:
    """The step the prompt's rules point to for this state, spelled out for the model.

    A 1.5B model reads "how to choose" rules but, given counts, mostly proposes crawling. The
    same rules applied in code give it a suggestion it may follow or overrule (a rejection, the
    guideline, or a stronger model's judgment); the person still approves whatever it proposes.
    """
    if not state["documents"]:
        return "collect documents: crawl the guideline's seed URLs, or import its files"
    if state["unlabeled_documents"] and state["pending_proposals"] < 20:
        return f"weak_label the {state['unlabeled_documents']} unlabeled documents"
    if state["pending_proposals"] >= 20:
        return "query, to rank the pending proposals for review"
    if state["thin_labels"]:
        return f"synth with labels {state['thin_labels']}"
    target = state.get("target_size") or 0
    if target and state["approved_labels"] >= target:
        return "release: the target size is reached"
    return "collect more documents (crawl or import)"


def _recent_rejections(store: Store, n: int = 3) -> list[dict[str, Any]]:
    out = []
    for d in store.decisions(action="agent.action.reject", limit=n):
        out.append(
            {"tool": d.payload.get("tool"), "args": json.dumps(d.payload.get("args", {})), "reason": d.rationale}
        )
    return out


def propose_next_action(store: Store, llm: LLM, retries: int = 2) -> int:
    """Ask the model for the next action and record it as a pending proposal. Returns its id."""
    approved = store.approved_guideline()
    if approved is None:
        raise InvalidState("approve a guideline first (studio plan, then studio guideline approve)")
    guideline, version = approved
    prompt = load_prompt("agent")
    tools = [
        {"name": t.name, "description": t.description, "args": args_schema_text(t)} for t in agent_tools().values()
    ]
    state = state_summary(store)
    messages = prompt.render(
        guideline=to_yaml(guideline), state=state, suggestion=suggest_next(state), tools=tools,
        rejections=_recent_rejections(store),
    )  # fmt: skip
    req = Request(
        messages,
        operation=f"agent.next:{prompt.id}",
        schema=action_schema(),
        schema_name="Action",
        max_tokens=300,
    )
    action, results = llm.structured(req, parse_action, retries=retries)
    payload = {**action.model_dump(), "llm_call_ids": [r.call_id for r in results if r.call_id], "prompt": prompt.id}
    [pid] = store.add_proposals(
        [Proposal(kind="action", payload=payload, source=f"llm:{prompt.id}", batch=f"guideline:{version}")],
        actor="agent",
        rationale=action.rationale,
    )
    return pid


def approve_action(
    store: Store, pid: int, actor: str, args: dict[str, Any] | None = None, rationale: str = ""
) -> Decision:
    """Approve as proposed, or with edited arguments (validated against the tool's schema)."""
    p = _action(store, pid)
    if args is None:
        return store.decide(pid, actor, "approve", rationale, tool=p.payload["tool"], args=p.payload["args"])
    try:
        edited = _tool(p.payload["tool"]).args_model.model_validate(args).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise StudioError(f"those arguments do not fit {p.payload['tool']}: {exc.errors()[0]['msg']}") from exc
    return store.decide(pid, actor, "edit", rationale, tool=p.payload["tool"], args=edited, before=p.payload["args"])


def reject_action(store: Store, pid: int, actor: str, reason: str) -> Decision:
    if not reason.strip():
        raise StudioError("say why you reject this action; the agent uses the reason for its next proposal")
    p = _action(store, pid)
    return store.decide(pid, actor, "reject", reason, tool=p.payload["tool"], args=p.payload["args"])


def auto_approved_tools(store: Store) -> set[str]:
    return set(store.get_setting(AUTO_APPROVE, []) or [])


def run_action(
    store: Store, llm: Any, pid: int, actor: str, on_progress: Any = None, ctx: Any = None
) -> dict[str, Any]:
    """Run an approved action. The gate: a pending action runs only if its tool is auto-approved."""
    p = _action(store, pid, allow_decided=True)
    tool = p.payload["tool"]
    if p.status == "pending":
        if tool not in auto_approved_tools(store):
            raise InvalidState(f"action {pid} ({tool}) has not been approved; approve it first")
        store.decide(
            pid,
            actor,
            "approve",
            f"auto-approved by the setting {AUTO_APPROVE}",
            tool=tool,
            args=p.payload["args"],
            auto=True,
        )
        p = store.proposal(pid)
    if p.status not in ("accepted", "edited"):
        raise InvalidState(f"action {pid} is {p.status}; only approved actions run")
    if any(
        d.action == "agent.action.done" and d.payload.get("proposal_id") == pid
        for d in store.decisions(action="agent.action.done")
    ):
        raise InvalidState(f"action {pid} has already run")
    args = _approved_args(store, pid, p)
    parsed = _tool(tool).args_model.model_validate(args)
    tctx = ToolContext(store=store, llm=llm, actor=actor, on_progress=on_progress)
    if ctx is not None:  # run from the registry: the same model and fetch transport
        tctx.transport = ctx.transport
    try:
        result = run_tool(tctx, tool, parsed)
    except StudioError as exc:
        store.record(
            "tool", "agent.action.fail", [f"proposal:{pid}"], {"proposal_id": pid, "tool": tool, "error": str(exc)}
        )
        raise
    store.record(
        "tool",
        "agent.action.done",
        [f"proposal:{pid}"],
        {"proposal_id": pid, "tool": tool, "args": args, "result": result},
    )
    return result


def _approved_args(store: Store, pid: int, p: Proposal) -> dict[str, Any]:
    for d in reversed(store.decisions(action="agent.action")):
        if d.payload.get("proposal_id") == pid and d.action in ("agent.action.approve", "agent.action.edit"):
            return dict(d.payload.get("args", p.payload["args"]))
    return dict(p.payload["args"])


def _action(store: Store, pid: int, allow_decided: bool = False) -> Proposal:
    p = store.proposal(pid)
    if p.kind != "action":
        raise InvalidState(f"proposal {pid} is not an agent action")
    if not allow_decided and p.status != "pending":
        raise InvalidState(f"action {pid} is already {p.status}")
    return p


def describe_action(p: Proposal) -> str:
    args = yaml.safe_dump(p.payload.get("args", {}), default_flow_style=True, allow_unicode=True).strip()
    return f"#{p.id} {p.payload.get('tool')} {args}  -- {p.payload.get('rationale', '')}"
