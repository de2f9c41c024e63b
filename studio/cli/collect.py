"""Commands: crawl, crawls, import (see studio/ops/collect and docs/collect.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from studio.cli.common import Ctx, emit_json, emit_table, json_option, pass_ctx
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


def _progress_bar(total: int, label: str) -> Any:
    """A rich progress bar on stderr, or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(stderr=True),
        transient=True,
    )
    progress.add_task(label, total=total, info="")
    return progress


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


def _crawl_command() -> click.Command:
    """`studio crawl`, built from the crawl operation's declaration (studio/ops/collect/crawl_op.py);
    only --rate gets a friendlier type (2, 0.5 or 2/s)."""
    from studio.cli.ops import op_command

    command = op_command("crawl", render=_render_crawl)
    for param in command.params:
        if param.name == "rate":
            param.type = RateType()
    command.help = (command.help or "").rstrip() + (
        "\n\nrobots.txt is obeyed, each host gets at most --rate requests per second, only HTML and plain text "
        "are kept, and every document records where it came from (URL, time, status, robots decision, license "
        "hints). Re-running with the same seeds, or --resume, continues an unfinished crawl without fetching "
        "again what it already has; Ctrl-C stops cleanly.\n\n\b\nExamples:\n"
        "  studio crawl https://example.org/ --max-pages 50 --depth 1\n"
        "  studio crawl https://example.org/blog/ --allow 'https://cdn.example.org/*' --rate 0.5/s\n"
        "  studio crawl --resume"
    )
    return command


crawl = _crawl_command()


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


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--field", default="text", show_default=True, help="The text field of .jsonl rows.")
@click.option("--column", default="text", show_default=True, help="The text column of .csv files.")
@click.option("--lang", default="en", show_default=True, help="Language of the documents (a .jsonl 'lang' wins).")
@click.option("--per-line", is_flag=True, help="In .txt files, one document per non-empty line (default: per file).")
@click.option("--near-dups/--no-near-dups", default=True, show_default=True,
              help="Report new documents that nearly copy another document.")  # fmt: skip
@click.option("--max-chars", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Longest document, in characters; a longer one is skipped and reported.")  # fmt: skip
@click.option("--split-long", is_flag=True, help="Import a document over --max-chars in parts split at paragraphs.")
@json_option
@pass_ctx
def import_cmd(
    c: Ctx, paths: tuple[Path, ...], field: str, column: str, lang: str, per_line: bool, near_dups: bool,
    max_chars: int, split_long: bool, as_json: bool,
) -> None:  # fmt: skip
    """Import documents from .txt, .jsonl, .csv and .html files, or folders of them.

    Folders are read recursively (hidden files skipped). Encodings are detected. A bad row or
    file is reported with its file and line and the rest is imported; documents already in
    the project (same text) are skipped.

    \b
    Examples:
      studio import corpus/                        # everything under corpus/
      studio import tweets.jsonl --field content
      studio import reviews.csv --column body --lang de
    """
    from studio.ops.collect.importer import ImportProgress, ImportSettings, import_paths, shown

    settings = ImportSettings(
        field=field, column=column, lang=lang, per_line=per_line, near_dups=near_dups, max_chars=max_chars,
        split_long=split_long,
    )  # fmt: skip
    bar = _progress_bar(0, "import")

    def on_progress(p: ImportProgress) -> None:
        if bar is not None:
            bar.update(bar.task_ids[0], completed=p.files_done, total=p.files_total, info=f"{p.imported} docs")

    if bar is not None:
        bar.start()
    try:
        result = import_paths(c.store(), list(paths), settings, on_progress)
    finally:
        if bar is not None:
            bar.stop()
    if as_json:
        emit_json(result.model_dump())
        return
    click.echo(
        f"Imported {result.imported} documents from {result.files} files "
        f"({result.duplicates} duplicates skipped, {len(result.errors)} errors)."
    )
    if result.skipped_files:
        click.echo(f"Skipped {len(result.skipped_files)} files of other types (e.g. {shown(result.skipped_files[0])}).")
    if result.near_duplicates:
        shown = ", ".join(f"{d['document_id']}~{d['of']}" for d in result.near_duplicates[:10])
        more = " ..." if len(result.near_duplicates) > 10 else ""
        click.echo(
            f"{len(result.near_duplicates)} new documents nearly copy another ({result.similarity} similarity; "
            f"new~existing: {shown}{more}). They were kept: see studio dups."
        )
    for e in result.errors[:50]:
        click.echo(f"  {e}")
    if len(result.errors) > 50:
        click.echo(f"  ... and {len(result.errors) - 50} more (see --json)")
    if result.imported == 0 and result.errors and result.duplicates == 0:
        raise StudioError("nothing was imported: fix the errors above and run the import again")


COMMANDS: list[click.Command] = [crawl, crawls, import_cmd]
