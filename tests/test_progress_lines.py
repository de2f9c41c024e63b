"""Long work is never silent without a terminal: progress lines, model waits and retries (issue 25, defect 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli.common import ProgressLines
from studio.llm import LLMError, Request, open_llm
from studio.schema import Document
from studio.store import Store
from tests.conftest import run_cli
from tests.openai_stub import OpenAIStub


def test_progress_lines_are_throttled_and_say_done_total_rate_elapsed(capsys: pytest.CaptureFixture[str]) -> None:
    now = [100.0]
    lines = ProgressLines(every=5, clock=lambda: now[0])
    for done in range(0, 101, 10):  # one report a second
        lines("labeling", done, 100)
        now[0] += 1.0
    lines("crawling", 7, None)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "labeling: 50/100 (50%), 10.0/s, 0:00:05 elapsed"  # silent for the first 5 s
    assert err[1] == "labeling: 100/100 (100%), 10.0/s, 0:00:10 elapsed"  # the last one shows once any did
    assert len(err) == 2  # the quick crawling stage said nothing


def test_an_operation_without_a_terminal_prints_progress_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.init(tmp_path / "p")
    store.add_documents(
        [Document(text=f"SEOUL -- Hyundai Mobis filing number {i} on battery supply.") for i in range(30)]
    )
    store.close()
    monkeypatch.setenv("STUDIO_PROGRESS_SECONDS", "0")
    monkeypatch.setenv("STUDIO_EMBED", "hashed")
    code, out, err = run_cli("-p", str(tmp_path / "p"), "dups", "--json")
    assert code == 0 and json.loads(out)["documents"] == 30
    assert "hashed 30/30 documents: 500/1000 (50%)" in err and "elapsed" in err


def test_a_slow_model_is_reported_while_waiting_and_a_timeout_as_it_happens(store: Store) -> None:
    notices: list[str] = []
    with OpenAIStub(respond=lambda req: '{"ok": true}', delay=1.0) as stub:
        llm = open_llm(store, f"{stub.url}#stub", on_notice=notices.append, timeout=5)
        llm.heartbeat = 0.3
        llm.call(Request([{"role": "user", "content": "a long draft"}], operation="guideline.draft"))
        assert any(n.startswith("waiting for the model") and "1 call running" in n and "guideline.draft" in n
                   for n in notices)  # fmt: skip
        notices.clear()
        slow = open_llm(store, f"{stub.url}#stub", on_notice=notices.append, timeout=0.3, max_retries=1, backoff=0.01)
        slow.heartbeat = 0
        with pytest.raises(LLMError, match="after 2 attempts"):
            slow.call(Request([{"role": "user", "content": "another"}], operation="guideline.draft"))
    assert (
        notices == [notices[0]] and "no answer within the 0.3 s timeout" in notices[0] and "retry 1 of 1" in notices[0]
    )
