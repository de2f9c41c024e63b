from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def test_help_explains() -> None:
    code, out, _ = run_cli("--help")
    assert code == 0
    for word in ("init", "status", "log", "--project", "--llm"):
        assert word in out


def test_init_status_log(tmp_path: Path) -> None:
    proj = tmp_path / "p"
    code, out, err = run_cli("init", str(proj))
    assert code == 0, err
    assert "Created project" in out and (proj / "studio.db").exists()
    code, out, err = run_cli("--project", str(proj), "status", "--json")
    assert code == 0, err
    s = json.loads(out)
    assert s["documents"] == 0 and s["guideline_version"] is None
    code, out, _ = run_cli("--project", str(proj), "status")
    assert "guideline" in out and "none yet" in out
    code, out, err = run_cli("--project", str(proj), "log", "--json")
    assert code == 0, err
    assert json.loads(out) == []


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    code, _, err = run_cli("--project", str(tmp_path / "missing"), "status")
    assert code == 1
    assert err.strip().startswith("error: no Studio project") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run_cli("--project", str(tmp_path), "log", "--limit", "zero")
    assert code == 2 and "Traceback" not in err


def test_log_filters(tmp_path: Path) -> None:
    from studio.store import Store

    s = Store.init(tmp_path)
    s.start_session("t")
    s.record("agent", "guideline.note", [], {"a": 1})
    s.record("human:ann", "label.note", [], {"b": 2}, "because")
    s.record("tool", "crawl.run", [], {})
    s.close()
    code, out, _ = run_cli("--project", str(tmp_path), "log", "--json", "--actor", "human")
    assert [d["action"] for d in json.loads(out)] == ["label.note"]
    code, out, _ = run_cli("--project", str(tmp_path), "log", "--json", "--action", "crawl")
    assert [d["actor"] for d in json.loads(out)] == ["tool"]
    code, out, _ = run_cli("--project", str(tmp_path), "log", "-n", "1", "--json")
    assert [d["action"] for d in json.loads(out)] == ["crawl.run"]
    code, out, _ = run_cli("--project", str(tmp_path), "log")
    assert code == 0 and "because" in out
