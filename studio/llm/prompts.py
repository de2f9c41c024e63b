"""Prompt templates: files in `prompts/` named NAME.vN.jinja, loaded by name.

A template defines `{% block system %}` and `{% block user %}`; rendering gives chat messages.
The newest version is used unless one is asked for; the name and version go into every
LLM call's operation, so a recording says which prompt made it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from studio.errors import StudioError
from studio.llm.request import Message

_FILE_RE = re.compile(r"^(?P<name>[a-z0-9_]+)\.v(?P<version>\d+)\.jinja$")


def prompt_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent.parent
    return [p for p in (here.parent / "prompts", here / "_data" / "prompts") if p.is_dir()]


def available() -> dict[str, list[int]]:
    found: dict[str, set[int]] = {}
    for d in prompt_dirs():
        for f in d.iterdir():
            m = _FILE_RE.match(f.name)
            if m:
                found.setdefault(m["name"], set()).add(int(m["version"]))
    return {k: sorted(v) for k, v in sorted(found.items())}


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    template: jinja2.Template

    @property
    def id(self) -> str:
        return f"{self.name}.v{self.version}"

    def render(self, **context: Any) -> list[Message]:
        ctx = self.template.new_context(context)
        messages: list[Message] = []
        for role in ("system", "user"):
            block = self.template.blocks.get(role)
            if block is None:
                continue
            text = "".join(block(ctx)).strip()
            if text:
                messages.append({"role": role, "content": text})
        if not messages:
            raise StudioError(f"prompt {self.id} has no system or user block")
        return messages


@cache
def _env(dirs: tuple[Path, ...]) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        undefined=jinja2.StrictUndefined,  # a missing variable is an error, not an empty string
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def load_prompt(name: str, version: int | None = None) -> Prompt:
    versions = available().get(name)
    if not versions:
        raise StudioError(f"no prompt template named {name!r} in {', '.join(map(str, prompt_dirs())) or 'prompts/'}")
    v = version if version is not None else versions[-1]
    if v not in versions:
        raise StudioError(f"prompt {name!r} has versions {versions}, not {v}")
    env = _env(tuple(prompt_dirs()))
    return Prompt(name, v, env.get_template(f"{name}.v{v}.jinja"))
