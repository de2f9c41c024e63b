"""Reading the annotators' versions of documents (written by `studio.store.versions`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from studio.ops.team.metrics import SpanT
from studio.store import Store


@dataclass
class Version:
    annotator: str
    document_id: int
    spans: list[SpanT] = field(default_factory=list)
    texts: dict[SpanT, str] = field(default_factory=dict)
    verdicts: dict[int, str] = field(default_factory=dict)  # proposal id -> accepted | rejected | edited
    complete: bool = False
    last_decision: int = 0


def assignments(store: Store, document_id: int | None = None) -> dict[int, list[str]]:
    sql = "SELECT document_id, annotator FROM assignments"
    args: list[int] = []
    if document_id is not None:
        sql += " WHERE document_id = ?"
        args.append(document_id)
    out: dict[int, list[str]] = defaultdict(list)
    for doc, name in store.conn.execute(sql + " ORDER BY document_id, annotator", args):
        out[int(doc)].append(name)
    return dict(out)


def load(store: Store, document_id: int | None = None) -> dict[int, dict[str, Version]]:
    """document id -> annotator -> their version, for every assigned annotator (empty if untouched).

    A version is finished when its annotator marked the document done, or, for documents with
    proposals, when they decided every one of them.
    """
    where, args = ("WHERE document_id = ?", [document_id]) if document_id is not None else ("", [])
    out: dict[int, dict[str, Version]] = {}
    for doc, names in assignments(store, document_id).items():
        out[doc] = {n: Version(n, doc) for n in names}

    def get(doc: int, name: str) -> Version:
        return out.setdefault(doc, {}).setdefault(name, Version(name, doc))

    for r in store.conn.execute(
        f'SELECT document_id, annotator, start, "end", label, text, decision_id FROM version_spans {where}'
        ' ORDER BY document_id, annotator, start, "end", label',
        args,
    ):
        v = get(int(r[0]), r[1])
        key = (int(r[2]), int(r[3]), str(r[4]))
        v.spans.append(key)
        v.texts[key] = r[5]
        v.last_decision = max(v.last_decision, int(r[6]))
    for r in store.conn.execute(
        f"SELECT document_id, annotator, proposal_id, status, decision_id FROM version_verdicts {where}", args
    ):
        if r[0] is None:
            continue
        v = get(int(r[0]), r[1])
        v.verdicts[int(r[2])] = r[3]
        v.last_decision = max(v.last_decision, int(r[4]))
    for r in store.conn.execute(f"SELECT document_id, annotator, status, decision_id FROM versions {where}", args):
        v = get(int(r[0]), r[1])
        v.complete = r[2] == "complete"
        v.last_decision = max(v.last_decision, int(r[3]))
    proposals: dict[int, set[int]] = defaultdict(set)
    only_doc = " AND document_id = ?" if document_id is not None else ""
    for doc, pid in store.conn.execute(
        f"SELECT document_id, id FROM proposals WHERE kind IN ('span', 'box_fix'){only_doc}", args
    ):
        if doc is not None:
            proposals[int(doc)].add(int(pid))
    for doc, by_name in out.items():
        for v in by_name.values():
            if not v.complete and proposals.get(doc) and proposals[doc] <= set(v.verdicts):
                v.complete = True
    return out


def finished(versions: dict[str, Version]) -> dict[str, Version]:
    return {n: v for n, v in versions.items() if v.complete}
