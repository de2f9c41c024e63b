"""The tools the agent can propose, their argument schemas, and how each one runs.

The agent's tools are the registry operations declared with `agent=True`: the description is
the operation's help, the schema its `Args` less fields marked `{"agent": False}`. Tools whose
declaration predates the registry keep their schema here (it is part of the pinned agent
prompt) and run their registry operation through a runner (runners.py) that translates names.
The list is part of the agent's prompt, so a change of name, description or schema text changes
every agent request: re-record the agent sessions (python -m tests.sessions record agent_en
agent_synth) when you make one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from studio.errors import StudioError
from studio.store import Store

Progress = Callable[[str, float | None], None]  # (message, fraction done or None)


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportArgs(Args):
    paths: list[str] = Field(min_length=1, description="files or folders: .txt .jsonl .csv .html")
    field: str | None = Field(default=None, description="JSONL field holding the text")
    column: str | None = Field(default=None, description="CSV column holding the text")


class WeakLabelArgs(Args):
    limit: int = Field(default=50, ge=1, le=100_000, description="documents to label")


class CleanseArgs(Args):
    dataset: str = Field(description="path of a YOLO dataset folder or a COCO JSON file")


class QueryArgs(Args):
    strategy: Literal["margin", "entropy", "least_confidence", "qbc", "random"] = "margin"
    batch: int = Field(default=20, ge=1, le=10_000)


class SynthArgs(Args):
    labels: list[str] = Field(
        default_factory=list, description="labels to write for; empty: those with few approved spans"
    )
    n: int = Field(default=5, ge=1, le=50, description="sentences per label")


class ReleaseArgs(Args):
    version: str | None = Field(default=None, description="X.Y.Z; default the next patch version")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args_model: type[Args]
    side_effects: bool  # runs only after a human approves (or an explicit auto-approve setting)
    registry: bool = False  # a registry operation (else a local declaration, until its area moves)


@dataclass
class ToolContext:
    store: Store
    llm: Any  # studio.llm.LLM, built lazily by the caller
    actor: str
    on_progress: Progress | None = None
    transport: Any = None  # an httpx transport for fetches (recording or replaying a session)


# The tools each version of the agent's prompt offers, in the order it lists them. The list is
# part of the prompt, so it is pinned with it: an operation declared with agent=True joins the
# agent when a new prompt version lists it (and the agent sessions are re-recorded), never silently.
ORDER = ("crawl", "import", "weak_label", "cleanse_boxes", "query", "synth", "release")
TOOLS_BY_PROMPT: dict[int, tuple[str, ...]] = {1: tuple(n for n in ORDER if n != "synth"), 2: ORDER}
_LEGACY: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("import", "load local files (.txt, .jsonl, .csv, .html) as documents.", ImportArgs, True),
        Tool(
            "weak_label",
            "ask the model to propose entity spans for unlabeled documents (proposals only).",
            WeakLabelArgs,
            True,
        ),
        Tool(
            "cleanse_boxes",
            "check a bounding-box dataset for duplicate, conflicting and invalid boxes.",
            CleanseArgs,
            True,
        ),
        Tool(
            "query",
            "rank pending documents by uncertainty so the person reviews the most useful first.",
            QueryArgs,
            True,
        ),
        Tool(
            "synth",
            "write new example sentences for labels with few approved spans (pending proposals, reviewed like others).",
            SynthArgs,
            True,
        ),
        Tool("release", "write a versioned dataset from human-approved labels only.", ReleaseArgs, True),
    )
}


def agent_tools(prompt_version: int | None = None) -> dict[str, Tool]:
    """The tools the agent may propose (with the pinned agent prompt, or `prompt_version`), by
    name, in prompt order: the registry operation declared with agent=True of that name, or the
    local declaration while its area has not moved onto the registry."""
    from studio.llm.prompts import prompt_version as pinned
    from studio.ops.registry import agent_operations

    version = prompt_version if prompt_version is not None else pinned("agent")
    if version not in TOOLS_BY_PROMPT:
        raise StudioError(
            f"agent prompt v{version} has no tool list: add it to TOOLS_BY_PROMPT in studio/agent/tools.py"
        )
    ops = {op.name: Tool(op.name, op.help, op.args, op.side_effects, registry=True) for op in agent_operations()}
    return {n: ops.get(n) or _LEGACY[n] for n in TOOLS_BY_PROMPT[version] if n in ops or n in _LEGACY}


def agent_fields(model: type[Args]) -> dict[str, Any]:
    """The JSON-schema properties the agent sees (fields marked {"agent": False} left out)."""
    props = model.model_json_schema().get("properties", {})
    hidden = {
        name for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("agent") is False
    }  # fmt: skip
    return {k: v for k, v in props.items() if k not in hidden}


def args_schema_text(tool: Tool) -> str:
    """`{seeds: array, max_pages: integer}`. An optional argument of a registry operation shows its
    type; the local declarations showed `any` and keep doing so (their text is in recorded prompts)."""

    def kind(v: dict[str, Any]) -> str:
        types = [a.get("type") for a in v.get("anyOf", []) if a.get("type") not in (None, "null")]
        return str(v.get("type") or (types[0] if tool.registry and len(types) == 1 else "any"))

    return "{" + ", ".join(f"{k}: {kind(v)}" for k, v in agent_fields(tool.args_model).items()) + "}"


_RUNNERS: dict[str, Callable[[ToolContext, Any], dict[str, Any]]] = {}


def runner(
    name: str,
) -> Callable[[Callable[[ToolContext, Any], dict[str, Any]]], Callable[[ToolContext, Any], dict[str, Any]]]:
    def deco(fn: Callable[[ToolContext, Any], dict[str, Any]]) -> Callable[[ToolContext, Any], dict[str, Any]]:
        _RUNNERS[name] = fn
        return fn

    return deco


def op_context(ctx: ToolContext) -> Any:
    """The registry's OpContext for an agent tool run."""
    from studio.ops import registry

    progress = ctx.on_progress
    return registry.OpContext(
        store=ctx.store, actor=ctx.actor, transport=ctx.transport, llm_factory=lambda: ctx.llm,
        progress=(lambda stage, done, total: progress(stage, done / total if total else None)) if progress else None,
    )  # fmt: skip


def run_tool(ctx: ToolContext, name: str, args: Args) -> dict[str, Any]:
    """Run a tool: its registry operation (recorded at that boundary); an older tool (declared
    here, its schema pinned with the agent prompt) through its runner, which calls the operation."""
    from studio.agent import runners  # noqa: F401  (registers the runners)
    from studio.ops import registry

    op = registry.load_all().get(name)
    if op is not None and op.agent:
        return registry.run(name, args, op_context(ctx)).model_dump(mode="json")
    fn = _RUNNERS.get(name)
    if fn is None:
        raise StudioError(f"the tool {name!r} cannot run in this installation")
    return fn(ctx, args)
