"""Commands: ner (see studio/ops/ner)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
