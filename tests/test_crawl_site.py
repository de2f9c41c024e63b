"""The fixture site: a real HTTP server on 127.0.0.1 serving fixtures/site, plus made-up routes.

Other crawl tests import the `site` fixture from here. The server counts hits per path and
query, so tests can assert what was fetched and how often.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

SITE = Path(__file__).resolve().parent.parent / "fixtures" / "site"
SLOW_SECONDS = 2.0
BIG_BYTES = 300_000
TYPES = {".html": "text/html", ".txt": "text/plain; charset=utf-8", ".json": "application/json", ".md": "text/plain"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up early (size limit, timeouts) are part of the tests


class Site:
    """A running fixture server: `url(path)`, `hits[path]`, `requests` (all, in order)."""

    def __init__(self, root: Path = SITE) -> None:
        self.root = root
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, str]] = []  # (host header, path)
        self.user_agents: set[str] = set()
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def page_hits(self) -> Counter[str]:
        """Hits on pages, robots.txt left out."""
        return Counter({k: v for k, v in self.hits.items() if k != "/robots.txt"})

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, keep-alive requests stall 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str | None, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                key = parts.path + (f"?{parts.query}" if parts.query else "")
                with site.lock:
                    site.hits[key] += 1
                    site.requests.append((self.headers.get("Host", ""), key))
                    site.user_agents.add(self.headers.get("User-Agent", ""))
                path = parts.path
                if path == "/slow":
                    time.sleep(SLOW_SECONDS)
                    self._send(200, b"<html><body><p>finally</p></body></html>", "text/html")
                elif path == "/big.html":
                    # Chunked, no Content-Length: the crawler must stop reading on its own.
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"<p>" + b"x" * 8000 + b"</p>\n"
                    try:
                        for _ in range(BIG_BYTES // len(chunk) + 1):
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                elif path in ("/loop/a", "/loop/b"):
                    other = "/loop/b" if path == "/loop/a" else "/loop/a"
                    self._send(302, b"", None, {"Location": other})
                elif path == "/moved":
                    self._send(301, b"", None, {"Location": "/about.html"})
                elif path == "/error":
                    self._send(500, b"<p>server error</p>", "text/html")
                else:
                    self._static(path)

            def _static(self, path: str) -> None:
                if path.endswith("/"):
                    path += "index.html"
                file = (site.root / path.lstrip("/")).resolve()
                if not file.is_relative_to(site.root) or not file.is_file():
                    self._send(404, b"<p>not found</p>", "text/html")
                    return
                body = file.read_bytes().replace(b"{{PORT}}", str(site.port).encode())
                ctype = TYPES.get(file.suffix, "application/octet-stream")
                if file.name == "sjis-http.html":
                    ctype = "text/html; charset=shift_jis"
                # A cookie, so tests can check that recordings never keep one.
                extra = {"Set-Cookie": "session=s3cr3t-cookie"} if file.name == "index.html" else None
                self._send(200, body, ctype, extra)

        return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as s:
        yield s


def test_site_serves_pages_and_made_up_routes(site: Site) -> None:
    with httpx.Client(follow_redirects=False, timeout=5) as client:
        assert "Disallow: /private/" in client.get(site.url("/robots.txt")).text
        home = client.get(site.url("/"))
        assert home.status_code == 200 and f"localhost:{site.port}" in home.text
        assert client.get(site.url("/loop/a")).headers["location"] == "/loop/b"
        assert client.get(site.url("/error")).status_code == 500
        assert client.get(site.url("/nope.html")).status_code == 404
        assert client.get(site.url("/sjis-http.html")).headers["content-type"].endswith("shift_jis")
        assert len(client.get(site.url("/big.html")).content) > BIG_BYTES
    assert site.hits["/"] == 1
