"""The plug-in point for formats beyond text: a function given the release folder and splits.

An exporter is `fn(store, ctx) -> ExportReport`. It writes only inside `ctx.folder` (the
temporary folder of the release being built; build.py checks every file it reports), may read
the store, and must be deterministic: the same store gives the same bytes. Its files are
listed in the card and hashed in MANIFEST.json like the built-in ones.

The text (NER) formats are built in. Detection (YOLO / COCO from `studio.ops.boxes`) is added
in `exporters_for` once that area lands; nothing here reads boxes.
"""

from __future__ import annotations

from collections.abc import Callable

from studio.ops.release.models import ExportContext, ExportReport
from studio.store import Store

Exporter = Callable[[Store, ExportContext], ExportReport]


def exporters_for(task_type: str) -> list[Exporter]:
    """The extra exporters for a guideline's task type (none yet: NER needs only the built-ins)."""
    return []
