"""Broken model servers: malformed 200 answers are failed calls, and only usable answers are cached."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import BaseModel

from studio.llm import LLMError, Request, StructuredOutputError, open_llm
from studio.store import Store
from tests.conftest import run_cli
from tests.openai_stub import OpenAIStub


class Capital(BaseModel):
    country: str
    capital: str


def _paris(req: dict) -> str:
    return json.dumps({"country": "France", "capital": "Paris"})


def _ask(content: str = "France") -> Request:
    return Request([{"role": "user", "content": content}], operation="test.capital")


@pytest.mark.parametrize("body", [b'{"choices": []}', b"<html>502 Bad Gateway</html>", b'{"id": "x"}', b""])
def test_a_malformed_200_answer_is_retried_and_reported(store: Store, body: bytes) -> None:
    notices: list[str] = []
    with OpenAIStub(respond=_paris, script=[body]) as stub:
        llm = open_llm(store, f"{stub.url}#stub", backoff=0.01, on_notice=notices.append)
        parsed, _ = llm.structured_model(_ask(), Capital)
        assert parsed.capital == "Paris" and len(stub.hits) == 2
    assert len(notices) == 1 and "malformed body" in notices[0] and "retry 1 of 4" in notices[0]


def test_malformed_answers_every_time_fail_in_words_and_are_logged(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="studio")
    with OpenAIStub(script=[b'{"choices": []}', b"not json", b'{"choices": []}']) as stub:
        llm = open_llm(store, f"{stub.url}#stub", backoff=0.01, max_retries=2)
        with pytest.raises(LLMError, match=r"after 3 attempts .*malformed body"):
            llm.structured_model(_ask(), Capital)
        assert len(stub.hits) == 3
    [(error,)] = store.conn.execute("SELECT error FROM llm_calls").fetchall()
    assert "malformed body" in error
    # without a front end's callback the retries go to the `studio` logger (the CLI prints them)
    assert sum("retry" in r.getMessage() for r in caplog.records) == 2
    # a batch reports the failure per request instead of raising
    with OpenAIStub(script=[b"{}"] * 3) as stub:
        llm = open_llm(store, f"{stub.url}#stub", backoff=0.01, max_retries=2)
        [res] = llm.batch([_ask("Korea")])
    assert isinstance(res, LLMError)


def test_garbage_is_not_cached_and_a_fixed_server_is_asked_again(store: Store) -> None:
    with OpenAIStub(respond=lambda req: "I cannot answer that.") as broken:
        llm = open_llm(store, f"{broken.url}#stub")
        with pytest.raises(StructuredOutputError):
            llm.structured_model(_ask(), Capital, retries=1)
        # the same request again in the same run: asked again, not served the garbage from the cache
        plain = llm.call(Request(_ask().messages, schema=Capital.model_json_schema()))
        again = llm.call(Request(_ask().messages, schema=Capital.model_json_schema()))
        assert not again.cache_hit and plain.text == again.text and len(broken.hits) == 4
    assert store.conn.execute("SELECT COUNT(*) FROM llm_cache").fetchone()[0] == 0
    with OpenAIStub(respond=_paris) as fixed:  # the same model name behind a fixed server
        llm = open_llm(store, f"{fixed.url}#stub")
        parsed, results = llm.structured_model(_ask(), Capital)
        assert parsed.capital == "Paris" and not results[0].cache_hit and len(fixed.hits) == 1
        # a usable answer is cached: the same request again costs nothing
        _, results = llm.structured_model(_ask(), Capital)
        assert results[0].cache_hit and len(fixed.hits) == 1


def test_an_invalid_answer_cached_by_an_older_studio_is_dropped(store: Store) -> None:
    with OpenAIStub(respond=_paris) as stub:
        llm = open_llm(store, f"{stub.url}#stub")
        _, results = llm.structured_model(_ask(), Capital)
        rhash = results[0].request_hash
        with store.transaction() as c:  # what an older Studio left behind: garbage in the cache
            c.execute("UPDATE llm_cache SET response = ? WHERE request_hash = ?", ('{"text": "garbage"}', rhash))
        parsed, results = llm.structured_model(_ask(), Capital)
        assert parsed.capital == "Paris" and len(stub.hits) == 2 and not results[0].cache_hit


def test_no_cache_asks_again_and_refreshes(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAIStub(respond=_paris) as stub:
        open_llm(store, f"{stub.url}#stub").structured_model(_ask(), Capital)
        monkeypatch.setenv("STUDIO_LLM_CACHE", "off")  # what --no-cache sets
        _, results = open_llm(store, f"{stub.url}#stub").structured_model(_ask(), Capital)
        assert not results[0].cache_hit and len(stub.hits) == 2


def test_plan_against_a_broken_server_says_so_as_it_happens(tmp_path: Path) -> None:
    """No traceback, each retry reported on stderr as it happens, the failed call logged."""
    proj = str(tmp_path / "p")
    Store.init(proj).close()
    with OpenAIStub(script=[b'{"choices": []}'] * 5) as stub:
        code, _, err = run_cli("-p", proj, "--llm", f"{stub.url}#stub", "plan", "--no-cache", "company names in news")
    assert code == 1 and "Traceback" not in err
    assert err.count("note: model call") == 4 and "retry 4 of 4" in err
    assert "error: the model call failed after 5 attempts" in err and "malformed body" in err
    store = Store.open(proj)
    assert store.conn.execute("SELECT COUNT(*) FROM llm_calls WHERE error LIKE '%malformed%'").fetchone()[0] == 1
    store.close()
