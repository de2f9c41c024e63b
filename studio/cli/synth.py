"""Command: `studio synth` (see studio/ops/synth.py)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import click

from studio.cli.common import Ctx, echo_err, emit_json, pass_ctx


@contextlib.contextmanager
def _progress(what: str) -> Iterator[Callable[[str, float | None], None] | None]:
    """A rich progress bar on stderr when it is a terminal; otherwise no callback."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=1000)

        def update(msg: str, frac: float | None) -> None:
            bar.update(task, completed=int((frac or 0) * 1000), description=msg)

        yield update


@click.command()
@click.option("--label", "labels", multiple=True, help="Label to write examples for (repeatable). Default: thin ones.")
@click.option("--n", "n", type=click.IntRange(1, 50), default=5, show_default=True, help="Sentences asked per label.")
@click.option(
    "--min-spans", type=click.IntRange(min=0), default=20, show_default=True,
    help="Without --label: labels with fewer approved spans than this get examples.",
)  # fmt: skip
@click.option("--examples", type=click.IntRange(0, 10), default=3, show_default=True, help="Real documents shown.")
@click.option(
    "--threshold", type=click.FloatRange(0.0, 1.0, min_open=True), default=None,
    help="Drop a sentence whose cosine similarity to a corpus text reaches this [default: 0.9 with embeddings, 0.8 without].",
)  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the model and the examples shown.")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@pass_ctx
def synth(
    c: Ctx,
    labels: tuple[str, ...],
    n: int,
    min_spans: int,
    examples: int,
    threshold: float | None,
    seed: int,
    as_json: bool,
) -> None:
    """Write synthetic example sentences for labels with few approved spans.

    The model sees the guideline and a few real documents and writes new sentences with their
    entities. Mentions not found in their sentence are dropped; sentences that copy or nearly
    copy a corpus text are dropped. The rest are stored as synthetic documents whose spans are
    pending proposals: review them like any others. Releases keep synthetic documents in train.
    """
    from studio.llm import open_llm
    from studio.ops.synth import SynthSettings, synthesize

    store = c.store()
    settings = SynthSettings(n=n, min_spans=min_spans, examples=examples, threshold=threshold, seed=seed)
    with _progress("synthesizing") as tick:
        report = synthesize(store, open_llm(store, c.llm), list(labels) or None, settings, on_progress=tick)
    if as_json:
        emit_json(report.model_dump())
        return
    if not report.labels:
        click.echo(f"No thin labels (all have at least {min_spans} approved spans); pass --label to choose one.")
        return
    dropped = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.dropped.items() if v) or "none"
    click.echo(
        f"Synthetic examples for {', '.join(report.labels)}: kept {report.kept}/{report.generated} sentences "
        f"({len(report.documents)} documents, {report.proposals} span proposals); dropped: {dropped}; "
        f"{report.entities_not_in_text} entities not in their sentence."
    )
    if report.backend == "hashed":
        echo_err("Similarity used hashed n-grams; for semantic near-copy checks: pip install 'studio[embed]'.")
    if report.proposals:
        click.echo("Next: review them in the app (studio), or studio review.")


COMMANDS: list[click.Command] = [synth]
