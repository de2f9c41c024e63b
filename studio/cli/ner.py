"""Commands: ner (see studio/ops/ner): `studio eval`, `label`, `train`, `sources`, all registry operations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from studio.cli.common import Ctx, echo_err, emit_table, no_cache_option
from studio.cli.ops import op_command


def _render_eval(result: Any, c: Ctx) -> None:
    from studio.ops.ner.evaluate import Counts, Scores

    for w in result.warnings:
        echo_err(f"warning: {w}")
    scores = Scores(
        strict={k: Counts(**{x: v[x] for x in ("tp", "fp", "fn")}) for k, v in result.strict["per_label"].items()},
        partial={k: Counts(**{x: v[x] for x in ("tp", "fp", "fn")}) for k, v in result.partial["per_label"].items()},
    )
    title = f"{result.what} vs {Path(result.gold).name}" + (
        f" (confidence >= {result.threshold})" if result.what == "proposals" else ""
    )
    emit_table(scores.table(), ["mode", "label", "tp", "fp", "fn", "precision", "recall", "f1"], title=title)
    click.echo(
        f"matched {result.matched_docs} of {result.gold_docs} gold documents"
        + (f" ({result.scheme})" if result.scheme else "")
    )
    if result.unmatched:
        shown = ", ".join(result.unmatched[:5]) + (" ..." if len(result.unmatched) > 5 else "")
        click.echo(f"not in the project (not scored): {shown}")


def _render_label(result: Any, c: Ctx) -> None:
    click.echo(result.summary())
    if result.few_shot_similarity == "hashed":
        echo_err(
            "Few-shot examples were chosen by hashed n-gram similarity; for semantic choice: pip install 'studio[embed]'."
        )
    if result.retrain_error:
        echo_err(f"The student was not retrained: {result.retrain_error}")
    for doc_id, reason in list(result.failures.items())[:10]:
        echo_err(f"  document {doc_id} failed: {reason}")
    if result.failed:
        echo_err(f"{result.failed} documents failed; run studio label again to retry them.")
    if result.proposals:
        click.echo("Next: review them in the app (studio), or studio review.")


def _render_sources(result: Any, c: Ctx) -> None:
    click.echo(result.summary())
    if result.sources:
        cols = ["source", "label", "tp", "fp", "fn", "precision", "recall", "coverage", "overlap", "conflict",
                "weight_yes", "weight_no"]  # fmt: skip
        emit_table(result.sources, cols, title="weak sources on complete documents")


COMMANDS: list[click.Command] = [
    op_command("eval", render=_render_eval),
    no_cache_option(op_command("label", render=_render_label)),
    op_command("train"),
    op_command("sources", render=_render_sources),
]
