"""The crawler: seeds in, documents with provenance out; resumable, cancellable, polite.

Workers take URLs from an in-memory queue loaded from the frontier table. A URL's row stays
`queued` until its result is written, and results are written in small batches (one
transaction each, with the documents they stored), so a killed crawl loses at most a batch of
fetches and never half a write. Ctrl-C (or `cancel.set()`) stops handing out URLs, lets the
requests in flight finish, writes everything, and marks the crawl paused.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from studio.errors import StudioError
from studio.ops.collect import frontier
from studio.ops.collect.decode import decode_page
from studio.ops.collect.extract import PageMeta, extract_page, tidy
from studio.ops.collect.fetch import Fetcher, FetchResult, FetchSettings
from studio.ops.collect.neardup import NearDupIndex, minhash
from studio.ops.collect.robots import RobotsCache, permits
from studio.ops.collect.urls import BadURL, Scope, looks_binary, normalize_url
from studio.schema import Document, content_hash, text_language
from studio.store import Store

Outcome = Literal["done", "max_pages", "cancelled", "error"]
# Fetch failures that are the page's nature rather than an error: recorded as skipped.
_SKIP_REASONS = {"not_html", "too_large", "redirect_off_scope", "redirect_robots"}


class CrawlSettings(FetchSettings):
    max_pages: int = Field(default=100, ge=1, description="pages requested over the whole crawl")
    max_depth: int = Field(default=2, ge=0, description="links followed from a seed")
    allow: list[str] = Field(default_factory=list, description="URL globs or hosts beyond the seeds' hosts")
    workers: int = Field(default=16, ge=1, description="fetches in flight over all hosts")
    retries: int = Field(default=1, ge=0, description="extra attempts after a timeout, network error or 5xx")
    near_duplicates: Literal["skip", "keep"] = "skip"
    near_dup_threshold: float = Field(default=0.8, gt=0, le=1)
    lang: str = Field(
        default="en",
        description="language of pages that declare none, in Latin script (Hangul, kana and CJK pages are known by their script)",
    )
    min_chars: int = Field(default=1, ge=1, description="pages with less main text are skipped")
    # Results are written every `flush_every` results or `flush_seconds`, whichever comes first.
    # Each stored page is its own `documents.add` decision (in the order URLs left the queue), so
    # when a write happens changes transactions only, never the decision log: a replay on a busy
    # machine logs the same decisions.
    flush_every: int = Field(default=16, ge=1, description="results written per transaction")
    flush_seconds: float = Field(default=1.0, gt=0, description="longest time a result waits to be written")


class CrawlProgress(BaseModel):
    crawl_id: int
    fetched: int = 0  # pages requested by this crawl so far (all runs)
    max_pages: int = 0
    stored: int = 0  # this run, from here down
    duplicates: int = 0
    near_duplicates: int = 0
    skipped: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0
    queued: int = 0
    in_flight: int = 0
    current_url: str = ""
    elapsed_s: float = 0.0


class CrawlResult(BaseModel):
    crawl_id: int
    outcome: Outcome
    resumed: bool
    seeds: list[str]
    counts: dict[str, int]  # this run
    robots: dict[str, int]  # robots decisions this run
    frontier: dict[str, int]  # the whole crawl, by row status
    requests: int  # HTTP requests this run, robots.txt and redirect hops included
    elapsed_s: float
    pages_per_s: float
    error: str | None = None
    resume_hint: str = ""


@dataclass
class _Item:
    url: str
    depth: int
    referrer: str | None
    attempts: int = 0
    retry: bool = False


@dataclass
class _Page:
    text: str
    charset: str
    meta: PageMeta
    method: str


def _analyze(body: bytes, content_type: str, kind: str | None, url: str) -> _Page:
    """Decode and extract (CPU work, run in a thread so the event loop keeps fetching)."""
    text, how = decode_page(body, content_type, html=kind == "html")
    if kind == "html":
        meta, main, method = extract_page(text, url)
        return _Page(main, how, meta, method)
    return _Page(tidy(text), how, PageMeta(), "plain")


def normalize_seeds(seeds: list[str]) -> list[str]:
    out = []
    for s in seeds:
        try:
            out.append(normalize_url(s))
        except BadURL as exc:
            raise StudioError(f"cannot crawl seed {s!r}: {exc} (give full URLs like https://example.org/)") from exc
    return sorted(set(out))


class _Crawl:
    def __init__(
        self,
        store: Store,
        crawl_id: int,
        seeds: list[str],
        settings: CrawlSettings,
        resumed: bool,
        fetcher: Fetcher,
        on_progress: Callable[[CrawlProgress], None] | None,
        cancel: threading.Event | None,
    ) -> None:
        self.store, self.crawl_id, self.seeds, self.s, self.resumed = store, crawl_id, seeds, settings, resumed
        self.fetcher = fetcher
        self.robots = RobotsCache(store, crawl_id, fetcher)
        self.scope = Scope(seeds, settings.allow)
        self.on_progress = on_progress
        self.cancel = cancel
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.seen = frontier.known_urls(store, crawl_id)
        self.index = NearDupIndex(settings.near_dup_threshold)
        self.doc_ids: dict[str, int] = {}
        for url, doc_id, text in frontier.documents(store, crawl_id):
            self.index.add(url, text)
            self.doc_ids[url] = doc_id
        # Every other stored document too (imports, synthetic sentences, earlier crawls): a page
        # that nearly copies one of them is a near duplicate whatever brought the first one in.
        for doc_id, text in frontier.other_documents(store, crawl_id):
            self.index.add(f"doc:{doc_id}", text)
            self.doc_ids[f"doc:{doc_id}"] = doc_id
        self.fetched_before = frontier.fetched_count(store, crawl_id)
        self.budget = settings.max_pages - self.fetched_before
        self.counts: Counter[str] = Counter()
        self.robots_counts: Counter[str] = Counter()
        self.pending_rows: list[dict[str, Any]] = []
        self.pending_docs: list[tuple[dict[str, Any], Document]] = []
        self.pending_hashes: dict[str, str] = {}  # content hash -> url, for documents not yet written
        self.new_links: list[tuple[str, int, str]] = []
        self.in_flight = 0
        self.next_seq = self.applied = self.next_grant = 0
        self.asked: set[int] = set()
        self.budget_asks: dict[int, tuple[bool, asyncio.Future[bool]]] = {}
        self.ready: dict[int, Callable[[], None] | None] = {}
        self.stopping = False
        self.cancelled = False
        self.budget_hit = False
        self.error: BaseException | None = None
        self.started = self.last_flush = time.monotonic()
        fetcher.should_stop = self._should_stop

    # -- the work loop -----------------------------------------------------------------------
    async def run(self) -> None:
        for r in frontier.queued(self.store, self.crawl_id):
            self.queue.put_nowait(_Item(r["url"], r["depth"], r["referrer"], r["attempts"]))
        workers = [asyncio.create_task(self._worker()) for _ in range(self.s.workers)]
        workers.append(asyncio.create_task(self._watch_cancel()))
        try:
            await self.queue.join()
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self.flush()

    def _should_stop(self) -> bool:
        if self.cancel is not None and self.cancel.is_set() and not self.stopping:
            self.stopping = self.cancelled = True
        if self.stopping:
            self.fetcher.stop_event.set()
        return self.stopping

    async def _watch_cancel(self) -> None:
        # `cancel` is a threading.Event (set by a signal handler or another thread): poll it, so
        # workers waiting for a slow host's turn hear about it without waiting their turn.
        while not self._should_stop():
            await asyncio.sleep(0.05)

    async def _worker(self) -> None:
        while True:
            item = await self.queue.get()
            # Items are numbered as they leave the queue and their results are applied in that
            # order (fetches still overlap), so which of two near-duplicates is kept, document
            # ids and link order do not depend on network timing: a replay gives the same store.
            seq, self.next_seq = self.next_seq, self.next_seq + 1
            apply: Callable[[], None] | None = None
            try:
                if not self._should_stop():
                    apply = await self._handle(item, seq)
            except Exception as exc:  # a bug or a strict replay miss: stop the crawl, keep what we have
                self._fail(exc)
            finally:
                if seq not in self.asked:
                    self._ask_budget(seq, False)
                self._in_order(seq, apply)
                self.queue.task_done()

    def _ask_budget(self, seq: int, wants: bool) -> asyncio.Future[bool]:
        """Pages are granted from the budget in queue order, whatever order robots decisions and
        fetches finish in: which URLs a crawl with --max-pages fetches does not depend on timing.
        Every item asks once (`wants` False: it needs no page, e.g. blocked or a retry)."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.asked.add(seq)
        self.budget_asks[seq] = (wants, fut)
        while self.next_grant in self.budget_asks:
            want, f = self.budget_asks.pop(self.next_grant)
            self.next_grant += 1
            granted = want and self.budget > 0
            if granted:
                self.budget -= 1
            elif want:
                self.budget_hit = True  # stays queued: a later run with a higher --max-pages fetches it
            f.set_result(granted)
        return fut

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.stopping = True

    def _in_order(self, seq: int, apply: Callable[[], None] | None) -> None:
        self.ready[seq] = apply
        while self.applied in self.ready:
            fn = self.ready.pop(self.applied)
            self.applied += 1
            if fn is not None and self.error is None:
                try:
                    fn()
                except Exception as exc:
                    self._fail(exc)

    async def _allow_hop(self, url: str) -> str | None:
        if not self.scope.allows(url):
            return "off_scope"
        if not permits(await self.robots.decide(url)):
            return "robots"
        return None

    async def _handle(self, item: _Item, seq: int) -> Callable[[], None] | None:
        """Fetch and analyze one URL; returns what to apply to the crawl's state, in order."""
        decision = await self.robots.decide(item.url)
        row = {"url": item.url, "depth": item.depth, "referrer": item.referrer, "robots": decision}
        if item.retry or not permits(decision):
            self._ask_budget(seq, False)
        elif not await self._ask_budget(seq, True):
            return None
        if not item.retry:
            self.robots_counts[decision] += 1
        if not permits(decision):
            return lambda: self._finish(row | {"status": "blocked", "reason": f"robots_{decision}"}, "blocked")
        if not item.retry:
            self.counts["fetched"] += 1
        self.in_flight += 1
        try:
            res = await self.fetcher.fetch(item.url, self._allow_hop)
        finally:
            self.in_flight -= 1
        if res.reason == "stopped":  # never requested: the row stays queued for the next run
            if not item.retry:
                self.budget += 1
                self.counts["fetched"] -= 1
            return None
        row |= {
            "attempts": item.attempts + 1,
            "http_status": res.status,
            "final_url": res.final_url,
            "content_type": res.content_type,
            "fetched_at": res.fetched_at,
        }
        if not res.ok:
            if res.retryable and item.attempts < self.s.retries and not self.stopping:
                self.counts["retried"] += 1
                again = _Item(item.url, item.depth, item.referrer, item.attempts + 1, retry=True)
                return lambda: self.queue.put_nowait(again)  # queued in order, like new links
            status = "skipped" if res.reason in _SKIP_REASONS else "failed"
            return lambda: self._finish(row | {"status": status, "reason": res.reason, "error": res.error}, status)
        page = await asyncio.to_thread(_analyze, res.body, res.content_type, res.kind, res.final_url)

        def apply() -> None:
            self.seen.add(res.final_url)
            self._follow_links(item, res, page.meta)
            self._keep_page(item, res, page, row, decision)

        return apply

    def _follow_links(self, item: _Item, res: FetchResult, meta: PageMeta) -> None:
        if meta.nofollow or item.depth >= self.s.max_depth:
            return
        base = normalize_url(meta.base, base=res.final_url) if meta.base else res.final_url
        for href in meta.links:
            try:
                url = normalize_url(href, base=base)
            except (BadURL, ValueError):
                continue  # mailto:, javascript:, broken hrefs
            if url in self.seen or not self.scope.allows(url) or looks_binary(url):
                continue
            self.seen.add(url)
            self.new_links.append((url, item.depth + 1, item.url))
            self.queue.put_nowait(_Item(url, item.depth + 1, item.url))

    def _keep_page(self, item: _Item, res: FetchResult, page: _Page, row: dict[str, Any], robots: str) -> None:
        if page.meta.noindex:
            self._finish(row | {"status": "skipped", "reason": "noindex"}, "skipped")
            return
        if len(page.text) < self.s.min_chars:
            self._finish(row | {"status": "skipped", "reason": "no_text"}, "skipped")
            return
        h = content_hash(page.text)
        dup = self._doc_for_hash(h)
        if dup is not None:
            self._finish(row | {"status": "duplicate", "reason": "exact", "duplicate_of": dup}, "duplicates")
            return
        m = minhash(page.text)
        near: dict[str, Any] | None = None
        match = self.index.match_hash(m)
        if match is not None:
            url = match[0] if "://" in match[0] else None  # None: a document not from this crawl
            near = {"document_id": self._doc_for_url(match[0]), "url": url, "similarity": round(match[1], 3)}
            self.counts["near_duplicates"] += 1
            if self.s.near_duplicates == "skip":
                self._finish(
                    row | {"status": "duplicate", "reason": "near_duplicate", "duplicate_of": near["document_id"]},
                    None,
                )
                return
        provenance: dict[str, Any] = {
            "url": item.url,
            "final_url": res.final_url,
            "fetched_at": res.fetched_at,
            "status": res.status,
            "content_type": res.content_type,
            "charset": page.charset,
            "robots": robots,
            "license_hints": page.meta.license_hints,
            "title": page.meta.title,
            "extraction": page.method,
            "crawl_id": self.crawl_id,
            "depth": item.depth,
            "referrer": item.referrer,
        }
        if res.redirects:
            provenance["redirects"] = res.redirects
        if near is not None:
            provenance["near_duplicate_of"] = near
        lang = (page.meta.lang.split("-")[0].split("_")[0].lower() or text_language(page.text, self.s.lang))[:8]
        doc = Document(text=page.text, source="crawl", lang=lang, provenance=provenance)
        row = row | {"status": "stored", "reason": "near_duplicate_kept" if near else ""}
        self.pending_docs.append((row, doc))
        self.pending_hashes[h] = item.url
        self.index.add(item.url, m=m)
        self._finish(row, "stored")

    def _doc_for_hash(self, h: str) -> int | None:
        if h in self.pending_hashes:
            self.flush()
        found = self.store.conn.execute("SELECT id FROM documents WHERE content_hash = ?", (h,)).fetchone()
        return int(found[0]) if found else None

    def _doc_for_url(self, url: str) -> int | None:
        if url not in self.doc_ids:
            self.flush()  # the match was stored in this batch: write it to learn its id
        return self.doc_ids.get(url)

    def _finish(self, row: dict[str, Any], counter: str | None) -> None:
        if counter:
            self.counts[counter] += 1
        self.pending_rows.append(row)
        if len(self.pending_rows) >= self.s.flush_every or time.monotonic() - self.last_flush >= self.s.flush_seconds:
            self.flush()
        if self.on_progress is not None:
            self.on_progress(self.progress(row["url"]))

    def flush(self) -> None:
        """Write pending documents, results and new links in one transaction (one decision per
        document, so how many results a write holds never shows in the log)."""
        self.last_flush = time.monotonic()
        if not (self.pending_rows or self.new_links):
            return
        with self.store.transaction():
            if self.pending_docs:
                ids = [
                    self.store.add_documents([d], actor="tool", rationale=f"crawl {self.crawl_id}")[0]
                    for _, d in self.pending_docs
                ]
                for (row, _), (doc_id, is_new) in zip(self.pending_docs, ids, strict=True):
                    if is_new:
                        row["document_id"] = doc_id
                        self.doc_ids[row["url"]] = doc_id
                    else:  # stored meanwhile by someone else (an import, another crawl)
                        row.update(status="duplicate", reason="exact", duplicate_of=doc_id)
            # A row may be a dict shared with pending_docs; it was updated in place above.
            frontier.write(self.store, self.crawl_id, self.new_links, self.pending_rows)
        self.pending_rows, self.pending_docs, self.new_links = [], [], []
        self.pending_hashes.clear()

    def progress(self, url: str = "") -> CrawlProgress:
        c = self.counts
        return CrawlProgress(
            crawl_id=self.crawl_id,
            fetched=self.fetched_before + c["fetched"],
            max_pages=self.s.max_pages,
            stored=c["stored"],
            duplicates=c["duplicates"],
            near_duplicates=c["near_duplicates"],
            skipped=c["skipped"],
            blocked=c["blocked"],
            failed=c["failed"],
            retried=c["retried"],
            queued=self.queue.qsize(),
            in_flight=self.in_flight,
            current_url=url,
            elapsed_s=round(time.monotonic() - self.started, 3),
        )

    def outcome(self) -> Outcome:
        if self.error is not None:
            return "error"
        if self.cancelled:
            return "cancelled"
        if frontier.counts(self.store, self.crawl_id).get("queued", 0):
            return "max_pages" if self.budget_hit or self.budget <= 0 else "cancelled"
        return "done"


def _resolve(
    store: Store, seeds: list[str] | None, settings: CrawlSettings | dict[str, Any] | None, resume: bool
) -> tuple[int, list[str], CrawlSettings, bool]:
    """Find the crawl to continue or create a new one; merge settings."""
    norm = normalize_seeds(seeds) if seeds else None
    if norm is None and not resume:
        raise StudioError("give at least one seed URL (studio crawl https://example.org/), or --resume")
    row = frontier.find_open(store, norm)
    if row is None and norm is None:
        raise StudioError("there is no unfinished crawl to resume: start one with `studio crawl URL`")
    if row is not None:
        base = CrawlSettings.model_validate_json(row["settings"])
        crawl_id, seeds_out, resumed = int(row["id"]), json.loads(row["seeds"]), True
    else:
        base, crawl_id, seeds_out, resumed = CrawlSettings(), 0, norm or [], False
    if isinstance(settings, CrawlSettings):
        merged = settings
    else:
        merged = CrawlSettings.model_validate(base.model_dump() | (settings or {}))
    if not resumed:
        crawl_id = frontier.create(store, seeds_out, merged.model_dump())
    frontier.set_status(store, crawl_id, "running", merged.model_dump())
    return crawl_id, seeds_out, merged, resumed


async def crawl(
    store: Store,
    seeds: list[str] | None = None,
    settings: CrawlSettings | dict[str, Any] | None = None,
    *,
    resume: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    on_progress: Callable[[CrawlProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> CrawlResult:
    """Crawl from `seeds`, or continue the open crawl with these seeds (or the newest, with resume).

    `settings` is a full CrawlSettings, or a dict of overrides applied to the resumed crawl's
    settings (or the defaults). Each run is logged as a `crawl.run` decision by actor `tool`.
    """
    crawl_id, seeds, s, resumed = _resolve(store, seeds, settings, resume)
    async with Fetcher(s, transport, max_connections=s.workers + 2) as fetcher:
        run = _Crawl(store, crawl_id, seeds, s, resumed, fetcher, on_progress, cancel)
        completed = False
        try:
            await run.run()
            completed = True
        finally:
            # Not completed: interrupted from outside (a second Ctrl-C, the task cancelled).
            outcome = run.outcome() if completed else "cancelled"
            result = _finish_run(store, run, fetcher, outcome)
    if run.error is not None:
        raise run.error
    return result


def _finish_run(store: Store, run: _Crawl, fetcher: Fetcher, outcome: Outcome) -> CrawlResult:
    frontier.set_status(store, run.crawl_id, "done" if outcome == "done" else "paused")
    elapsed = time.monotonic() - run.started
    counts = {k: run.counts[k] for k in ("fetched", "stored", "duplicates", "near_duplicates", "skipped")}
    counts |= {k: run.counts[k] for k in ("blocked", "failed", "retried")}
    totals = frontier.counts(store, run.crawl_id)
    hint = ""
    if outcome in ("cancelled", "error"):
        hint = "studio crawl --resume"
    elif outcome == "max_pages":
        hint = f"studio crawl --resume --max-pages {run.s.max_pages * 2}"
    result = CrawlResult(
        crawl_id=run.crawl_id,
        outcome=outcome,
        resumed=run.resumed,
        seeds=run.seeds,
        counts=counts,
        robots=dict(run.robots_counts),
        frontier=totals,
        requests=fetcher.requests,
        elapsed_s=round(elapsed, 3),
        pages_per_s=round(run.counts["fetched"] / elapsed, 2) if elapsed > 0 else 0.0,
        error=f"{type(run.error).__name__}: {run.error}" if run.error is not None else None,
        resume_hint=hint,
    )
    store.record(
        "tool",
        "crawl.run",
        [f"crawl:{run.crawl_id}"],
        {
            "crawl_id": run.crawl_id,
            "seeds": run.seeds,
            "args": run.s.model_dump(),
            "resumed": run.resumed,
            "outcome": outcome,
            "counts": counts,
            "robots": result.robots,
            "frontier": totals,
            "requests": fetcher.requests,
            "error": result.error,
        },
    )
    return result


def run_crawl(
    store: Store,
    seeds: list[str] | None = None,
    settings: CrawlSettings | dict[str, Any] | None = None,
    *,
    resume: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    on_progress: Callable[[CrawlProgress], None] | None = None,
    cancel: threading.Event | None = None,
    handle_sigint: bool = False,
) -> CrawlResult:
    """`crawl` for synchronous callers. With handle_sigint, the first Ctrl-C stops cleanly and a
    second one aborts at once (the crawl stays resumable either way)."""
    cancel = cancel or threading.Event()

    async def main() -> CrawlResult:
        if handle_sigint and threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()

            def first_interrupt() -> None:
                cancel.set()
                loop.remove_signal_handler(signal.SIGINT)  # the next Ctrl-C raises KeyboardInterrupt

            loop.add_signal_handler(signal.SIGINT, first_interrupt)
        return await crawl(
            store, seeds, settings, resume=resume, transport=transport, on_progress=on_progress, cancel=cancel
        )

    return asyncio.run(main())
