"""The `studio` command line. With no command it opens the app; every operation is also headless.

Commands live in modules of this package, each exposing `COMMANDS`; they import heavy
libraries inside the command, so `studio --help` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from studio import __version__
from studio.cli.common import Ctx
from studio.errors import StudioError

# Modules whose COMMANDS are added to the group. Add a module here to add its commands.
COMMAND_MODULES = [
    "studio.cli.project",
    "studio.cli.llm",
    "studio.cli.agent",
    "studio.cli.review",
    "studio.cli.flows",
    "studio.cli.app",
    "studio.cli.synth",
    "studio.cli.collect",
    "studio.cli.ner",
    "studio.cli.boxes",
    "studio.cli.active",
    "studio.cli.release",
    "studio.cli.integrity",
    "studio.cli.team",
]


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    "-p",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="STUDIO_PROJECT",
    help="Project folder (default: the current folder, or $STUDIO_PROJECT).",
)
@click.option(
    "--llm",
    default=None,
    envvar="STUDIO_LLM",
    help="Model to use: local | openai:MODEL | http://HOST:PORT/v1#MODEL | replay:SESSION.jsonl "
    "(default: local unless OPENAI_API_KEY is set).",
)
@click.option("--user", default=None, help="Your name in the decision log (default: $STUDIO_USER or your login).")
@click.version_option(__version__, prog_name="studio")
@click.pass_context
def cli(ctx: click.Context, project: Path | None, llm: str | None, user: str | None) -> None:
    """Studio: build a labeled dataset with an LLM agent, and stay in charge.

    A person states a goal; the agent drafts a labeling guideline and proposes work
    (collect, weak-label, cleanse, query, release). Nothing it proposes becomes data until
    a human approves it, and every decision is logged in the project's store.

    Run `studio` with no command to open the app on the project in the current folder.
    """
    c = Ctx(project=(project or Path(os.getcwd())).expanduser().resolve(), llm=llm)
    if user:
        c.user = "".join(ch for ch in user if not ch.isspace()) or c.user
    ctx.obj = c
    ctx.call_on_close(c.close)
    if ctx.invoked_subcommand is None:
        app_cmd = cli.get_command(ctx, "app")
        if app_cmd is None:
            click.echo(ctx.get_help())
            return
        ctx.invoke(app_cmd)


def _register() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one line and exit non-zero, never a traceback."""
    try:
        cli.main(args=argv, prog_name="studio", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except StudioError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
