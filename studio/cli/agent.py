"""Agent commands: plan, guideline (show/approve/reject/edit/diff/versions), agent."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import click

from studio.cli.common import Ctx, emit_json, emit_table, json_option, no_cache_option, pass_ctx
from studio.errors import StudioError


def _llm(c: Ctx):
    from studio.llm import open_llm

    return open_llm(c.store(), c.llm)


def _run(c: Ctx, name: str, args: dict[str, object], progress: Any = None) -> Any:
    """Run a registry operation for this command (recorded in the command's session)."""
    from studio.ops import registry

    ctx = registry.OpContext(
        store=c.store(), actor=c.actor, llm_spec=c.llm, llm_factory=lambda: _llm(c), progress=progress
    )  # the embedded model's server is shared by the process, so a model per operation costs nothing
    return registry.run(name, {k: v for k, v in args.items() if v is not None}, ctx)


@click.command()
@click.argument("goal")
@click.option(
    "--task", type=click.Choice(["ner", "detection", "classification"]), default=None, help="Force a task type."
)
@json_option
@no_cache_option
@pass_ctx
def plan(c: Ctx, goal: str, task: str | None, as_json: bool) -> None:
    """Draft a labeling guideline from GOAL, in plain language (any language the model reads).

    The draft is stored as a new guideline version; approve it with `studio guideline approve`,
    edit it with `studio guideline edit`, or reject it with a reason so the agent revises it.
    """
    from studio.agent.guideline import to_yaml

    store = c.store()
    version = _run(c, "plan", {"goal": goal, "task": task}).version
    g, status, _ = store.guideline(version)
    if as_json:
        emit_json({"version": version, "status": status, "guideline": g.model_dump()})
        return
    click.echo(to_yaml(g))
    click.echo(f'Guideline v{version} drafted. Next: studio guideline approve, edit, or reject --reason "..."')


@click.group()
def guideline() -> None:
    """Read, approve, edit or reject the labeling guideline; every version is kept."""


@guideline.command("show")
@click.option("--version", "-v", "version", type=int, default=None, help="Version to show (default: newest).")
@json_option
@pass_ctx
def guideline_show(c: Ctx, version: int | None, as_json: bool) -> None:
    """Print a guideline version as YAML (or JSON)."""
    from studio.agent.guideline import to_yaml

    g, status, v = c.store().guideline(version)
    if as_json:
        emit_json({"version": v, "status": status, "guideline": g.model_dump()})
        return
    click.echo(f"# guideline v{v} ({status})")
    click.echo(to_yaml(g))


@guideline.command("versions")
@json_option
@pass_ctx
def guideline_versions(c: Ctx, as_json: bool) -> None:
    """List every guideline version with its status."""
    emit_table(
        c.store().guideline_versions(), ["version", "parent", "status", "created_by", "created_at"], as_json=as_json
    )


@guideline.command("approve")
@click.option("--version", "-v", "version", type=int, default=None, help="Version to approve (default: newest).")
@click.option("--note", default="", help="Why, for the log.")
@pass_ctx
def guideline_approve(c: Ctx, version: int | None, note: str) -> None:
    """Approve a guideline version: labeling follows the newest approved version."""
    store = c.store()
    _, _, v = store.guideline(version)
    store.decide_guideline(v, c.actor, "approve", note)
    click.echo(f"Approved guideline v{v}.")


@guideline.command("reject")
@click.option("--version", "-v", "version", type=int, default=None, help="Version to reject (default: newest).")
@click.option("--reason", "-r", required=True, help="What is wrong; the agent revises the guideline from it.")
@click.option("--no-revise", is_flag=True, help="Only record the rejection; do not ask the agent for a revision.")
@pass_ctx
def guideline_reject(c: Ctx, version: int | None, reason: str, no_revise: bool) -> None:
    """Reject a guideline version with a reason; the agent drafts a revision from it."""
    from studio.agent.guideline import diff

    store = c.store()
    old, _, v = store.guideline(version)
    if no_revise:
        store.decide_guideline(v, c.actor, "reject", reason)
        click.echo(f"Rejected guideline v{v}.")
        return
    new_v = _run(c, "revise", {"version": v, "reason": reason}).version
    new, _, _ = store.guideline(new_v)
    click.echo(diff(old, new, f"v{v}", f"v{new_v}") or "(the revision is identical)")
    click.echo(f"Rejected v{v}; the agent drafted v{new_v}. Next: studio guideline approve, or reject again.")


@guideline.command("edit")
@click.option("--version", "-v", "version", type=int, default=None, help="Version to start from (default: newest).")
@click.option("--approve", "approve_after", is_flag=True, help="Approve the edited version right away.")
@pass_ctx
def guideline_edit(c: Ctx, version: int | None, approve_after: bool) -> None:
    """Edit a guideline as YAML in $EDITOR; the result is saved as a new version."""
    from studio.agent.guideline import diff, from_yaml, to_yaml

    store = c.store()
    g, _, v = store.guideline(version)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile(
        "w", suffix=".yaml", prefix=f"guideline-v{v}-", delete=False, encoding="utf-8"
    ) as f:
        f.write(to_yaml(g))
        path = Path(f.name)
    code = subprocess.call([*shlex.split(editor), str(path)])
    if code != 0:
        raise StudioError(f"the editor exited with {code}; nothing saved (your text is in {path})")
    try:
        edited = from_yaml(path.read_text(encoding="utf-8"))
    except StudioError as exc:
        raise StudioError(f"{exc}; nothing saved, your edit is kept in {path}") from exc
    path.unlink()
    if edited == g:
        click.echo("No change.")
        return
    new_v = store.add_guideline(edited, c.actor, parent=v, action="guideline.edit", rationale="edited by hand")
    click.echo(diff(g, edited, f"v{v}", f"v{new_v}"))
    if approve_after:
        store.decide_guideline(new_v, c.actor, "approve", "approved after editing")
        click.echo(f"Saved and approved guideline v{new_v}.")
    else:
        click.echo(f"Saved guideline v{new_v}. Next: studio guideline approve")


@guideline.command("diff")
@click.argument("a", type=int)
@click.argument("b", type=int)
@pass_ctx
def guideline_diff(c: Ctx, a: int, b: int) -> None:
    """Show what changed between guideline versions A and B."""
    from studio.agent.guideline import diff

    ga, _, _ = c.store().guideline(a)
    gb, _, _ = c.store().guideline(b)
    click.echo(diff(ga, gb, f"v{a}", f"v{b}") or "(no difference)")


@click.command()
@click.option("--goal", default=None, help="Start from this goal when there is no approved guideline yet.")
@click.option("--steps", type=click.IntRange(min=1), default=5, help="How many actions to propose at most.")
@click.option("--auto-approve", "auto", multiple=True, help="Tool to approve without asking (repeatable; logged).")
@no_cache_option
@pass_ctx
def agent(c: Ctx, goal: str | None, steps: int, auto: tuple[str, ...]) -> None:
    """Step through the agent's proposals on the terminal, answering y / n / e(dit) for each.

    Nothing runs without your yes, except tools you name with --auto-approve (saved as a
    logged setting).
    """
    from studio.agent.guideline import to_yaml
    from studio.agent.loop import AUTO_APPROVE, approve_action, reject_action
    from studio.agent.tools import agent_tools

    store = c.store()
    if auto:
        tools = agent_tools()
        unknown = sorted(set(auto) - set(tools))
        if unknown:
            raise StudioError(f"unknown tool(s) {', '.join(unknown)}; tools: {', '.join(tools)}")
        store.set_setting(AUTO_APPROVE, sorted(set(auto)), actor=c.actor)
    if store.approved_guideline() is None:
        if not goal:
            raise StudioError('there is no approved guideline: pass --goal "..." or run studio plan first')
        v = _run(c, "plan", {"goal": goal}).version
        while True:
            g, _, _ = store.guideline(v)
            click.echo(to_yaml(g))
            answer = click.prompt(f"Approve guideline v{v}? y(es) / n(o) with a reason").strip().lower()
            if answer.startswith("y"):
                store.decide_guideline(v, c.actor, "approve")
                break
            reason = click.prompt("Why (the agent will revise)")
            v = _run(c, "revise", {"version": v, "reason": reason}).version
    for _ in range(steps):
        pid = _run(c, "agent_propose", {}).proposal_id
        p = store.proposal(pid)
        click.echo(
            f"\nThe agent proposes: {p.payload['tool']} {p.payload['args']}\n  because: {p.payload.get('rationale', '')}"
        )
        if p.payload["tool"] in set(store.get_setting(AUTO_APPROVE, []) or []):
            click.echo("  (auto-approved by your setting)")
        else:
            answer = click.prompt("Run it? y / N / e(dit) / q(uit)", default="", show_default=False).strip().lower()
            if answer.startswith("q"):
                break
            if answer not in ("y", "yes", "e", "edit"):  # only an explicit yes runs it (issue 25)
                ask = answer in ("n", "no")
                why = click.prompt("Why not (the agent will take it into account)") if ask else "no explicit yes"
                reject_action(store, pid, c.actor, why)
                continue
            if answer.startswith("e"):
                import yaml

                edited = click.edit(yaml.safe_dump(p.payload["args"], allow_unicode=True), extension=".yaml")
                approve_action(store, pid, c.actor, args=yaml.safe_load(edited) if edited else p.payload["args"])
            else:
                approve_action(store, pid, c.actor)
        result = _run(
            c, "agent_run", {"proposal_id": pid}, progress=lambda stage, done, total: click.echo(f"  {stage}", err=True)
        )
        click.echo(f"  done: {result.result}")


COMMANDS = [plan, guideline, agent]
