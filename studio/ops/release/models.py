"""Inputs and outputs of a release, as pydantic models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from studio.schema import Span

SPLITS = ("train", "validation", "test")
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class ReleaseOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str | None = None  # None: next patch after the newest release
    license: str | None = None  # SPDX id; None: the setting `release.license`
    pii: Literal["redact", "keep"] = "redact"
    seed: int = 13
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    align: Literal["expand", "contract"] = "expand"
    synthetic_to_train: bool = True
    exclude_synthetic: bool = False  # leave documents made by `studio synth` out of the release
    near_dup_threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    include_partial: bool = False  # also documents not marked complete (marked "complete": false)
    rationale: str = ""

    @field_validator("split")
    @classmethod
    def _fractions(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(f < 0 for f in v) or abs(sum(v) - 1.0) > 1e-6 or v[0] <= 0:
            raise ValueError(f"split fractions must be >= 0, train > 0, and sum to 1 (got {v})")
        return v


class ReleaseDoc(BaseModel):
    """One document as it goes into the release (text possibly redacted, spans shifted)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    text: str
    lang: str
    source: str
    content_hash: str
    synthetic: bool = False
    spans: list[Span] = Field(default_factory=list)
    complete: bool = True  # a person marked the document done (document.complete)


class ExportContext(BaseModel):
    """What a format plug-in gets: the folder being written and the split of every document."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    folder: Path
    version: str
    task_type: str
    lang: str
    splits: dict[int, str]  # document id -> train | validation | test
    seed: int
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train, validation, test fractions (for non-text items)
    synthetic_to_train: bool = True  # synthetic items (e.g. augmented images) go to train only
    exclude_synthetic: bool = False  # leave synthetic items out


class ExportReport(BaseModel):
    """What a plug-in wrote, for the card and release.json. Paths are relative to the folder."""

    model_config = ConfigDict(extra="forbid")

    name: str
    files: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)  # structured figures for the card and release.json


class ReleaseResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    path: str
    decision_id: int
    manifest_sha256: str
    documents: int
    spans: int
    split_counts: dict[str, int]
    pending_left_out: int
    pii_found: dict[str, int]
    pii_mode: str
    misaligned: int
    dropped_overlaps: int
    files: list[str]
    extra: dict[str, Any] = Field(default_factory=dict)
