"""Commands: `studio synth` (studio/ops/synth.py) and `studio dups` (studio/ops/dedup.py)."""

from __future__ import annotations

from typing import Any

import click

from studio.cli.common import Ctx, echo_err, emit_table, no_cache_option
from studio.cli.ops import op_command


def _render_synth(result: Any, c: Ctx) -> None:
    click.echo(result.summary())
    if result.labels and result.backend == "hashed":
        echo_err("Similarity used hashed n-grams; for semantic near-copy checks: pip install 'studio[embed]'.")
    if result.proposals:
        click.echo("Next: review them in the app (studio), or studio review.")


def _render_dups(result: Any, c: Ctx) -> None:
    store = c.store()
    rows = []
    for g in result.groups:
        first = store.document(g["keep"]).text
        rows.append({
            "group": g["keep"], "documents": ", ".join(f"{m} ({g['sources'][str(m)]})" for m in g["members"]),
            "similarity": f"{g['max_similarity']:.3f}", "text": " ".join(first.split())[:60],
        })  # fmt: skip
    emit_table(rows, ["group", "documents", "similarity", "text"],
               title=f"Near duplicates ({result.backend}, cosine >= {result.threshold})")  # fmt: skip
    click.echo(result.summary())
    if result.backend == "hashed":
        echo_err("Similarity used hashed n-grams; for semantic similarity: pip install 'studio[embed]'.")


COMMANDS: list[click.Command] = [
    no_cache_option(op_command("synth", render=_render_synth)),
    op_command("dups", render=_render_dups),
]
