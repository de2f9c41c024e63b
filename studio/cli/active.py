"""Commands: query (what to review next) and simulate (compare strategies on a gold file).

Both are registry operations (`studio/ops/active/operations.py`): their options come from the
operations' Args. `simulate` needs no project: without one, sentence embeddings are cached in
~/.cache/studio/embeddings (`STUDIO_CACHE_DIR`). See studio/ops/active and docs/active.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from studio.cli.common import Ctx, echo_err, emit_json, emit_table, pass_ctx, stage_progress
from studio.cli.ops import LazyCommand, json_flag, op_command, params_for
from studio.errors import ProjectNotFound
from studio.ops import registry
from studio.ops.registry import OpContext, Result


def _report_problems(problems: list[str], limit: int = 10) -> None:
    for p in problems[:limit]:
        echo_err(f"warning: {p}")
    if len(problems) > limit:
        echo_err(f"warning: ... and {len(problems) - limit} more rows skipped")


def _render_query(result: Result, c: Ctx) -> None:
    r: Any = result
    _report_problems(r.problems)
    click.echo(r.summary())
    if r.reason:
        click.echo(r.reason)
    if r.skipped_near_duplicates:
        click.echo(f"{r.skipped_near_duplicates} near-duplicates kept out of this batch ({r.diversity} similarity)")
    if r.stop_message:
        click.echo(r.stop_message)
    columns = ["rank", "item", "score", "snippet"] + (["status"] if r.shown else [])
    emit_table([i.model_dump() for i in r.items], columns, title="Review next")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _render_simulate(result: Result) -> None:
    r: Any = result
    _report_problems(r.problems)
    names = [s.strategy for s in r.strategies]
    rows = []
    for k, p in enumerate(r.strategies[0].curve):
        row = {"labels": p.labels, "random": f"{p.random:.3f}"}
        for s in r.strategies:
            if s.strategy != "random":
                row[s.strategy] = f"{s.curve[k].score:.3f} ({s.curve[k].gap:+.3f})"
        rows.append(row)
    seeds = f"seed {r.seeds[0]}" if len(r.seeds) == 1 else f"mean over seeds {r.seeds[0]}..{r.seeds[-1]}"
    emit_table(
        rows,
        ["labels", "random", *[n for n in names if n != "random"]],
        title=f"{r.metric} on {r.test} held-out items (pool {r.pool}, {seeds}; features {r.features})",
    )
    click.echo(result.summary())
    for s in r.strategies:
        if s.strategy == "random" or len(r.seeds) == 1:
            continue
        per = ", ".join("never" if x is None else str(x) for x in s.per_seed_labels)
        click.echo(f"{s.strategy}: labels to reach random's final score per seed: {per}")
    for s in r.strategies:
        stops = [
            f"{a} labels ({_fmt(sc)})" if a else "not within the run"
            for a, sc in zip(s.stop_at, s.stop_score, strict=True)
        ]
        click.echo(
            f"{s.strategy}: the stopping rule (agreement {r.stop_threshold:.2f} over the last 3 rounds) "
            f"would stop at {'; '.join(stops)}"
        )


def _simulate_command() -> click.Command:
    """Built from the operation's Args like `op_command`, but runs without a project."""

    @pass_ctx
    def callback(c: Ctx, as_json: bool, **values: Any) -> None:
        op = registry.get("simulate")
        from studio.ops.active.features import cache_store
        from studio.store import Store

        data = {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items() if v not in (None, ())}
        data["gold"] = str(Path(values["gold"]).expanduser().resolve())
        args = op.validate(data)
        try:
            store = Store.open(c.project)  # a project caches the embeddings in its own store
        except ProjectNotFound:
            store = cache_store()
        try:
            with stage_progress() as update:
                progress = (lambda s, d, t: update(s, d, t or 0)) if update else None
                result = registry.run(op.name, args, OpContext(store=store, actor=c.actor, progress=progress))
        finally:
            store.close()
        if as_json:
            emit_json(result.model_dump(mode="json"))
        else:
            _render_simulate(result)

    return LazyCommand(
        "simulate", callback=callback, short_help=registry.summary("simulate"),
        build_params=lambda: [*params_for(registry.get("simulate").args), json_flag()],
        build_help=lambda: registry.get("simulate").help,
    )  # fmt: skip


COMMANDS: list[click.Command] = [op_command("query", render=_render_query), _simulate_command()]
