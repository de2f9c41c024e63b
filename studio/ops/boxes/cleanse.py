"""Run the checks on a dataset and write each finding as a `box_fix` proposal.

Nothing changes in the dataset here: findings become pending proposals (actor `tool`), a
`boxes.cleanse.run` decision records the run (dataset, settings, counts), and the setting
`boxes.dataset` remembers which dataset is being cleansed, so `--review` and `--apply` need no
argument. A finding already proposed for the same dataset (same check, image, boxes and fix, in
any status) is not proposed again.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import Field

from studio.errors import StudioError
from studio.ops.boxes.checks import run_checks
from studio.ops.boxes.io import read_dataset, resolve_source
from studio.ops.boxes.matching import model_checks
from studio.ops.boxes.model import BoxDataset, CheckSettings, Finding, Format, Problem
from studio.ops.boxes.predictions import load_predictions, predict_ultralytics
from studio.schema import Model, Proposal
from studio.store import Store

Progress = Callable[[str, int, int], None]
SETTING = "boxes.dataset"


class CleanseOptions(Model):
    dataset: str
    format: Format | None = None
    images_dir: str | None = None
    predictions: str | None = None
    weights: str | None = None
    settings: CheckSettings = Field(default_factory=CheckSettings)


class CleanseResult(Model):
    dataset: str
    format: Format
    batch: str
    images: int
    boxes: int
    findings: list[Finding]
    proposal_ids: list[int | None]  # None: already proposed by an earlier run
    problems: list[Problem]
    counts: dict[str, int]
    predictions: int | None = None

    @property
    def new(self) -> int:
        return sum(1 for p in self.proposal_ids if p is not None)


def finding_key(source: str, f: Finding) -> str:
    body = json.dumps(
        [source, f.check, f.fix, f.target, f.image, f.lines, f.boxes, f.result], sort_keys=True, default=str
    )
    return hashlib.sha1(body.encode("utf-8")).hexdigest()


def run_cleanse(
    store: Store, opts: CleanseOptions, progress: Progress | None = None, dataset: BoxDataset | None = None
) -> CleanseResult:
    """Read the dataset, run every check (and the model checks if given), write proposals."""
    if opts.predictions and opts.weights:
        raise StudioError("pass either --predictions FILE or --weights W.pt, not both")
    ds = dataset or read_dataset(opts.dataset, opts.format, opts.images_dir, progress=progress)
    findings = run_checks(ds, opts.settings)
    problems = list(ds.problems)
    n_preds: int | None = None
    if opts.predictions or opts.weights:
        if opts.predictions:
            preds = load_predictions(opts.predictions, ds)
        else:
            preds = predict_ultralytics(opts.weights, ds, conf=opts.settings.pred_conf, progress=progress)
        problems += preds.problems
        n_preds = preds.count()
        findings += model_checks(ds, preds, opts.settings)

    existing = existing_keys(store, ds.source)
    batch = store.run_id("cleanse")
    fresh: list[tuple[int, Proposal]] = []
    ids: list[int | None] = [None] * len(findings)
    seen: set[str] = set()
    for i, f in enumerate(findings):
        key = finding_key(ds.source, f)
        if key in existing or key in seen:
            continue
        seen.add(key)
        payload: dict[str, Any] = {**f.model_dump(), "dataset": ds.source, "format": ds.format, "key": key}
        payload.pop("confidence")
        fresh.append(
            (
                i,
                Proposal(
                    kind="box_fix", payload=payload, source=f"boxes:{f.check}", confidence=f.confidence, batch=batch
                ),
            )
        )
    counts = dict(sorted(Counter(f.check for f in findings).items()))
    with store.transaction():
        new_ids = store.add_proposals([p for _, p in fresh], actor="tool", rationale="box label checks")
        for (i, _), pid in zip(fresh, new_ids, strict=True):
            ids[i] = pid
        store.record(
            "tool",
            "boxes.cleanse.run",
            [f"dataset:{ds.source}"],
            {
                "dataset": ds.source,
                "format": ds.format,
                "root": ds.root,
                "images_dir": opts.images_dir,
                "predictions": opts.predictions,
                "weights": opts.weights,
                "settings": opts.settings.model_dump(),
                "batch": batch,
                "images": len(ds.images),
                "boxes": ds.box_count(),
                "findings": counts,
                "proposed": len(new_ids),
                "already_proposed": len(findings) - len(new_ids),
                "problems": len(problems),
            },
        )
        store.set_setting(
            SETTING, {"path": ds.source, "format": ds.format, "images_dir": opts.images_dir}, actor="tool"
        )
    return CleanseResult(
        dataset=ds.source,
        format=ds.format,
        batch=batch,
        images=len(ds.images),
        boxes=ds.box_count(),
        findings=findings,
        proposal_ids=ids,
        problems=problems,
        counts=counts,
        predictions=n_preds,
    )


def existing_keys(store: Store, source: str) -> set[str]:
    return {p.payload.get("key", "") for p in fix_proposals(store, source, status=None)}


def fix_proposals(store: Store, source: str | None = None, status: str | None = "pending") -> list[Proposal]:
    """Box-fix proposals (oldest first), for one dataset when `source` is given."""
    props = store.proposals(kind="box_fix", status=status)
    if source is None:
        return props
    return [p for p in props if p.payload.get("dataset") == source]


def current_dataset(store: Store, dataset: str | None = None, format: Format | None = None) -> dict[str, Any]:
    """The dataset given, or the one the last cleanse run recorded."""
    if dataset:
        return {"path": resolve_source(dataset, format), "format": format, "images_dir": None}
    saved = store.get_setting(SETTING)
    if not saved:
        raise StudioError("no dataset is being cleansed yet: run `studio cleanse DATASET` first")
    return dict(saved)
