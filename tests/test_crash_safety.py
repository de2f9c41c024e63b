"""A writer killed with SIGKILL mid-way leaves a sound store holding every committed decision."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from studio.store import Store

WRITER = r"""
import sys
from studio.store import Store
s = Store.open(sys.argv[1])
s.start_session("writer")
for i in range(10_000):
    d = s.record("tool", "test.write", [str(i)], {"i": i, "pad": "x" * 200})
    print(d.id, flush=True)  # printed only after the commit returned
"""


def test_sigkill_mid_write_loses_nothing_committed(tmp_path: Path) -> None:
    Store.init(tmp_path).close()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    committed: list[int] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while len(committed) < 1500 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        committed.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(committed) >= 1500, "the writer did not get far enough to be killed mid-way"

    s = Store.open(tmp_path)
    assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = {d.id for d in s.decisions(action="test.write")}
    assert set(committed) <= ids
    assert len(ids) < 10_000, "killed too late to test anything"
    # no gaps: the log is a prefix of what the writer meant to write
    assert sorted(ids) == list(range(min(ids), min(ids) + len(ids)))
    s.close()
