"""Figures for the dataset card, all read from the store (so the same store gives the same card)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import combinations
from typing import Any
from urllib.parse import urlsplit

from studio.ops.release.models import ReleaseDoc
from studio.store import Store

LICENSE_KEYS = ("license_hints", "license", "licence", "license_hint", "license_url")


def _sorted_counts(c: Counter[str]) -> dict[str, int]:
    return {k: c[k] for k in sorted(c)}


def provenance(store: Store, doc_ids: Sequence[int]) -> dict[str, Any]:
    """Counts by source, by host (crawled documents) and licence hints found in provenance."""
    ids = set(doc_ids)
    by_source: Counter[str] = Counter()
    by_host: Counter[str] = Counter()
    hints: Counter[str] = Counter()
    rows = store.conn.execute("SELECT id, source, provenance FROM documents ORDER BY id")
    for row in rows:
        if row["id"] not in ids:
            continue
        by_source[row["source"]] += 1
        prov = json.loads(row["provenance"])
        url = prov.get("url") or prov.get("final_url")
        if isinstance(url, str) and url:
            by_host[(urlsplit(url).hostname or "(no host)").lower()] += 1
        for key in LICENSE_KEYS:
            value = prov.get(key)
            # The crawler stores a dict {"meta:dc.rights": "CC BY 4.0", "link:license": URL};
            # an import may carry a plain string.
            values = value.values() if isinstance(value, dict) else [value]
            for v in values:
                if isinstance(v, str) and v.strip():
                    hints[" ".join(v.split())[:200]] += 1
    return {
        "by_source": _sorted_counts(by_source),
        "by_host": _sorted_counts(by_host),
        "license_hints": _sorted_counts(hints),
    }


def quality(store: Store, released: set[int], as_of: int) -> dict[str, Any]:
    """Proposal outcomes (LLM and other sources), pending work, weak-source agreement, cleansing."""
    q = store.conn.execute
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    # Counted by SQLite: `llm` = a source starting with "llm" (case-sensitive, as str.startswith).
    for is_llm, status, n in q(
        "SELECT substr(source, 1, 3) = 'llm', status, COUNT(*) FROM proposals WHERE kind = 'span' GROUP BY 1, 2"
    ):
        outcomes["llm" if is_llm else "other"][status] += n
    pending_in_release = sum(
        1
        for (doc_id,) in q("SELECT document_id FROM proposals WHERE kind = 'span' AND status = 'pending'")
        if doc_id in released
    )
    shares: dict[str, dict[str, Any]] = {}
    for group in sorted(outcomes):
        c = outcomes[group]
        decided = c["accepted"] + c["edited"] + c["rejected"]
        shares[group] = {
            "proposed": sum(c.values()),
            "accepted": c["accepted"],
            "edited": c["edited"],
            "rejected": c["rejected"],
            "withdrawn": c["withdrawn"],
            "pending": c["pending"],
            "accepted_share": round(c["accepted"] / decided, 4) if decided else None,
            "edited_share": round(c["edited"] / decided, 4) if decided else None,
            "rejected_share": round(c["rejected"] / decided, 4) if decided else None,
        }
    label_origin: Counter[str] = Counter(
        dict(
            q(
                "SELECT d.action, COUNT(*) FROM labels l JOIN decisions d ON d.id = l.decision_id"
                " WHERE l.document_id IN (SELECT value FROM json_each(?)) GROUP BY d.action",
                (json.dumps(sorted(released)),),
            ).fetchall()
        )
    )
    # Decisions on box fixes (the propose decision counts batches, not fixes: the proposals count those).
    fixes = Counter(
        r[0]
        for r in q(
            "SELECT action FROM decisions WHERE action LIKE 'boxes.fix.%' AND action != 'boxes.fix.propose' AND id <= ?",
            (as_of,),
        )
    )
    fixes_proposed = q("SELECT COUNT(*) FROM proposals WHERE kind = 'box_fix'").fetchone()[0]
    return {
        "span_proposals": shares,
        "pending_total": sum(c["pending"] for c in outcomes.values()),
        "pending_in_released_documents": pending_in_release,
        "label_origin": _sorted_counts(label_origin),
        "weak_source_agreement": agreement(store),
        "cleansing": _sorted_counts(fixes),
        "box_fixes_proposed": fixes_proposed,
    }


def agreement(store: Store) -> list[dict[str, Any]]:
    """Pairwise agreement of weak sources over span proposals both scored.

    A source votes for a span when its probability is at least 0.5; two sources agree on a
    proposal when they vote the same way. Proposals scored by only one of the two are not
    counted for that pair (absence is abstention, not a vote against).
    """
    votes: dict[int, dict[str, bool]] = defaultdict(dict)
    # Only proposals scored by two sources or more can make a pair (most have one: 0.9 s of Python
    # at 100k proposals for nothing).
    rows = store.conn.execute(
        "SELECT p.id, j.key, j.value FROM proposals p, json_each(p.payload, '$.sources') j"
        " WHERE p.kind = 'span' AND json_type(p.payload, '$.sources') = 'object'"
        " AND (SELECT COUNT(*) FROM json_each(p.payload, '$.sources')) > 1"
    )
    for pid, name, value in rows:
        if isinstance(value, (int, float)):
            votes[pid][str(name)] = float(value) >= 0.5
    pairs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for v in votes.values():
        for a, b in combinations(sorted(v), 2):
            pairs[(a, b)][0] += 1
            pairs[(a, b)][1] += v[a] == v[b]
    return [
        {"a": a, "b": b, "both_scored": n, "agree": k, "rate": round(k / n, 4)}
        for (a, b), (n, k) in sorted(pairs.items())
    ]


def decision_summary(store: Store, as_of: int) -> list[dict[str, Any]]:
    """Decisions per action and actor kind, up to decision `as_of`."""
    rows = store.conn.execute(
        "SELECT action, actor, COUNT(*) FROM decisions WHERE id <= ? GROUP BY action, actor ORDER BY action, actor",
        (as_of,),
    )
    return [{"action": a, "actor": actor, "count": n} for a, actor, n in rows]


def label_counts(
    docs: Sequence[ReleaseDoc], assignment: dict[int, str], splits: Sequence[str]
) -> dict[str, dict[str, int]]:
    """label -> split -> spans (plus 'total')."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for d in docs:
        for s in d.spans:
            out[s.label][assignment[d.id]] += 1
    return {lab: {**{sp: out[lab][sp] for sp in splits}, "total": sum(out[lab].values())} for lab in sorted(out)}


def synthetic_share(
    docs: Sequence[ReleaseDoc], assignment: dict[int, str], splits: Sequence[str], excluded: int
) -> dict[str, Any]:
    """Synthetic documents per split and synthetic spans per label and split (with the totals to compare)."""
    documents = Counter(assignment[d.id] for d in docs if d.synthetic)
    spans: dict[str, Counter[str]] = defaultdict(Counter)
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for d in docs:
        for s in d.spans:
            totals[s.label][assignment[d.id]] += 1
            if d.synthetic:
                spans[s.label][assignment[d.id]] += 1
    return {
        "excluded": excluded,
        "documents": {sp: documents[sp] for sp in splits},
        "spans": {
            lab: {
                **{sp: spans[lab][sp] for sp in splits},
                "total": sum(spans[lab].values()),
                "of": sum(totals[lab].values()),
            }
            for lab in sorted(totals)
        },
    }


def review_status(
    store: Store, docs: Sequence[ReleaseDoc], assignment: dict[int, str], splits: Sequence[str], include_partial: bool
) -> dict[str, Any]:
    """Complete and partial documents per split, and what the project holds outside the release."""
    from studio.ops.review.documents import status_counts

    per_split = {sp: {"complete": 0, "partial": 0} for sp in splits}
    for d in docs:
        per_split[assignment[d.id]]["complete" if d.complete else "partial"] += 1
    return {"include_partial": include_partial, "by_split": per_split, "project": status_counts(store)}
