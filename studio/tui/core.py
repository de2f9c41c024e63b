"""Heavy layers, imported on first use and once.

`studio.agent` pulls in the LLM seam (LangChain, about a second to import), which the
review screens never need; importing it lazily keeps the first paint fast.

spaCy (with thinc, which imports torch) takes seconds to import, and two worker threads
importing it at the same time can fail with "partially initialized module" (its compiled
modules import each other). Every worker that may import it calls `spacy()` first: one thread
imports, the others wait for it.
"""

from __future__ import annotations

import threading
from types import ModuleType

_SPACY_LOCK = threading.Lock()


def spacy() -> ModuleType:
    with _SPACY_LOCK:
        import spacy as module
        import spacy.tokens  # DocBin, Doc: what the release and the tokenizer use

        return module


def guideline() -> ModuleType:
    from studio.agent import guideline as module

    return module


def loop() -> ModuleType:
    from studio.agent import loop as module

    return module


def warm_up() -> None:
    spacy()
    loop()
    guideline()
