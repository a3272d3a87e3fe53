"""Does bounded concurrency pay? Rollouts against a slow OpenAI-compatible server.

A stub server on 127.0.0.1 (stdlib ``http.server``, one thread per request) answers
``/v1/chat/completions`` after a fixed delay, playing both sides: the simulator
talks for ``--turns`` turns then sends ``###STOP###``; the agent makes one tool call
per turn (``think``) and then replies; the survey comes back as valid JSON. The same
tasks are rolled out with concurrency 1 and 8 through litellm (``openai/<model>`` +
``api_base``), each into a fresh folder (no cache hits), after a warm-up that builds
the task environments and makes one call, so both timings measure the conversation
loop only. The issue's bound: concurrency 8 at least 6x faster than concurrency 1.

Bounded in count and time: the server answers at most ``--max-requests`` requests and
nothing after ``--max-seconds``; later requests get HTTP 400, which ends the run.
The tests reuse the stub to play a faulty server (``respond``: hang, fail, echo the
key, send malformed replies).

    .venv/bin/python benchmarks/bench_rollout_concurrency.py [--tasks 16] [--delay 0.5] [--turns 3]

The last line printed is JSON (read by tests/test_rollout_bench.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from usersim_utils import ids, taubench
from usersim_utils.rollout import run_rollouts
from usersim_utils.rollout.runner import RolloutConfig
from usersim_utils.survey import SURVEY_OPTIONS

#: One listed option per item: the stub's survey answer.
STUB_SURVEY = {item: next(iter(options)) for item, options in SURVEY_OPTIONS.items()}


def stub_reply(body: dict[str, Any], turns: int) -> dict[str, Any]:
    """The stub's chat message for one request (see the module docstring)."""
    messages = body["messages"]
    last = messages[-1]
    if "tools" in body:
        if last["role"] == "tool":
            return {"role": "assistant", "content": "I have checked your account; it is all set."}
        call = {"id": f"call_{len(messages)}", "type": "function",
                "function": {"name": "think", "arguments": json.dumps({"thought": "look up the user"})}}
        return {"role": "assistant", "content": None, "tool_calls": [call]}
    if "fill out the survey below" in str(last.get("content")):
        return {"role": "assistant", "content": json.dumps(STUB_SURVEY)}
    turn = sum(m["role"] == "assistant" for m in messages) + 1
    return {"role": "assistant", "content": "###STOP###" if turn >= turns else f"I need help with my order ({turn})."}


#: ``respond(n, body, headers)`` of a faulty stub: ``(status, JSON payload)`` to send
#: instead of the normal reply to request ``n`` (1-based), or ``None`` for the normal one.
Responder = Callable[[int, dict[str, Any], Mapping[str, str]], "tuple[int, Any] | None"]


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client hangs up before its reply (a timeout, a Ctrl-C)."""

    # A listen backlog like uvicorn's (2048), not socketserver's 5: a client opening 128
    # connections at once would otherwise see some of them reset.
    request_queue_size = 2048

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class StubServer:
    """An OpenAI-compatible chat server on 127.0.0.1 that waits ``delay_s`` per call.
    ``respond`` (tests) may replace any reply; a responder that hangs should wait on
    :attr:`closing`, which is set when the server shuts down."""

    def __init__(
        self, delay_s: float, turns: int, max_requests: int, max_seconds: float, respond: Responder | None = None
    ) -> None:
        self.delay_s, self.turns = delay_s, turns
        self.max_requests, self.deadline = max_requests, time.monotonic() + max_seconds
        self.respond = respond
        self.closing = threading.Event()
        self.requests = 0
        self.in_flight = self.peak_in_flight = 0  # calls being answered now / at most since reset_peak()
        self.first_request_at: float | None = None  # time.monotonic() of the first call since reset_peak()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as vLLM and hosted APIs do
            # TCP_NODELAY, as asyncio servers (uvicorn: vLLM, llama.cpp) set: otherwise the body, written after
            # the headers, waits for the client's delayed ACK (up to 40 ms a reply on Linux).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub._lock:
                    stub.requests += 1
                    n = stub.requests
                    over = stub.requests > stub.max_requests or time.monotonic() > stub.deadline
                    if not over:
                        if stub.first_request_at is None:
                            stub.first_request_at = time.monotonic()
                        stub.in_flight += 1
                        stub.peak_in_flight = max(stub.peak_in_flight, stub.in_flight)
                if over:
                    exhausted = {"message": "benchmark budget exhausted", "type": "invalid_request_error"}
                    return self._send(400, {"error": exhausted})
                try:
                    custom = stub.respond(n, body, self.headers) if stub.respond else None
                    if custom is None:
                        time.sleep(stub.delay_s)
                        message = stub_reply(body, stub.turns)
                finally:
                    with stub._lock:
                        stub.in_flight -= 1
                if custom is not None:
                    return self._send(*custom)
                self._send(200, {
                    "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": message,
                                 "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
                })

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                """``/stats``: requests, peak of simultaneous calls and the first call's time
                (``?reset=1`` then starts both afresh), for a client in another process."""
                with stub._lock:
                    stats = {"requests": stub.requests, "peak_in_flight": stub.peak_in_flight,
                             "first_request_at": stub.first_request_at}
                if self.path.endswith("reset=1"):
                    stub.reset_peak()
                self._send(200, stats)

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reset_peak(self) -> None:
        """Start counting the peak of simultaneous calls (and the first call) afresh."""
        with self._lock:
            self.peak_in_flight = self.in_flight
            self.first_request_at = None

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


def time_rollouts(url: str, tasks: tuple[str, ...], concurrency: int, turns: int, out_dir: Path) -> float:
    """Seconds to roll out ``tasks`` against the stub with ``concurrency`` workers."""
    config = RolloutConfig(
        simulator="openai/stub-user", agent="openai/stub-agent", tasks=tasks, concurrency=concurrency,
        max_user_turns=turns, out_dir=out_dir, api_base=url, max_retries=0,
    )
    started = time.perf_counter()
    summary = run_rollouts(config, progress=False)
    elapsed = time.perf_counter() - started
    if summary.failures or summary.conversations != len(tasks):
        raise RuntimeError(f"benchmark run incomplete: {summary.failures}")
    return elapsed


def run(n_tasks: int, delay_s: float, turns: int, max_seconds: float) -> dict[str, float]:
    """Time concurrency 1 and 8 on the first ``n_tasks`` retail tasks."""
    tasks = tuple(ids.parse_task_spec(f"retail:0-{n_tasks - 1}"))
    calls_per_conversation = 3 * turns  # turns simulator + 2 per agent turn + survey, rounded up
    with StubServer(delay_s, turns, 3 * n_tasks * calls_per_conversation, max_seconds) as stub:
        for task in tasks:  # build each task's gold database outside the timings
            taubench.gold_state(task)
        with tempfile.TemporaryDirectory() as tmp:
            time_rollouts(stub.url, tasks[:1], 1, turns, Path(tmp) / "warm-up")
            stub.reset_peak()
            serial = time_rollouts(stub.url, tasks, 1, turns, Path(tmp) / "c1")
            peak_serial = stub.peak_in_flight
            stub.reset_peak()
            parallel = time_rollouts(stub.url, tasks, 8, turns, Path(tmp) / "c8")
            peak_parallel = stub.peak_in_flight
        requests = stub.requests
    return {
        "tasks": n_tasks, "delay_s": delay_s, "turns": turns, "requests": requests,
        "seconds_concurrency_1": round(serial, 3), "seconds_concurrency_8": round(parallel, 3),
        "speedup": round(serial / parallel, 2),
        "peak_calls_concurrency_1": peak_serial, "peak_calls_concurrency_8": peak_parallel,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=16, help="retail tasks to roll out (1-115)")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds the stub waits per call")
    parser.add_argument("--turns", type=int, default=3, help="simulator turns per conversation (the last stops)")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="the stub refuses requests after this")
    args = parser.parse_args()
    result = run(args.tasks, args.delay, args.turns, args.max_seconds)
    print(f"{args.tasks} conversations, {args.delay}s per call: concurrency 1 {result['seconds_concurrency_1']:.1f}s, "
          f"concurrency 8 {result['seconds_concurrency_8']:.1f}s, speed-up {result['speedup']:.1f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
