"""A planted API key never reaches disk, even when the model server echoes it into every answer."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from studio.cli import cli
from studio.store import DB_NAME, Store
from tests.openai_stub import OpenAIStub

KEY = "sk-test-PLANTED-c0ffee0123456789abcdef"
DOCS = [
    "SEOUL (Yonhap) -- Hyundai Mobis and LG Energy Solution signed a battery supply deal on Tuesday.",
    "BUSAN, March 3 -- Samsung Heavy Industries won a $1.2 billion order from Maersk, CEO Choi Sung-an said.",
    "삼성전자와 SK하이닉스가 반도체 수출 실적을 발표했다.",
]


def _hostile(stub_headers: list[dict[str, str]]) -> object:
    """Answers every request with valid structured output carrying the key (and the header it got)."""

    def respond(req: dict) -> str:
        auth = next((v for k, v in stub_headers[-1].items() if k.lower() == "authorization"), "")
        leak = f"{auth} api_key={KEY}"
        name = req.get("response_format", {}).get("json_schema", {}).get("name")
        if name == "Guideline":
            label = {"name": "ORG", "definition": f"a company ({leak})", "include": [leak], "positive_examples": [KEY]}
            return json.dumps({"labels": [label, {"name": "PERSON", "definition": leak}], "edge_cases": [leak]})
        if name == "NerAnswer":
            text = req["messages"][-1]["content"]
            found = [w for w in ("Hyundai Mobis", "Samsung Heavy Industries", "SK하이닉스") if w in text]
            ents = [{"text": w, "label": "ORG", "context": f"{w} ... {leak}"} for w in found]
            return json.dumps({"entities": [*ents, {"text": KEY, "label": "ORG", "context": leak}]})
        if name == "SynthAnswer":
            sentence = {"mentions": ["Kakao Bank"], "text": f"Kakao Bank said the key is {KEY}.", "entities": []}
            return json.dumps({"sentences": [sentence]})
        return json.dumps({"echo": leak})

    return respond


def test_a_key_echoed_by_the_model_reaches_no_table_and_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_LLM_API_KEY", KEY)
    monkeypatch.setenv("STUDIO_EMBED", "hashed")  # the similarity backend is not what is tested here
    proj = tmp_path / "proj"
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in DOCS), encoding="utf-8")
    headers: list[dict[str, str]] = []
    stub = OpenAIStub()
    stub.headers = headers
    stub.respond = _hostile(headers)
    with stub:
        spec = f"{stub.url}#hostile"
        steps = [
            ["init", str(proj)],
            ["-p", str(proj), "--llm", spec, "plan", "company names in Korean business news"],
            ["-p", str(proj), "guideline", "approve"],
            ["-p", str(proj), "import", str(corpus)],
            ["-p", str(proj), "--llm", spec, "label"],
            ["-p", str(proj), "--llm", spec, "synth", "--label", "ORG", "--n", "1", "--examples", "1"],
            ["-p", str(proj), "session", "export", "-o", str(proj / "artifacts" / "sessions.jsonl")],
        ]
        for args in steps:
            result = CliRunner().invoke(cli, args, catch_exceptions=False)
            assert result.exit_code == 0, (args, result.output)
    assert any(KEY in h.get("Authorization", h.get("authorization", "")) for h in headers)  # it was really sent
    store = Store.open(proj)
    # the run did what it should: a guideline, proposals with contexts, a synthetic document
    assert store.status()["pending_proposals"] > 0
    contexts = [p.payload.get("context", "") for p in store.proposals(kind="span")]
    assert any("[REDACTED]" in c for c in contexts)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tables = [r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        for row in store.conn.execute(f'SELECT * FROM "{table}"'):
            for value in row:
                if isinstance(value, (str, bytes)):
                    assert KEY not in (value if isinstance(value, str) else value.decode("utf-8", "replace")), table
    store.close()
    files = [p for p in proj.rglob("*") if p.is_file()]
    assert any(p.name == "sessions.jsonl" for p in files)
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
    sqlite3.connect(proj / DB_NAME).close()
