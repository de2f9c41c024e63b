"""Recording fetched responses into a session and replaying them (a real server, then none)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import httpx
import pytest

from studio.ops.collect import frontier
from studio.ops.collect.crawl import run_crawl
from studio.ops.collect.recording import RecordingTransport, ReplayMiss, ReplayTransport
from studio.store import Store
from tests.test_crawl import FAST
from tests.test_crawl_site import Site


def outcome(store: Store, crawl_id: int, prefix: str) -> dict[str, tuple[str, str]]:
    return {r["url"].removeprefix(prefix): (r["status"], r["reason"]) for r in frontier.rows(store, crawl_id)}


def test_record_then_replay_reproduces_the_crawl(tmp_path: Path) -> None:
    with Site() as site:
        rec_store = Store.init(tmp_path / "rec")
        session = rec_store.start_session("record")
        recorder = RecordingTransport(rec_store, httpx.AsyncHTTPTransport())
        recorded = run_crawl(rec_store, [site.url("/")], FAST, transport=recorder)
        prefix = site.url("")
        hits = sum(site.hits.values())
    # The server is gone now: everything below is served from the recording.
    events = rec_store.events(session, kind="http")
    assert len(events) == hits == recorder.recorded
    by_key = {e["key"]: e["payload"] for e in events}
    home = by_key[f"GET {prefix}/"]
    assert home["status"] == 200 and "Welcome to the fixture site" in base64.b64decode(home["body"]).decode()
    assert all(k.lower() not in ("set-cookie", "cookie", "authorization") for k, _ in home["headers"])
    assert "s3cr3t" not in json.dumps(events)
    assert by_key[f"GET {prefix}/slow"]["error"] == "ReadTimeout"
    big = by_key[f"GET {prefix}/big.html"]
    assert big["complete"] is False and FAST["max_bytes"] < len(base64.b64decode(big["body"])) < 300_000

    replay_store = Store.init(tmp_path / "replay")
    replay_store.start_session("replay")
    replayed = run_crawl(replay_store, [prefix + "/"], FAST, transport=ReplayTransport.from_store(rec_store, session))
    assert replayed.counts == recorded.counts and replayed.robots == recorded.robots
    assert outcome(replay_store, replayed.crawl_id, prefix) == outcome(rec_store, recorded.crawl_id, prefix)
    # Results are applied in queue order, so even document ids come out the same.
    assert [(d.id, d.text) for d in replay_store.documents()] == [(d.id, d.text) for d in rec_store.documents()]


def test_replay_refuses_a_request_it_has_not_seen() -> None:
    body = base64.b64encode(b"<p>hi</p>").decode()
    recording = [
        {
            "kind": "http",
            "payload": {
                "method": "GET",
                "url": "http://example.test/a",
                "status": 200,
                "headers": [["content-type", "text/html"]],
                "body": body,
            },
        },
        {"kind": "llm", "payload": {"ignored": True}},
    ]
    transport = ReplayTransport(recording)
    assert len(transport) == 1

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get("http://example.test/a")).text == "<p>hi</p>"
            await client.get("http://example.test/b")

    with pytest.raises(
        ReplayMiss,
        match=r"no recorded response for GET http://example.test/b .*closest recorded: GET http://example.test/a",
    ):
        asyncio.run(go())


def test_a_replay_miss_stops_the_crawl_with_a_clear_error(store: Store) -> None:
    with pytest.raises(ReplayMiss, match="record the session again"):
        run_crawl(store, ["http://example.test/"], FAST, transport=ReplayTransport([]))
    run = store.decisions(action="crawl.run")[-1]
    assert run.payload["outcome"] == "error" and "ReplayMiss" in run.payload["error"]


def test_a_replay_with_random_network_delays_gives_the_same_log(tmp_path: Path) -> None:
    """Pages granted from --max-pages, retries, near duplicates and the writes (every 2 results)
    follow queue order, so random delays on every fetch change nothing in the decision log."""
    import random

    from studio.llm.session import outcome as log_outcome
    from tests.test_sessions import Jittery

    settings = FAST | {"max_pages": 14, "flush_every": 2}
    with Site() as site:
        rec_store = Store.init(tmp_path / "rec")
        session = rec_store.start_session("record")
        recorded = run_crawl(rec_store, [site.url("/")], settings, transport=RecordingTransport(rec_store))
        prefix = site.url("")
    assert recorded.outcome == "max_pages" and recorded.counts["fetched"] == 14 and recorded.counts["retried"]
    want = log_outcome(rec_store)
    for run in range(3):
        store = Store.init(tmp_path / f"replay{run}")
        store.start_session("replay")
        jittery = Jittery(ReplayTransport.from_store(rec_store, session), random.Random(run), most=0.05)
        got = run_crawl(store, [prefix + "/"], settings, transport=jittery)
        assert outcome(store, got.crawl_id, prefix) == outcome(rec_store, recorded.crawl_id, prefix)
        assert log_outcome(store)["decisions"] == want["decisions"], f"run {run + 1}"
