"""The `app` command: the terminal app on the project (what `studio` with no command runs)."""

from __future__ import annotations

import sys

import click

from studio.cli.common import Ctx, pass_ctx
from studio.errors import ProjectNotFound
from studio.store import DB_NAME, Store

SCREEN_NAMES = ["goal", "guideline", "agent", "review", "boxes", "query", "log", "release", "adjudicate"]


@click.command()
@click.option(
    "--screen",
    type=click.Choice(SCREEN_NAMES),
    default=None,
    help="Screen to open first (default: the first step not done yet).",
)
@click.option(
    "--images",
    type=click.Choice(["auto", "sixel", "tgp", "halfcell", "unicode", "off"]),
    default=None,
    help="How pictures are drawn: auto asks the terminal (Kitty/Sixel graphics, else unicode half-blocks, "
    "which work over SSH). Default: $STUDIO_IMAGES or auto.",
)
@pass_ctx
def app(c: Ctx, screen: str | None, images: str | None) -> None:
    """Open the terminal app: goal, guideline, agent, review queues, log and release.

    Keys 1-8 switch screens, ? shows a screen's keys, ctrl+p finds any command, ctrl+q quits.
    With no project in the folder, it offers to create one (when run in a terminal).
    """
    if not (c.project / DB_NAME).is_file():
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        if not interactive or not click.confirm(f"No Studio project in {c.project}. Create one here?", default=True):
            raise ProjectNotFound(
                f"no Studio project in {c.project}: run `studio init {c.project}` or pass --project DIR"
            )
        Store.init(c.project).close()
        click.echo(f"Created project in {c.project}")
    from studio.tui.app import make_app

    make_app(c.project, llm=c.llm, user=c.user, screen=screen, images=images).run()


COMMANDS = [app]
