"""When to stop labeling: stabilizing predictions (Bloodgood & Vijay-Shanker, 2009).

Source: Michael Bloodgood and K. Vijay-Shanker, "A Method for Stopping Active Learning Based on
Stabilizing Predictions and the Need for User-Adjustable Stopping", CoNLL 2009, pages 39-47.

The rule: keep a fixed *stop set* of unlabeled texts (they never need labels). After each round,
predict the stop set with the new model and measure the agreement with the previous round's
model as Cohen's kappa. When the mean kappa of the last three comparisons reaches 0.99, the
model's predictions have stabilized: more labels are unlikely to change it much. The paper's
defaults (window 3, threshold 0.99) are kept; a lower threshold stops earlier.

Agreement is measured between successive models, so it needs no labels at all: the same rule
runs in `studio query` (rounds are queries whose model changed) and `studio simulate`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

WINDOW = 3
THRESHOLD = 0.99
STOP_SET_SIZE = 1000
SOURCE = "stabilizing predictions (Bloodgood & Vijay-Shanker, CoNLL 2009)"


def kappa(a: Sequence[object], b: Sequence[object]) -> float:
    """Cohen's kappa between two label sequences of the same length (1.0 when identical)."""
    if len(a) != len(b):
        raise ValueError(f"kappa needs two sequences of one length, got {len(a)} and {len(b)}")
    if not a:
        return 1.0
    x, y = np.asarray([str(v) for v in a]), np.asarray([str(v) for v in b])
    observed = float((x == y).mean())
    labels = sorted(set(x.tolist()) | set(y.tolist()))
    expected = sum(float((x == lab).mean()) * float((y == lab).mean()) for lab in labels)
    if expected >= 1.0:  # both constant and equal: full agreement
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


def stop_set(n: int, seed: int, size: int = STOP_SET_SIZE) -> list[int]:
    """A fixed, seeded sample of pool rows (all of them for a small pool)."""
    if n <= size:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, size=size, replace=False).tolist())


class StopState(BaseModel):
    """The agreement history and the verdict."""

    agreements: list[float] = Field(default_factory=list)  # kappa of each round with the one before
    window: int = WINDOW
    threshold: float = THRESHOLD

    @property
    def recent(self) -> float | None:
        if len(self.agreements) < self.window:
            return None
        return float(np.mean(self.agreements[-self.window :]))

    @property
    def stop(self) -> bool:
        r = self.recent
        return r is not None and r >= self.threshold - 1e-12

    def message(self) -> str:
        r = self.recent
        if r is None:
            return (
                f"stopping (stabilizing predictions): {len(self.agreements)} of {self.window} "
                "model-to-model comparisons so far, too early to tell"
            )
        if self.stop:
            return (
                f"more labels are unlikely to change the model much "
                f"(agreement {r:.2f} over the last {self.window} rounds)"
            )
        return (
            f"keep labeling: predictions still change between rounds "
            f"(agreement {r:.2f} over the last {self.window} rounds; stop at {self.threshold:.2f})"
        )


def add_round(state: StopState, previous: Sequence[object] | None, current: Sequence[object]) -> StopState:
    """The state after one more round (no comparison on the first round)."""
    if previous is None:
        return state
    return state.model_copy(update={"agreements": [*state.agreements, round(kappa(previous, current), 6)]})
