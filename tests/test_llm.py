from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import BaseModel

from studio.errors import StudioError
from studio.llm import LLMError, Request, StructuredOutputError, open_llm, parse_spec
from studio.llm.replay import ReplayMiss
from studio.llm.session import export_session
from studio.store import DB_NAME, Store
from tests.openai_stub import OpenAIStub


class Capital(BaseModel):
    country: str
    capital: str


def _answer(req: dict) -> str:
    q = req["messages"][-1]["content"]
    return json.dumps({"country": q, "capital": {"France": "Paris", "Korea": "Seoul"}.get(q, "?")})


def test_spec_parsing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert parse_spec(None).kind == "local"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-000000000000000000000")
    assert parse_spec(None).kind == "openai" and parse_spec(None).model == "gpt-4o-mini"
    assert parse_spec("openai:gpt-4.1-mini").model == "gpt-4.1-mini"
    s = parse_spec("http://127.0.0.1:11434/v1#qwen2.5")
    assert (s.kind, s.base_url, s.model) == ("openai-compatible", "http://127.0.0.1:11434/v1", "qwen2.5")
    assert parse_spec(None, setting="local").kind == "local"
    with pytest.raises(StudioError, match="which model"):
        parse_spec("http://127.0.0.1:1/v1")
    with pytest.raises(StudioError, match="unknown model"):
        parse_spec("gpt4")
    with pytest.raises(StudioError, match="no recorded session"):
        parse_spec(f"replay:{tmp_path / 'none.jsonl'}")


def test_record_export_replay_round_trip(store: Store, tmp_path: Path) -> None:
    questions = ["France", "Korea"]
    with OpenAIStub(respond=_answer) as stub:
        llm = open_llm(store, f"{stub.url}#stub-model")
        live = [
            llm.structured_model(Request([{"role": "user", "content": q}], operation="test.capital"), Capital)[0]
            for q in questions
        ]
        # the same request twice is one call: the second is a cache hit
        again = llm.call(
            Request(
                [{"role": "user", "content": "France"}],
                operation="test.capital",
                schema=Capital.model_json_schema(),
                schema_name="Capital",
            )
        )
        assert len(stub.hits) == 2 and again.cache_hit
    assert [c.capital for c in live] == ["Paris", "Seoul"]
    calls = store.conn.execute(
        "SELECT model, operation, prompt_tokens, completion_tokens, cache_hit FROM llm_calls ORDER BY id"
    ).fetchall()
    assert [tuple(r) for r in calls] == [("stub-model", "test.capital", 11, 7, 0)] * 2 + [
        ("stub-model", "test.capital", 11, 7, 1)
    ]

    out = tmp_path / "session.jsonl"
    n = export_session(store, out, [store.session_id])
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["models"] == ["stub-model"] and n == 3

    # replay in a fresh project: same answers, no server anywhere
    other = Store.init(tmp_path / "other")
    other.start_session("replay")
    rllm = open_llm(other, f"replay:{out}")
    replayed = [
        rllm.structured_model(Request([{"role": "user", "content": q}], operation="test.capital"), Capital)[0]
        for q in questions
    ]
    assert replayed == live
    with pytest.raises(ReplayMiss) as miss:
        rllm.structured_model(Request([{"role": "user", "content": "Japan"}], operation="test.capital"), Capital)
    text = str(miss.value)
    assert "closest recorded request" in text
    assert '+   "content": "Japan",' in text and '-   "content": ' in text
    other.close()


def test_retries_on_429_then_500_then_ok(store: Store) -> None:
    with OpenAIStub(respond=_answer, script=[429, 500]) as stub:
        llm = open_llm(store, f"{stub.url}#stub", backoff=0.01)
        res = llm.call(Request([{"role": "user", "content": "France"}], operation="test.retry"))
        assert len(stub.hits) == 3
    assert json.loads(res.text)["capital"] == "Paris"


def test_retries_are_bounded_and_errors_logged(store: Store) -> None:
    with OpenAIStub(script=[503] * 10) as stub:
        llm = open_llm(store, f"{stub.url}#stub", backoff=0.01, max_retries=2)
        with pytest.raises(LLMError, match="after 3 attempts"):
            llm.call(Request([{"role": "user", "content": "x"}], operation="test.fail"))
        assert len(stub.hits) == 3
    row = store.conn.execute("SELECT error FROM llm_calls").fetchone()
    assert "3 attempts" in row[0]


def test_auth_failure_is_one_clear_message(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_LLM_API_KEY", "sk-planted-secret-key-1234567890")
    with OpenAIStub(script=[401]) as stub:
        llm = open_llm(store, f"{stub.url}#stub", backoff=0.01)
        with pytest.raises(LLMError) as err:
            llm.call(Request([{"role": "user", "content": "x"}]))
        assert len(stub.hits) == 1  # no retry on a refused key
    assert "refused the API key" in str(err.value) and "sk-planted" not in str(err.value)


def test_invalid_structured_output_retried_with_feedback_then_fails_in_words(store: Store) -> None:
    answers = iter(["not json at all", '{"country": "France"}', json.dumps({"country": "France", "capital": "Paris"})])
    with OpenAIStub(respond=lambda req: next(answers)) as stub:
        llm = open_llm(store, f"{stub.url}#stub")
        parsed, results = llm.structured_model(Request([{"role": "user", "content": "France"}], operation="t"), Capital)
        assert parsed.capital == "Paris" and len(results) == 3
        # the validation error was fed back to the model
        assert (
            "not valid" in stub.hits[2]["messages"][-1]["content"]
            and "capital" in stub.hits[2]["messages"][-1]["content"]
        )
    with OpenAIStub(respond=lambda req: "{}") as stub:
        llm = open_llm(store, f"{stub.url}#stub")
        with pytest.raises(StructuredOutputError, match="did not give a valid answer"):
            llm.structured_model(Request([{"role": "user", "content": "Korea"}], operation="t"), Capital, retries=1)
        assert len(stub.hits) == 2


def test_planted_key_never_reaches_disk(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-test-PLANTED-abcdefghijklmnop0123456789"
    monkeypatch.setenv("STUDIO_LLM_API_KEY", key)
    caplog.set_level(logging.DEBUG)

    def leaky(req: dict) -> str:  # a hostile server that echoes the key back in its answer
        return json.dumps({"country": "France", "capital": f"Paris (your key is {key})"})

    with OpenAIStub(respond=leaky) as stub:
        llm = open_llm(store, f"{stub.url}#stub")
        llm.call(Request([{"role": "user", "content": f"my key is {key}, Authorization: Bearer {key}"}], operation="t"))
        sent = {k.lower(): v for k, v in stub.headers[0].items()}
        assert sent["authorization"] == f"Bearer {key}"  # it was really sent
    out = tmp_path / "s.jsonl"
    export_session(store, out, [store.session_id])
    store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    for path in [out, store.root / DB_NAME, *store.root.glob("*.db-wal")]:
        assert key.encode() not in path.read_bytes(), path
    assert key not in caplog.text
    assert "[REDACTED]" in out.read_text()


@pytest.mark.model
def test_embedded_model_structured_output(store: Store) -> None:
    """The real embedded model answers a small structured request through the local server."""
    llm = open_llm(store, "local")
    parsed, results = llm.structured_model(
        Request(
            [
                {"role": "system", "content": "Answer in JSON."},
                {"role": "user", "content": "Country: France. Give its capital."},
            ],
            operation="test.local",
            max_tokens=60,
        ),
        Capital,
    )
    assert parsed.capital.lower().startswith("paris")
    assert results[-1].completion_tokens and results[-1].completion_tokens > 0
    assert store.conn.execute("SELECT provider, cost_usd FROM llm_calls").fetchone()[:] == ("local", 0.0)


def test_cut_off_structured_answer_is_retried_with_more_room(store: Store) -> None:
    """A server that stops at max_tokens (finish_reason=length): the seam asks again with a larger budget."""

    def respond(req: dict) -> str:
        full = json.dumps({"country": "France", "capital": "Paris"})
        return full if req["max_completion_tokens"] >= 64 else full[:10]

    with OpenAIStub(
        respond=respond, finish_reason=lambda req: "length" if req["max_completion_tokens"] < 64 else "stop"
    ) as stub:
        llm = open_llm(store, f"{stub.url}#stub")
        parsed, results = llm.structured_model(
            Request([{"role": "user", "content": "France"}], max_tokens=16), Capital, retries=3
        )
        assert parsed.capital == "Paris"
        assert [h["max_completion_tokens"] for h in stub.hits] == [16, 32, 64]
        assert [r.finish_reason for r in results] == ["length", "length", "stop"]
