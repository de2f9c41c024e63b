"""Commands: boxes (see studio/ops/boxes)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
