"""Commands: release (see studio/ops/release)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
