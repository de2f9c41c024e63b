"""An annotator's review queue in a team project: the documents assigned to them, not yet finished.

`studio.ops.review.DocumentQueue` takes these SQL conditions on `documents d`: an annotator with
assignments sees their documents whose version is not complete (and not settled by a reviewer);
anyone else sees only documents that are not assigned to annotators.
"""

from __future__ import annotations

from studio.store import Store
from studio.store.versions import annotator_of

UNASSIGNED = " AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.document_id = d.id)"


def _quote(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def annotator_where(store: Store, actor: str | None, pending_only: bool = False) -> str | None:
    """The queue condition for `actor`'s own documents, or None when nothing is assigned to them."""
    name = annotator_of(actor or "")
    if name is None:
        return None
    if store.conn.execute("SELECT 1 FROM assignments WHERE annotator = ? LIMIT 1", (name,)).fetchone() is None:
        return None
    q = _quote(name)
    where = (
        f"d.id IN (SELECT document_id FROM assignments WHERE annotator = {q})"
        f" AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.document_id = d.id AND v.annotator = {q}"
        " AND v.status = 'complete')"
        " AND NOT EXISTS (SELECT 1 FROM adjudications j WHERE j.document_id = d.id)"
    )
    if pending_only:
        where += (
            " AND EXISTS (SELECT 1 FROM proposals p WHERE p.document_id = d.id AND p.kind = 'span'"
            " AND p.status = 'pending' AND NOT EXISTS (SELECT 1 FROM version_verdicts w"
            f" WHERE w.proposal_id = p.id AND w.annotator = {q}))"
        )
    return where


def proposal_where(store: Store, actor: str | None) -> str:
    """A condition on `proposals` for the per-proposal queue: the annotator's own assigned proposals
    not yet decided by them, or (anyone else) proposals of unassigned documents; '' without assignments."""
    if store.conn.execute("SELECT 1 FROM assignments LIMIT 1").fetchone() is None:
        return ""
    name = annotator_of(actor or "")
    mine = (
        name is not None
        and store.conn.execute("SELECT 1 FROM assignments WHERE annotator = ? LIMIT 1", (name,)).fetchone()
    )
    if not mine or name is None:
        return " AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.document_id = proposals.document_id)"
    q = _quote(name)
    return (
        f" AND document_id IN (SELECT document_id FROM assignments WHERE annotator = {q})"
        f" AND NOT EXISTS (SELECT 1 FROM version_verdicts w WHERE w.proposal_id = proposals.id AND w.annotator = {q})"
        f" AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.document_id = proposals.document_id AND v.annotator = {q}"
        " AND v.status = 'complete')"
    )
