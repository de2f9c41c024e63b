"""`studio verify`: check the decision log's hash chain and append-only triggers.

See studio/store/chain.py for what the chain does and does not protect.
"""

from __future__ import annotations

from pydantic import Field

from studio.ops.registry import Args, OpContext, Result, operation
from studio.store.chain import ChainReport


class VerifyArgs(Args):
    pass


class VerifyResult(Result, ChainReport):
    repaired: list[str] = Field(default_factory=list)  # triggers re-created when the project was opened

    def summary(self) -> str:
        lines = []  # `repaired` is printed as a warning when the project opens
        if self.broken_at is not None:
            lines.append(f"BROKEN: {self.problem}.")
            lines.append(f"Intact: {self.checked} decisions, up to decision {self.head_id}.")
            lines.append("Restore studio.db from a backup made before the change, or keep this copy as evidence.")
        else:
            lines.append(f"OK: {self.checked} decisions, chained from the first to decision {self.head_id}.")
            lines.append(f"head {self.head_hash}")
            lines.append("Keep the head hash elsewhere to detect a later rewrite of the whole log.")
        if self.triggers_missing:
            lines.append(f"The append-only triggers {', '.join(self.triggers_missing)} are missing or changed.")
        return "\n".join(lines)


@operation(
    "verify",
    args=VerifyArgs,
    result=VerifyResult,
    side_effects=False,
    help="Check the decision log's hash chain and its append-only triggers; report the first broken link.",
)
def verify(ctx: OpContext, args: VerifyArgs) -> VerifyResult:
    report = ctx.store.verify()
    return VerifyResult(**report.model_dump(), repaired=list(ctx.store.warnings))
