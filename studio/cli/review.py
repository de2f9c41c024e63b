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
    "--min-confidence", type=click.FloatRange(0, 1), default=0.0, help="Skip proposals below this confidence."
)
@pass_ctx
def review(c: Ctx, limit: int | None, min_confidence: float) -> None:
    """Review pending span proposals: [a]ccept, [x] reject, [e]dit, [s]kip, [u]ndo, [q]uit.

    Proposals come in the order of the latest `studio query` when there is one, else by
    document. Every answer is a decision in the log; undo records a new decision.
    """
    store = c.store()
    from studio.ops.review import review_queue

    done = 0
    last: list[int] = []
    for p in review_queue(store):
        if limit and done >= limit:
            break
        if (p.confidence or 0) < min_confidence:
            continue
        doc = store.document(int(p.document_id or 0))
        span = p.payload["span"]
        sources = ", ".join(f"{k} {v:.2f}" for k, v in (p.payload.get("sources") or {}).items())
        click.echo(f"\n#{p.id} doc {doc.id}  {span['label']}  confidence {p.confidence or 0:.2f}  ({sources})")
        click.echo(_show(doc.text, span))
        while True:
            key = click.prompt("a/x/e/s/u/q", default="a", show_default=False).strip().lower()[:1]
            try:
                if key == "a":
                    last.append(store.accept_span(p.id or 0, c.actor).id or 0)
                elif key == "x":
                    reason = click.prompt("reason (optional)", default="", show_default=False)
                    last.append(store.decide(p.id or 0, c.actor, "reject", reason).id or 0)
                elif key == "e":
                    rng = click.prompt("start:end", default=f"{span['start']}:{span['end']}")
                    lab = click.prompt("label", default=span["label"])
                    a, b = (int(x) for x in rng.split(":"))
                    last.append(store.accept_span(p.id or 0, c.actor, edited=Span(start=a, end=b, label=lab)).id or 0)
                elif key == "u":
                    if not last:
                        click.echo("nothing to undo")
                        continue
                    store.undo(last.pop(), c.actor)
                    click.echo("undone")
                    continue
                elif key == "q":
                    click.echo(f"Reviewed {done}.")
                    return
                break
            except (ValueError, StudioError) as exc:
                click.echo(f"  {exc}")
        done += int(key != "s")
    click.echo(f"Reviewed {done}. No more pending proposals." if not limit or done < limit else f"Reviewed {done}.")


COMMANDS = [review]
