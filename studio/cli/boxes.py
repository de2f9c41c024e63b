"""Commands: cleanse (see studio/ops/boxes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from studio.cli.common import Ctx, echo_err, emit_json, emit_table, json_option, pass_ctx, stage_progress
from studio.cli.ops import op_command
from studio.errors import StudioError

LIST_COLUMNS = ["id", "status", "check", "fix", "image", "lines", "classes", "detail", "confidence"]


_progress = stage_progress


def _detail(payload: dict[str, Any]) -> str:
    ev = payload.get("evidence") or {}
    bits = []
    for key in ("iou", "best_iou", "area"):
        if key in ev:
            bits.append(f"{key}={ev[key]:.3g}" if isinstance(ev[key], float) else f"{key}={ev[key]}")
    res = payload.get("result")
    if res:
        bits.append(f"-> {res['class']} ({res['cx']:.4g}, {res['cy']:.4g}, {res['w']:.4g}, {res['h']:.4g})")
    return " ".join(bits) or str(ev.get("rule", ""))


def _row(pid: int | None, status: str, payload: dict[str, Any], confidence: float | None) -> dict[str, Any]:
    classes = sorted({str(b.get("class")) for b in payload.get("boxes") or []})
    return {
        "id": pid,
        "status": status,
        "check": payload["check"],
        "fix": payload["fix"],
        "image": payload["image"],
        "lines": ",".join(str(n) for n in payload.get("lines") or []),
        "classes": ",".join(classes),
        "detail": _detail(payload),
        "confidence": confidence,
    }


def _review(c: Ctx, dataset: str) -> dict[str, int]:
    """Show each pending fix with its evidence; a/r/s/q records approve/reject with store.decide."""
    from studio.ops.boxes import fix_proposals

    store = c.store()
    pending = fix_proposals(store, dataset)
    counts = {"approved": 0, "rejected": 0, "skipped": 0}
    if not pending:
        click.echo("No pending box fixes for this dataset.")
        return counts
    for n, p in enumerate(pending, start=1):
        pl = p.payload
        click.echo("")
        click.secho(f"[{n}/{len(pending)}] #{p.id} {pl['check']}: {pl['fix']} in {pl['image']}", bold=True)
        click.echo(f"  rule: {pl['evidence'].get('rule', '')}   confidence: {p.confidence}")
        for b in pl.get("boxes") or []:
            who = f"prediction conf={b['conf']}" if b.get("prediction") else f"line {b['line']}"
            click.echo(f"  box  {who}: {b['class']} cx={b['cx']} cy={b['cy']} w={b['w']} h={b['h']}")
        extra = {k: v for k, v in pl["evidence"].items() if k != "rule"}
        if extra:
            click.echo(f"  evidence: {json.dumps(extra, ensure_ascii=False)}")
        if pl.get("result"):
            r = pl["result"]
            click.echo(f"  after fix: {r['class']} cx={r['cx']} cy={r['cy']} w={r['w']} h={r['h']}")
        try:
            answer = click.prompt(
                "  a)pprove r)eject s)kip q)uit", type=click.Choice(["a", "r", "s", "q"]), show_choices=False
            )
        except click.exceptions.Abort:
            answer = "q"  # end of input: stop, keeping everything decided so far
        if answer == "q":
            break
        if answer == "s":
            counts["skipped"] += 1
            continue
        verb = "accept" if answer == "a" else "reject"
        store.decide(p.id or 0, c.actor, verb, rationale="terminal review")
        counts["approved" if answer == "a" else "rejected"] += 1
    click.echo(
        f"\nApproved {counts['approved']}, rejected {counts['rejected']}, skipped {counts['skipped']}; "
        f"{len(fix_proposals(store, dataset))} still pending."
    )
    return counts


def _show(c: Ctx, pid: int, out: Path | None, as_json: bool) -> None:
    from studio.ops.boxes.preview import preview_proposal

    if out is None:
        raise click.UsageError("--show ID needs -o FILE.png (where to write the picture)")
    if out.suffix.lower() != ".png":
        raise click.UsageError(f"-o {out}: the picture is a PNG; name the file FILE.png")
    preview = preview_proposal(c.store(), pid)
    path = preview.save(out)
    if as_json:
        emit_json(
            {"proposal_id": pid, "png": str(path.resolve()), "size": list(preview.image.size), "note": preview.note}
        )
        return
    click.echo(f"Wrote {path} ({preview.image.width}x{preview.image.height}).")
    if preview.note:
        echo_err(f"note: {preview.note}")


@click.command()
@click.argument("dataset", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["yolo", "coco"]), help="Dataset format (default: coco for .json).")
@click.option("--images", "images_dir", type=click.Path(file_okay=False, path_type=Path), help="COCO images folder.")
@click.option(
    "--predictions",
    type=click.Path(exists=True, path_type=Path),
    help="Model predictions: a folder of YOLO txt files with a conf column, or a COCO results .json.",
)
@click.option(
    "--weights", type=click.Path(path_type=Path), help="Ultralytics weights to predict with (needs ultralytics)."
)
@click.option(
    "--iou-dup",
    type=click.FloatRange(0, 1),
    default=0.999,
    show_default=True,
    help="Same class, IoU >= this: exact duplicate.",
)
@click.option(
    "--iou-near",
    type=click.FloatRange(0, 1),
    default=0.75,
    show_default=True,
    help="Same class, IoU >= this: near duplicate (merge).",
)
@click.option(
    "--iou-conflict",
    type=click.FloatRange(0, 1),
    default=0.95,
    show_default=True,
    help="Different classes, IoU >= this: conflict.",
)
@click.option(
    "--outside-tol-px",
    type=click.FloatRange(0),
    default=2.0,
    show_default=True,
    help="Allowed overhang past the image edge, pixels.",
)
@click.option(
    "--tiny-area",
    type=click.FloatRange(0),
    default=1e-4,
    show_default=True,
    help="Boxes smaller than this fraction of the image are tiny.",
)
@click.option(
    "--match-iou",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="A prediction matches a label at IoU >= this.",
)
@click.option(
    "--loc-iou",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Poor localization: best IoU in [loc-iou, match-iou).",
)
@click.option(
    "--pred-conf",
    type=click.FloatRange(0, 1),
    default=0.25,
    show_default=True,
    help="Ignore predictions below this confidence.",
)
@click.option(
    "--missing-conf",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Unmatched predictions above this are missing boxes.",
)
@click.option(
    "--list",
    "list_only",
    is_flag=True,
    help="List the box fixes of the dataset being cleansed (pending; --all for every status).",
)
@click.option("--all", "all_status", is_flag=True, help="With --list: every status, not only pending.")
@click.option("--approve", "approve_ids", multiple=True, type=int, help="Approve box fix ID (repeatable).")
@click.option("--reject", "reject_ids", multiple=True, type=int, help="Reject box fix ID (repeatable).")
@click.option(
    "--review", is_flag=True, help="Review pending fixes on the terminal: a(pprove), r(eject), s(kip), q(uit)."
)
@click.option(
    "--apply",
    "apply_out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a cleaned copy with the APPROVED fixes to this new folder.",
)
@click.option(
    "--show", "show_id", type=int, help="Draw box fix ID (the image, its boxes, before -> after) to -o FILE.png."
)
@click.option(
    "-o", "--out", "show_out", type=click.Path(dir_okay=False, path_type=Path), help="With --show: the PNG to write."
)
@json_option
@pass_ctx
def cleanse(
    c: Ctx,
    dataset: Path | None,
    fmt: str | None,
    images_dir: Path | None,
    predictions: Path | None,
    weights: Path | None,
    iou_dup: float,
    iou_near: float,
    iou_conflict: float,
    outside_tol_px: float,
    tiny_area: float,
    match_iou: float,
    loc_iou: float,
    pred_conf: float,
    missing_conf: float,
    list_only: bool,
    all_status: bool,
    approve_ids: tuple[int, ...],
    reject_ids: tuple[int, ...],
    review: bool,
    apply_out: Path | None,
    show_id: int | None,
    show_out: Path | None,
    as_json: bool,
) -> None:
    """Check box labels (YOLO or COCO) and propose fixes; a human approves; write a cleaned copy.

    \b
    studio cleanse DATASET            run the checks, list findings, write them as proposals
    studio cleanse --review           approve/reject each pending fix on the terminal
    studio cleanse --apply OUT        write a cleaned copy (approved fixes only) + report
    studio cleanse --list [--all]     list the fixes of the dataset being cleansed
    studio cleanse --show ID -o F.png draw a fix: the image, its boxes, before -> after

    DATASET is a dataset.yaml, a YOLO folder (images/ + labels/), or a COCO JSON file. Checks:
    exact and near duplicates, class conflicts, invalid boxes (NaN, size <= 0, unknown class),
    boxes outside the image, tiny boxes, orphan label files, unlabeled images; with
    --predictions or --weights also missing boxes, spurious labels, class mismatches and poor
    localization. The dataset is never changed in place.
    """
    from studio.ops.boxes import CheckSettings, CleanseOptions, apply_fixes, current_dataset, run_cleanse

    if show_id is not None:
        _show(c, show_id, show_out, as_json)
        return
    if show_out is not None:
        raise click.UsageError("-o/--out goes with --show ID")
    if not (dataset or list_only or review or apply_out or approve_ids or reject_ids):
        raise click.UsageError(
            "pass DATASET to run the checks, or --list, --review, --approve/--reject, --apply OUT, --show ID -o F.png"
        )
    store = c.store()
    out_json: dict[str, Any] = {}
    if dataset:
        settings = CheckSettings(
            iou_dup=iou_dup,
            iou_near=iou_near,
            iou_conflict=iou_conflict,
            outside_tol_px=outside_tol_px,
            tiny_area=tiny_area,
            match_iou=match_iou,
            loc_iou=loc_iou,
            pred_conf=pred_conf,
            missing_conf=missing_conf,
        )
        opts = CleanseOptions(
            dataset=str(dataset),
            format=fmt,  # type: ignore[arg-type]
            images_dir=str(images_dir) if images_dir else None,
            predictions=str(predictions) if predictions else None,
            weights=str(weights) if weights else None,
            settings=settings,
        )
        with _progress() as progress:
            result = run_cleanse(store, opts, progress=progress)
        rows = [
            _row(pid, "pending" if pid else "already proposed", {**f.model_dump(), "lines": f.lines}, f.confidence)
            for f, pid in zip(result.findings, result.proposal_ids, strict=True)
        ]
        out_json = {
            "dataset": result.dataset,
            "format": result.format,
            "batch": result.batch,
            "images": result.images,
            "boxes": result.boxes,
            "counts": result.counts,
            "proposed": result.new,
            "findings": [
                {**f.model_dump(), "proposal_id": pid}
                for f, pid in zip(result.findings, result.proposal_ids, strict=True)
            ],
            "problems": [p.model_dump() | {"where": str(p)} for p in result.problems],
        }
        if not as_json:
            emit_table(rows, LIST_COLUMNS, title=f"Findings in {result.dataset}")
            click.echo(
                f"{result.images} images, {result.boxes} boxes: {len(result.findings)} findings, "
                f"{result.new} new proposals (batch {result.batch})."
            )
            for p in result.problems[:20]:
                echo_err(f"skipped: {p}")
            if len(result.problems) > 20:
                echo_err(f"... and {len(result.problems) - 20} more problems (see --json)")
            if result.new and not (review or apply_out):
                click.echo("Next: studio cleanse --review, then studio cleanse --apply OUT")

    ds_info = current_dataset(store, str(dataset) if dataset else None, fmt)  # type: ignore[arg-type]
    source = ds_info["path"]
    for pid, verb in [(i, "accept") for i in approve_ids] + [(i, "reject") for i in reject_ids]:
        p = store.proposal(pid)
        if p.kind != "box_fix":
            raise StudioError(f"proposal {pid} is a {p.kind} proposal, not a box fix")
        store.decide(pid, c.actor, verb, rationale="command line")
        if not as_json:
            click.echo(f"{'Approved' if verb == 'accept' else 'Rejected'} #{pid}")
    if list_only:
        from studio.ops.boxes import fix_proposals

        props = fix_proposals(store, source, status=None if all_status else "pending")
        rows = [_row(p.id, p.status, p.payload, p.confidence) for p in props]
        if as_json:
            out_json["fixes"] = [p.model_dump() for p in props]
        else:
            emit_table(rows, LIST_COLUMNS, title=f"Box fixes for {source}")
    if review:
        if as_json:
            raise click.UsageError("--review is interactive; use it without --json")
        _review(c, source)
    if apply_out:
        with _progress() as progress:
            res = apply_fixes(
                store,
                apply_out,
                source,
                ds_info.get("format"),
                ds_info.get("images_dir"),
                requested_by=c.actor,
                progress=progress,
            )
        if as_json:
            out_json["apply"] = res.model_dump()
        else:
            r = res.report
            click.echo(
                f"Wrote {res.out}: {len(res.applied)} fixes applied, {len(res.skipped)} skipped; "
                f"images {r['images']['before']} -> {r['images']['after']}, boxes {r['boxes']['before']} -> {r['boxes']['after']}."
            )
            click.echo(f"Report: {res.report_md}")
            for o in res.skipped:
                echo_err(f"skipped #{o['proposal_id']} {o['check']}: {o['reason']}")
    if as_json:
        emit_json(out_json if dataset or apply_out or approve_ids or reject_ids else out_json.get("fixes", []))


COMMANDS = [cleanse, op_command("augment")]
