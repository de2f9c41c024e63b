"""The whole flow: demo, record, replay."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click

from studio.cli.common import Ctx, emit_json, json_option
from studio.errors import StudioError


def _new_project_dir(base: Path) -> Path:
    for i in range(1, 1000):
        p = base / ("studio-demo" if i == 1 else f"studio-demo-{i}")
        if not p.exists():
            return p
    raise StudioError(f"too many studio-demo folders in {base}; pass --project DIR")


def _progress_printer(quiet: bool) -> object:
    start = time.monotonic()

    def show(msg: str, frac: float | None) -> None:
        if not quiet:
            pct = f"{frac * 100:3.0f}%" if frac is not None else "    "
            click.echo(f"[{time.monotonic() - start:6.1f}s {pct}] {msg}", err=True)

    return show


def _run_demo(
    c: Ctx, project: Path | None, headless: bool, as_json: bool, record_to: Path | None, sample: str = "en"
) -> None:
    from studio.flows.demo import run_demo
    from studio.flows.engine import save_recording
    from studio.store import Store

    root = (project or _new_project_dir(Path.cwd())).expanduser().resolve()
    if (root / "studio.db").exists():
        raise StudioError(f"{root} already holds a project; the demo needs a new folder (omit --project to get one)")
    store = Store.init(root)
    store.start_session("demo")
    click.echo(
        f"Studio demo in {root} (model: {c.llm or 'the embedded default'}); this takes a few minutes on 2 cores.",
        err=True,
    )
    summary = run_demo(store, c.llm, on_progress=_progress_printer(as_json), sample=sample)  # type: ignore[arg-type]
    if record_to is not None:
        meta = {
            "flow": "demo", "sample": sample, "recorded_with": c.llm or "local",
            "rerecord": f"studio record {record_to.stem} --sample {sample} --headless -o {record_to.name}",
        }  # fmt: skip
        n = save_recording(store, record_to, record_to.stem, meta=meta)
        summary["recording"] = {"path": str(record_to), "events": n}
    store.close()
    if as_json:
        emit_json(summary)
    else:
        q, rel = summary["quality"], summary["release"]
        click.echo(f"\nGuideline labels: {', '.join(summary['labels'])}")
        click.echo(f"Crawled: {summary['crawl']['counts']}")
        wl = summary["weak_label"]
        click.echo(
            f"Weak labels: {wl['proposals']} proposals on {wl['labeled']} pages ({wl['hallucinated']} hallucinated mentions dropped)"
        )
        click.echo(
            f"Proposal quality against the sample's gold: P {q['precision']:.2f} R {q['recall']:.2f} F1 {q['f1']:.2f}"
        )
        click.echo(f"Review: {summary['review']}; box fixes: {summary['box_review']}")
        click.echo(
            f"Released v{rel['version']}: {rel['documents']} documents, {rel['spans']} spans, manifest sha256 {rel['manifest_sha256'][:16]}..."
        )
        click.echo(f"Release folder: {root / 'releases' / ('v' + rel['version'])}")
        if record_to is not None:
            click.echo(f"Recorded the session to {record_to}; check it with: studio replay {record_to} --headless")
    if not headless and not as_json and sys.stdout.isatty():
        from studio.tui.app import make_app

        click.echo("Opening the app on the demo project (ctrl+q quits).", err=True)
        make_app(root, llm=c.llm, user=c.user, screen="release").run()


HEADLESS_OPTION = click.option("--headless", is_flag=True, help="Run without the app.")
SAMPLE_OPTION = click.option(
    "--sample",
    type=click.Choice(["en", "ko"]),
    default="en",
    show_default=True,
    help="Which shipped sample and goal: English or Korean.",
)


@click.command()
@click.option("--headless", is_flag=True, help="Run without the app (for CI and scripts).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@SAMPLE_OPTION
@click.pass_context
def demo(ctx: click.Context, headless: bool, as_json: bool, sample: str) -> None:
    """Run the whole flow on a shipped sample, offline, on the embedded model.

    Goal -> guideline -> crawl a small news site on 127.0.0.1 -> weak-label -> review (by a
    scripted reviewer that knows the sample's answers) -> cleanse a small YOLO set -> query ->
    release v0.1.0. It makes a new folder (studio-demo, or --project DIR) and opens the app
    on it at the end, unless --headless.
    """
    c: Ctx = ctx.obj
    explicit = ctx.parent.params.get("project") if ctx.parent else None
    _run_demo(c, explicit, headless, as_json, None, sample)


@click.command()
@click.argument("name")
@HEADLESS_OPTION
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Where to write NAME.jsonl."
)
@SAMPLE_OPTION
@click.pass_context
def record(ctx: click.Context, name: str, headless: bool, output: Path | None, sample: str) -> None:
    """Record the demo flow as a session NAME.jsonl (LLM responses, fetched pages, decisions).

    The file replays offline with `studio replay NAME.jsonl`, which checks that the decisions
    and the release checksums come out the same.
    """
    from studio.flows.engine import check_name

    c: Ctx = ctx.obj
    out = (output or Path.cwd() / f"{check_name(name)}.jsonl").resolve()
    explicit = ctx.parent.params.get("project") if ctx.parent else None
    _run_demo(c, explicit, headless, False, out, sample)


@click.command()
@click.argument("session", type=click.Path(dir_okay=False, path_type=Path))
@HEADLESS_OPTION
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the replayed project in this new folder.",
)
@json_option
def replay(session: Path, headless: bool, into: Path | None, as_json: bool) -> None:
    """Re-run a recorded session offline and verify it reproduces the same decisions and releases.

    A difference fails with the first divergence, in words.
    """
    from studio.flows.engine import replay_file

    show = _progress_printer(as_json)
    if into is not None:
        result = replay_file(session, into.expanduser().resolve(), on_progress=show)  # type: ignore[arg-type]
    else:
        with tempfile.TemporaryDirectory(prefix="studio-replay-") as tmp:
            result = replay_file(session, Path(tmp) / "project", on_progress=show)  # type: ignore[arg-type]
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"Replayed {session.name}: {result['decisions']} decisions and releases {result['releases']} reproduced exactly."
        )


COMMANDS = [demo, record, replay]
