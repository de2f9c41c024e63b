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


# -- pinned prompt versions ---------------------------------------------------------------------------
def test_operations_use_the_pinned_prompt_not_the_newest_file() -> None:
    from studio.llm.prompts import LANGUAGE_PINNED, PINNED, available, load_prompt, pinned_versions, use_prompts
    from studio.ops.synth import SynthSettings

    assert pinned_versions() == PINNED | {
        f"{n}@{lang}": v for n, by in LANGUAGE_PINNED.items() for lang, v in by.items()
    }
    for name, version in PINNED.items():
        assert load_prompt(name).version == version and version in available()[name]
    for name, by in LANGUAGE_PINNED.items():
        assert set(by.values()) <= set(available()[name])
    assert SynthSettings().prompt_version == PINNED["synth"]
    with use_prompts({"ner": 1, "guideline": 1}):  # what a replay of an old recording does
        assert load_prompt("guideline").id == "guideline.v1"
        assert pinned_versions()["ner"] == pinned_versions()["ner@en"] == 1
    assert load_prompt("ner").version == PINNED["ner"]
    # the v1 prompts stay reachable by number
    messages = load_prompt("guideline", 1).render(
        goal="names in news", task_hint="", previous="", feedback="", language="en", language_name="English"
    )
    assert messages[0]["role"] == "system" and "names in news" in messages[-1]["content"]


def test_a_replay_uses_the_prompt_versions_its_header_names(tmp_path: Path) -> None:
    """demo_en was made with guideline.v2; a header naming v1 makes the replay send the v1 request
    (its wording differs), which the recording does not hold."""
    from studio.errors import ReplayMiss

    lines = (SESSIONS / "demo_en.jsonl").read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["prompts"]["guideline"] in (2, [1, 2])
    lines[0] = json.dumps({**header, "prompts": {**header["prompts"], "guideline": 1}}, ensure_ascii=False)
    edited = tmp_path / "v1.jsonl"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ReplayMiss, match=r"\+ .*include rules \(what counts\)"):
        replay_file(edited, tmp_path / "p")


# -- a CLI session: recorded by the commands, exported, replayed elsewhere ---------------------------
DRAFT = {
    "task_type": "ner", "language": "en", "target_size": 50,
    "labels": [
        {"name": "ORG", "definition": "A company or other organization.", "positive_examples": ["Samsung", "Naver"]},
        {"name": "PRODUCT", "definition": "A product sold by a company.", "positive_examples": ["Galaxy S25"]},
        {"name": "PERSON", "definition": "A named person.", "positive_examples": ["Lisa Su"]},
        {"name": "LOC", "definition": "A city, region or country.", "positive_examples": ["Seoul"]},
    ],
    "edge_cases": ["A product named after its maker: label the product only."],
}  # fmt: skip


def test_a_cli_session_exports_and_replays_in_a_fresh_folder(tmp_path: Path) -> None:
    """init, plan (on the loopback stub model), guideline approve, crawl (a site on 127.0.0.1):
    each command is a session; `studio session export` writes them all as one file that
    `studio replay` re-runs with neither the model nor the site there."""
    from studio.flows.demo import serve
    from studio.store import Store
    from tests.conftest import run_cli
    from tests.openai_stub import OpenAIStub

    project = tmp_path / "project"
    assert run_cli("init", str(project))[0] == 0
    with OpenAIStub(respond=lambda req: json.dumps(DRAFT)) as stub, serve(FIXTURES / "demo" / "site") as site:
        for args in (
            ["--llm", f"{stub.url}#stub", "plan", "tech news: companies, products, people, places"],
            ["--user", "ana", "guideline", "approve"],
            ["crawl", f"{site}/index.html", "--max-pages", "8", "--rate", "0"],
        ):
            code, out, err = run_cli("--project", str(project), *args)
            assert code == 0, (args, out, err)
    store = Store.open(project)
    recorded_decisions = [(d.actor, d.action) for d in store.decisions()]
    store.close()
    assert ("human:ana", "guideline.approve") in recorded_decisions and ("tool", "crawl.run") in recorded_decisions

    out_file = tmp_path / "cli_session.jsonl"
    code, out, err = run_cli("--project", str(project), "session", "export", "-o", str(out_file))
    assert code == 0, err
    events = load_recording(out_file)
    kinds = [e["type"] for e in events]
    assert {"tool", "llm", "http", "decision"} <= set(kinds) and kinds[-1] == "result"
    assert [e["name"] for e in events if e["type"] == "tool"] == ["plan", "crawl"]
    assert "Authorization" not in out_file.read_text(encoding="utf-8")

    code, out, err = run_cli("replay", str(out_file), "--headless", "--json", "--into", str(tmp_path / "fresh"))
    assert code == 0, err
    replayed = Store.open(tmp_path / "fresh")
    assert [(d.actor, d.action) for d in replayed.decisions()] == recorded_decisions
    assert json.loads(out)["decisions"] == len(recorded_decisions) and replayed.document_ids()
    replayed.close()


async def test_an_app_session_exports_and_replays_in_a_fresh_folder(tmp_path: Path) -> None:
    """In the app (Textual pilot): type a goal, the agent drafts on the loopback stub, approve it
    on the Guideline screen. The app's session exports and replays like a CLI one."""
    from studio.store import Store
    from studio.tui.app import make_app
    from tests.openai_stub import OpenAIStub
    from tests.test_tui_fixtures import respond

    root = tmp_path / "project"
    Store.init(root).close()
    with OpenAIStub(respond=respond) as stub:
        app = make_app(root, llm=f"{stub.url}#stub", user="ann", screen="goal")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*"people and companies", "enter")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("escape", "2")  # leave the goal input, then the Guideline screen
            await pilot.pause()
            await pilot.press("a")
            assert app.store.guideline(1)[1] == "approved"
            recorded_decisions = [(d.actor, d.action) for d in app.store.decisions()]
    assert recorded_decisions == [("agent", "guideline.propose"), ("human:ann", "guideline.approve")]
    out_file = tmp_path / "app_session.jsonl"
    res = CliRunner().invoke(cli, ["--project", str(root), "session", "export", "-o", str(out_file)])
    assert res.exit_code == 0, res.output
    assert [(e["type"], e.get("name") or e.get("action")) for e in load_recording(out_file)[1:] if e["type"] != "llm"] == [
        ("tool", "plan"), ("decision", "guideline.approve"), ("result", None)
    ]  # fmt: skip
    replay = ["replay", str(out_file), "--headless", "--json", "--into", str(tmp_path / "fresh")]
    res = await asyncio.to_thread(CliRunner().invoke, cli, replay)  # sync model calls: not on the test's loop
    assert res.exit_code == 0, res.output
    replayed = Store.open(tmp_path / "fresh")
    assert [(d.actor, d.action) for d in replayed.decisions()] == recorded_decisions
    assert replayed.guideline(1)[0].goal == "people and companies"
    replayed.close()
