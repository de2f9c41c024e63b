"""The embedded server's thread count: every core by default, STUDIO_LLM_THREADS to choose."""

from __future__ import annotations

import os

import pytest

from studio.errors import StudioError
from studio.llm.local import LocalServer, threads_setting


def test_threads_default_to_every_core_and_follow_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("STUDIO_LLM_THREADS", raising=False)
    assert threads_setting() == max(1, os.cpu_count() or 1)
    monkeypatch.setenv("STUDIO_LLM_THREADS", "1")
    assert LocalServer(tmp_path / "m.gguf").threads == 1
    assert LocalServer(tmp_path / "m.gguf", threads=3).threads == 3  # an explicit argument wins
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("STUDIO_LLM_THREADS", bad)
        with pytest.raises(StudioError, match="STUDIO_LLM_THREADS must be a whole number"):
            threads_setting()
