"""Thin workers: a screen runs one registry operation in a thread worker and posts its result.

`run_op` is called from inside a `@work(thread=True, ...)` method. Progress goes to the screen as
`WorkProgress` messages; cancelling the worker stops the operation at its next progress report
(what it finished is kept, as on the command line).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.message_pump import MessagePump
from textual.worker import get_current_worker

from studio.ops import registry
from studio.ops.registry import Args, Cancelled, OpContext
from studio.tui.messages import WorkProgress


def op_context(node: MessagePump) -> OpContext:
    """An OpContext for the app's project, user and model, reporting to `node`."""
    app: Any = node.app
    worker = get_current_worker()

    def progress(stage: str, done: int, total: int | None) -> None:
        if worker.is_cancelled:
            raise Cancelled(f"{stage}: cancelled; what was done so far is kept")
        node.post_message(WorkProgress(stage, done / total if total else None))

    return OpContext(store=app.store, actor=app.actor, llm_spec=app.llm_spec, progress=progress, llm_factory=app.llm)


def run_op(node: MessagePump, name: str, args: Args | Mapping[str, Any] | None = None) -> Any:
    """Run the operation `name` for a screen (call from a thread worker); returns its Result."""
    return registry.run(name, args, op_context(node))
