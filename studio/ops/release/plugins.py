"""The plug-in point for formats beyond text: a function given the release folder and splits.

An exporter is `fn(store, ctx) -> ExportReport`. It writes only inside `ctx.folder` (the
temporary folder of the release being built; build.py checks every file it reports), may read
the store, and must be deterministic: the same store gives the same bytes. Its files are
listed in the card and hashed in MANIFEST.json like the built-in ones.

The text (NER) formats are built in. Detection (YOLO / COCO, `detection.py`) runs for every task
type: it writes nothing when the project has no box dataset, and refuses a detection project
without one.
"""

from __future__ import annotations

from collections.abc import Callable

from studio.ops.release.models import ExportContext, ExportReport, Progress
from studio.store import Store

Exporter = Callable[[Store, ExportContext], ExportReport]


def exporters_for(task_type: str, boxes: str | None = None, progress: Progress | None = None) -> list[Exporter]:
    """The extra exporters for a guideline's task type; `boxes` names the detection dataset explicitly."""
    from studio.ops.release.detection import detection_exporter

    return [detection_exporter(boxes, progress)]
