"""robots.txt, fetched once per host and crawl, parsed with protego.

Rules follow RFC 9309: a 4xx answer means there are no rules (`no_robots`, crawl allowed); a
5xx answer or no answer means the site could not say, so nothing on it is fetched
(`unreachable`). Every URL's decision is kept in the frontier and in the document's provenance.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from protego import Protego

from studio.ops.collect import frontier
from studio.ops.collect.fetch import ROBOTS_AGENT, Fetcher
from studio.ops.collect.urls import host_key
from studio.store import Store

RobotsDecision = Literal["allowed", "disallowed", "no_robots", "unreachable"]
MAX_CRAWL_DELAY = 30.0  # a larger Crawl-delay is capped: one page a minute is no crawl at all


class RobotsCache:
    def __init__(self, store: Store, crawl_id: int, fetcher: Fetcher, agent: str = ROBOTS_AGENT) -> None:
        self.store = store
        self.crawl_id = crawl_id
        self.fetcher = fetcher
        self.agent = agent
        self._rules: dict[str, tuple[int | None, Protego | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetched = 0

    async def _load(self, host: str) -> tuple[int | None, Protego | None]:
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            if host in self._rules:
                return self._rules[host]
            saved = frontier.get_robots(self.store, self.crawl_id, host)
            if saved is not None:
                status, body = saved
            else:
                status, body = await self.fetcher.get_small(f"{host}/robots.txt")
                self.fetched += 1
                if status is not None:  # an unreachable host is asked again when the crawl resumes
                    frontier.put_robots(self.store, self.crawl_id, host, status, body)
            parsed = Protego.parse(body) if status is not None and 200 <= status < 300 else None
            if parsed is not None:
                delay = parsed.crawl_delay(self.agent)
                if delay:
                    self.fetcher.slow_down(host, min(float(delay), MAX_CRAWL_DELAY))
            self._rules[host] = (status, parsed)
            return self._rules[host]

    async def decide(self, url: str) -> RobotsDecision:
        status, parsed = await self._load(host_key(url))
        if parsed is not None:
            return "allowed" if parsed.can_fetch(url, self.agent) else "disallowed"
        if status is not None and 400 <= status < 500:
            return "no_robots"
        if status is not None and 300 <= status < 400:
            return "no_robots"  # a redirect loop on robots.txt: treated as absent, like 4xx
        return "unreachable"


def permits(decision: str) -> bool:
    return decision in ("allowed", "no_robots")
