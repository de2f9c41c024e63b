"""The agent layer, imported on first use.

`studio.agent` pulls in the LLM seam (LangChain, about a second to import), which the
review screens never need; importing it lazily keeps the first paint fast.
"""

from __future__ import annotations

from types import ModuleType


def guideline() -> ModuleType:
    from studio.agent import guideline as module

    return module


def loop() -> ModuleType:
    from studio.agent import loop as module

    return module


def warm_up() -> None:
    loop()
    guideline()
