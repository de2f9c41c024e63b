"""Headless review: accept, reject or edit span proposals on the terminal."""

from __future__ import annotations

import click

from studio.cli.common import Ctx, pass_ctx
from studio.errors import StudioError
from studio.schema import Span


def _show(text: str, span: dict, width: int = 70) -> str:
    s, e = span["start"], span["end"]
    left = text[max(0, s - width) : s].replace("\n", " ")
    right = text[e : e + width].replace("\n", " ")
    return f"...{left}" + click.style(f"[{text[s:e]}]", bold=True, fg="yellow") + f"{right}..."


@click.command()
@click.option("--limit", "-n", type=click.IntRange(min=1), default=None, help="Review at most N proposals.")
@click.option(
    "--min-confidence",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Skip proposals below this confidence (synthetic sentences have none and are shown).",
)
@pass_ctx
def review(c: Ctx, limit: int | None, min_confidence: float) -> None:
    """Review pending span proposals: [a]ccept, [x] reject, [e]dit, [s]kip, [u]ndo, [q]uit.

    Proposals come in the order of the latest `studio query` when there is one, else by
    document. Every answer is a decision in the log; undo records a new decision.
    """
    store = c.store()
    from studio.ops.review import review_queue

    queue = review_queue(store)
    again: list[int] = []  # proposals whose decision was undone: shown again first
    done: list[tuple[int, int]] = []  # (proposal id, decision id), newest last
    while not limit or len(done) < limit:
        if again:
            p = store.proposal(again.pop())
        else:
            p = next(queue, None)
            if p is None:
                click.echo(f"Reviewed {len(done)}. No more pending proposals.")
                return
        # synthetic sentences have no confidence: the threshold does not hide them
        if p.status != "pending" or (not p.payload.get("synthetic") and (p.confidence or 0) < min_confidence):
            continue
        doc = store.document(int(p.document_id or 0))
        span = p.payload["span"]
        if p.payload.get("synthetic"):
            click.echo(f"\n#{p.id} doc {doc.id}  {span['label']}  synthetic sentence ({p.source}): check it reads true")
        else:
            sources = ", ".join(f"{k} {v:.2f}" for k, v in (p.payload.get("sources") or {}).items())
            click.echo(f"\n#{p.id} doc {doc.id}  {span['label']}  confidence {p.confidence or 0:.2f}  ({sources})")
        click.echo(_show(doc.text, span))
        while True:
            key = click.prompt("a/x/e/s/u/q", default="a", show_default=False).strip().lower()[:1]
            try:
                if key == "a":
                    done.append((p.id or 0, store.accept_span(p.id or 0, c.actor).id or 0))
                elif key == "x":
                    reason = click.prompt("reason (optional)", default="", show_default=False)
                    done.append((p.id or 0, store.decide(p.id or 0, c.actor, "reject", reason).id or 0))
                elif key == "e":
                    rng = click.prompt("start:end", default=f"{span['start']}:{span['end']}")
                    lab = click.prompt("label", default=span["label"])
                    a, b = (int(x) for x in rng.split(":"))
                    edited = Span(start=a, end=b, label=lab)
                    done.append((p.id or 0, store.accept_span(p.id or 0, c.actor, edited=edited).id or 0))
                elif key == "u":
                    if not done:
                        click.echo("nothing to undo")
                        continue
                    pid, decision_id = done.pop()
                    store.undo(decision_id, c.actor)
                    click.echo(f"undone; proposal #{pid} comes back")
                    again += [p.id or 0, pid]  # the undone one first, then this one
                elif key == "q":
                    click.echo(f"Reviewed {len(done)}.")
                    return
                break
            except (ValueError, StudioError) as exc:
                click.echo(f"  {exc}")
    click.echo(f"Reviewed {len(done)}.")


COMMANDS = [review]
