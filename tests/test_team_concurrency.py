"""Several processes writing one project: nothing lost, a lock that stays taken is reported."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.store import DB_NAME, Store, StoreLocked, db
from tests.conftest import ROOT


def test_processes_writing_at_once_lose_nothing() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_concurrent.py"), "--workers", "3", "--per-worker", "60", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    together = out["together_check"]
    assert together["missing"] == {} and together["integrity"] == "ok"
    assert together["labels"] == together["expected_labels"] == 180
    assert set(out["per_writer_s"]) == {"ann0", "ann1", "ann2"}


def test_a_store_locked_too_long_says_so_and_writes_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(db, "LOCK_ATTEMPTS", 2)
    store.conn.execute(f"PRAGMA busy_timeout={db.BUSY_TIMEOUT_MS}")
    before = len(store.decisions())
    other = sqlite3.connect(store.root / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        with pytest.raises(StoreLocked, match=r"stayed locked by another Studio process.*try again"):
            store.record("human:ana", "label.add", [], {"document_id": 1, "span": {"start": 0, "end": 1, "label": "X"}})
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert len(store.decisions()) == before
    # the lock is gone: the same decision now goes through, and the store is usable
    store.record("human:ana", "note.add", [], {"n": 1})
    assert len(store.decisions()) == before + 1


def test_a_short_lock_is_waited_out(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(db, "LOCK_ATTEMPTS", 8)
    store.conn.execute(f"PRAGMA busy_timeout={db.BUSY_TIMEOUT_MS}")
    other = sqlite3.connect(store.root / DB_NAME, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.4, lambda: other.execute("COMMIT"))
    release.start()
    t0 = time.perf_counter()
    d = store.record("human:ben", "note.add", [], {"n": 2})
    release.join()
    other.close()
    assert d.id and time.perf_counter() - t0 >= 0.3


def test_two_processes_creating_one_project_at_once(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    code = "import sys; from studio.store import Store; Store.init(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root)], cwd=ROOT) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with Store.open(root) as s:
        versions = [r[0] for r in s.conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [v for v, _, _ in db.migrations()]
