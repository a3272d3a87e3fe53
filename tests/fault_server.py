"""Shared by the rollout fault tests: a loopback server whose every reply a test writes
byte by byte (status, headers, a body sent slowly), and a jitter source pinned to the top
of its range. Not a test file."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: ``answer(n, handler)``: write the whole reply to request ``n`` (1-based) on ``handler``.
Answer = Callable[[int, BaseHTTPRequestHandler], None]


class TopOfJitter(random.Random):
    """``random()`` is always 1.0: every jittered wait is the top of its range, base * 2**n."""

    def random(self) -> float:
        return 1.0


def completion(content: str) -> dict[str, Any]:
    """A chat completion whose one message says ``content``."""
    return {
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }  # fmt: skip


def send_json(
    handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None
) -> None:
    """One whole JSON reply."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    sent = {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}
    for name, value in sent.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


class FaultServer:
    """An HTTP server on 127.0.0.1 answering every POST with ``answer``; it records when
    each request arrived (``arrivals``, ``time.monotonic()``). An answer that waits should
    wait on :attr:`closing` (set at shutdown), so that no test outlives its server."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.closing = threading.Event()
        self.arrivals: list[float] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server.arrivals.append(time.monotonic())
                    n = len(server.arrivals)
                try:
                    server.answer(n, self)
                except (TimeoutError, ConnectionError, OSError):  # the client gave up: expected here
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def requests(self) -> int:
        return len(self.arrivals)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
