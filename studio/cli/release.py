"""Commands: release, releases, why (see studio/ops/release)."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from studio.cli.common import Ctx, emit_json, emit_table, json_option, pass_ctx
from studio.cli.ops import op_command


def _ask_license(c: Ctx, values: dict[str, Any]) -> None:
    """A release needs a license: ask for one on a terminal when neither --license nor the
    project setting gives it (without a terminal the operation says what to pass)."""
    if values.get("license") or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return
    from studio.ops.release import licenses
    from studio.ops.release.build import LICENSE_SETTING

    if c.store().get_setting(LICENSE_SETTING):
        return
    license_id = click.prompt("License for this dataset (SPDX id, e.g. CC-BY-4.0)", err=True).strip()
    licenses.normalize(license_id)
    values["license"] = license_id


class SplitType(click.ParamType):
    """train,validation,test fractions, checked as the option is read (a usage error, exit 2)."""

    name = "TRAIN,VAL,TEST"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from studio.ops.release.operation import parse_split

        try:
            parse_split(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return str(value)


def _split_type(params: list[click.Parameter]) -> None:
    for param in params:
        if param.name == "split":
            param.type = SplitType()


release = op_command("release", before=_ask_license, adjust=_split_type)


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
