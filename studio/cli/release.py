"""Commands: release, releases, why (see studio/ops/release)."""

from __future__ import annotations

import re
import sys

import click

from studio.cli.common import Ctx, emit_json, emit_table, json_option, pass_ctx, stage_progress
from studio.errors import StudioError


def _parse_split(value: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6 or parts[0] <= 0:
        raise click.BadParameter(f"{value!r}: give train,validation,test fractions summing to 1, e.g. 0.8,0.1,0.1")
    return parts  # type: ignore[return-value]


_progress = stage_progress


@click.command()
@click.option("--version", "version", help="Version X.Y.Z (default: next patch after the newest release; 0.1.0 first).")
@click.option("--license", "license_id", help="SPDX id, e.g. CC-BY-4.0 (default: the setting release.license).")
@click.option(
    "--pii",
    type=click.Choice(["redact", "keep"]),
    default="redact",
    show_default=True,
    help="Replace emails, phones, IPs, card numbers and IBANs by placeholders, or keep them.",
)
@click.option("--seed", type=int, default=13, show_default=True, help="Seed of the split assignment.")
@click.option("--split", "split", default="0.8,0.1,0.1", show_default=True, help="train,validation,test fractions.")
@click.option(
    "--align",
    type=click.Choice(["expand", "contract"]),
    default="expand",
    show_default=True,
    help="How spans off token edges are snapped for spaCy and CoNLL (each one is reported).",
)
@click.option(
    "--synthetic-everywhere",
    is_flag=True,
    help="Let synthetic documents go to validation/test too (default: train only).",
)
@click.option("--exclude-synthetic", is_flag=True, help="Leave synthetic documents (studio synth) out of the release.")
@click.option(
    "--boxes",
    "boxes",
    metavar="DATASET",
    help="Detection dataset to release (a dataset.yaml, YOLO folder or COCO JSON; its approved fixes are applied). "
    "Default: the newest cleaned copy of the dataset being cleansed, else that dataset with its approved fixes.",
)
@click.option("--rationale", "-m", default="", help="Why this release (kept in the decision log).")
@json_option
@pass_ctx
def release(
    c: Ctx,
    version: str | None,
    license_id: str | None,
    pii: str,
    seed: int,
    split: str,
    align: str,
    synthetic_everywhere: bool,
    exclude_synthetic: bool,
    boxes: str | None,
    rationale: str,
    as_json: bool,
) -> None:
    """Write releases/vX.Y.Z/ from human-approved labels only.

    The folder holds data/<split>.jsonl (loadable by Hugging Face datasets), spacy/<split>.spacy,
    conll/<split>.conll, a dataset card README.md, LICENSE, release.json and MANIFEST.json
    (sha256 of every file). When the project has a box dataset (see `studio cleanse`), also
    detection/yolo/ (images, labels, dataset.yaml) and detection/coco/<split>.json, with
    human-approved box fixes only. Pending proposals are left out and counted in the card. Splits are
    seeded, stratified by label, and keep duplicates and near duplicates in one split. The same
    project state always gives the same bytes. The release is recorded as your decision.
    """
    from studio.ops.release import ReleaseOptions, build_release, licenses
    from studio.ops.release.build import LICENSE_SETTING
    from studio.ops.release.plugins import exporters_for

    store = c.store()
    if not license_id and not store.get_setting(LICENSE_SETTING):
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise StudioError("the release has no license: pass --license SPDX (e.g. CC-BY-4.0)")
        license_id = click.prompt("License for this dataset (SPDX id, e.g. CC-BY-4.0)", err=True).strip()
        licenses.normalize(license_id)
    opts = ReleaseOptions(
        version=version,
        license=license_id,
        pii=pii,  # type: ignore[arg-type]
        seed=seed,
        split=_parse_split(split),
        align=align,  # type: ignore[arg-type]
        synthetic_to_train=not synthetic_everywhere,
        exclude_synthetic=exclude_synthetic,
        rationale=rationale,
    )
    approved = store.approved_guideline()
    task_type = approved[0].task_type if approved else "ner"  # without one build_release refuses anyway
    with _progress() as progress:
        exporters = exporters_for(task_type, boxes=boxes, progress=progress)  # type: ignore[arg-type]
        result = build_release(store, opts, c.actor, progress=progress, exporters=exporters)  # type: ignore[arg-type]
    if as_json:
        emit_json(result.model_dump())
        return
    click.echo(f"Released v{result.version} to {result.path}")
    click.echo(
        f"  {result.documents} documents, {result.spans} spans; "
        + ", ".join(f"{k} {v}" for k, v in result.split_counts.items())
    )
    click.echo(f"  pending proposals left out: {result.pending_left_out}")
    det = result.extra.get("exporter_counts", {}).get("detection")
    if det:
        click.echo(
            f"  detection: {det['images']} images, {det['boxes']} boxes, {det['classes']} classes; "
            f"train {det['train']}, val {det['val']}, test {det['test']}; pending box fixes: {det['pending_fixes']}"
        )
    found = sum(result.pii_found.values())
    click.echo(f"  PII found: {found} ({result.pii_mode})" + (f" {result.pii_found}" if found else ""))
    if result.misaligned or result.dropped_overlaps:
        click.echo(
            f"  spans off token edges: {result.misaligned}, overlapping spans left out of ents/CoNLL: "
            f"{result.dropped_overlaps} (see release.json)"
        )
    click.echo(f"  manifest sha256: {result.manifest_sha256}")


@click.command()
@json_option
@pass_ctx
def releases(c: Ctx, as_json: bool) -> None:
    """List the releases of this project (from the decision log)."""
    rows = []
    for d in c.store().decisions(action="release.create"):
        p = d.payload
        rows.append(
            {
                "version": p.get("version"),
                "ts": d.ts,
                "actor": d.actor,
                "documents": p.get("documents"),
                "spans": p.get("spans"),
                "license": p.get("license"),
                "guideline": p.get("guideline_version"),
                "path": p.get("path"),
                "manifest_sha256": p.get("manifest_sha256"),
            }
        )
    emit_table(
        rows, ["version", "ts", "actor", "documents", "spans", "license", "guideline", "path"], "Releases", as_json
    )


_RANGE_RE = re.compile(r"([0-9]+):([0-9]+)")


@click.command()
@click.argument("doc", type=int)
@click.argument("span_range", metavar="[START:END]", required=False)
@json_option
@pass_ctx
def why(c: Ctx, doc: int, span_range: str | None, as_json: bool) -> None:
    """Show why DOC's labels are in the data: the human decision, the proposal, the LLM call.

    With START:END, only the label at those character offsets.
    """
    from studio.ops.release.lineage import render
    from studio.ops.release.lineage import why as lineage

    start = end = None
    if span_range is not None:
        m = _RANGE_RE.fullmatch(span_range)
        if m is None:
            raise click.BadParameter(f"{span_range!r}: give character offsets as START:END, e.g. 10:17")
        start, end = int(m.group(1)), int(m.group(2))
    chains = lineage(c.store(), doc, start, end)
    if as_json:
        emit_json(chains)
    else:
        click.echo(render(chains))


COMMANDS: list[click.Command] = [release, releases, why]
