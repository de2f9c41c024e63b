"""Several annotators on one project: assign, team (who has what left), agreement, adjudicate."""

from __future__ import annotations

import shlex
from typing import Any, TextIO

import click

from studio.cli.common import Ctx, emit_json, emit_table, json_option, pass_ctx, stage_progress
from studio.cli.ops import op_command
from studio.errors import StudioError


def _render_assign(result: Any, c: Ctx) -> None:
    click.echo(result.summary())
    if result.documents:
        click.echo("pairs (documents seen by both): " + ", ".join(f"{k} {v}" for k, v in result.pairs.items()))
        click.echo("Next: each annotator runs `studio --user NAME review`; then `studio agreement`.")


@click.command()
@json_option
@pass_ctx
def team(c: Ctx, as_json: bool) -> None:
    """Per annotator: documents assigned, versions finished, left to do; and what waits for a reviewer."""
    from studio.ops.team.adjudicate import queue
    from studio.ops.team.assign import assignment_summary

    store = c.store()
    rows = assignment_summary(store)
    if not rows and not as_json:
        click.echo("No assignments yet: run `studio assign --annotators ana,ben --overlap 2`.")
        return
    waiting = len(queue(store))
    adjudicated = store.conn.execute("SELECT COUNT(*) FROM adjudications").fetchone()[0]
    if as_json:
        emit_json({"annotators": rows, "to_adjudicate": waiting, "adjudicated": adjudicated})
        return
    emit_table(rows, ["annotator", "assigned", "complete", "to_do"], title="Annotators")
    click.echo(f"{waiting} documents wait for a reviewer (studio adjudicate); {adjudicated} adjudicated.")


def _render_agreement(r: Any, c: Ctx) -> None:
    click.echo(r.summary())
    if not r.documents:
        return
    f = _f
    if r.task == "ner":
        rows = [
            {
                "label": k,
                **{m: f(v[m]) for m in ("strict_f1", "partial_f1", "token_kappa", "alpha")},
                "spans": v["spans"],
            }
            for k, v in [("(all)", r.overall), *r.per_label.items()]
        ]
        emit_table(rows, ["label", "strict_f1", "partial_f1", "token_kappa", "alpha", "spans"], title="Per label")
        rows = [
            {"pair": p.pair, "documents": p.documents, "strict_f1": f(p.strict_f1), "partial_f1": f(p.partial_f1),
             "token_kappa": f(p.token_kappa)}
            for p in r.pairs
        ]  # fmt: skip
        emit_table(rows, ["pair", "documents", "strict_f1", "partial_f1", "token_kappa"], title="Per pair")
        rows = [
            {"pair": p.pair, "label": lab, **{m: f(v[m]) for m in ("strict_f1", "partial_f1", "token_kappa")}}
            for p in r.pairs
            for lab, v in p.per_label.items()
        ]
        emit_table(rows, ["pair", "label", "strict_f1", "partial_f1", "token_kappa"], title="Per pair and label")
    for name, part in (("classification", r.classification), ("box fixes", r.box_fixes)):
        if part:
            pairs = ", ".join(f"{k} {f(v['kappa'])}" for k, v in part["pairs"].items())
            click.echo(f"{name}: Cohen's kappa {pairs}; Krippendorff's alpha {f(part['alpha'])}")
    if r.disagreements:
        click.echo("\nMost disagreement (mean strict F1 between versions):")
        for d in r.disagreements:
            spans = "; ".join(f"{s['text']!r} {s['label']} by {','.join(s['by'])}" for s in d["differ"][:4])
            click.echo(f"  doc {d['document_id']}  {d['mean_strict_f1']:.2f}  {spans}")
    if r.patterns:
        click.echo("\nKinds of disagreement:")
        for p in r.patterns:
            click.echo(f"  {p['count']:>4}  {p['kind']:<8} {p['label']:<20} e.g. {', '.join(p['examples'])}")


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


ADJ_HELP = """\b
  t NAME        take NAME's version as it is, and save
  y N[,N..]     take candidate span(s) N into the draft
  n N[,N..]     leave candidate span(s) N out of the draft
  + S:E LABEL   add a span of your own (character offsets)
  - S:E LABEL   remove a span from the draft
  v             show the draft;  d  save the draft
  s             skip;  u  undo your last adjudication;  q  quit;  ?  help"""


@click.command(
    help="Settle documents from their annotators' versions: the result is the project's labels.\n\n"
    "For each document whose annotators have all finished, the candidate spans are listed with who has "
    "each (* where they differ); the draft starts with the spans everyone has. Commands, one per line "
    "(a script can drive them on stdin):\n\n" + ADJ_HELP + "\n\nWith --accept-agreed, documents where "
    "every version is the same are accepted in bulk."
)
@click.option("--document", "-d", "doc_ids", type=int, multiple=True, help="Only this document (repeatable).")
@click.option("--accept-agreed", is_flag=True, help="Accept every finished document where all versions agree.")
@click.option("--dry-run", is_flag=True, help="With --accept-agreed: only count.")
@json_option
@pass_ctx
def adjudicate(c: Ctx, doc_ids: tuple[int, ...], accept_agreed: bool, dry_run: bool, as_json: bool) -> None:
    from studio.ops.team import adjudicate as adj

    store = c.store()
    if accept_agreed:
        from studio.cli.ops import _adapt
        from studio.ops import registry

        with stage_progress() as progress:
            ctx = registry.OpContext(store=store, actor=c.actor, progress=_adapt(progress))
            r = registry.run("adjudicate_agreed", {"dry_run": dry_run}, ctx)
        if as_json:
            emit_json(r.model_dump())
        elif dry_run:
            click.echo(f"{len(r.documents)} documents agree exactly; {r.waiting} differ. Nothing was recorded.")
        else:
            click.echo(r.summary())
        return
    todo = list(doc_ids) or adj.queue(store)
    if not todo:
        click.echo("Nothing to adjudicate: no document has all its versions finished (see `studio team`).")
        return
    saved: list[int] = []
    stdin = click.get_text_stream("stdin")  # one reader for the whole run: it buffers ahead
    for doc_id in todo:
        outcome = _one(c, doc_id, saved, stdin)
        if outcome == "quit":
            break
    click.echo(f"Adjudicated {len(saved)}.")


def _one(c: Ctx, doc_id: int, saved: list[int], stdin: TextIO) -> str:
    from studio.ops.team import adjudicate as adj

    store = c.store()
    case = adj.case(store, doc_id)
    click.echo("")
    for line in adj.render_case(case):
        click.echo(line)
    for name, v in sorted(case.versions.items()):
        click.echo(f"  {name}: " + "; ".join(f"{case.text[s:e]!r} {lab}" for s, e, lab in sorted(v.spans)))
    draft = set(case.agreed)
    while True:
        click.echo("adjudicate (? for help)> ", nl=False)
        raw = stdin.readline()
        if not raw:  # end of input: stop here, what was saved stays
            click.echo("")
            return "quit"
        line = raw.strip()
        if not line:
            continue
        cmd, _, rest = line.partition(" ")
        try:
            if cmd == "t":
                name = rest.strip()
                if name not in case.versions:
                    raise StudioError(f"no finished version by {name!r}; versions: {', '.join(sorted(case.versions))}")
                d = adj.settle(store, c.actor, doc_id, list(case.versions[name].spans))
                saved.append(int(d.id or 0))
                click.echo(f"saved: {name}'s version ({d.payload['method']}), decision #{d.id}")
                return "saved"
            if cmd in ("y", "n"):
                picked = {case.candidates[n - 1].span for n in _numbers(rest, len(case.candidates))}
                draft = draft | picked if cmd == "y" else draft - picked
                _show_draft(case.text, draft)
            elif cmd in ("+", "-"):
                span = {_parse_span(rest)}
                draft = draft | span if cmd == "+" else draft - span
                _show_draft(case.text, draft)
            elif cmd == "v":
                _show_draft(case.text, draft)
            elif cmd == "d":
                d = adj.settle(store, c.actor, doc_id, sorted(draft))
                saved.append(int(d.id or 0))
                click.echo(f"saved {len(draft)} spans ({d.payload['method']}), decision #{d.id}")
                return "saved"
            elif cmd == "s":
                return "skipped"
            elif cmd == "q":
                return "quit"
            elif cmd == "u":
                if not saved:
                    click.echo("nothing to undo")
                    continue
                store.undo(saved.pop(), c.actor)
                click.echo("undone: that document is waiting for adjudication again")
            else:
                click.echo(ADJ_HELP.replace("\b\n", "commands (one per line):\n"))
        except (ValueError, StudioError) as exc:
            click.echo(f"  {exc}")


def _numbers(text: str, n: int) -> list[int]:
    try:
        nums = [int(x) for x in text.replace(",", " ").split()]
    except ValueError:
        raise StudioError(f"give candidate numbers like `y 1,3`, got {text!r}") from None
    bad = [x for x in nums if not 1 <= x <= n]
    if bad or not nums:
        raise StudioError(f"candidate numbers go from 1 to {n}, got {text!r}")
    return nums


def _parse_span(text: str) -> tuple[int, int, str]:
    parts = shlex.split(text)
    try:
        a, b = (int(x) for x in parts[0].split(":"))
        return (a, b, parts[1])
    except (ValueError, IndexError):
        raise StudioError(f"give a span as START:END LABEL, e.g. `+ 10:17 ORG`, got {text!r}") from None


def _show_draft(text: str, draft: set[tuple[int, int, str]]) -> None:
    shown = "; ".join(f"{s}:{e} {lab} {text[s:e]!r}" for s, e, lab in sorted(draft))
    click.echo(f"  draft: {shown or '(no spans)'}")


COMMANDS = [
    op_command("assign", render=_render_assign),
    team,
    op_command("agreement", render=_render_agreement),
    adjudicate,
    op_command("guideline_from_disagreement"),
]
