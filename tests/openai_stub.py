"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

It speaks just enough of /v1/chat/completions: answers from a `respond(request) -> str`
function, can be scripted to fail first (`script=[429, 500]`) or to send a raw 200 body first
(`script=[b'{"choices": []}', b"<html>"]`: malformed answers), and can delay each answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIStub:
    def __init__(
        self,
        respond: Callable[[dict[str, Any]], str] | None = None,
        script: list[int | bytes] | None = None,
        delay: float = 0.0,
        finish_reason: Callable[[dict[str, Any]], str] | None = None,
        status: Callable[[dict[str, Any]], int] | None = None,
    ) -> None:
        self.finish_reason = finish_reason or (lambda req: "stop")
        self.respond = respond or (lambda req: json.dumps({"echo": req["messages"][-1]["content"]}))
        self.script = list(script or [])
        self.delay = delay
        self.status = status  # an HTTP status chosen per request (after the script runs out)
        self.hits: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, a kept-alive connection waits
            # ~40 ms for the client's delayed ACK before sending the body.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.hits.append(body)
                    stub.headers.append(dict(self.headers))
                    status = stub.script.pop(0) if stub.script else stub.status(body) if stub.status else 200
                if stub.delay:
                    time.sleep(stub.delay)
                raw = status if isinstance(status, bytes) else None
                status = 200 if raw is not None else status
                if status != 200:
                    payload = {"error": {"message": f"scripted {status}", "type": "server_error", "code": status}}
                else:
                    content = stub.respond(body)
                    payload = {
                        "id": f"chatcmpl-{len(stub.hits)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "stub"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": stub.finish_reason(body),
                            }
                        ],
                        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                    }
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if status == 429:
                    self.send_header("retry-after", "0")
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 stalls bursts of concurrent connections

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    """Serve forever in its own process (benchmarks: keeps the server off the client's GIL)."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=0.0)
    args = ap.parse_args()
    stub = OpenAIStub(delay=args.delay)
    print(stub.url, flush=True)
    stub.server.serve_forever()


if __name__ == "__main__":
    main()
