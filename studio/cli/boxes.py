"""Commands: cleanse (see studio/ops/boxes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from studio.cli.common import Ctx, echo_err, emit_json, emit_table, pass_ctx, stage_progress
from studio.cli.ops import LazyCommand, _cli_values, _project_path, json_flag, op_command, params_for
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
    if "recipe" in payload:  # an augmented image (studio augment)
        r = payload["recipe"]
        detail = f"seed {r.get('seed')}" + (f", crop from {r['paste_from']}" if r.get("paste_from") else "")
        return {
            "id": pid, "status": status, "check": "augment", "fix": r.get("transform"),
            "image": payload.get("source_image"), "lines": "", "classes": ",".join(payload.get("classes") or []),
            "detail": detail, "confidence": confidence,
        }  # fmt: skip
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


CLEANSE_HELP = """Check box labels (YOLO or COCO) and propose fixes; a human approves; write a cleaned copy.

\b
studio cleanse DATASET            run the checks, list findings, write them as proposals
studio cleanse --review           approve/reject each pending fix on the terminal
studio cleanse --apply OUT        write a cleaned copy (approved fixes and augmented images) + report
studio cleanse --list [--all]     list the fixes (and augmented images) of the dataset being cleansed
studio cleanse --show ID -o F.png draw a fix: the image, its boxes, before -> after

DATASET is a dataset.yaml, a YOLO folder (images/ + labels/), or a COCO JSON file. Checks:
exact and near duplicates, class conflicts, invalid boxes (NaN, size <= 0, unknown class),
boxes outside the image, tiny boxes, orphan label files, unlabeled images; with
--predictions or --weights also missing boxes, spurious labels, class mismatches and poor
localization. The dataset is never changed in place. `studio augment` proposals (new images
for thin classes) are listed, shown, approved and applied the same way.
"""

EXTRA_OPTIONS = [
    click.Option(["--list", "list_only"], is_flag=True,
                 help="List the box fixes of the dataset being cleansed (pending; --all for every status)."),
    click.Option(["--all", "all_status"], is_flag=True, help="With --list: every status, not only pending."),
    click.Option(["--approve", "approve_ids"], multiple=True, type=int, help="Approve box fix ID (repeatable)."),
    click.Option(["--reject", "reject_ids"], multiple=True, type=int, help="Reject box fix ID (repeatable)."),
    click.Option(["--review"], is_flag=True,
                 help="Review pending fixes on the terminal: a(pprove), r(eject), s(kip), q(uit)."),
    click.Option(["--apply", "apply_out"], type=click.Path(file_okay=False, path_type=Path),
                 help="Write a cleaned copy with the APPROVED fixes to this new folder."),
    click.Option(["--show", "show_id"], type=int,
                 help="Draw box fix ID (the image, its boxes, before -> after) to -o FILE.png."),
    click.Option(["-o", "--out", "show_out"], type=click.Path(dir_okay=False, path_type=Path),
                 help="With --show: the PNG to write."),
    json_flag(),
]  # fmt: skip


def _cleanse_params() -> list[click.Parameter]:
    from studio.ops.boxes.operations import CleanseArgs

    params = params_for(CleanseArgs)
    for p in params:
        if p.name == "dataset":
            p.required = False  # --list, --review, --apply, --show work on the dataset being cleansed
    return [*params, *EXTRA_OPTIONS]


@pass_ctx
def _cleanse(
    c: Ctx,
    list_only: bool,
    all_status: bool,
    approve_ids: tuple[int, ...],
    reject_ids: tuple[int, ...],
    review: bool,
    apply_out: Path | None,
    show_id: int | None,
    show_out: Path | None,
    as_json: bool,
    **check_values: Any,
) -> None:
    from studio.ops import registry
    from studio.ops.boxes import current_dataset
    from studio.ops.boxes.operations import CleanseArgs
    from studio.ops.registry import OpContext

    if show_id is not None:
        _show(c, show_id, show_out, as_json)
        return
    if show_out is not None:
        raise click.UsageError("-o/--out goes with --show ID")
    dataset = check_values.get("dataset")
    if not (dataset or list_only or review or apply_out or approve_ids or reject_ids):
        raise click.UsageError(
            "pass DATASET to run the checks, or --list, --review, --approve/--reject, --apply OUT, --show ID -o F.png"
        )
    store = c.store()
    out_json: dict[str, Any] = {}
    if dataset:
        args = CleanseArgs.model_validate(_cli_values(CleanseArgs, check_values, c))
        with _progress() as update:
            result = registry.run("box_cleanse", args, OpContext(store=store, actor=c.actor, progress=update))
        out_json = result.model_dump(mode="json")
        if not as_json:
            rows = [_row(f["proposal_id"] or None, "pending" if f["proposal_id"] else "already proposed", f,
                         f["confidence"]) for f in result.findings]  # fmt: skip
            emit_table(rows, LIST_COLUMNS, title=f"Findings in {result.dataset}")
            click.echo(result.summary())
            for p in result.problems[:20]:
                echo_err(f"skipped: {p['where']}")
            if len(result.problems) > 20:
                echo_err(f"... and {len(result.problems) - 20} more problems (see --json)")
            if result.proposed and not (review or apply_out):
                click.echo("Next: studio cleanse --review, then studio cleanse --apply OUT")

    fmt = check_values.get("format")
    ds_info = current_dataset(store, str(Path(dataset).expanduser().resolve()) if dataset else None, fmt)
    source = ds_info["path"]
    for pid, verb in [(i, "accept") for i in approve_ids] + [(i, "reject") for i in reject_ids]:
        p = store.proposal(pid)
        if p.kind not in ("box_fix", "box_augment"):
            raise StudioError(f"proposal {pid} is a {p.kind} proposal, not a box fix or an augmented image")
        store.decide(pid, c.actor, verb, rationale="command line")
        if not as_json:
            click.echo(f"{'Approved' if verb == 'accept' else 'Rejected'} #{pid}")
    if list_only:
        props = _listed(store, source, None if all_status else "pending")
        if as_json:
            out_json["fixes"] = [p.model_dump(mode="json") for p in props]
        else:
            emit_table([_row(p.id, p.status, p.payload, p.confidence) for p in props], LIST_COLUMNS,
                       title=f"Box fixes and augmented images for {source}")  # fmt: skip
    if review:
        if as_json:
            raise click.UsageError("--review is interactive; use it without --json")
        _review(c, source)
    if apply_out:
        apply_args = {
            "out": _project_path(str(apply_out), c.project),
            "format": fmt,
            "dataset": _project_path(str(dataset), c.project) if dataset else None,
        }
        with _progress() as update:
            res = registry.run("box_apply", apply_args, OpContext(store=store, actor=c.actor, progress=update))
        if as_json:
            out_json["apply"] = res.model_dump(mode="json")
        else:
            click.echo(res.summary())
            click.echo(f"Report: {res.report_md}")
            for o in res.skipped:
                echo_err(f"skipped #{o['proposal_id']} {o['check']}: {o['reason']}")
    if as_json:
        emit_json(out_json if dataset or apply_out or approve_ids or reject_ids else out_json.get("fixes", []))


def _listed(store: Any, source: str, status: str | None) -> list[Any]:
    from studio.ops.boxes import fix_proposals
    from studio.ops.boxes.augment import augment_proposals

    return fix_proposals(store, source, status=status) + augment_proposals(store, source, status=status)


cleanse = LazyCommand(
    "cleanse", callback=_cleanse, build_params=_cleanse_params, help=CLEANSE_HELP,
    short_help="Check box labels and propose fixes; write a cleaned copy.",
)  # fmt: skip


COMMANDS = [cleanse, op_command("augment")]
