"""How each agent tool runs: thin adapters from validated arguments to one operation."""

from __future__ import annotations

from typing import Any

from studio.agent.tools import ToolContext, WeakLabelArgs, runner


@runner("weak_label")
def _weak_label(ctx: ToolContext, args: WeakLabelArgs) -> dict[str, Any]:
    from studio.ops.ner.label import label_documents

    report = label_documents(ctx.store, ctx.llm, limit=args.limit, on_progress=ctx.on_progress)
    return report.as_dict()
