"""Project commands: init, status, log."""

from __future__ import annotations

import json
from pathlib import Path

import click

from studio.cli.common import Ctx, emit_json, emit_table, json_option, pass_ctx
from studio.store import DB_NAME, Store


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def init(c: Ctx, directory: Path | None) -> None:
    """Create a project in DIRECTORY (default: --project or the current folder).

    A project is a folder holding studio.db (documents, guidelines, proposals, the decision
    log, LLM calls) and artifacts (raw pages, releases).
    """
    root = (directory or c.project).expanduser().resolve()
    existed = (root / DB_NAME).exists()
    Store.init(root).close()
    click.echo(f"{'Opened existing' if existed else 'Created'} project in {root}")
    if not existed:
        click.echo(f'Next: studio --project {root} plan "describe the dataset you want"')


@click.command()
@json_option
@pass_ctx
def status(c: Ctx, as_json: bool) -> None:
    """Counts: documents, pending proposals, approved labels, guideline version."""
    from studio.ops.review import status_counts

    store = c.store()
    s = store.status()
    s["review"] = status_counts(store)  # documents untouched / partial / complete / withdrawn
    if as_json:
        emit_json(s)
        return
    g = s["guideline_version"]
    rows = [
        ("project", s["project"]),
        ("guideline", f"v{g} ({s['guideline_status']})" if g else "none yet"),
        ("approved guideline", f"v{s['approved_guideline_version']}" if s["approved_guideline_version"] else "none"),
        ("documents", s["documents"]),
        (
            "  complete",
            f"{s['review']['complete']} (released by default; partial {s['review']['partial']}, "
            f"untouched {s['review']['untouched']}, withdrawn {s['review']['withdrawn']})",
        ),
        ("pending proposals", s["pending_proposals"]),
        ("approved labels", f"{s['approved_labels']} in {s['labeled_documents']} documents"),
        ("decisions", s["decisions"]),
        ("llm calls", s["llm_calls"]),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k:<{width}}  {v}")
    for kind, n in sorted(s["pending_by_kind"].items()):
        click.echo(f"{'':<{width}}    {kind}: {n}")


@click.command()
@click.option("--actor", help="Only this actor: agent, tool, human, or human:NAME.")
@click.option("--action", help="Only actions with this prefix, e.g. label or label.accept.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=None, help="Only the newest N rows.")
@click.option("--llm", "llm_calls", is_flag=True, help="List LLM calls instead of decisions.")
@json_option
@pass_ctx
def log(c: Ctx, actor: str | None, action: str | None, limit: int | None, llm_calls: bool, as_json: bool) -> None:
    """Show the decision log (oldest first), or the LLM calls with --llm."""
    store = c.store()
    if llm_calls:
        from studio.llm.log import list_calls

        rows = list_calls(store, limit=limit, operation=action)
        emit_table(
            rows,
            [
                "id",
                "ts",
                "model",
                "operation",
                "prompt_tokens",
                "completion_tokens",
                "latency_ms",
                "cost_usd",
                "cache_hit",
                "error",
            ],
            title="LLM calls",
            as_json=as_json,
        )
        return
    decisions = store.decisions(actor=actor, action=action, limit=limit)
    rows = [d.model_dump() for d in decisions]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        r["subjects"] = ", ".join(r["subject_ids"])
        r["payload"] = json.dumps(r["payload"], ensure_ascii=False)
    emit_table(rows, ["id", "ts", "actor", "action", "subjects", "payload", "rationale"], title="Decision log")


COMMANDS = [init, status, log]
