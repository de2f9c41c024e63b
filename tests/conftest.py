"""Tests never touch the user's folders: HOME, caches and the project all point at tmp paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from studio.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture(autouse=True)
def env_setup(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("STUDIO_USER", "tester")
    monkeypatch.delenv("STUDIO_PROJECT", raising=False)
    monkeypatch.delenv("STUDIO_LLM", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    # Pictures in the app as unicode half-blocks: deterministic, no terminal queried (studio.tui.widgets.picture).
    monkeypatch.setenv("STUDIO_IMAGES", "halfcell")
    # The embedded model is assembled once per machine; keep using the real cache for it.
    monkeypatch.setenv(
        "STUDIO_MODEL_CACHE", os.environ.get("STUDIO_MODEL_CACHE", str(Path.home() / ".cache" / "studio" / "models"))
    )
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.init(tmp_path / "proj")
    s.start_session("test")
    yield s
    s.close()


def run_cli(
    *args: str, subprocess: bool = False, input: str | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run the real `studio` entry point (`studio.cli.main`); returns (code, stdout, stderr).

    In this process by default, with stdin/stdout/stderr and the environment isolated as click's CliRunner
    does (no terminal, like a subprocess with captured output): a fresh interpreter per call cost the suite
    about 2 s of imports each time. `subprocess=True` (or STUDIO_TEST_SUBPROCESS=1) runs `python -m studio`
    in a child process instead, for what only a real process shows (signals, exit at interpreter level).
    `input` is the command's stdin; `env` adds environment variables for this run only."""
    if subprocess or os.environ.get("STUDIO_TEST_SUBPROCESS") == "1":
        import subprocess as sp

        proc = sp.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=120,
                      input=input, env={**os.environ, **(env or {})})  # fmt: skip
        return proc.returncode, proc.stdout, proc.stderr
    from click.testing import CliRunner

    from studio.cli import main

    code = 0
    saved_env = dict(os.environ)  # a command may set variables for its own run (e.g. --no-cache)
    try:
        with CliRunner().isolation(input=input, env=env) as (out, err, _):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            stdout, stderr = out.getvalue(), err.getvalue()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
    return code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


def complete_documents(store: Store, actor: str = "human:tester") -> int:
    """Mark every document with approved labels and no pending proposals complete (as a person
    pressing done in review)."""
    from studio.ops.review import complete, document_status

    n = 0
    for doc_id in store.labeled_document_ids():
        pending = store.proposals(kind="span", status="pending", document_id=doc_id, limit=1)
        if not pending and document_status(store, doc_id) not in ("complete", "withdrawn"):
            complete(store, doc_id, actor)
            n += 1
    return n
