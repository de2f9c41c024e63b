"""Stand-in for `studio.ops.registry` (Args, Result, OpContext) until the registry is on main.

The team operations are written in the registry's shape, a function `(ctx, args) -> Result`, so
moving them onto the registry is a change of this import only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from studio.store import Store


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Result(BaseModel):
    def summary(self) -> str:
        return ""


@dataclass
class OpContext:
    store: Store
    actor: str = "human:user"
    progress: Callable[[str, int, int | None], None] | None = None

    def report(self, stage: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def cancelled(self) -> bool:
        return False
