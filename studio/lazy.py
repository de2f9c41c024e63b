"""Lazy package exports: a package names what it offers without importing it at start-up.

`studio --help` imports every operation's declaration, and a declaration imports its package;
an `__init__` that imported its whole API (numpy, rapidfuzz, Pillow, ...) made every command
pay for every library. With `exports`, `from studio.ops.ner import score` still works: the
submodule is imported on first use of the name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, given {name: submodule (relative, without dot)}."""

    def getattr_(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def dir_() -> list[str]:
        return sorted(names)

    return getattr_, dir_
