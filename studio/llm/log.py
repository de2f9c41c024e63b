"""Reading the LLM call log: listings and cost totals."""

from __future__ import annotations

from typing import Any

from studio.llm.cost import price_for
from studio.store import Store


def list_calls(store: Store, limit: int | None = None, operation: str | None = None) -> list[dict[str, Any]]:
    sql = (
        "SELECT id, ts, provider, model, operation, prompt_tokens, completion_tokens, latency_ms, cost_usd, cache_hit, error"
        " FROM llm_calls"
    )
    args: list[Any] = []
    if operation:
        sql += " WHERE operation = ? OR operation LIKE ?"
        args += [operation, operation + ".%"]
    sql += " ORDER BY id DESC"
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    rows = [dict(r) for r in store.conn.execute(sql, args)]
    for r in rows:
        r["cache_hit"] = bool(r["cache_hit"])
    return rows[::-1]


def cost_summary(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Totals per model and per operation: calls, cache hits, tokens, estimated USD."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key in ("model", "operation"):
        rows = store.conn.execute(
            f"SELECT provider, {key} AS name, COUNT(*) AS calls, SUM(cache_hit) AS cache_hits,"
            " SUM(COALESCE(prompt_tokens, 0)) AS prompt_tokens, SUM(COALESCE(completion_tokens, 0)) AS completion_tokens,"
            " ROUND(SUM(cost_usd), 6) AS cost_usd, SUM(error IS NOT NULL) AS errors"
            f" FROM llm_calls GROUP BY provider, {key} ORDER BY cost_usd DESC, calls DESC"
        )
        items = []
        for r in rows:
            d = dict(r)
            if key == "model":
                d["price_known"] = price_for(d["provider"], d["name"]) is not None
            items.append(d)
        out[f"by_{key}"] = items
    return out
