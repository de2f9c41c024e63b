"""Every `studio COMMAND` the app names (hints, help, footers, messages) is a real command.

The app's texts are string constants in `studio/tui`; the messages it shows from the core
(refusals, errors that say what to do next) are string constants in the rest of `studio/`.
Each `studio WORD` in them must be a command of the CLI group, and `studio GROUP WORD` a
command of that group, so a person who follows a hint never meets "No such command".
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest

from studio.cli import cli

ROOT = Path(__file__).resolve().parent.parent / "studio"
# "studio" as a word, followed by a command name (not studio.tui, not a path like studio/ops)
MENTION = re.compile(r"(?<![\w./-])studio ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")
# Prose that is not a command: "the studio with the ..." and the like.
# Commands another branch is adding this round and the core names already: skipped while they
# are missing, checked like the others once they exist.
PLANNED = {"studio guideline new"}  # issue 19 item 5 (branch review-core)
PROSE = {"with", "where", "in", "is", "and", "or", "the", "that", "which", "to", "a", "an", "of", "for"}


def mentions_in(path: Path, name: str) -> list[tuple[str, int, str, str | None]]:
    """(name, line, command, next word) for every `studio WORD` in the file's string constants."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out += [(name, node.lineno, m.group(1), m.group(2)) for m in MENTION.finditer(node.value)]
    return out


def mentions(root: Path) -> list[tuple[str, int, str, str | None]]:
    return [m for path in sorted(root.rglob("*.py")) for m in mentions_in(path, str(path.relative_to(ROOT.parent)))]


def exists(name: str, sub: str | None) -> bool:
    cmd = cli.commands.get(name)
    return cmd is not None and (sub is None or not isinstance(cmd, click.Group) or sub in cmd.commands)


def unknown(found: list[tuple[str, int, str, str | None]]) -> list[str]:
    bad = []
    for where, line, name, sub in found:
        if name in PROSE:
            continue
        cmd = cli.commands.get(name)
        if (f"studio {name} {sub}" in PLANNED or f"studio {name}" in PLANNED) and not exists(name, sub):
            continue
        if cmd is None:
            bad.append(f"{where}:{line}: studio {name} (no such command)")
        elif isinstance(cmd, click.Group) and sub is not None and sub not in cmd.commands:
            bad.append(f"{where}:{line}: studio {name} {sub} (no such command in {name}: {', '.join(cmd.commands)})")
    return bad


def test_the_app_names_only_real_commands() -> None:
    found = mentions(ROOT / "tui")
    assert len(found) >= 5, "the walk found too little: the pattern is broken"
    assert unknown(found) == []


@pytest.mark.parametrize("package", ["ops", "cli", "agent", "store", "llm", "flows"])
def test_messages_the_app_shows_from_the_core_name_real_commands(package: str) -> None:
    if not (ROOT / package).is_dir():
        pytest.skip(f"studio/{package} does not exist")
    assert unknown(mentions(ROOT / package)) == []


def test_the_check_catches_a_wrong_hint(tmp_path: Path) -> None:
    bad = tmp_path / "hint.py"
    bad.write_text('HINT = "Run `studio boxes check DATASET` first."\nOK = "run `studio guideline approve`"\n')
    assert unknown(mentions_in(bad, bad.name)) == ["hint.py:1: studio boxes (no such command)"]
