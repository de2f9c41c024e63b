"""Commands: active (see studio/ops/active)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
