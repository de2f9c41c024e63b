"""What every command shares: the project context, output as tables or JSON, the user's name."""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from studio.store import Store

# Read by studio.llm.client.open_llm (named here so `studio --help` does not import the LLM stack).
CACHE_ENV = "STUDIO_LLM_CACHE"


def default_user() -> str:
    name = os.environ.get("STUDIO_USER") or getpass.getuser() or "user"
    return "".join(ch for ch in name if not ch.isspace()) or "user"


@dataclass
class Ctx:
    project: Path
    llm: str | None = None
    user: str = field(default_factory=default_user)
    _store: Store | None = None

    @property
    def actor(self) -> str:
        return f"human:{self.user}"

    def store(self) -> Store:
        """Open the project (once per command) and start a session named after the command."""
        if self._store is None:
            show_notices()
            self._store = Store.open(self.project)
            for warning in self._store.warnings:
                click.echo(f"warning: {warning}", err=True)
            cmd = click.get_current_context().info_name or "cli"
            self._store.start_session(name=f"cli:{cmd}")
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_ctx = click.make_pass_decorator(Ctx)


def json_option(f: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")(f)


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


TEXT_MIN_WIDTH = 12


def emit_table(
    rows: Iterable[dict[str, Any]], columns: Sequence[str], title: str | None = None, as_json: bool = False
) -> None:
    """Print rows as a rich table for people, or a JSON list for machines."""
    rows = list(rows)
    if as_json:
        emit_json(rows)
        return
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    # On a narrow screen headers and texts fold (a text not under TEXT_MIN_WIDTH cells), numbers never ("0.75" over
    # "93"); a table that does not fit that way either is printed whole, wider than the screen. Widths are in
    # terminal cells (a Hangul syllable takes two).
    numeric = [
        bool(rows) and all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns
    ]
    longest = [max((cell_len(row[i]) for row in cells), default=0) for i in range(len(columns))]
    least = [max(1, n if num else min(n, TEXT_MIN_WIDTH)) for n, num in zip(longest, numeric, strict=True)]
    wants = [max(n, cell_len(c)) for n, c in zip(longest, columns, strict=True)]  # each column unfolded
    console = Console(soft_wrap=False)
    squeeze = sum(wants) + 3 * len(columns) + 1 > console.width
    if squeeze:  # fixed widths: the least, then what the screen has left, a character at a time to each column
        spare = console.width - (sum(least) + 3 * len(columns) + 1)
        while spare > 0 and any(w > n for w, n in zip(wants, least, strict=True)):
            for i, want in enumerate(wants):
                if spare > 0 and want > least[i]:
                    least[i], spare = least[i] + 1, spare - 1
        console = Console(soft_wrap=False, width=max(console.width, sum(least) + 3 * len(columns) + 1))
    table = Table(title=title, show_lines=False, header_style="bold")
    for i, col in enumerate(columns):
        table.add_column(col, overflow="fold", justify="right" if numeric[i] else "left",
                         width=least[i] if squeeze else None)  # fmt: skip
    for row in cells:
        table.add_row(*row)
    console.print(table)
    if not rows:
        click.echo("(nothing to show)")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # for people three decimals (0.7593 -> 0.759), three digits of a small number (a cost of $0.000123);
        # --json keeps every digit
        if value != value or abs(value) >= 1e6:
            return str(value)
        return f"{value:.3g}" if 0 < abs(value) < 0.01 else f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(value)


@contextlib.contextmanager
def stage_progress() -> Iterator[Callable[[str, int, int | None], None] | None]:
    """`update(stage, done, total)` drawing one rich bar per stage on stderr; when stderr is not a
    terminal (scripts, CI, logs), a plain progress line every few seconds instead."""
    if not sys.stderr.isatty():
        yield ProgressLines()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:  # fmt: skip

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


@contextlib.contextmanager
def fraction_progress(what: str) -> Iterator[Callable[[str, float | None], None] | None]:
    """A rich progress bar on stderr when it is a terminal; otherwise a line every few seconds."""
    if not sys.stderr.isatty():
        lines = ProgressLines()
        yield lambda msg, frac: lines(what, round((frac or 0.0) * 100), 100 if frac is not None else None, msg)
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=1000)

        def update(msg: str, frac: float | None) -> None:
            bar.update(task, completed=int((frac or 0) * 1000), description=msg)

        yield update


class ProgressLines:
    """Progress as plain lines on stderr for logs and pipes: nothing for a stage that finishes within
    STUDIO_PROGRESS_SECONDS (default 5), so quick commands stay quiet; then at most one line every
    STUDIO_PROGRESS_SECONDS, and the last (done == total) once any line was shown.

        labeling: 120/500 (24%), 3.2/s, 0:00:37 elapsed
    """

    def __init__(self, every: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every if every is not None else float(os.environ.get("STUDIO_PROGRESS_SECONDS", "5"))
        self.clock = clock
        self._start: dict[str, float] = {}
        self._shown: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int | None, note: str = "") -> None:
        now = self.clock()
        start = self._start.setdefault(stage, now)
        finished = total is not None and done >= total
        last = self._shown.get(stage)
        if last is None and now - start < self.every and self.every > 0:
            return  # quick work says nothing
        if last is not None and now - last < self.every and not finished:
            return
        self._shown[stage] = now
        elapsed = now - start
        count = f"{done}/{total} ({100 * done // max(total, 1)}%)" if total is not None else f"{done} done"
        rate = f", {done / elapsed:.1f}/s" if elapsed > 0 and done else ""
        extra = f" - {note}" if note and note != stage else ""
        clock = f"{int(elapsed // 3600)}:{int(elapsed % 3600 // 60):02d}:{int(elapsed % 60):02d}"
        click.echo(f"{stage}: {count}{rate}, {clock} elapsed{extra}", err=True)


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted, not the one current when the handler
    was made (a command run in-process, e.g. by click's test runner, swaps it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def show_notices() -> None:
    """Print what the core reports as it happens (a model call timed out and is retried, ...) on
    stderr. Headless commands only: the app shows its own."""
    logger = logging.getLogger("studio")
    if not any(getattr(h, "_studio_cli", False) for h in logger.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("note: %(message)s"))
        handler.setLevel(logging.INFO)
        handler._studio_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def no_cache_option(f: Any) -> Any:
    """`--no-cache` for commands that call the model: every request goes to the model again (usable
    answers still refresh the cache). One decorator line in each command that calls the model."""

    def refresh(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            os.environ[CACHE_ENV] = "off"

    return click.option(
        "--no-cache",
        is_flag=True,
        expose_value=False,
        callback=refresh,
        help="Ask the model again instead of answering from the project's cache of earlier answers.",
    )(f)


def echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def is_tty() -> bool:
    return sys.stdout.isatty()
