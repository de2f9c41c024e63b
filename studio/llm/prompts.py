"""Prompt templates: files in `prompts/` named NAME.vN.jinja, loaded by name.

A template defines `{% block system %}` and `{% block user %}` (or `{% extends %}` one that does); rendering gives
chat messages.

Versions are pinned, never "the newest file": `PINNED` names the version each operation uses
(its settings default to it, and a session's header records it), so adding `ner.v3.jinja`
changes nothing until PINNED or an operation's setting says v3. A replay runs under
`use_prompts(the recording's versions)`, so an old recording keeps the prompts it was made with.
A prompt may be pinned differently for guidelines in one language (`LANGUAGE_PINNED`, recorded as
"ner@en"); a recording made before such a pin replays with the version it recorded for the prompt itself.
The name and version go into every LLM call's operation, so a recording says which prompt made it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from studio.errors import StudioError
from studio.llm.request import Message
from studio.schema import language_code

_FILE_RE = re.compile(r"^(?P<name>[a-z0-9_]+)\.v(?P<version>\d+)\.jinja$")
# The version of each prompt that operations use. Adopt a new version here (and re-record the
# sessions whose requests it changes).
PINNED: dict[str, int] = {"agent": 2, "guideline": 2, "ner": 2, "synth": 2}
# Where a language has its own pin: English NER uses the compact answer (ner.v4; docs/ner.md, "Prompt versions"),
# Korean v2's request with the verify pass and the number patterns (ner.v5).
LANGUAGE_PINNED: dict[str, dict[str, int]] = {"ner": {"en": 4, "ko": 5}}
_override: ContextVar[dict[str, int] | None] = ContextVar("studio_prompt_versions", default=None)


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
        for _ in self.template.root_render_func(ctx):  # a template that {% extends %} another gets its blocks
            pass
        messages: list[Message] = []
        for role in ("system", "user"):
            blocks = ctx.blocks.get(role)
            if not blocks:
                continue
            text = "".join(blocks[0](ctx)).strip()
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


def prompt_version(name: str, language: str | None = None) -> int:
    """The version operations use for `name` (for a guideline in `language`): a replay's recorded one,
    else the pinned one."""
    override = _override.get() or {}
    lang = language_code(language)
    if lang is not None and lang in LANGUAGE_PINNED.get(name, {}):
        key = f"{name}@{lang}"
        if key in override:
            return override[key]
        if name in override:  # a recording made before this language had its own pin
            return override[name]
        return LANGUAGE_PINNED[name][lang]
    if name in override:
        return override[name]
    if name not in PINNED:
        raise StudioError(f"no pinned version for the prompt {name!r}; add it to PINNED in studio/llm/prompts.py")
    return PINNED[name]


def pinned_versions() -> dict[str, int]:
    """What a session header records: every pinned prompt with the version in effect, and the
    per-language pins as "name@lang"."""
    out = {name: prompt_version(name) for name in sorted(PINNED)}
    for name, langs in sorted(LANGUAGE_PINNED.items()):
        for lang in sorted(langs):
            out[f"{name}@{lang}"] = prompt_version(name, lang)
    return out


@contextlib.contextmanager
def use_prompts(versions: dict[str, int]) -> Iterator[None]:
    """Run with these prompt versions in place of the pinned ones (a replay of an old recording)."""
    token = _override.set({**(_override.get() or {}), **versions})
    try:
        yield
    finally:
        _override.reset(token)


def load_prompt(name: str, version: int | None = None) -> Prompt:
    """The template `name` at `version` (default: `prompt_version(name)`, never simply the newest)."""
    versions = available().get(name)
    if not versions:
        raise StudioError(f"no prompt template named {name!r} in {', '.join(map(str, prompt_dirs())) or 'prompts/'}")
    v = version if version is not None else prompt_version(name)
    if v not in versions:
        raise StudioError(f"prompt {name!r} has versions {versions}, not {v}")
    env = _env(tuple(prompt_dirs()))
    return Prompt(name, v, env.get_template(f"{name}.v{v}.jinja"))
