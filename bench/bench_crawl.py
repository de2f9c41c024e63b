"""Crawler throughput on a loopback site, next to a sequential httpx.Client loop in the same run.

    python bench/bench_crawl.py [--pages 521] [--concurrency 16] [--latency-ms 0]

The site (an index, 20 section pages, the rest articles of distinct text) is served by a
ThreadingHTTPServer in a child process, so the server does not share the crawler's GIL.
The crawler runs with politeness delay 0 and the given per-host concurrency, and does all its
work: robots.txt, decoding, trafilatura, near-duplicate checks, SQLite writes. The baseline
only downloads the same URLs one after another. --latency-ms makes the server wait before each
answer, like a distant host (loopback has none, which flatters the sequential loop). Peak Python memory of the crawl is measured
with tracemalloc in a second, separate crawl (tracemalloc slows the code it watches).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

WORDS = [
    "river",
    "city",
    "bridge",
    "market",
    "harbour",
    "school",
    "council",
    "museum",
    "railway",
    "garden",
    "tower",
    "library",
    "station",
    "festival",
    "village",
    "mountain",
    "valley",
    "forest",
    "island",
    "castle",
    "theatre",
    "factory",
    "hospital",
    "church",
    "square",
    "engineer",
    "teacher",
    "farmer",
    "painter",
    "writer",
    "merchant",
    "sailor",
    "doctor",
    "mayor",
    "student",
    "builder",
    "baker",
]
SECTIONS = 20


def article(i: int) -> str:
    rng = random.Random(i)
    paras = []
    for _ in range(5):
        words = [rng.choice(WORDS) for _ in range(60)]
        paras.append(f"<p>Page {i} tells of {' '.join(words)}.</p>")
    return "\n".join(paras)


def page_html(path: str, pages: int) -> str | None:
    per_section = max(1, (pages - 1 - SECTIONS) // SECTIONS)
    if path in ("/", "/index.html"):
        links = "".join(f'<li><a href="/s/{s}.html">Section {s}</a></li>' for s in range(SECTIONS))
        return f"<html><head><title>Bench</title></head><body><h1>Index</h1><ul>{links}</ul></body></html>"
    if path.startswith("/s/"):
        s = int(path[3:].split(".")[0])
        links = "".join(
            f'<li><a href="/a/{s * per_section + k}.html">Article {s * per_section + k}</a></li>'
            for k in range(per_section)
        )
        return f"<html><body><nav><a href='/'>Home</a></nav><h1>Section {s}</h1><ul>{links}</ul></body></html>"
    if path.startswith("/a/"):
        i = int(path[3:].split(".")[0])
        return f"<html><head><title>Article {i}</title></head><body><nav><a href='/'>Home</a></nav><article><h1>Article {i}</h1>{article(i)}</article></body></html>"
    return None


def serve(pages: int, latency: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, keep-alive requests stall 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if latency:
                time.sleep(latency)
            if self.path == "/robots.txt":
                body, status = b"User-agent: *\nDisallow: /private/\n", 200
                ctype = "text/plain"
            else:
                html = page_html(self.path, pages)
                body, status = ((html or "not found").encode(), 200 if html else 404)
                ctype = "text/html; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


def crawl_once(url: str, concurrency: int, pages: int) -> tuple[float, int, int]:
    from studio.ops.collect.crawl import run_crawl
    from studio.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.init(Path(tmp) / "proj")
        start = time.perf_counter()
        result = run_crawl(
            store,
            [url],
            {"rate": 0, "concurrency": concurrency, "workers": concurrency, "max_pages": pages + 10, "max_depth": 3},
        )
        elapsed = time.perf_counter() - start
        stored = result.counts["stored"]
        fetched = result.counts["fetched"]
        store.close()
    return elapsed, fetched, stored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=521, help="pages on the site (index + 20 sections + articles)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency-ms", type=float, default=0.0, help="server delay before each answer")
    ap.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve is not None:
        serve(args.serve, args.latency_ms / 1000)
        return

    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(args.pages), "--latency-ms", str(args.latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int((proc.stdout.readline() if proc.stdout else "").strip())
        base = f"http://127.0.0.1:{port}"
        per_section = max(1, (args.pages - 1 - SECTIONS) // SECTIONS)
        urls = [f"{base}/"] + [f"{base}/s/{s}.html" for s in range(SECTIONS)]
        urls += [f"{base}/a/{i}.html" for i in range(SECTIONS * per_section)]

        # Warm up imports (trafilatura, datasketch) so neither side pays for them.
        crawl_once(f"{base}/a/0.html", 1, 1)

        start = time.perf_counter()
        with httpx.Client(timeout=10) as client:
            total_bytes = sum(len(client.get(u).content) for u in urls)
        seq_s = time.perf_counter() - start
        seq_rate = len(urls) / seq_s

        # The same downloads plus the crawler's per-page work (decode, extract), one at a time.
        from studio.ops.collect.crawl import _analyze

        start = time.perf_counter()
        with httpx.Client(timeout=10) as client:
            for u in urls:
                r = client.get(u)
                _analyze(r.content, r.headers.get("content-type", ""), "html", u)
        seq_work_rate = len(urls) / (time.perf_counter() - start)

        crawl_s, fetched, stored = crawl_once(f"{base}/", args.concurrency, len(urls))
        crawl_rate = fetched / crawl_s

        tracemalloc.start()
        crawl_once(f"{base}/", args.concurrency, len(urls))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        proc.terminate()
        proc.wait(timeout=5)

    print(
        f"site: {len(urls)} linked pages, {total_bytes / 1e6:.1f} MB of HTML, loopback, "
        f"server latency {args.latency_ms:g} ms, politeness delay 0"
    )
    print(f"sequential httpx.Client loop (download only): {seq_s:6.2f} s  {seq_rate:7.1f} pages/s")
    print(
        f"studio crawl, concurrency {args.concurrency} (fetch+extract+dedup+store): {crawl_s:6.2f} s  "
        f"{crawl_rate:7.1f} pages/s  ({fetched} fetched, {stored} stored)"
    )
    print(f"sequential loop, download + decode + extract:  {seq_work_rate:7.1f} pages/s")
    print(f"ratio crawl / sequential download: {crawl_rate / seq_rate:.2f}x")
    print(f"ratio crawl / sequential download+extract: {crawl_rate / seq_work_rate:.2f}x")
    print(f"peak Python memory during the crawl (tracemalloc): {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
