"""LLM seam benchmark (prints figures; not a test).

1. Concurrency: an OpenAI-compatible stub on loopback answers after a fixed delay. The
   bound for C concurrent calls is C / delay calls per second; the seam's batch path should
   reach >= 90% of it (cache off, every call logged to a real store).
2. The embedded model: prompt-processing and generation tokens/s on this machine, read from
   the llama.cpp server's own timings.

    python bench/bench_llm.py [--calls 320] [--concurrency 16] [--delay 0.2] [--skip-model]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from studio.llm import Request, open_llm  # noqa: E402
from studio.store import Store  # noqa: E402


def bench_concurrency(calls: int, concurrency: int, delay: float) -> None:
    # the stub runs in its own process so that it does not compete with the client for the GIL
    stub = subprocess.Popen(
        [sys.executable, "-m", "tests.openai_stub", "--delay", str(delay)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert stub.stdout is not None
    url = stub.stdout.readline().strip()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.init(tmp)
        store.start_session("bench")
        llm = open_llm(store, f"{url}#stub", concurrency=concurrency, use_cache=False)
        reqs = [Request([{"role": "user", "content": f"q{i}"}], operation="bench") for i in range(calls)]
        llm.batch(reqs[:concurrency])  # warm up connections
        t0 = time.perf_counter()
        results = llm.batch(reqs)
        secs = time.perf_counter() - t0
        errors = sum(isinstance(r, Exception) for r in results)
        store.close()
    stub.terminate()
    stub.wait()
    bound = concurrency / delay
    rate = calls / secs
    print(f"concurrency: {calls} calls, C={concurrency}, server delay {delay * 1000:.0f} ms, errors {errors}")
    print(
        f"  measured {rate:.1f} calls/s; bound C/delay = {bound:.1f} calls/s; ratio {rate / bound:.2f} (target >= 0.90)"
    )


def bench_model(prompt_words: int, gen_tokens: int) -> None:
    from studio.llm.local import shared_server
    from studio.llm.models import ensure_model

    t0 = time.perf_counter()
    server = shared_server(ensure_model())
    print(f"embedded model: server ready in {time.perf_counter() - t0:.1f}s")
    text = " ".join(f"Company{i % 50} announced product{i % 30} in city{i % 7}." for i in range(prompt_words // 5))
    body = {
        "messages": [{"role": "user", "content": f"Summarize in one long paragraph:\n{text}"}],
        "max_tokens": gen_tokens,
        "temperature": 0,
        "cache_prompt": False,
    }
    for label in ("cold", "warm"):
        r = httpx.post(server.base_url + "/chat/completions", json=body, timeout=600).json()
        t = r["timings"]
        print(
            f"  {label}: prompt {t['prompt_n']} tokens at {t['prompt_per_second']:.1f} tok/s; "
            f"generation {t['predicted_n']} tokens at {t['predicted_per_second']:.1f} tok/s"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=320)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--skip-model", action="store_true")
    args = ap.parse_args()
    bench_concurrency(args.calls, args.concurrency, args.delay)
    if not args.skip_model:
        bench_model(prompt_words=400, gen_tokens=96)


if __name__ == "__main__":
    main()
