"""The tools the agent can propose, their argument schemas, and how each one runs.

Runners import their operation lazily, so the agent package stays light and a missing
optional part (e.g. the vision extra) only matters when that tool is run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from studio.errors import StudioError
from studio.store import Store

ToolName = Literal["crawl", "import", "weak_label", "cleanse_boxes", "query", "synth", "release"]
Progress = Callable[[str, float | None], None]  # (message, fraction done or None)


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CrawlArgs(Args):
    seeds: list[str] = Field(min_length=1, description="start URLs (http or https)")
    max_pages: int = Field(default=50, ge=1, le=100_000)
    depth: int = Field(default=2, ge=0, le=10)


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


@dataclass
class ToolContext:
    store: Store
    llm: Any  # studio.llm.LLM, built lazily by the caller
    actor: str
    on_progress: Progress | None = None
    transport: Any = None  # an httpx transport for fetches (recording or replaying a session)


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool(
            "crawl",
            "fetch web pages politely (robots.txt, rate limits) from seed URLs into documents.",
            CrawlArgs,
            True,
        ),
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


def args_schema_text(tool: Tool) -> str:
    props = tool.args_model.model_json_schema().get("properties", {})
    return "{" + ", ".join(f"{k}: {v.get('type', 'any')}" for k, v in props.items()) + "}"


_RUNNERS: dict[str, Callable[[ToolContext, Any], dict[str, Any]]] = {}


def runner(
    name: str,
) -> Callable[[Callable[[ToolContext, Any], dict[str, Any]]], Callable[[ToolContext, Any], dict[str, Any]]]:
    def deco(fn: Callable[[ToolContext, Any], dict[str, Any]]) -> Callable[[ToolContext, Any], dict[str, Any]]:
        _RUNNERS[name] = fn
        return fn

    return deco


def run_tool(ctx: ToolContext, name: str, args: Args) -> dict[str, Any]:
    from studio.agent import runners  # noqa: F401  (registers the runners)

    fn = _RUNNERS.get(name)
    if fn is None:
        raise StudioError(f"the tool {name!r} cannot run in this installation")
    return fn(ctx, args)
