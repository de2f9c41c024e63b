"""The release operation (registry entry): arguments, result, and the run.

The defaults are `ReleaseOptions`' own (studio/ops/release/models.py), read from there, so they
are written once; the run is `build_release` with the exporters of the guideline's task type.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from studio.ops.registry import Args, OpContext, Result, operation
from studio.ops.release.models import ReleaseOptions, ReleaseResult

_D = ReleaseOptions.model_fields


def parse_split(value: str) -> tuple[float, float, float]:
    """`0.8,0.1,0.1` -> (0.8, 0.1, 0.1); a ValueError that says what to give otherwise."""
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6 or parts[0] <= 0:
        raise ValueError(f"{value!r}: give train,validation,test fractions summing to 1, e.g. 0.8,0.1,0.1")
    return parts  # type: ignore[return-value]


class ReleaseArgs(Args):
    version: str | None = Field(
        None, description="Version X.Y.Z (default: next patch after the newest release; 0.1.0 first)."
    )
    license: str | None = Field(None, description="SPDX id, e.g. CC-BY-4.0 (default: the setting release.license).")
    pii: Literal["redact", "keep"] = Field(
        _D["pii"].default,
        description="Replace emails, phones, IPs, card numbers and IBANs by placeholders, or keep them.",
        json_schema_extra={"agent": False},
    )
    seed: int = Field(
        _D["seed"].default, description="Seed of the split assignment.", json_schema_extra={"agent": False}
    )
    split: str = Field(
        ",".join(f"{x:g}" for x in _D["split"].default), description="train,validation,test fractions.",
        json_schema_extra={"agent": False},
    )  # fmt: skip
    align: Literal["expand", "contract"] = Field(
        _D["align"].default,
        description="How spans off token edges are snapped for spaCy and CoNLL (each one is reported).",
        json_schema_extra={"agent": False},
    )
    synthetic_everywhere: bool = Field(
        not _D["synthetic_to_train"].default,
        description="Let synthetic documents go to validation/test too (default: train only).",
        json_schema_extra={"agent": False},
    )
    exclude_synthetic: bool = Field(
        _D["exclude_synthetic"].default,
        description="Leave synthetic documents (studio synth) out of the release.",
        json_schema_extra={"agent": False},
    )
    boxes: str | None = Field(
        None,
        description="Detection dataset to release (a dataset.yaml, YOLO folder or COCO JSON; its approved fixes are "
        "applied). Default: the newest cleaned copy of the dataset being cleansed, else that dataset with its "
        "approved fixes.",
        json_schema_extra={"path": True, "record": False, "metavar": "DATASET", "agent": False},
    )
    include_partial: bool = Field(
        _D["include_partial"].default,
        description='Also release documents not marked complete in review, marked "complete": false in JSONL '
        "(default: complete documents only, so a missed entity is never taught as a non-entity).",
        json_schema_extra={"agent": False},
    )
    rationale: str = Field(
        _D["rationale"].default, description="Why this release (kept in the decision log).",
        json_schema_extra={"short": "-m", "agent": False},
    )  # fmt: skip

    @field_validator("split")
    @classmethod
    def _split(cls, v: str) -> str:
        parse_split(v)
        return v

    def options(self) -> ReleaseOptions:
        return ReleaseOptions(
            version=self.version, license=self.license, pii=self.pii, seed=self.seed, split=parse_split(self.split),
            align=self.align, synthetic_to_train=not self.synthetic_everywhere,
            exclude_synthetic=self.exclude_synthetic, include_partial=self.include_partial, rationale=self.rationale,
        )  # fmt: skip


class ReleaseOpResult(ReleaseResult, Result):
    def summary(self) -> str:
        lines = [
            f"Released v{self.version} to {self.path}",
            f"  {self.documents} documents, {self.spans} spans; "
            + ", ".join(f"{k} {v}" for k, v in self.split_counts.items()),
            f"  pending proposals left out: {self.pending_left_out}",
        ]
        det = self.extra.get("exporter_counts", {}).get("detection")
        if det:
            lines.append(
                f"  detection: {det['images']} images, {det['boxes']} boxes, {det['classes']} classes; "
                f"train {det['train']}, val {det['val']}, test {det['test']}; pending box fixes: {det['pending_fixes']}"
            )
        found = sum(self.pii_found.values())
        lines.append(f"  PII found: {found} ({self.pii_mode})" + (f" {self.pii_found}" if found else ""))
        if self.misaligned or self.dropped_overlaps:
            lines.append(
                f"  spans off token edges: {self.misaligned}, overlapping spans left out of ents/CoNLL: "
                f"{self.dropped_overlaps} (see release.json)"
            )
        lines.append(f"  manifest sha256: {self.manifest_sha256}")
        return "\n".join(lines)


HELP = """Write releases/vX.Y.Z/ from human-approved labels of complete documents only.

The folder holds data/<split>.jsonl (loadable by Hugging Face datasets), spacy/<split>.spacy,
conll/<split>.conll, a dataset card README.md, LICENSE, release.json and MANIFEST.json
(sha256 of every file). When the project has a box dataset (see `studio cleanse`), also
detection/yolo/ (images, labels, dataset.yaml) and detection/coco/<split>.json, with
human-approved box fixes only. Only documents a person marked done in review (`d`) are released,
unless --include-partial; withdrawn documents never. Pending proposals are left out and counted in
the card, with complete / partial / untouched documents per split. Splits are
seeded, stratified by label, and keep duplicates and near duplicates in one split. The same
project state always gives the same bytes. The release is recorded as your decision.
"""


@operation("release", args=ReleaseArgs, result=ReleaseOpResult, help=HELP)
def release(ctx: OpContext, args: ReleaseArgs) -> ReleaseOpResult:
    from studio.ops.release.build import build_release
    from studio.ops.release.plugins import exporters_for

    approved = ctx.store.approved_guideline()
    task_type = approved[0].task_type if approved else "ner"  # without one build_release refuses anyway
    boxes = str(ctx.path(args.boxes)) if args.boxes else None
    exporters = exporters_for(task_type, boxes=boxes, progress=ctx.progress)  # type: ignore[arg-type]
    result = build_release(ctx.store, args.options(), ctx.actor, progress=ctx.progress, exporters=exporters)  # type: ignore[arg-type]
    return ReleaseOpResult.model_validate(result.model_dump())
