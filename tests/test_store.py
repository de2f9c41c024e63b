from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from studio.errors import InvalidState, ProjectNotFound
from studio.schema import Document, Guideline, LabelDef, Proposal, Span
from studio.store import DB_NAME, DatabaseTooNew, Store


def _guideline() -> Guideline:
    return Guideline(
        goal="company and product names in tech news",
        labels=[LabelDef(name="ORG", definition="a company"), LabelDef(name="PRODUCT", definition="a product")],
    )


def _span_proposal(doc_id: int, text: str, sub: str, label: str, conf: float = 0.9) -> Proposal:
    start = text.index(sub)
    span = Span(start=start, end=start + len(sub), label=label, text=sub)
    return Proposal(
        kind="span", document_id=doc_id, payload={"span": span.model_dump()}, source="test", confidence=conf
    )


def test_documents_round_trip_and_dedup(store: Store) -> None:
    text = "Apple released the iPhone 16 in Cupertino."
    (doc_id, new), (dup_id, dup_new) = store.add_documents(
        [Document(text=text, provenance={"url": "http://a/1"}), Document(text=text, provenance={"url": "http://a/2"})]
    )
    assert new and not dup_new and dup_id == doc_id
    doc = store.document(doc_id)
    assert doc.text == text and doc.provenance == {"url": "http://a/1"}
    # the same text saved with CRLF line endings is the same document
    (a, a_new), (b, b_new) = store.add_documents([Document(text="one\ntwo"), Document(text="one\r\ntwo")])
    assert a_new and not b_new and a == b
    d = store.decisions(action="documents.add")[0]
    assert d.actor == "tool" and d.payload["count"] == 1 and d.payload["skipped_duplicates"] == 1


def test_guideline_versions_and_approval(store: Store) -> None:
    v1 = store.add_guideline(_guideline(), actor="agent")
    assert store.approved_guideline() is None
    store.decide_guideline(v1, "human:ann", "reject", rationale="add a PERSON label")
    g2 = _guideline().model_copy(update={"labels": [*_guideline().labels, LabelDef(name="PERSON")]})
    v2 = store.add_guideline(g2, actor="agent", parent=v1)
    store.decide_guideline(v2, "human:ann", "approve")
    g, version = store.approved_guideline()
    assert version == 2 and g.label_names() == ["ORG", "PRODUCT", "PERSON"]
    assert [v["status"] for v in store.guideline_versions()] == ["rejected", "approved"]
    with pytest.raises(InvalidState):
        store.decide_guideline(v2, "human:ann", "approve")


def test_span_proposals_accept_reject_edit_undo(store: Store) -> None:
    text = "Apple released the iPhone 16 in Cupertino."
    doc_id, _ = store.add_document(Document(text=text))
    p_org, p_prod, p_loc = store.add_proposals(
        [
            _span_proposal(doc_id, text, "Apple", "ORG"),
            _span_proposal(doc_id, text, "iPhone", "PRODUCT"),
            _span_proposal(doc_id, text, "Cupertino", "ORG", 0.3),
        ]
    )
    assert len(store.proposals(status="pending")) == 3
    store.accept_span(p_org, "human:ann")
    # the human widens "iPhone" to "iPhone 16"
    edit = store.accept_span(p_prod, "human:ann", edited=Span(start=19, end=28, label="PRODUCT"))
    rej = store.decide(p_loc, "human:ann", "reject", rationale="a city, not a company")
    assert [(s.text, s.label) for s in store.approved_spans(doc_id)] == [("Apple", "ORG"), ("iPhone 16", "PRODUCT")]
    assert store.proposal(p_prod).status == "edited" and store.proposal(p_loc).status == "rejected"
    with pytest.raises(InvalidState):
        store.accept_span(p_loc, "human:ann")
    store.undo(edit.id, "human:ann")
    store.undo(rej.id, "human:ann")
    assert [s.text for s in store.approved_spans(doc_id)] == ["Apple"]
    assert store.proposal(p_prod).status == "pending" and store.proposal(p_loc).status == "pending"
    # an edit that does not fit the text is refused and changes nothing
    with pytest.raises(ValueError):
        store.accept_span(p_prod, "human:ann", edited=Span(start=30, end=99, label="PRODUCT"))
    assert store.proposal(p_prod).status == "pending"
    actions = [d.action for d in store.decisions(action="label")]
    assert actions == ["label.propose", "label.accept", "label.edit", "label.reject", "label.undo", "label.undo"]


def test_state_is_derived_from_decisions(store: Store) -> None:
    text = "Samsung and Google announced Android 15."
    doc_id, _ = store.add_document(Document(text=text))
    ids = store.add_proposals(
        [
            _span_proposal(doc_id, text, w, lab)
            for w, lab in [("Samsung", "ORG"), ("Google", "ORG"), ("Android 15", "PRODUCT")]
        ]
    )
    v = store.add_guideline(_guideline(), "agent")
    store.decide_guideline(v, "human:ann", "approve")
    store.accept_span(ids[0], "human:ann")
    d = store.accept_span(ids[1], "human:ann")
    store.undo(d.id, "human:ann")
    store.decide(ids[2], "human:ann", "reject")
    store.record(
        "human:ann",
        "label.add",
        [f"doc:{doc_id}"],
        {"document_id": doc_id, "span": {"start": 12, "end": 18, "label": "ORG", "text": "Google"}},
    )

    def snapshot() -> tuple:
        c = store.conn
        return (
            c.execute('SELECT document_id, start, "end", label FROM labels ORDER BY 1,2,3').fetchall(),
            c.execute("SELECT id, status FROM proposals ORDER BY id").fetchall(),
            c.execute("SELECT version, status FROM guidelines ORDER BY version").fetchall(),
        )

    live = [tuple(map(tuple, part)) for part in snapshot()]
    # wipe the materialized state by hand, then derive it again from the log alone
    with store.transaction() as c:
        c.execute("DELETE FROM labels")
        c.execute("UPDATE proposals SET status = 'pending'")
    assert store.rebuild_state() == len(store.decisions())
    assert [tuple(map(tuple, part)) for part in snapshot()] == live
    assert len(live[0]) == 2


def test_decisions_are_append_only(store: Store) -> None:
    d = store.record("human:ann", "settings.note", [], {"x": 1}, "why")
    for sql in ("UPDATE decisions SET rationale = 'changed' WHERE id = ?", "DELETE FROM decisions WHERE id = ?"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            store.conn.execute(sql, (d.id,))
    # also through an unrelated raw connection, as any other program would
    raw = sqlite3.connect(store.root / DB_NAME)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM decisions")
    raw.close()
    assert store.decisions()[-1].rationale == "why"


def test_state_change_and_decision_share_a_transaction(store: Store) -> None:
    text = "Nvidia"
    doc_id, _ = store.add_document(Document(text=text))
    [pid] = store.add_proposals([_span_proposal(doc_id, text, "Nvidia", "ORG")])
    before = len(store.decisions())
    with pytest.raises(RuntimeError), store.transaction():
        store.accept_span(pid, "human:ann")
        raise RuntimeError("crash after the decision, before commit")
    assert len(store.decisions()) == before
    assert store.approved_spans(doc_id) == [] and store.proposal(pid).status == "pending"


def test_bad_actor_and_action_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.record("bob", "label.accept")
    with pytest.raises(ValueError):
        store.record("human:bob", "Not An Action")


def test_open_missing_project_and_newer_database(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound, match="studio init"):
        Store.open(tmp_path / "nothing")
    s = Store.init(tmp_path / "p")
    s.conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')")
    s.close()
    with pytest.raises(DatabaseTooNew, match="upgrade Studio"):
        Store.open(tmp_path / "p")


def test_wal_and_foreign_keys(store: Store) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        store.add_proposals([Proposal(kind="span", document_id=12345, payload={})])
