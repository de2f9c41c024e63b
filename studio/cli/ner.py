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


@click.command("label")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=None, help="Label at most N unlabeled documents.")
@click.option(
    "--doc", "doc_ids", type=int, multiple=True, help="Label this document (repeatable), even if it has proposals."
)
@click.option(
    "--samples",
    "-k",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="Answers per chunk for self-consistency (the first greedy, the rest sampled).",
)
@click.option(
    "--few-shot", type=click.IntRange(0, 10), default=3, show_default=True, help="Approved examples per prompt."
)
@click.option(
    "--few-shot-mode",
    type=click.Choice(["similar", "fixed"]),
    default="similar",
    show_default=True,
    help="Most similar approved documents, or always the first ones.",
)
@click.option(
    "--repeat",
    type=click.Choice(["context", "all"]),
    default="context",
    show_default=True,
    help="A mention found several times: pick the occurrence its context names, or propose each.",
)
@click.option(
    "--preselect",
    type=click.FloatRange(0, 1),
    default=None,
    help="Mark proposals at or above this confidence for quick review.",
)
@click.option(
    "--spacy",
    "spacy_map",
    multiple=True,
    metavar="FROM=TO",
    help="Add the pretrained spaCy pipeline as a source, mapping its labels (e.g. ORG=ORG); needs studio[spacy-model].",
)
@json_option
@pass_ctx
def label_cmd(
    c: Ctx, limit: int | None, doc_ids: tuple[int, ...], samples: int, few_shot: int, few_shot_mode: str,
    repeat: str, preselect: float | None, spacy_map: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Weak-label documents: the model and the other sources propose spans for review.

    Proposals wait for a human decision (in the app, or `studio review`); nothing becomes a
    label without one. Long documents are split into chunks; each span gets a confidence
    from the agreement of its sources.
    """
    from studio.llm import open_llm
    from studio.ops.ner.formats import parse_label_map
    from studio.ops.ner.label import LabelSettings, label_documents

    store = c.store()
    settings = LabelSettings(
        samples=samples, few_shot=few_shot, few_shot_mode=few_shot_mode, repeat=repeat,  # type: ignore[arg-type]
        preselect=preselect, spacy_model=bool(spacy_map), spacy_map=parse_label_map(spacy_map),
    )  # fmt: skip
    with _progress("labeling") as tick:
        report = label_documents(
            store, open_llm(store, c.llm), list(doc_ids) or None, limit=limit, settings=settings,
            on_progress=(lambda msg, frac: tick(int((frac or 0) * 1000), 1000)) if tick else None,
        )  # fmt: skip
    out = report.as_dict()
    if as_json:
        emit_json(out)
        return
    click.echo(
        f"Labeled {report.labeled}/{report.documents} documents: {report.proposals} span proposals "
        f"({report.hallucinated} hallucinated mentions dropped, {report.repaired} answers repaired, "
        f"{report.cache_hits}/{report.llm_calls} calls from cache)."
    )
    if report.few_shot_similarity == "hashed":
        echo_err(
            "Few-shot examples were chosen by hashed n-gram similarity; for semantic choice: pip install 'studio[embed]'."
        )
    for doc_id, reason in list(report.failed.items())[:10]:
        echo_err(f"  document {doc_id} failed: {reason}")
    if report.failed:
        echo_err(f"{len(report.failed)} documents failed; run studio label again to retry them.")
    if report.proposals:
        click.echo("Next: review them in the app (studio), or studio review.")


def _render_sources(result: Any, c: Ctx) -> None:
    click.echo(result.summary())
    if result.sources:
        cols = ["source", "label", "tp", "fp", "fn", "precision", "recall", "coverage", "overlap", "conflict",
                "weight_yes", "weight_no"]  # fmt: skip
        emit_table(result.sources, cols, title="weak sources on complete documents")


COMMANDS: list[click.Command] = [
    eval_cmd,
    label_cmd,
    op_command("train"),
    op_command("sources", render=_render_sources),
]
