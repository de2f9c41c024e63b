"""Record fetched HTTP responses into a session, and replay them.

`RecordingTransport` wraps a real transport and, when each response is closed, appends an
`http` event to the store's current session: method, url, status, headers (without
Authorization, Cookie or Set-Cookie) and the body bytes that were read, base64-encoded. It
records what the crawler actually read, so a page cut off at the size limit is recorded cut off
and replays the same way.

Network failures are recorded too (`error`: the httpx exception class) and replayed as the
same exception, so timeouts and refused connections replay as they happened.

`ReplayTransport` serves those events by (method, url), in recorded order when a URL was
fetched more than once (then the last one again). A request that is not in the recording
raises `ReplayMiss`, which says which request and what the recording holds nearby.
"""

from __future__ import annotations

import base64
import difflib
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from studio.errors import ReplayMiss
from studio.store import Store

__all__ = ["RecordingTransport", "ReplayMiss", "ReplayTransport"]
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}


def event_key(method: str, url: str) -> str:
    return f"{method.upper()} {url}"


def _error_class(name: str) -> type[httpx.TransportError]:
    cls = getattr(httpx, name, None)
    if isinstance(cls, type) and issubclass(cls, httpx.TransportError):
        return cls
    return httpx.TransportError


class _RecordingStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, done: Callable[[bytes, bool, str | None], None]) -> None:
        self.inner = inner
        self.done = done
        self.buf = bytearray()
        self.complete = False
        self.error: str | None = None
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.inner:
                self.buf += chunk
                yield chunk
        except httpx.TransportError as exc:
            self.error = type(exc).__name__
            raise
        self.complete = True

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self.inner.aclose()
        finally:
            self.done(bytes(self.buf), self.complete, self.error)


class _ReplayStream(httpx.AsyncByteStream):
    """The recorded body, then the recorded error if reading it failed."""

    def __init__(self, body: bytes, error: str | None, request: httpx.Request) -> None:
        self.body, self.error, self.request = body, error, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.body:
            yield self.body
        if self.error:
            raise _error_class(self.error)(f"{self.error} (replayed)", request=self.request)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps `inner` (default: a real httpx transport) and records each response into `store`."""

    def __init__(self, store: Store, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.store = store
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.recorded = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method, url = request.method, str(request.url)
        try:
            resp = await self.inner.handle_async_request(request)
        except httpx.TransportError as exc:
            self._record({"method": method, "url": url, "status": None, "error": type(exc).__name__})
            raise
        status = resp.status_code
        headers = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in SECRET_HEADERS]

        def done(body: bytes, complete: bool, error: str | None) -> None:
            payload = {
                "method": method,
                "url": url,
                "status": status,
                "headers": [list(h) for h in headers],
                "body": base64.b64encode(body).decode("ascii"),
                "complete": complete,
                "error": error,
            }
            self._record(payload)

        assert isinstance(resp.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status, headers=resp.headers, stream=_RecordingStream(resp.stream, done), extensions=resp.extensions
        )

    def _record(self, payload: dict[str, Any]) -> None:
        self.store.add_event("http", event_key(payload["method"], payload["url"]), payload)
        self.recorded += 1

    async def aclose(self) -> None:
        await self.inner.aclose()


class ReplayTransport(httpx.AsyncBaseTransport):
    """Serves recorded `http` events; anything else is a ReplayMiss."""

    def __init__(self, events: Iterable[dict[str, Any]]) -> None:
        self._responses: dict[str, list[dict[str, Any]]] = {}
        for ev in events:
            if "payload" in ev:  # a store/session event row rather than a bare payload
                if ev.get("kind", "http") != "http":
                    continue
                ev = ev["payload"]
            self._responses.setdefault(event_key(ev["method"], ev["url"]), []).append(ev)
        self._served: dict[str, int] = {}

    @classmethod
    def from_store(cls, store: Store, session_id: str | None = None) -> ReplayTransport:
        return cls(store.events(session_id, kind="http"))

    @classmethod
    def from_jsonl(cls, path: str | Path) -> ReplayTransport:
        """From an exported session file; events that are not http are ignored."""
        from studio.llm.session import load_recording

        return cls(e for e in load_recording(Path(path)) if e.get("type") == "http")

    def __len__(self) -> int:
        return sum(len(v) for v in self._responses.values())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = event_key(request.method, str(request.url))
        recorded = self._responses.get(key)
        if not recorded:
            near = difflib.get_close_matches(key, list(self._responses), n=3, cutoff=0.6)
            hint = f"; closest recorded: {', '.join(near)}" if near else ""
            raise ReplayMiss(
                f"no recorded response for {key} (the recording has {len(self)} responses{hint}): "
                "the crawl asked for something new, so record the session again"
            )
        i = self._served.get(key, 0)
        self._served[key] = i + 1
        ev = recorded[min(i, len(recorded) - 1)]
        if ev.get("status") is None:  # the request itself failed (timeout, refused...)
            name = ev.get("error") or "TransportError"
            raise _error_class(name)(f"{name} (replayed)", request=request)
        return httpx.Response(
            ev["status"],
            headers=[tuple(h) for h in ev["headers"]],
            stream=_ReplayStream(base64.b64decode(ev["body"]), ev.get("error"), request),
            request=request,
        )
