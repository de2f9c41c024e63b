"""How decisions change the materialized state.

`apply_decision` is the only place state tables (guideline status, proposal status, approved
labels and the decisions that support them) change. The live path records a decision and applies it in the same transaction;
`rebuild` clears the state and re-applies every decision in order. So the state is always a
function of the log, and a test checks that both paths agree.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from studio.errors import InvalidState, NotFound
from studio.store import versions

# Proposal status set by the last word of an action, for any proposal kind
# (label.accept, boxes.fix.reject, agent.action.approve, ...).
_STATUS_BY_VERB = {
    "accept": "accepted",
    "approve": "accepted",
    "reject": "rejected",
    "edit": "edited",
    "withdraw": "withdrawn",
}
# Document review status set by document.<verb> decisions (without a proposal_id); None = open again.
_DOC_STATUS_BY_VERB: dict[str, str | None] = {"complete": "complete", "reopen": None, "withdraw": "withdrawn"}


def apply_decision(conn: sqlite3.Connection, decision_id: int, action: str, payload: dict[str, Any]) -> None:
    if versions.handles(conn, action, payload):  # annotators' versions, assignments, adjudication
        versions.apply(conn, decision_id, action, payload)
        return
    kind, _, verb = action.rpartition(".")
    if kind == "guideline":
        if verb in ("propose", "edit", "approve", "reject"):
            _apply_guideline(conn, verb, payload)
        return
    if action == "label.add":
        _insert_label(conn, payload["document_id"], payload["span"], None, decision_id)
        return
    if action == "label.remove":
        _delete_label(conn, payload["document_id"], payload["span"])
        return
    if action == "label.change":
        _change_label(conn, payload["document_id"], payload["before"], payload["span"], decision_id)
        return
    if kind == "document" and verb in _DOC_STATUS_BY_VERB and "proposal_id" not in payload:
        _set_document_status(conn, payload["document_id"], _DOC_STATUS_BY_VERB[verb], decision_id)
        return
    if verb == "undo":
        _undo(conn, decision_id, payload)
        return
    pid = payload.get("proposal_id")
    if pid is None or verb not in _STATUS_BY_VERB:
        return  # a decision that records something without changing state (propose, tool.run, ...)
    row = conn.execute("SELECT status, kind, document_id, payload FROM proposals WHERE id = ?", (pid,)).fetchone()
    if row is None:
        raise NotFound(f"proposal {pid} does not exist")
    if row["status"] != "pending":
        raise InvalidState(f"proposal {pid} is already {row['status']}; undo that decision first")
    conn.execute("UPDATE proposals SET status = ? WHERE id = ?", (_STATUS_BY_VERB[verb], pid))
    if row["kind"] == "span" and verb in ("accept", "approve", "edit"):
        span = payload.get("span") or json.loads(row["payload"])["span"]
        _insert_label(conn, row["document_id"], span, pid, decision_id)


def _apply_guideline(conn: sqlite3.Connection, verb: str, payload: dict[str, Any]) -> None:
    version = payload["version"]
    if conn.execute("SELECT 1 FROM guidelines WHERE version = ?", (version,)).fetchone() is None:
        raise NotFound(f"guideline version {version} does not exist")
    if verb == "approve":
        conn.execute("UPDATE guidelines SET status = 'superseded' WHERE status = 'approved'")
        conn.execute("UPDATE guidelines SET status = 'approved' WHERE version = ?", (version,))
    elif verb == "reject":
        conn.execute("UPDATE guidelines SET status = 'rejected' WHERE version = ?", (version,))
    elif verb in ("propose", "edit"):
        conn.execute("UPDATE guidelines SET status = 'draft' WHERE version = ?", (version,))


def _insert_label(
    conn: sqlite3.Connection, document_id: int, span: dict[str, Any], proposal_id: int | None, decision_id: int
) -> None:
    """Record that `decision_id` supports the span, and show the span in `labels`."""
    conn.execute(
        'INSERT OR IGNORE INTO label_support (decision_id, document_id, start, "end", label, text, proposal_id)'
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (decision_id, document_id, span["start"], span["end"], span["label"], span.get("text", ""), proposal_id),
    )
    _sync_label(conn, (document_id, span["start"], span["end"], span["label"]))


def _delete_label(conn: sqlite3.Connection, document_id: int, span: dict[str, Any]) -> None:
    """A person removes the span itself: every support goes with it."""
    key = (document_id, span["start"], span["end"], span["label"])
    conn.execute(f"DELETE FROM label_support WHERE {_KEY}", key)
    _sync_label(conn, key)


def _withdraw_support(conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> None:
    """Remove the supports one decision gave; a span stays labeled while any other support remains."""
    keys = conn.execute(f'SELECT DISTINCT document_id, start, "end", label FROM label_support WHERE {where}', args)
    keys = [tuple(k) for k in keys.fetchall()]
    conn.execute(f"DELETE FROM label_support WHERE {where}", args)
    for key in keys:
        _sync_label(conn, key)


# A span's identity in `labels` and `label_support`.
_KEY = 'document_id = ? AND start = ? AND "end" = ? AND label = ?'


def _sync_label(conn: sqlite3.Connection, key: tuple[Any, ...]) -> None:
    """`labels` shows the span while it has a support, naming the newest supporting decision."""
    top = conn.execute(
        f"SELECT text, proposal_id, decision_id FROM label_support WHERE {_KEY} ORDER BY decision_id DESC LIMIT 1",
        key,
    ).fetchone()
    if top is None:
        conn.execute(f"DELETE FROM labels WHERE {_KEY}", key)
        return
    conn.execute(
        'INSERT INTO labels (document_id, start, "end", label, text, proposal_id, decision_id)'
        ' VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (document_id, start, "end", label) DO UPDATE SET'
        " text = excluded.text, proposal_id = excluded.proposal_id, decision_id = excluded.decision_id",
        (*key, *tuple(top)),
    )


def _change_label(
    conn: sqlite3.Connection, document_id: int, before: dict[str, Any], after: dict[str, Any], decision_id: int
) -> None:
    """Replace one approved span by another (relabel, moved boundary); the proposal link stays."""
    row = conn.execute(
        'SELECT proposal_id FROM labels WHERE document_id = ? AND start = ? AND "end" = ? AND label = ?',
        (document_id, before["start"], before["end"], before["label"]),
    ).fetchone()
    if row is None:
        raise NotFound(
            f"document {document_id} has no approved span {before['label']} [{before['start']}:{before['end']}]"
        )
    _delete_label(conn, document_id, before)
    _insert_label(conn, document_id, after, row["proposal_id"], decision_id)


def document_status(conn: sqlite3.Connection, document_id: int) -> str | None:
    row = conn.execute("SELECT status FROM document_status WHERE document_id = ?", (document_id,)).fetchone()
    return None if row is None else str(row["status"])


def _set_document_status(conn: sqlite3.Connection, document_id: int, status: str | None, decision_id: int) -> None:
    if status is None:
        conn.execute("DELETE FROM document_status WHERE document_id = ?", (document_id,))
    else:
        conn.execute(
            "INSERT OR REPLACE INTO document_status (document_id, status, decision_id) VALUES (?, ?, ?)",
            (document_id, status, decision_id),
        )


def _undo_document(
    conn: sqlite3.Connection, target_id: int, action: str, payload: dict[str, Any], decision_id: int
) -> None:
    """Undo of complete / reopen / withdraw: back to the status before it (`payload.before`),
    only while the document still has the status that decision gave it."""
    doc_id = payload["document_id"]
    if document_status(conn, doc_id) != _DOC_STATUS_BY_VERB[action.rpartition(".")[2]]:
        raise InvalidState(
            f"decision {target_id} ({action}) on document {doc_id} was followed by another change of its "
            "status; undo that one first"
        )
    _set_document_status(conn, doc_id, payload.get("before"), decision_id)


def _undo(conn: sqlite3.Connection, decision_id: int, payload: dict[str, Any]) -> None:
    target = conn.execute("SELECT action, payload FROM decisions WHERE id = ?", (payload["undoes"],)).fetchone()
    if target is None:
        raise NotFound(f"decision {payload['undoes']} does not exist")
    t_action, t_payload = target["action"], json.loads(target["payload"])
    if t_action == "label.add":
        _withdraw_support(conn, "decision_id = ?", (payload["undoes"],))
        return
    if t_action == "label.remove":
        _insert_label(conn, t_payload["document_id"], t_payload["span"], None, decision_id)
        return
    if t_action == "label.change":
        _change_label(conn, t_payload["document_id"], t_payload["span"], t_payload["before"], decision_id)
        return
    t_kind, _, t_verb = t_action.rpartition(".")
    if t_kind == "document" and t_verb in _DOC_STATUS_BY_VERB and "proposal_id" not in t_payload:
        _undo_document(conn, payload["undoes"], t_action, t_payload, decision_id)
        return
    pid = t_payload.get("proposal_id")
    if pid is None:
        raise InvalidState(f"decision {payload['undoes']} ({t_action}) cannot be undone")
    conn.execute("UPDATE proposals SET status = 'pending' WHERE id = ?", (pid,))
    _withdraw_support(conn, "proposal_id = ?", (pid,))


def rebuild(conn: sqlite3.Connection) -> int:
    """Recompute all materialized state from the decision log. Call inside a transaction."""
    conn.execute("UPDATE guidelines SET status = 'draft'")
    conn.execute("UPDATE proposals SET status = 'pending'")
    conn.execute("DELETE FROM labels")
    conn.execute("DELETE FROM label_support")
    conn.execute("DELETE FROM document_status")
    versions.clear(conn)
    n = 0
    for row in conn.execute("SELECT id, action, payload FROM decisions ORDER BY id").fetchall():
        apply_decision(conn, row["id"], row["action"], json.loads(row["payload"]))
        n += 1
    return n
