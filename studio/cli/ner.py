"""Commands: ner (see studio/ops/ner): `studio eval`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from studio.cli.common import Ctx, echo_err, emit_json, emit_table, json_option, pass_ctx, stage_progress
from studio.cli.ops import op_command
from studio.errors import StudioError

MAX_WARNINGS = 20


@contextlib.contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; otherwise no callback."""
    with stage_progress() as update:
        yield (lambda done, total: update(what, done, total)) if update else None


@click.command("eval")
@click.argument("gold", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="FROM=TO",
    help="Rename a label on both sides before scoring (repeatable), e.g. --map PER=PERSON; LABEL=O leaves LABEL out.",
)
@click.option(
    "--what",
    type=click.Choice(["proposals", "approved"]),
    default="proposals",
    show_default=True,
    help="Score span proposals (pending and decided) or the approved labels.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="With --what proposals: only proposals with at least this confidence.",
)
@click.option(
    "--scheme",
    type=click.Choice(["auto", "iob1", "iob2", "bioes"]),
    default="auto",
    show_default=True,
    help="Tag scheme of a CoNLL gold file (auto detects it).",
)
@click.option("--batch", default=None, help="With --what proposals: only proposals of this run (batch).")
@click.option(
    "--reviewed-only", is_flag=True, help="Only documents a human has reviewed (useful with --what approved)."
)
@json_option
@pass_ctx
def eval_cmd(
    c: Ctx,
    gold: Path,
    maps: tuple[str, ...],
    what: str,
    threshold: float,
    scheme: str,
    batch: str | None,
    reviewed_only: bool,
    as_json: bool,
) -> None:
    """Score the project's NER spans against a GOLD file (CoNLL IOB1/IOB2 or JSONL).

    Entity-level precision, recall and F1 per label and overall (micro), strict (same
    boundaries and label) and partial (overlap with the same label, each span counted once).
    Gold documents are matched to project documents by text (exact, then ignoring
    whitespace and Unicode form); CoNLL sentences are read as tokens joined by single spaces.
    JSONL lines look like {"text": "...", "spans": [{"start": 0, "end": 5, "label": "ORG"}]}.
    """
    from studio.ops.ner.evaluate import evaluate_store
    from studio.ops.ner.formats import parse_label_map, read_gold

    label_map = parse_label_map(maps)
    gf = read_gold(gold, scheme=scheme)  # type: ignore[arg-type]
    for msg in gf.errors[:MAX_WARNINGS]:
        echo_err(f"warning: {msg}")
    if len(gf.errors) > MAX_WARNINGS:
        echo_err(f"warning: ... and {len(gf.errors) - MAX_WARNINGS} more problems in {gold}")
    if not gf.docs:
        raise StudioError(f"{gold} holds no readable documents; fix the problems listed above")
    store = c.store()
    with _progress("scoring") as progress:
        report = evaluate_store(
            store,
            gf.docs,
            what=what,  # type: ignore[arg-type]
            threshold=threshold,
            label_map=label_map,
            batch=batch,
            reviewed_only=reviewed_only,
            progress=progress,
        )
    if report.matched_docs == 0:
        raise StudioError(
            f"none of the {report.gold_docs} gold documents is in this project ({store.root}); "
            "import the same texts first, or pass the right --project"
        )
    overall = report.scores.overall("strict")
    store.record(
        "tool",
        "eval.run",
        [],
        {
            "gold": str(gold),
            "what": what,
            "threshold": report.threshold,
            "map": label_map,
            "batch": batch,
            "reviewed_only": reviewed_only,
            "matched_docs": report.matched_docs,
            "gold_docs": report.gold_docs,
            "strict": overall.row(),
            "partial": report.scores.overall("partial").row(),
        },
    )
    if as_json:
        emit_json({"gold": str(gold), "format": gf.format, "scheme": gf.scheme, **report.to_dict()})
        return
    title = f"{what} vs {gold.name}" + (f" (confidence >= {threshold})" if what == "proposals" else "")
    emit_table(report.scores.table(), ["mode", "label", "tp", "fp", "fn", "precision", "recall", "f1"], title=title)
    click.echo(
        f"matched {report.matched_docs} of {report.gold_docs} gold documents" + (f" ({gf.scheme})" if gf.scheme else "")
    )
    if report.unmatched:
        shown = ", ".join(report.unmatched[:5]) + (" ..." if len(report.unmatched) > 5 else "")
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
    eval_cmd,
    op_command("label", render=_render_label),
    op_command("train"),
    op_command("sources", render=_render_sources),
]
