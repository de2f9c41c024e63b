"""The crawler against a real HTTP server serving fixtures/site (see test_crawl_site.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.ops.collect import frontier
from studio.ops.collect.crawl import CrawlProgress, CrawlResult, run_crawl
from studio.schema import Document
from studio.store import Store
from tests.test_crawl_site import Site

# Fast and strict enough for the fixture: /slow (2 s) times out, /big.html (300 KB) is too large.
FAST: dict[str, Any] = {
    "rate": 0,
    "connect_timeout": 1.0,
    "read_timeout": 0.4,
    "total_timeout": 3.0,
    "max_bytes": 100_000,
    "retries": 1,
}


def by_path(store: Store, crawl_id: int, web: Site) -> dict[str, dict[str, Any]]:
    prefix = web.url("")
    return {r["url"].removeprefix(prefix): r for r in frontier.rows(store, crawl_id)}


def docs_by_path(store: Store, web: Site) -> dict[str, Document]:
    prefix = web.url("")
    return {d.provenance["url"].removeprefix(prefix): d for d in store.documents(source="crawl")}


@pytest.fixture
def web() -> Iterator[Site]:
    with Site() as s:
        yield s


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Store, CrawlResult]]:
    """One full crawl of the fixture site, shared by the tests that only read its outcome."""
    with Site() as s:
        store = Store.init(tmp_path_factory.mktemp("crawl") / "proj")
        store.start_session("test")
        result = run_crawl(store, [s.url("/")], FAST)
        yield s, store, result
        store.close()


def test_robots_disallow_is_obeyed_and_recorded(crawled: tuple[Site, Store, CrawlResult]) -> None:
    s, store, result = crawled
    rows = by_path(store, result.crawl_id, s)
    assert s.hits["/private/secret.html"] == 0
    assert rows["/private/secret.html"]["status"] == "blocked"
    assert rows["/private/secret.html"]["robots"] == "disallowed"
    assert s.hits["/robots.txt"] == 1
    assert result.robots["disallowed"] == 1 and result.robots["allowed"] >= 15
    assert all("StudioBot/" in ua for ua in s.user_agents)
    assert docs_by_path(store, s)["/"].provenance["robots"] == "allowed"


def test_failures_are_recorded_not_fatal(crawled: tuple[Site, Store, CrawlResult]) -> None:
    s, store, result = crawled
    rows = by_path(store, result.crawl_id, s)
    assert rows["/loop/a"]["status"] == "failed" and rows["/loop/a"]["reason"] == "redirect_loop"
    assert s.hits["/loop/a"] == 1 and s.hits["/loop/b"] == 1
    assert (rows["/missing.html"]["reason"], rows["/missing.html"]["http_status"]) == ("http_404", 404)
    assert s.hits["/missing.html"] == 1  # a 404 is not retried
    assert (rows["/error"]["reason"], rows["/error"]["attempts"]) == ("http_500", 2)
    assert s.hits["/error"] == 2  # a 500 is retried once
    assert rows["/slow"]["reason"] == "timeout" and rows["/slow"]["status"] == "failed"
    assert rows["/big.html"]["status"] == "skipped" and rows["/big.html"]["reason"] == "too_large"
    assert rows["/data.json"]["reason"] == "not_html"
    assert result.outcome == "done" and result.counts["failed"] == 4


def test_one_page_under_many_urls_is_fetched_once(crawled: tuple[Site, Store, CrawlResult]) -> None:
    s, store, result = crawled
    news = [k for k in s.hits if k.startswith("/news.html")]
    assert news == ["/news.html?a=1&b=2"] and s.hits["/news.html?a=1&b=2"] == 1
    assert [k for k in by_path(store, result.crawl_id, s) if k.startswith("/news")] == ["/news.html?a=1&b=2"]
    # /moved redirects to /about.html: same text, so it is an exact duplicate, not a second document.
    rows = by_path(store, result.crawl_id, s)
    about_id = rows["/about.html"]["document_id"]
    assert rows["/moved"]["status"] == "duplicate" and rows["/moved"]["duplicate_of"] == about_id
    assert rows["/moved"]["final_url"] == s.url("/about.html")


def test_near_duplicate_is_skipped_and_pointed_at(crawled: tuple[Site, Store, CrawlResult]) -> None:
    s, store, result = crawled
    rows = by_path(store, result.crawl_id, s)
    a, b = rows["/article.html"], rows["/article-copy.html"]
    stored, dup = (a, b) if a["status"] == "stored" else (b, a)
    assert stored["status"] == "stored"
    assert (dup["status"], dup["reason"], dup["duplicate_of"]) == ("duplicate", "near_duplicate", stored["document_id"])
    assert result.counts["near_duplicates"] == 1


def test_legacy_charsets_are_decoded(crawled: tuple[Site, Store, CrawlResult]) -> None:
    s, store, _ = crawled
    docs = docs_by_path(store, s)
    assert "crème brûlée délicieuse" in docs["/cp1252-meta.html"].text
    assert docs["/cp1252-meta.html"].provenance["charset"] == "meta:cp1252"
    assert "près du Panthéon" in docs["/cp1252-plain.html"].text
    assert docs["/cp1252-plain.html"].provenance["charset"] == "detected:cp1252"
    assert "夏目漱石" in docs["/sjis-http.html"].text
    assert docs["/sjis-http.html"].provenance["charset"] == "http:shift_jis"
    assert "札幌では毎年雪まつり" in docs["/sjis-plain.html"].text
    assert docs["/sjis-plain.html"].provenance["charset"].startswith("detected:")
    assert docs["/sjis-plain.html"].lang == "ja" and docs["/cp1252-plain.html"].lang == "fr"


def test_provenance_and_scope(crawled: tuple[Site, Store, CrawlResult]) -> None:
    s, store, result = crawled
    docs = docs_by_path(store, s)
    about = docs["/about.html"]
    assert about.source == "crawl"
    p = about.provenance
    assert p["final_url"] == s.url("/about.html") and p["status"] == 200
    assert p["content_type"].startswith("text/html") and p["fetched_at"].endswith("Z")
    assert p["license_hints"] == {
        "meta:copyright": "Copyright 2024 Studio Fixture Authors",
        "link:license": "https://creativecommons.org/licenses/by/4.0/",
        "meta:dc.rights": "CC BY 4.0",
    }
    assert "Welcome to the fixture site" in docs["/"].text
    assert docs["/notes.txt"].text.startswith("Plain text notes.")
    # Off the host: never requested. Too deep (depth 3): never requested. Binary/mailto: ignored.
    assert all(host == f"127.0.0.1:{s.port}" for host, _ in s.requests)
    assert s.hits["/deeper.html"] == 0 and s.hits["/deep.html"] == 1
    assert s.hits["/logo.png"] == 0
    assert "/deeper.html" not in by_path(store, result.crawl_id, s)


def test_run_is_a_tool_decision_with_counts(crawled: tuple[Site, Store, CrawlResult]) -> None:
    _, store, result = crawled
    runs = store.decisions(action="crawl.run")
    assert len(runs) == 1 and runs[0].actor == "tool"
    payload = runs[0].payload
    assert payload["counts"] == result.counts and payload["robots"] == result.robots
    assert payload["args"]["max_pages"] == 100 and payload["outcome"] == "done"
    added = sum(d.payload["count"] for d in store.decisions(action="documents.add"))
    assert added == result.counts["stored"] == len(list(store.documents(source="crawl")))
    assert frontier.get(store, result.crawl_id)["status"] == "done"


def test_allow_extends_scope_to_another_host(web: Site, store: Store) -> None:
    result = run_crawl(store, [web.url("/")], FAST | {"max_depth": 1, "allow": ["localhost"]})
    hosts = {host for host, _ in web.requests}
    assert f"localhost:{web.port}" in hosts
    off = f"http://localhost:{web.port}/offhost.html"
    assert off in {d.provenance["url"] for d in store.documents()}
    assert result.counts["stored"] >= 8


def test_keep_near_duplicates_marks_provenance(web: Site, store: Store) -> None:
    seeds = [web.url("/article.html"), web.url("/article-copy.html")]
    run_crawl(store, seeds, FAST | {"max_depth": 0, "near_duplicates": "keep", "workers": 1})
    docs = list(store.documents())
    assert len(docs) == 2
    marked = [d for d in docs if "near_duplicate_of" in d.provenance]
    assert len(marked) == 1
    other = next(d for d in docs if d is not marked[0])
    assert marked[0].provenance["near_duplicate_of"]["document_id"] == other.id
    assert 0.8 <= marked[0].provenance["near_duplicate_of"]["similarity"] < 1.0


def test_a_page_that_nearly_copies_an_imported_document_is_a_near_duplicate(web: Site, tmp_path: Path) -> None:
    # The article's text as the crawler extracts it, from a first project ...
    first = Store.init(tmp_path / "first")
    run_crawl(first, [web.url("/article.html")], FAST | {"max_depth": 0})
    [article] = list(first.documents())
    first.close()
    # ... imported into a second one with a line added; then the crawl meets the page.
    store = Store.init(tmp_path / "second")
    imported, _ = store.add_document(
        Document(text=article.text + "\nCopied into our notes.", source="import", provenance={"path": "notes.txt"})
    )
    result = run_crawl(store, [web.url("/article.html")], FAST | {"max_depth": 0})
    [row] = frontier.rows(store, result.crawl_id)
    assert (row["status"], row["reason"], row["duplicate_of"]) == ("duplicate", "near_duplicate", imported)
    assert result.counts["near_duplicates"] == 1 and [d.id for d in store.documents()] == [imported]
    store.close()


def test_cancel_then_resume_fetches_nothing_twice(web: Site, tmp_path: Path) -> None:
    # Baseline: what one uninterrupted crawl requests, on its own server.
    with Site() as ref:
        base = Store.init(tmp_path / "ref")
        run_crawl(base, [ref.url("/")], FAST)
        base.close()
        expected = dict(ref.hits)
    store = Store.init(tmp_path / "proj")
    cancel = threading.Event()
    seen: list[CrawlProgress] = []

    def stop_after_five(p: CrawlProgress) -> None:
        seen.append(p)
        if len(seen) == 5:
            cancel.set()  # what Ctrl-C does

    first = run_crawl(store, [web.url("/")], FAST | {"workers": 2}, on_progress=stop_after_five, cancel=cancel)
    assert first.outcome == "cancelled" and first.resume_hint == "studio crawl --resume"
    assert frontier.get(store, first.crawl_id)["status"] == "paused"
    assert frontier.counts(store, first.crawl_id)["queued"] > 0
    hits_at_stop = sum(web.page_hits().values())
    assert 5 <= hits_at_stop < sum(expected.values()) - 1
    # Re-running with the same seeds resumes that crawl.
    second = run_crawl(store, [web.url("/")], FAST)
    assert second.crawl_id == first.crawl_id and second.resumed and second.outcome == "done"
    assert dict(web.hits) == expected
    assert "queued" not in frontier.counts(store, first.crawl_id)
    assert [d.payload["outcome"] for d in store.decisions(action="crawl.run")] == ["cancelled", "done"]
    store.close()


def test_max_pages_pauses_and_a_higher_limit_continues(web: Site, store: Store) -> None:
    first = run_crawl(store, [web.url("/")], FAST | {"max_pages": 4})
    assert first.outcome == "max_pages" and first.counts["fetched"] == 4
    assert frontier.fetched_count(store, first.crawl_id) == 4
    done_first = {k for k, r in by_path(store, first.crawl_id, web).items() if r["status"] != "queued"}
    n_requests = len(web.requests)
    again = run_crawl(store, None, {"max_pages": 4}, resume=True)
    assert again.counts["fetched"] == 0 and again.outcome == "max_pages"
    assert len(web.requests) == n_requests
    more = run_crawl(store, None, {"max_pages": 8}, resume=True)
    assert more.counts["fetched"] == 4 and more.crawl_id == first.crawl_id and more.resumed
    assert frontier.fetched_count(store, first.crawl_id) == 8
    # Nothing the first run had is requested again (/moved may land on /about.html, a new request).
    again_requested = {path for _, path in web.requests[n_requests:]} - {"/about.html"}
    assert not again_requested & done_first
