"""`studio verify`: is the decision log intact?"""

from __future__ import annotations

import sys

import click

from studio.cli.common import Ctx, emit_json, json_option, pass_ctx


@click.command()
@json_option
@pass_ctx
def verify(c: Ctx, as_json: bool) -> None:
    """Check the decision log's hash chain and its append-only triggers.

    Every decision stores the hash of its content and of the decision before it, so a row
    changed, removed or inserted outside Studio breaks the chain; this reports the first broken
    link and exits 1. It cannot tell whether the newest decisions were cut off, or whether the
    whole chain was recomputed: keep the printed head hash elsewhere (e.g. with a release) and
    compare.
    """
    from studio.ops import registry
    from studio.ops.verify import VerifyArgs

    store = c.store()
    result = registry.run("verify", VerifyArgs(), registry.OpContext(store=store, actor=c.actor))
    if as_json:
        emit_json(result.model_dump())
    else:
        click.echo(result.summary())
    if not result.ok:
        sys.exit(1)


COMMANDS = [verify]
