"""What a release says about a team project: how its documents were settled and how far the
annotators agreed on them (release.json `team`, and a section of the dataset card)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from studio.ops.team.adjudicate import case, queue
from studio.ops.team.agreement import compute
from studio.store import Store


def summary(store: Store, released: list[int]) -> dict[str, Any] | None:
    """None for a project without assignments, so its releases stay as they were."""
    if store.conn.execute("SELECT 1 FROM assignments LIMIT 1").fetchone() is None:
        return None
    ids = set(released)
    methods: Counter[str] = Counter()
    for doc, method in store.conn.execute("SELECT document_id, method FROM adjudications ORDER BY document_id"):
        if doc in ids:
            methods[method.split(":")[0]] += 1
    assigned = {int(r[0]) for r in store.conn.execute("SELECT DISTINCT document_id FROM assignments")}
    waiting = queue(store)
    agreed_waiting = sum(1 for d in waiting if case(store, d).all_agree())
    r = compute(store, ids & assigned, top=0)
    return {
        "annotators": r.annotators,
        "assigned_documents": len(assigned),
        "released_assigned": len(ids & assigned),
        "adjudicated": sum(methods.values()),
        "adjudicated_by_method": dict(sorted(methods.items())),
        "waiting_for_reviewer": len(waiting),
        "waiting_all_agree": agreed_waiting,
        "agreement": {
            "documents": r.documents,
            "overall": r.overall,
            "per_label": r.per_label,
            "pairs": {p.pair: {"documents": p.documents, "strict_f1": p.strict_f1, "token_kappa": p.token_kappa}
                      for p in r.pairs},
        },
    }  # fmt: skip


def card_section(team: dict[str, Any]) -> str:
    """The dataset card's section on annotators, adjudication and agreement."""
    ag = team["agreement"]
    by = ", ".join(f"{k} {v}" for k, v in team["adjudicated_by_method"].items()) or "none"
    out = [
        "\n## Annotators and agreement\n\n",
        f"Annotated by {len(team['annotators'])} people ({', '.join(team['annotators'])}), each document by "
        f"several of them independently. {team['adjudicated']} of the released documents were settled by a "
        f"reviewer from the annotators' versions (by method: {by}; `agreed` = every version was the same). "
        f"{team['waiting_for_reviewer']} finished documents wait for a reviewer and are not in this release"
        + (f" ({team['waiting_all_agree']} of them agree exactly)" if team["waiting_all_agree"] else "")
        + ".\n",
    ]
    if ag["documents"] and ag["per_label"]:
        out.append(
            f"\nAgreement between annotators on the {ag['documents']} released documents with two or more "
            "finished versions (before adjudication): span F1 per pair (strict: same start, end, label; "
            "partial: overlapping, same label), token-level Cohen's kappa, Krippendorff's alpha over all "
            "annotators.\n\n"
        )
        rows = [["(all)", ag["overall"]], *ag["per_label"].items()]
        out.append(
            _table(
                ["label", "strict F1", "partial F1", "token kappa", "alpha"],
                [
                    [lab, *(_f(v.get(m)) for m in ("strict_f1", "partial_f1", "token_kappa", "alpha"))]
                    for lab, v in rows
                ],
            )
        )
    return "".join(out)


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    from studio.ops.release.card import _table as table  # the card's one Markdown table writer

    return table(header, rows)
