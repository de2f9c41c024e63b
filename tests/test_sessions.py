"""Every shipped recording replays through `studio replay`, and replay does not depend on timing."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from studio.cli import cli
from studio.flows.engine import replay_file
from studio.llm.session import load_recording
from tests.conftest import FIXTURES

SESSIONS = FIXTURES / "sessions"
RECORDINGS = sorted(p.stem for p in SESSIONS.glob("*.jsonl"))


def test_there_are_recordings_of_each_kind() -> None:
    assert {"demo_en", "demo_ko", "agent_en", "agent_ko", "agent_retry", "agent_synth", "synth_en"} <= set(RECORDINGS)


@pytest.mark.parametrize("name", RECORDINGS)
def test_studio_replay_accepts_every_recording(name: str, tmp_path: Path) -> None:
    path = SESSIONS / f"{name}.jsonl"
    events = load_recording(path)
    header, result = events[0], events[-1]
    assert result["type"] == "result", "a recording ends with the result it must reproduce"
    assert header["models"] and header["recorded_with"] == "local", "a fixture says which model made it"
    assert all(isinstance(v, (int, list)) for v in header["prompts"].values())
    out = CliRunner().invoke(cli, ["replay", str(path), "--headless", "--json", "--into", str(tmp_path / "p")])
    assert out.exit_code == 0, out.output
    replayed = json.loads(out.stdout)
    assert replayed["decisions"] == len(result["decisions"]) > 0
    assert replayed["releases"] == result["releases"]


def test_a_tool_result_that_differs_is_reported(tmp_path: Path) -> None:
    """Tool runs carry their results: a replay that returns something else names the tool."""
    lines = (SESSIONS / "agent_en.jsonl").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        ev = json.loads(line)
        if ev.get("type") == "tool" and ev["name"] == "import":
            ev["result"]["imported"] = 99
            lines[i] = json.dumps(ev, ensure_ascii=False)
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from studio.errors import ReplayDivergence

    problem = r"tool run \d+ \(import\) returned something else \(imported: recorded 99 / replayed 3\)"
    with pytest.raises(ReplayDivergence, match=problem):
        replay_file(edited, tmp_path / "p")


# -- replay under load ------------------------------------------------------------------------------
class Jittery(httpx.AsyncBaseTransport):
    """Serves from the wrapped transport after a random pause: fetches finish in a new order."""

    def __init__(self, inner: httpx.AsyncBaseTransport, rng: random.Random, most: float = 0.4) -> None:
        self.inner, self.rng, self.most = inner, rng, most

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.rng.uniform(0.0, self.most))
        return await self.inner.handle_async_request(request)


@pytest.fixture
def busy_cores() -> Iterator[None]:
    """Two processes spinning on the CPU for at most 30 s (the machine's two cores)."""
    spin = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.slow
def test_demo_replays_the_same_under_load_and_network_jitter(tmp_path: Path, busy_cores: None) -> None:
    path = SESSIONS / "demo_en.jsonl"
    expected = load_recording(path)[-1]["releases"]
    for run in range(5):
        rng = random.Random(run)
        result = replay_file(path, tmp_path / f"p{run}", wrap_transport=lambda inner, rng=rng: Jittery(inner, rng))
        assert result["releases"] == expected, f"run {run + 1} of 5"
