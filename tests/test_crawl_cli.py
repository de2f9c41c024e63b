"""`studio crawl` and `studio crawls` through the real entry point, against the fixture server."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.ops.collect.crawl import run_crawl
from studio.store import Store
from tests.conftest import run_cli
from tests.test_crawl import FAST
from tests.test_crawl_site import Site

FAST_ARGS = ["--rate", "0", "--timeout", "0.4", "--max-bytes", "100000"]


@pytest.fixture
def web() -> Iterator[Site]:
    with Site() as s:
        yield s


@pytest.fixture
def project(tmp_path: Path) -> Path:
    Store.init(tmp_path / "proj").close()
    return tmp_path / "proj"


def _done_rows(project: Path) -> set[str]:
    try:
        conn = sqlite3.connect(f"file:{project / 'studio.db'}?mode=ro", uri=True, timeout=5)
        try:
            return {r[0] for r in conn.execute("SELECT url FROM frontier WHERE status != 'queued'")}
        finally:
            conn.close()
    except sqlite3.Error:
        return set()  # the crawl tables are not there yet


def _start_slow_crawl(project: Path, web: Site) -> subprocess.Popen[str]:
    # 4 requests/s: slow enough to interrupt in the middle, fast enough for a test.
    args = ["-p", str(project), "crawl", web.url("/"), "--rate", "4/s", "--timeout", "0.4", "--max-bytes", "100000"]
    return subprocess.Popen(
        [sys.executable, "-m", "studio", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_rows(proc: subprocess.Popen[str], project: Path, n: int) -> set[str]:
    deadline = time.monotonic() + 90  # a fresh interpreter on a busy 2-core machine can take long to start
    while time.monotonic() < deadline:
        done = _done_rows(project)
        if len(done) >= n:
            return done
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the crawl made no progress")


def test_help_explains_the_options() -> None:
    code, out, _ = run_cli("crawl", "--help")
    assert code == 0
    for word in ("robots.txt", "--max-pages", "--depth", "--allow", "--rate", "--concurrency", "--resume", "--json"):
        assert word in out


def test_json_summary_and_listing(project: Path, web: Site) -> None:
    code, out, err = run_cli("-p", str(project), "crawl", web.url("/"), "--depth", "1", *FAST_ARGS, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["outcome"] == "done" and result["counts"]["stored"] >= 8
    assert result["robots"]["disallowed"] == 1
    code, out, err = run_cli("-p", str(project), "crawls", "--json")
    assert code == 0, err
    crawls = json.loads(out)
    assert [c["status"] for c in crawls] == ["done"] and crawls[0]["seeds"] == [web.url("/")]
    code, out, _ = run_cli("-p", str(project), "crawl", web.url("/"), *FAST_ARGS)
    assert code == 0 and "Crawl 2 done" in out  # a finished crawl is not resumed: a new one starts


def test_user_errors_exit_non_zero_with_one_line(project: Path, tmp_path: Path) -> None:
    code, _, err = run_cli("-p", str(project), "crawl", "ftp://example.org/")
    assert code == 1 and err.strip().startswith("error: cannot crawl seed 'ftp://example.org/'")
    assert "Traceback" not in err
    code, _, err = run_cli("-p", str(project), "crawl", "--resume")
    assert code == 1 and "no unfinished crawl to resume" in err
    code, _, err = run_cli("-p", str(tmp_path / "nowhere"), "crawl", "https://example.org/")
    assert code == 1 and "no Studio project" in err
    code, _, err = run_cli("-p", str(project), "crawl", "https://example.org/", "--rate", "fast")
    assert code == 2 and "is not a rate" in err
    code, _, err = run_cli("-p", str(project), "crawl")
    assert code == 1 and "--resume" in err and "Traceback" not in err


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(project: Path, web: Site) -> None:
    proc = _start_slow_crawl(project, web)
    _wait_for_rows(proc, project, 3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "cancelled" in out and f"Resume with: studio --project {project} crawl --resume" in out
    code, out, err = run_cli("-p", str(project), "crawl", "--resume", *FAST_ARGS, "--json")
    assert code == 0, err
    resumed = json.loads(out)
    assert resumed["resumed"] and resumed["outcome"] == "done"
    assert "queued" not in resumed["frontier"]


def test_a_killed_crawl_resumes_without_refetching(project: Path, web: Site) -> None:
    proc = _start_slow_crawl(project, web)
    _wait_for_rows(proc, project, 4)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    done_at_kill = _done_rows(project)  # written before the kill: must never be fetched again
    hits_at_kill = dict(web.hits)
    with Store.open(project) as store:
        result = run_crawl(store, [web.url("/")], FAST)
    assert result.resumed and result.outcome == "done"
    for url in done_at_kill:
        path = url.removeprefix(web.url(""))
        if path != "/about.html":  # /moved, if still queued, lands on /about.html again
            assert web.hits.get(path, 0) == hits_at_kill.get(path, 0), path
    assert web.hits["/robots.txt"] == 1  # kept in the store, not asked again


def test_an_unreachable_host_is_not_reported_as_blocked_by_robots(tmp_path: Path) -> None:
    """Issue 25, defect 13: nothing listens on the port, so no page (not even robots.txt) could
    be fetched: say the host could not be reached and exit non-zero."""
    import socket

    with socket.socket() as s:  # a loopback port that was free a moment ago, with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    project = tmp_path / "p"
    Store.init(project).close()
    code, out, err = run_cli("-p", str(project), "crawl", f"http://127.0.0.1:{port}/", *FAST_ARGS)
    assert code == 1, out + err
    assert f"could not reach http://127.0.0.1:{port}" in err and "Traceback" not in err
    assert "blocked by robots.txt" not in out + err
    store = Store.open(project)
    [run] = store.decisions(action="crawl.run")
    assert run.payload["robots"] == {"unreachable": 1} and run.payload["counts"]["fetched"] == 0
    store.close()
