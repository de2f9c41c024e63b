"""How the agent's older tools run: each is its registry operation, called with the arguments the
agent's pinned tool schema names (agent/tools.py), its result cut to the keys that tool has
always returned (they are part of the recorded agent sessions). One operation, one code path:
these only translate names.
"""

from __future__ import annotations

from typing import Any

from studio.agent.tools import (
    CleanseArgs,
    ImportArgs,
    QueryArgs,
    ReleaseArgs,
    SynthArgs,
    ToolContext,
    WeakLabelArgs,
    op_context,
    runner,
)


def _run(ctx: ToolContext, name: str, args: dict[str, Any]) -> Any:
    from studio.ops import registry

    return registry.run(name, args, op_context(ctx))


@runner("weak_label")
def _weak_label(ctx: ToolContext, args: WeakLabelArgs) -> dict[str, Any]:
    report = _run(ctx, "label", {"limit": args.limit}).model_dump(mode="json")
    extra = ("already_proposed", "student", "retrained", "retrain_error", "llm_skipped")
    return {k: v for k, v in report.items() if k not in extra or v}  # as LabelReport.as_dict: extras when they happened


@runner("cleanse_boxes")
def _cleanse(ctx: ToolContext, args: CleanseArgs) -> dict[str, Any]:
    r = _run(ctx, "box_cleanse", {"dataset": args.dataset})
    return {"dataset": r.dataset, "images": r.images, "boxes": r.boxes, "findings": len(r.findings),
            "new_proposals": r.proposed, "counts": r.counts}  # fmt: skip


@runner("query")
def _query(ctx: ToolContext, args: QueryArgs) -> dict[str, Any]:
    strategy = {"qbc": "vote_entropy"}.get(args.strategy, args.strategy)
    r = _run(ctx, "query", {"strategy": strategy, "batch": args.batch})
    return {"query_id": r.query_id, "task": r.task, "strategy": r.used, "cold_start": r.cold_start,
            "items": [i.document_id for i in r.items]}  # fmt: skip


@runner("synth")
def _synth(ctx: ToolContext, args: SynthArgs) -> dict[str, Any]:
    r = _run(ctx, "synth", {"label": args.labels, "n": args.n})
    return {"labels": r.labels, "kept": r.kept, "generated": r.generated, "documents": r.documents,
            "proposals": r.proposals, "dropped": r.dropped}  # fmt: skip


@runner("release")
def _release(ctx: ToolContext, args: ReleaseArgs) -> dict[str, Any]:
    r = _run(ctx, "release", {"version": args.version})
    return {"version": r.version, "path": r.path, "documents": r.documents, "spans": r.spans,
            "manifest_sha256": r.manifest_sha256}  # fmt: skip


@runner("import")
def _import(ctx: ToolContext, args: ImportArgs) -> dict[str, Any]:
    given = {"paths": list(args.paths), "field": args.field, "column": args.column}
    r = _run(ctx, "import", {k: v for k, v in given.items() if v})
    return {"files": r.files, "imported": r.imported, "duplicates": r.duplicates, "errors": len(r.errors)}
