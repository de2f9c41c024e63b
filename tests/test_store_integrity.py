"""The decision log and the state derived from it hold up against duplicate decisions and tampering."""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from studio.errors import LogTampered
from studio.schema import Document, Proposal, Span
from studio.store import DB_NAME, Store, chain, db
from tests.conftest import run_cli


def _span(text: str, sub: str, label: str) -> dict:
    start = text.index(sub)
    return Span(start=start, end=start + len(sub), label=label, text=sub).model_dump()


def _snapshot(store: Store) -> tuple:
    c = store.conn
    return (
        [tuple(r) for r in c.execute('SELECT document_id, start, "end", label, text FROM labels ORDER BY 1, 2, 3, 4')],
        [tuple(r) for r in c.execute("SELECT id, status FROM proposals ORDER BY id")],
    )


def test_undo_of_one_accept_keeps_a_label_another_decision_supports(store: Store) -> None:
    # `studio label --doc 1` twice on one document proposes the same spans twice; both get accepted.
    text = "SEOUL (Yonhap) -- Hyundai Mobis and LG Energy Solution signed a battery deal on Tuesday."
    doc_id, _ = store.add_document(Document(text=text))
    spans = [_span(text, "Hyundai Mobis", "ORG"), _span(text, "LG Energy Solution", "ORG"), _span(text, "SEOUL", "LOC")]
    first = store.add_proposals([Proposal(kind="span", document_id=doc_id, payload={"span": s}) for s in spans])
    second = store.add_proposals([Proposal(kind="span", document_id=doc_id, payload={"span": s}) for s in spans])
    for pid in first:
        store.accept_span(pid, "human:ana")
    last = [store.accept_span(pid, "human:ana") for pid in second]
    # undo the last accept of a duplicate: the first proposal still supports the span
    store.undo(last[0].id, "human:ana")
    assert [s.text for s in store.approved_spans(doc_id)] == ["SEOUL", "Hyundai Mobis", "LG Energy Solution"]
    assert store.proposal(second[0]).status == "pending" and store.proposal(first[0]).status == "accepted"
    # an edit that lands on the same span as an accept is a second support too
    store.accept_span(second[0], "human:ana", edited=Span(start=18, end=31, label="ORG"))
    store.undo(store.decisions(action="label.accept")[0].id, "human:ana")
    assert "Hyundai Mobis" in [s.text for s in store.approved_spans(doc_id)]
    # a label added by hand and an accepted proposal of the same span: undoing the add keeps it
    add = store.record("human:ana", "label.add", [f"doc:{doc_id}"], {"document_id": doc_id, "span": spans[1]})
    store.undo(add.id, "human:ana")
    assert "LG Energy Solution" in [s.text for s in store.approved_spans(doc_id)]
    # once no decision supports a span any more, it goes
    store.undo(last[1].id, "human:ana")
    assert "LG Energy Solution" in [s.text for s in store.approved_spans(doc_id)]
    store.undo(store.decisions(action="label.accept")[1].id, "human:ana")
    assert "LG Energy Solution" not in [s.text for s in store.approved_spans(doc_id)]
    # the live state and the state rebuilt from the log agree
    live = _snapshot(store)
    assert store.rebuild_state() == len(store.decisions())
    assert _snapshot(store) == live


def test_the_label_row_names_a_decision_that_still_supports_it(store: Store) -> None:
    text = "Kakao Bank shares rose 4% in Seoul."
    doc_id, _ = store.add_document(Document(text=text))
    span = _span(text, "Kakao Bank", "ORG")
    a, b = store.add_proposals([Proposal(kind="span", document_id=doc_id, payload={"span": span})] * 2)
    da = store.accept_span(a, "human:ana")
    db = store.accept_span(b, "human:ana")
    store.undo(db.id, "human:ana")
    row = store.conn.execute("SELECT proposal_id, decision_id FROM labels WHERE document_id = ?", (doc_id,)).fetchone()
    assert tuple(row) == (a, da.id)


# -- the hash chain (defect 10) ---------------------------------------------------------------


def _labeled_project(store: Store) -> tuple[int, int]:
    text = "BUSAN, March 3 -- Samsung Heavy Industries won a $1.2 billion LNG carrier order from Maersk."
    doc_id, _ = store.add_document(Document(text=text))
    spans = [_span(text, "Samsung Heavy Industries", "ORG"), _span(text, "Maersk", "ORG")]
    pids = store.add_proposals([Proposal(kind="span", document_id=doc_id, payload={"span": s}) for s in spans])
    store.accept_span(pids[0], "human:ana")
    return doc_id, pids[1]


def _raw(store: Store) -> sqlite3.Connection:
    """Another program writing the file, as a tamperer with the sqlite3 shell would."""
    return sqlite3.connect(store.root / DB_NAME, isolation_level=None)


def test_an_untouched_log_verifies_and_chains_every_row(store: Store) -> None:
    _labeled_project(store)
    report = store.verify()
    assert report.ok and report.checked == len(store.decisions()) and report.broken_at is None
    rows = store.conn.execute("SELECT prev_hash, hash FROM decisions ORDER BY id").fetchall()
    assert rows[0][0] == chain.GENESIS and all(b[0] == a[1] for a, b in itertools.pairwise(rows))
    assert report.head_hash == rows[-1][1]


def test_a_forged_insert_is_the_first_broken_link(store: Store) -> None:
    doc_id, pending = _labeled_project(store)
    n = len(store.decisions())
    raw = _raw(store)
    raw.execute(
        "INSERT INTO decisions (ts, actor, action, subject_ids, payload) VALUES ('2026-01-01', 'human:ana',"
        " 'label.accept', '[]', ?)",
        (json.dumps({"proposal_id": pending}),),
    )
    raw.close()
    store.record("human:ana", "settings.note", [], {"after": "forgery"})
    report = store.verify()
    assert not report.ok and report.broken_at == n + 1 and "no hash" in report.problem and report.checked == n
    # rebuilding state from a broken log would turn the forged accept into a label: refused
    with pytest.raises(LogTampered, match=f"decision {n + 1}"):
        store.rebuild_state()
    assert [s.text for s in store.approved_spans(doc_id)] == ["Samsung Heavy Industries"]
    # a forger who also fills in a made-up hash is caught the same way
    raw = _raw(store)
    raw.execute(
        "INSERT INTO decisions (ts, actor, action, payload, prev_hash, hash) VALUES ('x', 'tool', 'a.b', '{}', ?, ?)",
        (report.head_hash, "f" * 64),
    )
    raw.close()
    assert store.verify().broken_at == n + 1


def test_dropped_triggers_come_back_on_open_and_the_edit_is_found(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "p")
    _labeled_project(store)
    accept = store.decisions(action="label.accept")[0]
    store.close()
    raw = sqlite3.connect(tmp_path / "p" / DB_NAME, isolation_level=None)
    raw.execute("DROP TRIGGER decisions_no_update")
    raw.execute("DROP TRIGGER decisions_no_delete")
    raw.execute("UPDATE decisions SET actor = 'human:boss' WHERE id = ?", (accept.id,))
    raw.execute("DELETE FROM decisions WHERE id = 1")
    raw.close()
    store = Store.open(tmp_path / "p")
    assert store.warnings and "studio verify" in store.warnings[0]
    report = store.verify()
    assert not report.ok and report.broken_at == 2 and "does not follow the start" in report.problem
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.conn.execute("DELETE FROM decisions WHERE id = 2")
    store.close()
    again = Store.open(tmp_path / "p")
    assert again.warnings == [] and again.verify().broken_at == 2
    again.close()


def test_a_changed_row_is_reported(store: Store) -> None:
    _labeled_project(store)
    accept = store.decisions(action="label.accept")[0]
    raw = _raw(store)
    raw.execute("DROP TRIGGER decisions_no_update")
    raw.execute("UPDATE decisions SET rationale = 'approved by the board' WHERE id = ?", (accept.id,))
    raw.close()
    report = store.verify()
    assert report.broken_at == accept.id and "changed after it was written" in report.problem
    assert report.triggers_missing == ["decisions_no_update"]


def test_an_old_database_is_chained_by_the_migration(tmp_path: Path) -> None:
    # a project written before migration 0012: decisions without hashes, labels without supports
    path = tmp_path / "old" / DB_NAME
    path.parent.mkdir()
    conn = db.connect(path)
    db.current_version(conn)
    for version, name, sql in db.migrations():
        if version >= 12:
            break
        for statement in db._split_sql(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", (version, name))
    conn.execute("INSERT INTO documents (content_hash, text, source, created_at) VALUES ('h', 'Naver', 'x', 't')")
    for action, payload in [("documents.add", {"count": 1}), ("label.add", {"document_id": 1, "span": {}})]:
        conn.execute(
            "INSERT INTO decisions (ts, actor, action, payload) VALUES ('t', 'human:ana', ?, ?)",
            (action, json.dumps(payload)),
        )
    conn.execute(
        "INSERT INTO labels (document_id, start, \"end\", label, text, decision_id) VALUES (1, 0, 5, 'ORG', 'Naver', 2)"
    )
    conn.close()
    store = Store.open(tmp_path / "old")
    assert store.verify().ok and store.verify().checked == 2
    assert store.conn.execute("SELECT COUNT(*) FROM label_support").fetchone()[0] == 1
    store.record("human:ana", "settings.note", [], {})
    assert store.verify().ok and store.verify().checked == 3 and chain.missing_triggers(store.conn) == []
    store.close()


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    Store.init(tmp_path / "p").close()

    def writer(name: str) -> None:
        s = Store.open(tmp_path / "p")
        for i in range(40):
            s.record(f"human:{name}", "settings.note", [], {"i": i})
        s.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("ana", "min", "joon")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = Store.open(tmp_path / "p")
    report = store.verify()
    assert report.ok and report.checked == 120
    store.close()


def test_studio_verify_names_the_first_broken_link(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "p")
    _labeled_project(store)
    store.close()
    code, out, err = run_cli("--project", str(tmp_path / "p"), "verify")
    assert code == 0 and out.startswith("OK: 3 decisions") and "head " in out
    raw = sqlite3.connect(tmp_path / "p" / DB_NAME, isolation_level=None)
    raw.execute("DROP TRIGGER decisions_no_delete")
    raw.execute("DELETE FROM decisions WHERE id = 2")
    raw.close()
    code, out, err = run_cli("--project", str(tmp_path / "p"), "verify", "--json")
    assert code == 1 and "were missing or changed and have been re-created" in err
    report = json.loads(out)
    assert report["broken_at"] == 3 and report["checked"] == 1 and "does not follow decision 1" in report["problem"]
