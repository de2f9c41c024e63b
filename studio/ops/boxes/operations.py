"""The box checks as registry operations: `box_cleanse` (findings -> proposals) and `box_apply` (cleaned copy).

(Not `cleanse` / `cleanse_apply`: those names are the flows' older session tools, whose recorded
results the shipped session recordings replay; they can move here when the demo is re-recorded.)

The threshold arguments are `CheckSettings`' own fields (defaults, limits and help declared there
once). `studio cleanse` (a hand-written command: it also lists, reviews and decides) builds its
options from `CleanseArgs` and calls these operations; flows and the agent call them by name.
Dataset paths are marked `record: False`: a session recording keeps the path, not the files (a
detection dataset is a folder of images, far over what a recording may inline).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, create_model

from studio.ops.boxes.apply import ApplyResult, apply_fixes
from studio.ops.boxes.cleanse import CleanseOptions, current_dataset, run_cleanse
from studio.ops.boxes.model import CheckSettings, Format, coco_images_field
from studio.ops.registry import Args, OpContext, Result, operation


class _CleanseBase(Args):
    dataset: str = Field(
        ...,
        description="A dataset.yaml, a YOLO folder (images/ + labels/), or a COCO JSON file.",
        json_schema_extra={"cli": "argument", "path": True, "record": False},
    )
    format: Literal["yolo", "coco"] | None = Field(None, description="Dataset format (default: coco for .json).")
    images: str | None = coco_images_field()
    predictions: str | None = Field(
        None,
        description="Model predictions: a folder of YOLO txt files with a conf column, or a COCO results .json.",
        json_schema_extra={"path": True, "record": False},
    )
    weights: str | None = Field(
        None,
        description="Ultralytics weights to predict with (needs ultralytics).",
        json_schema_extra={"path": True, "record": False},
    )


# The thresholds are CheckSettings' fields, so their defaults and help live in one place.
CleanseArgs = create_model(  # type: ignore[call-overload]
    "CleanseArgs",
    __base__=_CleanseBase,
    **{name: (info.annotation, info) for name, info in CheckSettings.model_fields.items()},
)


class CleanseRunResult(Result):
    dataset: str
    format: Format
    batch: str
    images: int
    boxes: int
    counts: dict[str, int]
    proposed: int
    findings: list[dict[str, Any]]  # each Finding with its proposal_id (None: proposed by an earlier run)
    problems: list[dict[str, Any]]  # unreadable input, each with `where` (file:line)
    predictions: int | None = None

    def summary(self) -> str:
        return (
            f"{self.images} images, {self.boxes} boxes: {len(self.findings)} findings, "
            f"{self.proposed} new proposals (batch {self.batch})."
        )


@operation(
    "box_cleanse",
    args=CleanseArgs,
    result=CleanseRunResult,
    help="Check box labels (YOLO or COCO) and propose a fix for each finding; the dataset is never changed.",
    side_effects=False,  # proposals only: nothing changes until a person approves and applies
)
def cleanse(ctx: OpContext, args: Any) -> CleanseRunResult:
    settings = args.pick(CheckSettings)
    opts = CleanseOptions(
        dataset=str(ctx.path(args.dataset)),
        format=args.format,
        images_dir=str(ctx.path(args.images)) if args.images else None,
        predictions=str(ctx.path(args.predictions)) if args.predictions else None,
        weights=str(ctx.path(args.weights)) if args.weights else None,
        settings=settings,
    )
    res = run_cleanse(ctx.store, opts, progress=ctx.progress)  # type: ignore[arg-type]
    return CleanseRunResult(
        dataset=res.dataset,
        format=res.format,
        batch=res.batch,
        images=res.images,
        boxes=res.boxes,
        counts=res.counts,
        proposed=res.new,
        findings=[
            {**f.model_dump(), "proposal_id": pid} for f, pid in zip(res.findings, res.proposal_ids, strict=True)
        ],
        problems=[p.model_dump() | {"where": str(p)} for p in res.problems],
        predictions=res.predictions,
    )


class CleanseApplyArgs(Args):
    out: str = Field(
        ...,
        description="A new folder for the cleaned copy (outside the dataset).",
        json_schema_extra={"cli": "argument", "path": True, "record": False},
    )
    dataset: str | None = Field(
        None,
        description="The dataset (default: the one being cleansed).",
        json_schema_extra={"path": True, "record": False},
    )
    format: Literal["yolo", "coco"] | None = Field(None, description="Dataset format (default: as cleansed).")
    previews: int = Field(
        200, ge=0, description="Write PNG pictures of at most this many fixes, linked from the report."
    )


@operation(
    "box_apply",
    args=CleanseApplyArgs,
    result=ApplyResult,
    help="Write a cleaned copy of the dataset with the APPROVED box fixes and augmented images, and a report.",
    side_effects=True,
)
def cleanse_apply(ctx: OpContext, args: CleanseApplyArgs) -> ApplyResult:
    info = current_dataset(ctx.store, str(ctx.path(args.dataset)) if args.dataset else None, args.format)
    return apply_fixes(
        ctx.store,
        ctx.path(args.out),
        info["path"],
        args.format or info.get("format"),
        info.get("images_dir"),
        requested_by=ctx.actor,
        progress=ctx.progress,  # type: ignore[arg-type]
        preview_limit=args.previews,
    )
