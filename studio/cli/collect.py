"""Commands: crawl, crawls, import (see studio/ops/collect and docs/collect.md)."""

from __future__ import annotations

import re
from typing import Any

import click

from studio.cli.common import Ctx, emit_json, emit_table, json_option, pass_ctx
from studio.cli.ops import op_command
from studio.errors import StudioError

_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:/\s*s(?:ec)?)?\s*$", re.IGNORECASE)


class RateType(click.ParamType):
    """Requests per second: `2`, `0.5`, `2/s`; 0 means no delay."""

    name = "R/s"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        m = _RATE_RE.match(str(value))
        if not m:
            self.fail(f"{value!r} is not a rate: use requests per second like 2, 0.5 or 2/s", param, ctx)
        return float(m.group(1))


def _render_crawl(result: Any, c: Ctx) -> None:
    click.echo(result.summary())
    n = result.counts
    hint = f"studio --project {c.project} {result.resume_hint.removeprefix('studio ')}"
    if result.outcome == "cancelled":
        click.echo(f"Stopped. Resume with: {hint}")
    elif result.outcome == "max_pages":
        click.echo(f"Reached --max-pages; to go on: {hint}")
    elif result.outcome == "done" and n["fetched"] == 0 and result.resumed:
        click.echo("Nothing left to fetch: this crawl is complete.")


def _rate_type(params: list[click.Parameter]) -> None:
    for param in params:
        if param.name == "rate":
            param.type = RateType()


# `studio crawl`, built from the crawl operation's declaration (studio/ops/collect/crawl_op.py);
# only --rate gets a friendlier type (2, 0.5 or 2/s).
CRAWL_HELP = (
    "\n\nrobots.txt is obeyed, each host gets at most --rate requests per second, only HTML and plain text "
    "are kept, and every document records where it came from (URL, time, status, robots decision, license "
    "hints). Re-running with the same seeds, or --resume, continues an unfinished crawl without fetching "
    "again what it already has; Ctrl-C stops cleanly.\n\n\b\nExamples:\n"
    "  studio crawl https://example.org/ --max-pages 50 --depth 1\n"
    "  studio crawl https://example.org/blog/ --allow 'https://cdn.example.org/*' --rate 0.5/s\n"
    "  studio crawl --resume"
)
crawl = op_command("crawl", render=_render_crawl, adjust=_rate_type, help_suffix=CRAWL_HELP)


@click.command()
@json_option
@pass_ctx
def crawls(c: Ctx, as_json: bool) -> None:
    """List crawls: status (running, paused, done), seeds, and their frontier by row status."""
    from studio.ops.collect import frontier

    rows = frontier.list_crawls(c.store())
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        r["seeds"] = ", ".join(r["seeds"])
        r["frontier"] = ", ".join(f"{k} {v}" for k, v in sorted(r["frontier"].items()))
    emit_table(rows, ["id", "status", "seeds", "frontier", "started_at", "updated_at"], title="Crawls")


def _render_import(result: Any, c: Ctx) -> None:
    from studio.ops.collect.import_op import shown

    if result.labeled:
        for r in result.labeled:
            click.echo(r.summary())
            for line in (r.snapped + r.skipped_spans + r.errors)[:50]:
                click.echo(f"  {line}")
            more = len(r.snapped) + len(r.skipped_spans) + len(r.errors) - 50
            if more > 0:
                click.echo(f"  ... and {more} more (see --json)")
        return
    click.echo(result.summary())
    if result.skipped_files:
        click.echo(f"Skipped {len(result.skipped_files)} files of other types (e.g. {shown(result.skipped_files[0])}).")
    if result.near_duplicates:
        pairs = ", ".join(f"{d['document_id']}~{d['of']}" for d in result.near_duplicates[:10])
        more = " ..." if len(result.near_duplicates) > 10 else ""
        click.echo(
            f"{len(result.near_duplicates)} new documents nearly copy another ({result.similarity} similarity; "
            f"new~existing: {pairs}{more}). They were kept: see studio dups."
        )
    for e in result.errors[:50]:
        click.echo(f"  {e}")
    if len(result.errors) > 50:
        click.echo(f"  ... and {len(result.errors) - 50} more (see --json)")
    for hint in result.hints:
        click.echo(f"hint: {hint}")
    if result.imported == 0 and result.errors and result.duplicates == 0:
        raise StudioError("nothing was imported: fix the errors above and run the import again")


def _import_json(result: Any) -> Any:
    """A plain import prints its counts; an import of annotations one result per file."""
    if result.labeled:
        return [r.model_dump() for r in result.labeled]
    return result.model_dump(exclude={"labeled", "hints"})


import_cmd = op_command("import", render=_render_import, to_json=_import_json)

COMMANDS: list[click.Command] = [crawl, crawls, import_cmd]
