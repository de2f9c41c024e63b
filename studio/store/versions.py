"""Annotators' versions of a document and the reviewer's adjudication: the team layer of the state.

In a project with assignments (`team.assign`), a review decision by a person assigned to the
document (label.accept / reject / edit / add / remove, boxes.fix.accept / reject,
document.complete / reopen, and their undo) is THEIR annotation of the document: `route` marks it
with `payload.annotator = <name>` before it is logged, and `apply` writes it to the version
tables instead of the project's labels. Shared proposals stay pending for the others. A reviewer's
`document.adjudicate` decision turns the settled spans into the project's labels and decides the
document's proposals. Like `state.apply_decision`, everything here is a function of the log.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from studio.errors import InvalidState, NotFound

# Review actions that become an annotator's version in a document with assignments.
ROUTED = {
    "label.accept",
    "label.approve",
    "label.reject",
    "label.edit",
    "label.add",
    "label.remove",
    "label.change",
    "boxes.fix.accept",
    "boxes.fix.reject",
    "document.complete",
    "document.reopen",
}
ADJUDICATE = "document.adjudicate"
_VERDICT = {"accept": "accepted", "approve": "accepted", "edit": "edited", "reject": "rejected"}


def annotator_of(actor: str) -> str | None:
    return actor.split(":", 1)[1] if actor.startswith("human:") else None


def assigned(conn: sqlite3.Connection, document_id: int) -> list[str]:
    rows = conn.execute("SELECT annotator FROM assignments WHERE document_id = ? ORDER BY annotator", (document_id,))
    return [r[0] for r in rows]


def _document_of(conn: sqlite3.Connection, payload: dict[str, Any]) -> int | None:
    if payload.get("document_id") is not None:
        return int(payload["document_id"])
    if payload.get("proposal_id") is not None:
        row = conn.execute("SELECT document_id FROM proposals WHERE id = ?", (payload["proposal_id"],)).fetchone()
        if row is not None and row[0] is not None:
            return int(row[0])
    return None


def route(conn: sqlite3.Connection, actor: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload to log: marked as `actor`'s version when the document is assigned to annotators."""
    name = annotator_of(actor)
    if name is None or "annotator" in payload:
        return payload
    if action.endswith(".undo"):
        target = conn.execute("SELECT payload FROM decisions WHERE id = ?", (payload.get("undoes"),)).fetchone()
        version = json.loads(target[0]).get("annotator") if target is not None else None
        if version is None:
            return payload
        if version != name:
            raise InvalidState(
                f"decision {payload['undoes']} is part of {version}'s version: only {version} can undo it"
            )
        return {**payload, "annotator": version}
    if action not in ROUTED:
        return payload
    doc = _document_of(conn, payload)
    if doc is None:
        return payload
    names = assigned(conn, doc)
    if not names:
        return payload
    if name not in names:
        raise InvalidState(
            f"document {doc} is assigned to {', '.join(names)}, not to {name}: each of them annotates their own "
            "version and a reviewer settles the document with `studio adjudicate`; `studio review` shows you "
            "the documents assigned to you"
        )
    return {**payload, "annotator": name}


# -- reading an annotator's version (for the review screens and queue) ---------------------------
def annotator_for(conn: sqlite3.Connection, document_id: int, actor: str | None) -> str | None:
    """The annotator whose version `actor` works on in this document, or None (the project's labels)."""
    name = annotator_of(actor or "")
    if name is None:
        return None
    row = conn.execute(
        "SELECT 1 FROM assignments WHERE document_id = ? AND annotator = ?", (document_id, name)
    ).fetchone()
    return name if row is not None else None


def version_spans(conn: sqlite3.Connection, document_id: int, name: str) -> list[sqlite3.Row]:
    return conn.execute(
        'SELECT start, "end", label, text, proposal_id FROM version_spans WHERE document_id = ? AND annotator = ?'
        ' ORDER BY start, "end", label',
        (document_id, name),
    ).fetchall()


def undecided(conn: sqlite3.Connection, document_id: int, name: str, kind: str = "span") -> list[int]:
    """Proposals of the document still open for the project that `name` has not decided."""
    rows = conn.execute(
        "SELECT id FROM proposals p WHERE document_id = ? AND kind = ? AND status = 'pending' AND NOT EXISTS"
        " (SELECT 1 FROM version_verdicts v WHERE v.proposal_id = p.id AND v.annotator = ?) ORDER BY id",
        (document_id, kind, name),
    )
    return [int(r[0]) for r in rows]


def version_status(conn: sqlite3.Connection, document_id: int, name: str) -> str:
    """complete, partial (something decided) or untouched: the annotator's own review status."""
    row = conn.execute(
        "SELECT status FROM versions WHERE document_id = ? AND annotator = ?", (document_id, name)
    ).fetchone()
    if row is not None and row[0] == "complete":
        return "complete"
    touched = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM version_spans WHERE document_id = ? AND annotator = ?)"
        " OR EXISTS (SELECT 1 FROM version_verdicts WHERE document_id = ? AND annotator = ?)",
        (document_id, name, document_id, name),
    ).fetchone()[0]
    return "partial" if touched else "untouched"


def handles(conn: sqlite3.Connection, action: str, payload: dict[str, Any]) -> bool:
    """True for decisions this module applies: versions, assignments, adjudications and their undo."""
    if "annotator" in payload or action in (ADJUDICATE, "team.assign", "team.unassign"):
        return True
    if action == "document.undo":
        target = conn.execute("SELECT action FROM decisions WHERE id = ?", (payload.get("undoes"),)).fetchone()
        return target is not None and target[0] == ADJUDICATE
    return False


def apply(conn: sqlite3.Connection, decision_id: int, action: str, payload: dict[str, Any]) -> None:
    """Apply a version or adjudication decision (one that `handles`) to the team tables."""
    if action == ADJUDICATE:
        _adjudicate(conn, decision_id, payload)
        return
    if action in ("team.assign", "team.unassign"):
        _assign(conn, decision_id, action, payload)
        return
    if action.endswith(".undo"):
        _undo(conn, decision_id, payload)
        return
    name = payload["annotator"]
    verb = action.rpartition(".")[2]
    if action == "label.add":
        _insert_span(conn, int(payload["document_id"]), name, payload["span"], None, decision_id)
    elif action == "label.remove":
        _delete_span(conn, int(payload["document_id"]), name, payload["span"])
    elif action == "label.change":
        _change_span(conn, int(payload["document_id"]), name, payload["before"], payload["span"], decision_id)
    elif action in ("document.complete", "document.reopen"):
        status = "complete" if verb == "complete" else "open"
        conn.execute(
            "INSERT OR REPLACE INTO versions (document_id, annotator, status, decision_id) VALUES (?, ?, ?, ?)",
            (int(payload["document_id"]), name, status, decision_id),
        )
    elif verb in _VERDICT:
        pid = int(payload["proposal_id"])
        row = conn.execute("SELECT kind, document_id, payload FROM proposals WHERE id = ?", (pid,)).fetchone()
        if row is None:
            raise NotFound(f"proposal {pid} does not exist")
        done = conn.execute(
            "SELECT status FROM version_verdicts WHERE proposal_id = ? AND annotator = ?", (pid, name)
        ).fetchone()
        if done is not None:
            raise InvalidState(f"{name} already {done[0]} proposal {pid}; undo that decision first")
        conn.execute(
            "INSERT INTO version_verdicts (proposal_id, annotator, document_id, status, decision_id)"
            " VALUES (?, ?, ?, ?, ?)",
            (pid, name, row["document_id"], _VERDICT[verb], decision_id),
        )
        if row["kind"] == "span" and verb in ("accept", "approve", "edit"):
            span = payload.get("span") or json.loads(row["payload"])["span"]
            _insert_span(conn, int(row["document_id"]), name, span, pid, decision_id)


def _insert_span(
    conn: sqlite3.Connection, doc: int, name: str, span: dict[str, Any], pid: int | None, decision_id: int
) -> None:
    conn.execute(
        'INSERT OR REPLACE INTO version_spans (document_id, annotator, start, "end", label, text, proposal_id,'
        " decision_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (doc, name, span["start"], span["end"], span["label"], span.get("text", ""), pid, decision_id),
    )


def _delete_span(conn: sqlite3.Connection, doc: int, name: str, span: dict[str, Any]) -> None:
    conn.execute(
        'DELETE FROM version_spans WHERE document_id = ? AND annotator = ? AND start = ? AND "end" = ? AND label = ?',
        (doc, name, span["start"], span["end"], span["label"]),
    )


def _change_span(
    conn: sqlite3.Connection, doc: int, name: str, before: dict[str, Any], after: dict[str, Any], decision_id: int
) -> None:
    row = conn.execute(
        'SELECT proposal_id FROM version_spans WHERE document_id = ? AND annotator = ? AND start = ? AND "end" = ?'
        " AND label = ?",
        (doc, name, before["start"], before["end"], before["label"]),
    ).fetchone()
    if row is None:
        raise NotFound(
            f"{name}'s version of document {doc} has no span {before['label']} [{before['start']}:{before['end']}]"
        )
    _delete_span(conn, doc, name, before)
    _insert_span(conn, doc, name, after, row[0], decision_id)


def _undo(conn: sqlite3.Connection, decision_id: int, payload: dict[str, Any]) -> None:
    target = conn.execute("SELECT id, action, payload FROM decisions WHERE id = ?", (payload["undoes"],)).fetchone()
    if target is None:
        raise NotFound(f"decision {payload['undoes']} does not exist")
    t_action, t_payload = target["action"], json.loads(target["payload"])
    if t_action == ADJUDICATE:
        _unsettle(conn, int(t_payload["document_id"]))
        _resettle(conn, int(t_payload["document_id"]), before=decision_id)
        return
    name = t_payload["annotator"]
    if t_action == "label.add":
        _delete_span(conn, int(t_payload["document_id"]), name, t_payload["span"])
    elif t_action == "label.remove":
        _insert_span(conn, int(t_payload["document_id"]), name, t_payload["span"], None, decision_id)
    elif t_action == "label.change":
        _change_span(conn, int(t_payload["document_id"]), name, t_payload["span"], t_payload["before"], decision_id)
    elif t_action in ("document.complete", "document.reopen"):
        status = "open" if t_action == "document.complete" else "complete"
        conn.execute(
            "UPDATE versions SET status = ?, decision_id = ? WHERE document_id = ? AND annotator = ?",
            (status, decision_id, int(t_payload["document_id"]), name),
        )
    elif t_payload.get("proposal_id") is not None:
        pid = int(t_payload["proposal_id"])
        conn.execute("DELETE FROM version_verdicts WHERE proposal_id = ? AND annotator = ?", (pid, name))
        conn.execute("DELETE FROM version_spans WHERE proposal_id = ? AND annotator = ?", (pid, name))
    else:
        raise InvalidState(f"decision {payload['undoes']} ({t_action}) cannot be undone")


# -- adjudication ---------------------------------------------------------------------------
def _adjudicate(conn: sqlite3.Connection, decision_id: int, payload: dict[str, Any]) -> None:
    from studio.store import state  # state calls into this module; import here to keep the cycle lazy

    doc = int(payload["document_id"])
    _unsettle(conn, doc)
    # The settled spans are the document's labels: whatever was approved before gives way.
    _clear_labels(conn, doc)
    spans = payload.get("spans") or []
    keep = {(s["start"], s["end"], s["label"]) for s in spans}
    # A settled span that a proposal made keeps the link to it (so `studio why` finds its source).
    proposed: dict[tuple[Any, Any, Any], int] = {}
    for row in conn.execute("SELECT id, payload FROM proposals WHERE document_id = ? AND kind = 'span'", (doc,)):
        s = json.loads(row["payload"]).get("span") or {}
        proposed.setdefault((s.get("start"), s.get("end"), s.get("label")), int(row["id"]))
    for span in spans:
        pid = proposed.get((span["start"], span["end"], span["label"]))
        state._insert_label(conn, doc, span, pid, decision_id)
    closed = []
    for row in conn.execute(
        "SELECT id, kind, payload FROM proposals WHERE document_id = ? AND status = 'pending' ORDER BY id", (doc,)
    ).fetchall():
        p = json.loads(row["payload"])
        if row["kind"] == "span":
            s = p.get("span") or {}
            status = "accepted" if (s.get("start"), s.get("end"), s.get("label")) in keep else "rejected"
        elif row["kind"] == "box_fix":
            status = "accepted" if row["id"] in set(payload.get("accepted_fixes") or []) else "rejected"
        else:
            continue
        conn.execute("UPDATE proposals SET status = ? WHERE id = ?", (status, row["id"]))
        closed.append(row["id"])
    conn.execute(
        "INSERT OR REPLACE INTO adjudications (document_id, decision_id, method, closed) VALUES (?, ?, ?, ?)",
        (doc, decision_id, str(payload.get("method", "")), json.dumps(closed)),
    )
    # The settled document is finished for the project (releases hold complete documents).
    conn.execute(
        "INSERT OR REPLACE INTO document_status (document_id, status, decision_id) VALUES (?, 'complete', ?)",
        (doc, decision_id),
    )


def _unsettle(conn: sqlite3.Connection, doc: int) -> None:
    """Take back the document's current adjudication: its labels go, its proposals are pending again."""
    row = conn.execute("SELECT decision_id, closed FROM adjudications WHERE document_id = ?", (doc,)).fetchone()
    if row is None:
        return
    _clear_labels(conn, doc)
    conn.execute("DELETE FROM document_status WHERE document_id = ? AND decision_id = ?", (doc, row["decision_id"]))
    for pid in json.loads(row["closed"]):
        conn.execute("UPDATE proposals SET status = 'pending' WHERE id = ?", (pid,))
    conn.execute("DELETE FROM adjudications WHERE document_id = ?", (doc,))


def _clear_labels(conn: sqlite3.Connection, doc: int) -> None:
    conn.execute("DELETE FROM label_support WHERE document_id = ?", (doc,))
    conn.execute("DELETE FROM labels WHERE document_id = ?", (doc,))


def _resettle(conn: sqlite3.Connection, doc: int, before: int) -> None:
    """After an undo, the newest adjudication of the document that still stands applies again."""
    rows = conn.execute(
        "SELECT id, payload FROM decisions WHERE action = ? AND id < ? AND json_extract(payload, '$.document_id') = ?"
        " AND id NOT IN (SELECT json_extract(payload, '$.undoes') FROM decisions WHERE action LIKE '%.undo'"
        " AND id <= ?) ORDER BY id DESC LIMIT 1",
        (ADJUDICATE, before, doc, before),
    ).fetchall()
    for r in rows:
        _adjudicate(conn, int(r["id"]), json.loads(r["payload"]))


def clear(conn: sqlite3.Connection) -> None:
    """Empty the team tables before a rebuild (assignments are re-applied from `team.assign`)."""
    for table in ("assignments", "version_spans", "version_verdicts", "versions", "adjudications"):
        conn.execute(f"DELETE FROM {table}")


def _assign(conn: sqlite3.Connection, decision_id: int, action: str, payload: dict[str, Any]) -> None:
    """`team.assign` adds rows; `team.unassign` removes them (both name [[document_id, [annotators]], ...])."""
    for doc, names in payload.get("assignments") or []:
        for name in names:
            if action == "team.assign":
                conn.execute(
                    "INSERT OR IGNORE INTO assignments (document_id, annotator, decision_id) VALUES (?, ?, ?)",
                    (int(doc), name, decision_id),
                )
            else:
                conn.execute("DELETE FROM assignments WHERE document_id = ? AND annotator = ?", (int(doc), name))
