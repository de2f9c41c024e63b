"""Polite HTTP fetching: per-host rate limit and concurrency, timeouts, a size cap, redirects.

The fetcher never follows a redirect blindly: each hop is normalized, checked for a loop and
handed to the caller's `allow_hop` (scope and robots.txt) before it is requested. Bodies are
streamed and reading stops as soon as they pass `max_bytes`. Any `httpx.AsyncBaseTransport`
can be passed in, which is how responses are recorded and replayed (see recording.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import httpx
from pydantic import BaseModel, Field

from studio import __version__
from studio.ops.collect.urls import BadURL, host_key, normalize_url
from studio.schema import utcnow

USER_AGENT = f"StudioBot/{__version__} (+https://github.com/studio; dataset research)"
# The product token robots.txt rules are matched against.
ROBOTS_AGENT = "StudioBot"
HTML_TYPES = {"text/html", "application/xhtml+xml"}
TEXT_TYPES = {"text/plain"}
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}

PageKind = Literal["html", "text"]
# A hop check returns None to allow, or a reason to refuse ("robots", "off_scope").
HopCheck = Callable[[str], Awaitable[str | None]]


class FetchSettings(BaseModel):
    user_agent: str = USER_AGENT
    rate: float = Field(default=1.0, ge=0, description="requests per second per host; 0 = no delay")
    concurrency: int = Field(default=2, ge=1, description="requests in flight per host")
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    total_timeout: float = Field(default=30.0, gt=0, description="whole request, body included")
    max_bytes: int = Field(default=2_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0)


class FetchResult(BaseModel):
    url: str
    final_url: str
    ok: bool = False
    status: int | None = None
    content_type: str = ""
    kind: PageKind | None = None
    body: bytes = b""
    redirects: list[str] = Field(default_factory=list)
    location: str = ""  # the Location header of a redirect
    reason: str = ""  # why not ok: timeout, too_large, not_html, redirect_loop, http_404, robots, ...
    error: str | None = None
    retryable: bool = False
    fetched_at: str = ""


def page_kind(content_type: str, first_bytes: bytes = b"") -> PageKind | None:
    """html, text, or None for anything else (images, PDFs, JSON...)."""
    mime = content_type.split(";")[0].strip().lower()
    if mime in HTML_TYPES:
        return "html"
    if mime in TEXT_TYPES:
        return "text"
    if not mime:  # no header: sniff like a browser would, roughly
        head = first_bytes[:512].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
            return "html"
        if head and b"\x00" not in head:
            return "text"
    return None


class HostGate:
    """At most `concurrency` requests in flight to one host, starting at least `interval` s apart."""

    def __init__(self, concurrency: int, interval: float) -> None:
        self.sem = asyncio.Semaphore(concurrency)
        self.interval = interval
        self._lock = asyncio.Lock()
        self._next = 0.0

    async def turn(self, stop: asyncio.Event | None = None) -> None:
        """Wait for this host's next slot; returns early once `stop` is set."""
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            if stop is None:
                await asyncio.sleep(start - now)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), start - now)


class Fetcher:
    """One httpx.AsyncClient shared by all workers, with a gate per host. Use `async with`."""

    def __init__(
        self, settings: FetchSettings, transport: httpx.AsyncBaseTransport | None = None, max_connections: int = 32
    ) -> None:
        self.settings = settings
        timeout = httpx.Timeout(
            connect=settings.connect_timeout, read=settings.read_timeout, write=settings.read_timeout, pool=None
        )
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": settings.user_agent, "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9"},
            follow_redirects=False,
            max_redirects=settings.max_redirects,
            # httpcore scans its whole pool on every request: keep it as small as the work needs.
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            trust_env=False,
        )
        self._gates: dict[str, HostGate] = {}
        self.requests = 0
        # Checked after waiting for a host's turn: a stop requested meanwhile sends no request.
        self.should_stop: Callable[[], bool] = lambda: False
        self.stop_event = asyncio.Event()  # set to cut every wait for a turn short

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    def gate(self, host: str) -> HostGate:
        if host not in self._gates:
            interval = 1.0 / self.settings.rate if self.settings.rate > 0 else 0.0
            self._gates[host] = HostGate(self.settings.concurrency, interval)
        return self._gates[host]

    def slow_down(self, host: str, seconds: float) -> None:
        """Honour a robots.txt Crawl-delay (never makes the gate faster)."""
        g = self.gate(host)
        g.interval = max(g.interval, seconds)

    async def get_small(self, url: str, limit: int = 512_000) -> tuple[int | None, str]:
        """(status, text) for robots.txt: redirects followed, body capped. Status None if unreachable."""
        g = self.gate(host_key(url))
        async with g.sem:
            await g.turn()
            self.requests += 1
            try:
                async with asyncio.timeout(self.settings.total_timeout):
                    req = self.client.build_request("GET", url)
                    resp = await self.client.send(req, stream=True, follow_redirects=True)
                    try:
                        body, _ = await _read_capped(resp, limit)  # RFC 9309: parse at least 500 KiB
                    finally:
                        await resp.aclose()
            except (httpx.HTTPError, TimeoutError):
                return None, ""
            return resp.status_code, body[:limit].decode("utf-8", errors="replace")

    async def fetch(self, url: str, allow_hop: HopCheck | None = None) -> FetchResult:
        """GET a page; follow redirects within limits; keep only HTML and text under max_bytes."""
        chain = [url]
        current = url
        while True:
            res = await self._fetch_one(url, current, first=len(chain) == 1)
            res.redirects = chain[1:]
            if res.reason != "redirect":
                return res
            try:
                target = normalize_url(res.location, base=current)
            except BadURL as exc:
                return res.model_copy(update={"reason": "bad_redirect", "error": str(exc), "ok": False})
            if target in chain:
                return res.model_copy(
                    update={"reason": "redirect_loop", "error": " -> ".join([*chain, target]), "ok": False}
                )
            if len(chain) > self.settings.max_redirects:
                return res.model_copy(
                    update={"reason": "too_many_redirects", "error": f"more than {self.settings.max_redirects}"}
                )
            if allow_hop is not None:
                refused = await allow_hop(target)
                if refused:
                    return res.model_copy(
                        update={"reason": f"redirect_{refused}", "error": f"redirect to {target}", "final_url": target}
                    )
            chain.append(target)
            current = target

    async def _fetch_one(self, url: str, current: str, first: bool) -> FetchResult:
        s = self.settings
        res = FetchResult(url=url, final_url=current, fetched_at=utcnow())
        g = self.gate(host_key(current))
        async with g.sem:
            await g.turn(self.stop_event if first else None)
            if first and self.should_stop():  # a redirect chain already begun is finished
                return res.model_copy(update={"reason": "stopped"})
            self.requests += 1
            try:
                async with asyncio.timeout(s.total_timeout):
                    resp = await self.client.send(self.client.build_request("GET", current), stream=True)
                    try:
                        return await self._read(res, resp)
                    finally:
                        await resp.aclose()
            except (httpx.TimeoutException, TimeoutError) as exc:
                return res.model_copy(update={"reason": "timeout", "error": type(exc).__name__, "retryable": True})
            except httpx.TransportError as exc:
                return res.model_copy(
                    update={"reason": "network", "error": f"{type(exc).__name__}: {exc}", "retryable": True}
                )
            except httpx.HTTPError as exc:
                return res.model_copy(update={"reason": "http_error", "error": f"{type(exc).__name__}: {exc}"})

    async def _read(self, res: FetchResult, resp: httpx.Response) -> FetchResult:
        res.status = resp.status_code
        res.content_type = resp.headers.get("content-type", "")
        if 300 <= resp.status_code < 400 and "location" in resp.headers:
            res.reason, res.location = "redirect", resp.headers["location"]
            return res
        if resp.status_code >= 400 or resp.status_code < 200:
            res.reason = f"http_{resp.status_code}"
            res.retryable = resp.status_code in RETRY_STATUSES
            return res
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_bytes:
            res.reason, res.error = "too_large", f"Content-Length {declared} > {self.settings.max_bytes}"
            return res
        if res.content_type and page_kind(res.content_type) is None:
            res.reason = "not_html"  # decided from the header alone: the body is never read
            return res
        body, over = await _read_capped(resp, self.settings.max_bytes)
        if over:
            res.reason, res.error = "too_large", f"body passed {self.settings.max_bytes} bytes"
            return res
        res.kind = page_kind(res.content_type, body)
        if res.kind is None:
            res.reason = "not_html"
            return res
        res.body, res.ok = body, True
        return res


async def _read_capped(resp: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """(body, over_limit); reading stops as soon as the body passes `limit` bytes."""
    buf = bytearray()
    async for chunk in resp.aiter_bytes():
        buf += chunk
        if len(buf) > limit:
            return bytes(buf), True
    return bytes(buf), False
