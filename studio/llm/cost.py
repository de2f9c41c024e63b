"""Estimated cost of hosted models, USD per million tokens (input, output). Local models cost 0.

Prices change; these are list prices known when this table was written. Unknown hosted models
are reported with cost 0 and flagged `unknown` in `studio cost`.
"""

from __future__ import annotations

PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o4-mini": (1.10, 4.40),
}


def price_for(provider: str, model: str) -> tuple[float, float] | None:
    if provider in ("local", "replay"):
        return (0.0, 0.0)
    if model in PRICES_PER_MTOK:
        return PRICES_PER_MTOK[model]
    # dated snapshots, e.g. gpt-4o-mini-2024-07-18
    for name in sorted(PRICES_PER_MTOK, key=len, reverse=True):
        if model.startswith(name + "-"):
            return PRICES_PER_MTOK[name]
    return None


def estimate(provider: str, model: str, prompt_tokens: int | None, completion_tokens: int | None) -> float:
    price = price_for(provider, model)
    if price is None:
        return 0.0
    return ((prompt_tokens or 0) * price[0] + (completion_tokens or 0) * price[1]) / 1_000_000
