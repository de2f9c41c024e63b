"""`studio verify`: check the decision log's hash chain and append-only triggers.

Written in the operation-registry shape (Args -> function -> Result); see studio/store/chain.py
for what the chain does and does not protect.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from studio.store import Store
from studio.store.chain import ChainReport


class VerifyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerifyResult(ChainReport):
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


def verify(store: Store, args: VerifyArgs | None = None, **_: Any) -> VerifyResult:
    report = store.verify()
    return VerifyResult(**report.model_dump(), repaired=list(store.warnings))
