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


@click.command()
@click.argument("seeds", nargs=-1, metavar="SEED...")
@click.option("--max-pages", type=click.IntRange(min=1), help="Pages to request over the whole crawl [100].")
@click.option("--depth", type=click.IntRange(min=0), help="Links to follow from a seed [2].")
@click.option(
    "--allow",
    multiple=True,
    metavar="PATTERN",
    help="Also crawl URLs matching this glob (https://docs.example.org/*) or host (example.org, "
    "subdomains included). Repeatable. Without it only the seeds' hosts are crawled.",
)
@click.option("--rate", type=RateType(), help="Requests per second per host, e.g. 2 or 2/s; 0 = no delay [1/s].")
@click.option("--concurrency", type=click.IntRange(1, 64), help="Requests in flight per host [2].")
@click.option("--timeout", type=click.FloatRange(min=0.1), help="Seconds to wait for a connection or data [10].")
@click.option("--max-bytes", type=click.IntRange(min=1024), help="Largest page body kept, in bytes [2000000].")
@click.option(
    "--keep-near-duplicates",
    is_flag=True,
    default=None,
    help="Store near-duplicate pages too (marked near_duplicate_of in provenance); default: skip them.",
)
@click.option("--resume", is_flag=True, help="Continue the newest unfinished crawl (no seeds needed).")
@json_option
@pass_ctx
def crawl(
    c: Ctx,
    seeds: tuple[str, ...],
    max_pages: int | None,
    depth: int | None,
    allow: tuple[str, ...],
    rate: float | None,
    concurrency: int | None,
    timeout: float | None,
    max_bytes: int | None,
    keep_near_duplicates: bool | None,
    resume: bool,
    as_json: bool,
) -> None:
    """Crawl the web from SEED URLs into documents, politely.

    robots.txt is obeyed, each host gets at most --rate requests per second, only HTML and
    plain text are kept, and every document records where it came from (URL, time, status,
    robots decision, license hints). Re-running with the same seeds, or --resume, continues an
    unfinished crawl without fetching again what it already has; Ctrl-C stops cleanly.

    \b
    Examples:
      studio crawl https://example.org/ --max-pages 50 --depth 1
      studio crawl https://example.org/blog/ --allow 'https://cdn.example.org/*' --rate 0.5/s
      studio crawl --resume
    """
    from studio.ops.collect.crawl import CrawlProgress, run_crawl

    if not seeds and not resume:
        raise click.UsageError("give at least one SEED URL, or --resume to continue the last crawl")
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "max_pages": max_pages,
            "max_depth": depth,
            "rate": rate,
            "concurrency": concurrency,
            "read_timeout": timeout,
            "max_bytes": max_bytes,
        }.items()
        if v is not None
    }
    if allow:
        overrides["allow"] = list(allow)
    if keep_near_duplicates:
        overrides["near_duplicates"] = "keep"
    store = c.store()
    bar = _progress_bar(max_pages or 100, "crawl")

    def on_progress(p: CrawlProgress) -> None:
        if bar is not None:
            task = bar.task_ids[0]
            info = f"stored {p.stored} · dup {p.duplicates + p.near_duplicates} · failed {p.failed}"
            bar.update(task, completed=p.fetched, total=p.max_pages, info=info)

    resume_cmd = f"studio --project {c.project} crawl --resume"
    try:
        if bar is not None:
            bar.start()
        result = run_crawl(
            store, list(seeds) or None, overrides, resume=resume, on_progress=on_progress, handle_sigint=True
        )
    except KeyboardInterrupt:
        click.echo(f"Interrupted. What was fetched is saved; resume with: {resume_cmd}", err=True)
        sys.exit(130)
    finally:
        if bar is not None:
            bar.stop()
    if as_json:
        emit_json(result.model_dump())
        return
    n = result.counts
    robots_blocked = sum(v for k, v in result.robots.items() if k in ("disallowed", "unreachable"))
    click.echo(
        f"Crawl {result.crawl_id} {'(resumed) ' if result.resumed else ''}{result.outcome}: "
        f"{n['fetched']} pages fetched, {n['stored']} stored, {n['duplicates']} duplicates, "
        f"{n['near_duplicates']} near-duplicates, {n['skipped']} skipped, {robots_blocked} blocked by robots.txt, "
        f"{n['failed']} failed ({n['retried']} retries) in {result.elapsed_s:.1f} s."
    )
    hint = f"studio --project {c.project} {result.resume_hint.removeprefix('studio ')}"
    if result.outcome == "cancelled":
        click.echo(f"Stopped. Resume with: {hint}")
    elif result.outcome == "max_pages":
        click.echo(f"Reached --max-pages; to go on: {hint}")
    elif result.outcome == "done" and n["fetched"] == 0 and result.resumed:
        click.echo("Nothing left to fetch: this crawl is complete.")


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
@click.option("--with-labels", is_flag=True,
              help="The files hold annotations: JSONL spans (spaCy/Prodigy), CoNLL (IOB1/IOB2/BIOES), a spaCy "
              "DocBin (.spacy) or a Label Studio JSON export. Spans become approved labels by you and documents "
              "complete, unless a line says \"complete\": false.")  # fmt: skip
@click.option("--as-proposals", "as_proposals", metavar="NAME",
              help="With annotations: make them pending proposals of a weak source NAME instead of labels.")  # fmt: skip
@click.option("--map", "label_map", multiple=True, metavar="FROM=TO",
              help="With annotations: rename a label (repeatable); TO=O drops it.")  # fmt: skip
@json_option
@pass_ctx
def import_cmd(
    c: Ctx, paths: tuple[Path, ...], field: str, column: str, lang: str, per_line: bool, near_dups: bool,
    with_labels: bool, as_proposals: str | None, label_map: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Import documents from .txt, .jsonl, .csv and .html files, or folders of them.

    Folders are read recursively (hidden files skipped). Encodings are detected. A bad row or
    file is reported with its file and line and the rest is imported; documents already in
    the project (same text) are skipped. A .txt file is one document unless --per-line (the
    import says when its lines look like separate sentences).

    With --with-labels the files carry annotations (see docs/collect.md): labels the approved
    guideline does not have are refused with the list (map them with --map), spans off token
    edges are snapped and reported, malformed lines are reported as file:line and skipped.

    \b
    Examples:
      studio import corpus/                        # everything under corpus/
      studio import notes.txt --per-line           # one sentence per line -> one document each
      studio import tweets.jsonl --field content
      studio import reviews.csv --column body --lang de
      studio import gold.conll --with-labels --map PER=PERSON --map MISC=O
      studio import export.json --with-labels --as-proposals labelstudio
    """
    if with_labels or as_proposals or label_map:
        _import_labeled(c, paths, lang, as_proposals, label_map, as_json)
        return
    from studio.ops.collect.hints import per_line_hints
    from studio.ops.collect.importer import ImportProgress, ImportSettings, import_paths

    settings = ImportSettings(field=field, column=column, lang=lang, per_line=per_line, near_dups=near_dups)
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
        click.echo(f"Skipped {len(result.skipped_files)} files of other types (e.g. {result.skipped_files[0]}).")
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
    if not per_line:
        for hint in per_line_hints(paths):
            click.echo(f"hint: {hint}")
    if result.imported == 0 and result.errors and result.duplicates == 0:
        raise StudioError("nothing was imported: fix the errors above and run the import again")


def _import_labeled(
    c: Ctx, paths: tuple[Path, ...], lang: str, as_proposals: str | None, label_map: tuple[str, ...], as_json: bool
) -> None:
    from studio.ops.collect.labels import import_labeled
    from studio.ops.ner.formats import parse_label_map

    mapping = parse_label_map(list(label_map))
    for p in paths:
        if not p.is_file():
            raise StudioError(f"{p}: --with-labels reads files (a .jsonl, .conll, .spacy or Label Studio .json)")
    results = [import_labeled(c.store(), p, c.actor, as_proposals=as_proposals, mapping=mapping, lang=lang)
               for p in paths]  # fmt: skip
    if as_json:
        emit_json([r.model_dump() for r in results])
        return
    for r in results:
        click.echo(r.summary())
        for line in (r.snapped + r.skipped_spans + r.errors)[:50]:
            click.echo(f"  {line}")
        more = len(r.snapped) + len(r.skipped_spans) + len(r.errors) - 50
        if more > 0:
            click.echo(f"  ... and {more} more (see --json)")


COMMANDS: list[click.Command] = [crawl, crawls, import_cmd]
