"""Start and stop the embedded model server (a child process on a free 127.0.0.1 port)."""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from studio.errors import StudioError
from studio.llm.models import INSTALL_HINT, ModelMissing, cache_dir, runtime_available

START_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def threads_setting() -> int:
    """Threads for the embedded server: every core, or STUDIO_LLM_THREADS. On a machine shared with other
    work, 1 thread is far faster than 2: llama.cpp's threads meet at a barrier many times per token, and
    every time another process takes a core from one of them the other waits."""
    raw = os.environ.get("STUDIO_LLM_THREADS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise StudioError(f"STUDIO_LLM_THREADS must be a whole number of at least 1 (got {raw!r})")
        return int(raw)
    return max(1, os.cpu_count() or 1)


# One slot: requests are answered one at a time. With two, two requests share a batch whenever they overlap, and
# which ones overlap depends on timing, so the same greedy request could get another answer on a busy machine (the
# README's `studio demo` under load once proposed F1 0.76 and released manifest 9471da36 instead of 0.75 and
# d604cedb; with one slot, two runs under two busy loops gave d604cedb). Not slower on 2 cores: 24 recorded label
# requests took 4.77 s each with one slot, 5.02 with two, 5.27 with four (docs/ner.md).
SLOTS = 1


class LocalServer:
    """One llama.cpp server process serving one GGUF model over the OpenAI protocol."""

    def __init__(self, model_path: Path, ctx: int = 8192, parallel: int = SLOTS, threads: int | None = None) -> None:
        self.model_path = model_path
        self.ctx = ctx
        self.parallel = parallel
        self.threads = threads or threads_setting()
        self.port: int | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = cache_dir() / "server.log"  # named per process and port once started

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> str:
        if self.proc is not None and self.proc.poll() is None:
            return self.base_url
        if not runtime_available():
            raise ModelMissing(f"the embedded model runtime (xllamacpp) is not installed: {INSTALL_HINT}")
        self.port = free_port()
        # Two servers (two processes, or two models in one) must not write one log file.
        self.log_path = cache_dir() / "logs" / f"server-{os.getpid()}-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        cmd = [
            sys.executable, "-m", "studio.llm.serve", "--model", str(self.model_path), "--port", str(self.port),
            "--ctx", str(self.ctx), "--parallel", str(self.parallel), "--threads", str(self.threads),
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-800:]
                raise StudioError(
                    f"the embedded model server exited while starting (see {self.log_path}): {tail.strip()[-300:]}"
                )
            try:
                r = httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2.0)
                if r.status_code == 200:
                    return self.base_url
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise StudioError(
            f"the embedded model server did not start within {START_TIMEOUT_S:.0f}s (see {self.log_path})"
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


_servers: dict[tuple[str, int, int], LocalServer] = {}
_lock = threading.Lock()


def shared_server(model_path: Path, ctx: int = 8192, parallel: int = SLOTS) -> LocalServer:
    """One server per model per process, started on first use and stopped at exit."""
    key = (str(model_path), ctx, parallel)
    with _lock:
        server = _servers.get(key)
        if server is None:
            server = _servers[key] = LocalServer(model_path, ctx=ctx, parallel=parallel)
        server.start()
        return server


@atexit.register
def stop_all() -> None:
    for server in list(_servers.values()):
        server.stop()
    _servers.clear()
