"""The embedded model server, run as a child process by `studio.llm.local`.

    python -m studio.llm.serve --model PATH --port PORT [--ctx N] [--parallel N] [--threads N]

It serves the OpenAI protocol on 127.0.0.1 only, prints READY when it listens, and exits on
SIGTERM or SIGINT, or when its parent dies (so no server outlives Studio).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import threading


def _die_with_parent() -> None:
    """Linux: ask the kernel to send us SIGTERM when the parent process dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="studio-llm-serve")
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ctx", type=int, default=8192)
    ap.add_argument("--parallel", type=int, default=1)  # as studio.llm.local.SLOTS
    ap.add_argument("--threads", type=int, default=max(1, os.cpu_count() or 1))
    ap.add_argument("--alias", default="local")
    args = ap.parse_args(argv)
    parent = os.getppid()
    _die_with_parent()

    try:
        with open(args.model, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        print(f"cannot read the model file: {exc}", file=sys.stderr, flush=True)
        return 2
    if magic != b"GGUF":  # fail in a moment, not after loading the runtime
        print(f"{args.model} is not a GGUF model file", file=sys.stderr, flush=True)
        return 2

    import xllamacpp as xlc

    p = xlc.CommonParams()
    p.model.path = args.model
    p.model_alias = args.alias
    p.hostnames = ["127.0.0.1"]
    p.port = args.port
    p.n_ctx = args.ctx
    p.n_parallel = args.parallel
    p.cpuparams.n_threads = args.threads
    p.cpuparams_batch.n_threads = args.threads
    p.cache_prompt = True  # reuse the KV cache of a shared prompt prefix (the guideline part)
    p.warmup = False
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = xlc.Server(p)
    print("READY", flush=True)
    while not stop.wait(1.0):
        if os.getppid() != parent:  # orphaned: our parent is gone
            break
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
