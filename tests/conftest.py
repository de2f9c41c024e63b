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


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the real `studio` entry point in a subprocess; returns (code, stdout, stderr)."""
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


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
