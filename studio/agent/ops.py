"""The agent's operations (registry entries): plan, guideline_load, revise, agent_propose, agent_run.

Each is a thin declaration over studio.agent.guideline / studio.agent.loop, imported when run,
so declaring them keeps `studio --help` light.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from studio.errors import StudioError
from studio.ops.registry import Args, OpContext, Result, operation


class VersionResult(Result):
    version: int

    def summary(self) -> str:
        return f'Guideline v{self.version} drafted. Next: studio guideline approve, edit, or reject --reason "..."'


class PlanArgs(Args):
    goal: str = Field(description="the dataset you want, in plain words (any language the model reads)",
                      json_schema_extra={"cli": "argument"})  # fmt: skip
    task: Literal["ner", "detection", "classification"] | None = Field(None, description="force a task type")
    max_tokens: int = Field(1500, ge=64, le=8000, description="answer budget of one drafting call")
    retries: int = Field(2, ge=0, le=8, description="new tries after an answer that is not a valid guideline")


@operation("plan", args=PlanArgs, result=VersionResult, help="Draft a labeling guideline from a goal.")
def plan(ctx: OpContext, args: PlanArgs) -> VersionResult:
    from studio.agent.guideline import propose_guideline

    version = propose_guideline(
        ctx.store, ctx.llm, args.goal, task_hint=args.task or "", max_tokens=args.max_tokens, retries=args.retries
    )
    return VersionResult(version=version)


class LoadArgs(Args):
    path: str = Field(description="a guideline written as YAML (studio guideline show prints one)",
                      json_schema_extra={"cli": "argument", "path": True})  # fmt: skip


@operation(
    "guideline_load", args=LoadArgs, result=VersionResult,
    help="Store a guideline written as YAML (a file you bring) as a new draft version.",
)  # fmt: skip
def guideline_load(ctx: OpContext, args: LoadArgs) -> VersionResult:
    from pathlib import Path

    from studio.agent.guideline import from_yaml

    path = ctx.path(args.path)
    if not path.is_file():
        raise StudioError(f"no guideline file at {path}: give a YAML file (studio guideline show prints one)")
    g = from_yaml(path.read_text(encoding="utf-8"))
    return VersionResult(version=ctx.store.add_guideline(g, ctx.actor, rationale=f"loaded from {Path(args.path).name}"))


class ReviseArgs(Args):
    version: int = Field(ge=1, description="the guideline version the person rejects")
    reason: str = Field(min_length=1, description="what is wrong; the agent revises the guideline from it")


@operation(
    "revise",
    args=ReviseArgs,
    result=VersionResult,
    help="Reject a guideline version with a reason; the agent revises it.",
)
def revise(ctx: OpContext, args: ReviseArgs) -> VersionResult:
    from studio.agent.guideline import revise_guideline

    return VersionResult(version=revise_guideline(ctx.store, ctx.llm, args.version, args.reason, ctx.actor))


class ProposeArgs(Args):
    retries: int = Field(2, ge=0, le=8, description="new tries after an answer that is not a valid action")


class ProposalResult(Result):
    proposal_id: int

    def summary(self) -> str:
        return f"The agent proposed action #{self.proposal_id}; approve or reject it."


@operation(
    "agent_propose", args=ProposeArgs, result=ProposalResult, side_effects=False,
    help="Ask the agent for the next action; it is stored as a pending proposal, nothing runs.",
)  # fmt: skip
def agent_propose(ctx: OpContext, args: ProposeArgs) -> ProposalResult:
    from studio.agent.loop import propose_next_action

    return ProposalResult(proposal_id=propose_next_action(ctx.store, ctx.llm, retries=args.retries))


class RunActionArgs(Args):
    proposal_id: int = Field(ge=1, description="the approved action to run")


class ActionResult(Result):
    result: dict[str, Any]

    def summary(self) -> str:
        return f"done: {self.result}"


@operation(
    "agent_run", args=RunActionArgs, result=ActionResult,
    help="Run an approved agent action (a pending one runs only if its tool is auto-approved).",
)  # fmt: skip
def agent_run(ctx: OpContext, args: RunActionArgs) -> ActionResult:
    from studio.agent.loop import run_action

    progress = ctx.fraction_progress("agent_run")
    return ActionResult(
        result=run_action(ctx.store, ctx.llm, args.proposal_id, ctx.actor, on_progress=progress, ctx=ctx)
    )
