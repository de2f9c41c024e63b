"""Commands: query (what to review next) and simulate (compare strategies on a gold file).

See studio/ops/active and docs/active.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from studio.cli.common import Ctx, echo_err, emit_json, emit_table, json_option, pass_ctx

# Kept here (not imported from ops) so `studio --help` does not import numpy and scikit-learn.
STRATEGIES = ("random", "least_confidence", "margin", "entropy", "vote_entropy", "kl")


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; otherwise no callback at all."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True)
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _report_problems(problems: list[str], limit: int = 10) -> None:
    for p in problems[:limit]:
        echo_err(f"warning: {p}")
    if len(problems) > limit:
        echo_err(f"warning: ... and {len(problems) - limit} more rows skipped")


@click.command()
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="margin",
    show_default=True,
    help="How to score uncertainty; random is the baseline.",
)
@click.option("--batch", type=click.IntRange(min=1), default=20, show_default=True, help="How many items to queue.")
@click.option(
    "--task",
    type=click.Choice(["auto", "classification", "ner", "detection"]),
    default="auto",
    show_default=True,
    help="auto: the guideline's task (detection when --predictions is given).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for random order and bagging.")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.8,
    show_default=True,
    help="Keep an item out of the batch when its cosine similarity to a chosen one is above this "
    "(1 keeps near-duplicates).",
)
@click.option(
    "--committee",
    type=click.IntRange(min=2),
    default=5,
    show_default=True,
    help="Bagged models for vote_entropy and kl.",
)
@click.option(
    "--predictions",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Detection: predictions as JSON, CSV (image,cls,conf) or a folder of YOLO txt with a conf column.",
)
@click.option(
    "--aggregate",
    type=click.Choice(["mean", "max", "sum"]),
    default="mean",
    show_default=True,
    help="Detection: how box scores make an image's score.",
)
@click.option("--show", is_flag=True, help="Print the current review queue (newest query) instead of running one.")
@click.option("--pending", is_flag=True, help="With --show: only items not reviewed yet.")
@json_option
@pass_ctx
def query(
    c: Ctx,
    strategy: str,
    batch: int,
    task: str,
    seed: int,
    threshold: float,
    committee: int,
    predictions: Path | None,
    aggregate: str,
    show: bool,
    pending: bool,
    as_json: bool,
) -> None:
    """Rank the unlabeled pool and queue what a person should review next.

    Trains a model on the approved labels (TF-IDF + logistic regression for classification, a
    token classifier for NER, plus weak-source disagreement from span proposals), scores every
    unlabeled document and keeps near-duplicates out of one batch. Until every class has a label
    the order is seeded random (cold start). The query is logged as a `query.run` decision and
    its order becomes the review queue (`studio query --show`).
    """
    from studio.ops.active.query import QuerySettings, read_queue, run_query

    store = c.store()
    if show:
        result = read_queue(store, include_done=not pending)
    else:
        settings = QuerySettings(
            task=task,  # type: ignore[arg-type]
            strategy=strategy,
            batch=batch,
            seed=seed,
            threshold=threshold,
            committee=committee,
            predictions=str(predictions) if predictions else None,
            aggregate=aggregate,
        )
        result = run_query(store, settings)
        _report_problems(result.problems)
    if as_json:
        emit_json(result.model_dump())
        return
    how = result.used if result.used == result.strategy else f"{result.used} (asked: {result.strategy})"
    click.echo(
        f"query {result.query_id} [{result.task}]: {how} over {result.pool} unlabeled, "
        f"{result.labeled} labeled, model {result.model_version or '-'}"
    )
    if result.reason:
        click.echo(result.reason)
    if result.skipped_near_duplicates:
        click.echo(
            f"{result.skipped_near_duplicates} near-duplicates kept out of this batch ({result.diversity} similarity)"
        )
    columns = ["rank", "item", "score", "snippet"] + (["status"] if show else [])
    emit_table([i.model_dump() for i in result.items], columns, title="Review next")


@click.command()
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="margin",
    show_default=True,
    help="The strategy to compare with random.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the split, random order, bagging.")
@click.option("--batch", type=click.IntRange(min=1), default=20, show_default=True, help="Labels per step.")
@click.option("--steps", type=click.IntRange(min=1), default=15, show_default=True, help="Labeling rounds.")
@click.option(
    "--test-size",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.25,
    show_default=True,
    help="Share of the gold set held out for the metric.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.8,
    show_default=True,
    help="Near-duplicate cosine similarity kept out of one batch (1 keeps all).",
)
@json_option
def simulate(
    gold: Path, strategy: str, seed: int, batch: int, steps: int, test_size: float, threshold: float, as_json: bool
) -> None:
    """Simulate labeling with GOLD as the oracle and print learning curves: STRATEGY vs random.

    GOLD is a JSONL or CSV of text and label (classification) or a JSONL of
    {"text", "spans": [{"start", "end", "label"}]} (NER). A seeded share is held out; each step
    the strategy picks a batch, the gold labels are revealed, the model is retrained and scored
    (macro-F1, or entity F1 for NER). Prints the share of random's labels the strategy needed to
    reach random's final score. The same file, options and seed give the same curves.
    """
    from studio.ops.active.gold import read_gold

    data = read_gold(gold)  # before importing scikit-learn: a bad file fails fast
    _report_problems(data.problems)
    from studio.ops.active.simulate import SimSettings
    from studio.ops.active.simulate import simulate as run

    settings = SimSettings(
        strategy=strategy, seed=seed, batch=batch, steps=steps, test_size=test_size, threshold=threshold
    )
    with _progress("simulating") as progress:
        result = run(data, settings, progress)
    if as_json:
        emit_json(result.model_dump())
        return
    rows = []
    for k, p in enumerate(result.curve.points):
        r = result.random.points[k] if k < len(result.random.points) else None
        rows.append(
            {
                "labels": p.labels,
                strategy: f"{p.score:.3f}" + (" (cold)" if p.cold_start and strategy != "random" else ""),
                "random": f"{r.score:.3f}" if r else "",
            }
        )
    emit_table(
        rows,
        ["labels", strategy] + ([] if strategy == "random" else ["random"]),
        title=f"{result.metric} on {result.test} held-out items (pool {result.pool}, seed {seed})",
    )
    final_labels = result.random.points[-1].labels if result.random.points else 0
    if result.labels_to_match is None:
        click.echo(
            f"{strategy} did not reach random's final {result.metric} ({result.random_final:.3f} "
            f"at {final_labels} labels) within {steps} steps"
        )
    else:
        click.echo(
            f"{strategy} reached random's final {result.metric} ({result.random_final:.3f} at {final_labels} labels) "
            f"with {result.labels_to_match} labels: {result.share_of_random:.0%} of random's"
        )


COMMANDS: list[click.Command] = [query, simulate]
