"""`studio query` and `studio simulate` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

from studio.schema import Document
from studio.store import Store
from tests.conftest import run_cli

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "textclf" / "tickets.jsonl"


def _small_gold(tmp_path: Path, n: int = 200) -> Path:
    f = tmp_path / "gold.jsonl"
    f.write_text("".join(FIXTURE.read_text(encoding="utf-8").splitlines(keepends=True)[:n]))
    return f


def test_query_json_and_show(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    with Store.init(proj) as s:
        rows = [json.loads(x) for x in FIXTURE.read_text(encoding="utf-8").splitlines()[:40]]
        s.add_documents([Document(text=r["text"]) for r in rows])
    args = ("--batch", "5", "--strategy", "entropy", "--features", "tfidf", "--json")
    code, out, err = run_cli("-p", str(proj), "query", *args)
    assert code == 0, err
    result = json.loads(out)
    assert result["task"] == "classification" and result["used"] == "random" and result["cold_start"]
    assert [i["rank"] for i in result["items"]] == [1, 2, 3, 4, 5]

    code, out, err = run_cli("-p", str(proj), "query", "--show")
    assert code == 0, err
    assert f"query {result['query_id']} [classification]" in out and "Review next" in out
    shown = [line.split("│")[2].strip() for line in out.splitlines() if line.startswith("│ ") and "doc:" in line]
    assert shown == [f"doc:{i['document_id']}" for i in result["items"]]

    with Store.open(proj) as s:
        d = s.decisions(action="query.run")
        assert len(d) == 1 and d[0].actor == "tool"


def test_query_errors_are_one_line(tmp_path: Path) -> None:
    proj = tmp_path / "empty"
    Store.init(proj).close()
    code, _out, err = run_cli("-p", str(proj), "query", "--show")
    assert code == 1 and err.strip() == "error: no query has been run yet: run `studio query` first"


def test_simulate_json_matches_the_op_and_table_prints(tmp_path: Path) -> None:
    from studio.ops.active.gold import read_gold
    from studio.ops.active.simulate import SimSettings, simulate_many

    gold = _small_gold(tmp_path)
    args = ("simulate", str(gold), "--strategy", "margin", "--strategy", "hybrid", "--seed", "3", "--seeds", "2")
    args += ("--batch", "10", "--steps", "4", "--features", "tfidf")
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    first = json.loads(out)
    assert first["metric"] == "macro_f1" and first["features"] == "tfidf" and first["seeds"] == [3, 4]
    assert [s["strategy"] for s in first["strategies"]] == ["margin", "hybrid"]
    assert len(first["runs"]) == 4 and all(len(r["curve"]["points"]) == 4 for r in first["runs"])
    assert [p["labels"] for p in first["strategies"][0]["curve"]] == [10, 20, 30, 40]
    # the same seeds in another process give the same report
    settings = SimSettings(seed=3, batch=10, steps=4, features="tfidf")
    same = simulate_many(read_gold(gold), ["margin", "hybrid"], [3, 4], settings)
    assert first == json.loads(json.dumps(same.model_dump(mode="json")))

    code, out, err = run_cli(*args)
    assert code == 0, err
    assert "labels" in out and "margin" in out and "hybrid" in out and "random" in out
    assert "worst gap to random" in out and "stopping rule" in out and "per seed" in out


def test_simulate_bad_gold(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,category\nhello,greet\n")
    code, _out, err = run_cli("simulate", str(bad))
    assert code == 1 and "`text` and `label`" in err and "Traceback" not in err
