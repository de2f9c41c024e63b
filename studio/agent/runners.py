"""How each agent tool runs: thin adapters from validated arguments to one operation."""

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
    runner,
)


@runner("weak_label")
def _weak_label(ctx: ToolContext, args: WeakLabelArgs) -> dict[str, Any]:
    from studio.ops.ner.label import label_documents

    report = label_documents(ctx.store, ctx.llm, limit=args.limit, on_progress=ctx.on_progress)
    return report.as_dict()


@runner("cleanse_boxes")
def _cleanse(ctx: ToolContext, args: CleanseArgs) -> dict[str, Any]:
    from studio.ops.boxes.cleanse import CleanseOptions, run_cleanse

    progress = (
        (lambda msg, done, total: ctx.on_progress(msg, done / total if total else None)) if ctx.on_progress else None
    )
    result = run_cleanse(ctx.store, CleanseOptions(dataset=args.dataset), progress=progress)
    return {"dataset": result.dataset, "images": result.images, "boxes": result.boxes, "findings": len(result.findings),
            "new_proposals": result.new, "counts": result.counts}  # fmt: skip


@runner("query")
def _query(ctx: ToolContext, args: QueryArgs) -> dict[str, Any]:
    from studio.ops.active.query import QuerySettings, run_query

    strategy = {"qbc": "vote_entropy"}.get(args.strategy, args.strategy)
    result = run_query(ctx.store, QuerySettings(strategy=strategy, batch=args.batch))
    return {"query_id": result.query_id, "task": result.task, "strategy": result.used, "cold_start": result.cold_start,
            "items": [i.document_id for i in result.items]}  # fmt: skip


@runner("synth")
def _synth(ctx: ToolContext, args: SynthArgs) -> dict[str, Any]:
    from studio.ops.synth import SynthSettings, synthesize

    report = synthesize(ctx.store, ctx.llm, args.labels or None, SynthSettings(n=args.n), on_progress=ctx.on_progress)
    return {"labels": report.labels, "kept": report.kept, "generated": report.generated, "documents": report.documents,
            "proposals": report.proposals, "dropped": report.dropped}  # fmt: skip


@runner("release")
def _release(ctx: ToolContext, args: ReleaseArgs) -> dict[str, Any]:
    from studio.ops.release.build import build_release
    from studio.ops.release.models import ReleaseOptions

    result = build_release(ctx.store, ReleaseOptions(version=args.version), ctx.actor)
    return {"version": result.version, "path": result.path, "documents": result.documents, "spans": result.spans,
            "manifest_sha256": result.manifest_sha256}  # fmt: skip


@runner("import")
def _import(ctx: ToolContext, args: ImportArgs) -> dict[str, Any]:
    from studio.ops.collect.importer import ImportSettings, import_paths

    settings = ImportSettings(**{k: v for k, v in {"field": args.field, "column": args.column}.items() if v})
    result = import_paths(ctx.store, list(args.paths), settings)
    return {
        "files": result.files,
        "imported": result.imported,
        "duplicates": result.duplicates,
        "errors": len(result.errors),
    }
