"""The rollout client against servers that misbehave on purpose (real providers do, and a long
run must neither give up early nor hang): a 429 with ``Retry-After``, waits with jitter,
statuses that are and are not retried, a body trickled one byte at a time, a reply too large
to keep.

Every server is a :class:`fault_server.FaultServer` on 127.0.0.1 started by the test and
bounded in time; no test really waits a server's ``Retry-After``: the client's clock
and sleep are injected.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import litellm
import pytest
from fault_server import FaultServer, TopOfJitter, completion, send_json

from usersim_utils.rollout import __main__ as cli
from usersim_utils.rollout.client import ModelClient
from usersim_utils.rollout.errors import ReplyError
from usersim_utils.rollout.retry import MAX_RETRY_AFTER_S, is_retryable, jittered_backoff, retry_after_s

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydantic")

MESSAGES = [{"role": "user", "content": "hello"}]


class FakeTime:
    """A clock that only ``sleep`` moves (plus whatever real time the calls take)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def direct_client(fake: FakeTime, **options: Any) -> ModelClient:
    """A client on the direct path (no injected completion function) with fake time."""
    return ModelClient(None, sleep=fake.sleep, clock=fake.clock, **options)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def cli_argv(url: str, out: Path, *extra: str) -> list[str]:
    return [
        "--simulator", "openai/u", "--agent", "openai/a", "--api-base", url, "--domains", "retail:0",
        "--max-user-turns", "1", "--out", str(out), "--no-progress", *extra,
    ]  # fmt: skip


# --- Retry-After and jitter: waits as the server asks, threads turned away come back apart --------


def test_retry_after_20_is_waited_each_time_not_given_up_at_10_s() -> None:
    """``Retry-After: 20`` and --max-retries 3: three waits of 20 s, four requests, then
    the 429 goes up. Before: waits of 1, 2 and 4 s (retries at +4.3, +6.3, +10.3 s)."""

    def rate_limited(n: int, handler: BaseHTTPRequestHandler) -> None:
        send_json(handler, 429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"Retry-After": "20"})

    fake = FakeTime()
    with FaultServer(rate_limited) as server:
        client = direct_client(fake, max_retries=3, retry_budget_s=1200.0)
        with pytest.raises(litellm.RateLimitError):
            client.complete("simulator", "openai/u", MESSAGES, api_base=server.url)
        assert server.requests == 4
    assert fake.waits == [20.0, 20.0, 20.0]


def test_retry_after_as_milliseconds_and_as_a_date_then_success() -> None:
    stamp = email.utils.formatdate(time.time() + 30, usegmt=True)
    answers = [({"retry-after-ms": "1500", "Retry-After": "9"}), ({"Retry-After": stamp}), None]

    def answer(n: int, handler: BaseHTTPRequestHandler) -> None:
        headers = answers[n - 1]
        if headers is None:
            send_json(handler, 200, completion("fine"))
        else:
            send_json(handler, 503, {"error": {"message": "busy"}}, headers)

    fake = FakeTime()
    with FaultServer(answer) as server:
        reply = direct_client(fake).complete("simulator", "openai/u", MESSAGES, api_base=server.url)
    assert reply.content == "fine"
    assert fake.waits[0] == 1.5 and 28.0 <= fake.waits[1] <= 30.0  # retry-after-ms wins; the date from now


def test_retry_after_is_capped_and_bounded_by_the_budget() -> None:
    """A server asking for an hour gets :data:`MAX_RETRY_AFTER_S`; a wait that would pass
    the retry budget is not made: the call fails at once instead."""

    def answer(n: int, handler: BaseHTTPRequestHandler) -> None:
        send_json(handler, 429, {"error": {"message": "later"}}, {"Retry-After": "3600"})

    fake = FakeTime()
    with FaultServer(answer) as server:
        client = direct_client(fake, max_retries=6, retry_budget_s=150.0)
        with pytest.raises(litellm.RateLimitError):
            client.complete("simulator", "openai/u", MESSAGES, api_base=server.url)
        assert server.requests == 3
    assert fake.waits == [MAX_RETRY_AFTER_S, MAX_RETRY_AFTER_S] and fake.now <= 150.0


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Retry-After": "20"}, 20.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"Retry-After-Ms": "250"}, 0.25),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:27:00 GMT"}, 0.0),  # in the past
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "-3"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    assert retry_after_s(headers, now) == expected


def test_backoff_has_full_jitter_and_is_reproducible() -> None:
    """Waits are uniform in [0, base * 2**n] (capped), so threads turned away together
    come back apart; the same seed gives the same waits."""
    draws = [jittered_backoff(3, 1.0, 60.0, random.Random(seed)) for seed in range(200)]
    assert all(0.0 <= d <= 8.0 for d in draws) and len(set(draws)) == 200
    assert min(draws) < 1.0 and max(draws) > 7.0
    assert jittered_backoff(20, 1.0, 60.0, TopOfJitter()) == 60.0
    assert [jittered_backoff(n, 1.0, 60.0, random.Random(7)) for n in range(3)] == [
        jittered_backoff(n, 1.0, 60.0, random.Random(7)) for n in range(3)
    ]


def test_a_500_storm_is_retried_with_jittered_waits() -> None:
    def storm(n: int, handler: BaseHTTPRequestHandler) -> None:
        send_json(handler, 500, {"error": {"message": "overloaded"}})

    fake = FakeTime()
    with FaultServer(storm) as server:
        client = direct_client(fake, max_retries=4, rng=random.Random(1))
        with pytest.raises(litellm.InternalServerError):
            client.complete("simulator", "openai/u", MESSAGES, api_base=server.url)
    rng = random.Random(1)
    assert fake.waits == [rng.random() * 2.0**n for n in range(4)]
    assert fake.waits != [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("status, retried", [(408, True), (409, True), (429, True), (500, True), (504, True),
                                             (400, False), (401, False), (404, False), (422, False)])  # fmt: skip
def test_only_408_409_429_and_5xx_are_retried(status: int, retried: bool) -> None:
    def answer(n: int, handler: BaseHTTPRequestHandler) -> None:
        send_json(handler, status, {"error": {"message": f"status {status}"}})

    fake = FakeTime()
    with FaultServer(answer) as server:
        client = direct_client(fake, max_retries=2)
        with pytest.raises(Exception) as caught:
            client.complete("simulator", "openai/u", MESSAGES, api_base=server.url)
        assert server.requests == (3 if retried else 1), caught.value
    assert is_retryable(caught.value) is retried


# --- a server that trickles its body: the request still ends at its deadline -------------


def trickle(server_closing: Any) -> Any:
    """An answer that sends its headers at once, then one byte of its body every 0.5 s."""

    def answer(n: int, handler: BaseHTTPRequestHandler) -> None:
        body = json.dumps(completion("x" * 1000)).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            if server_closing().wait(0.5):
                return

    return answer


@pytest.mark.parametrize("path", ["direct", "litellm"])
def test_a_trickling_body_ends_at_the_deadline(path: str) -> None:
    """--request-timeout 1 --retry-budget 2.5: before, the direct path was still reading
    at 100 s and litellm's at 60 s (each byte restarts a per-read timeout)."""
    server = FaultServer(lambda n, h: answer(n, h))
    answer = trickle(lambda: server.closing)
    options: dict[str, Any] = {"completion_fn": litellm.completion} if path == "litellm" else {}
    client = ModelClient(None, max_retries=5, request_timeout_s=1.0, retry_budget_s=2.5, rng=TopOfJitter(), **options)
    with server:
        started = time.monotonic()
        with pytest.raises(litellm.Timeout):
            client.complete("simulator", "openai/u", MESSAGES, api_base=server.url, api_key="EMPTY")
        elapsed = time.monotonic() - started
    # attempt 1 s, wait 1 s, attempt 0.5 s (what is left of the budget)
    assert 2.0 <= elapsed < 3.5, elapsed
    assert server.requests == 2


def test_a_trickling_server_fails_its_conversation_in_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    server = FaultServer(lambda n, h: answer(n, h))
    answer = trickle(lambda: server.closing)
    with server:
        started = time.monotonic()
        argv = cli_argv(server.url, tmp_path, "--request-timeout", "1", "--retry-budget", "2", "--max-retries", "9")
        status = cli.main(argv)
        elapsed = time.monotonic() - started
    assert status == 1 and elapsed < 6, elapsed
    [line] = error_lines(capsys.readouterr().err)
    assert line.startswith("error: retail_0: Timeout: ") and "no complete reply within" in line


# --- a reply too large to keep: one line, never retried ----------------------------------


def big_reply(chars: int, declare_length: bool = True) -> Any:
    def answer(n: int, handler: BaseHTTPRequestHandler) -> None:
        body = json.dumps(completion("y" * chars)).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declare_length:
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        else:  # chunked: the size is known only by reading
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            for i in range(0, len(body), 65536):
                chunk = body[i : i + 65536]
                handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            handler.wfile.write(b"0\r\n\r\n")

    return answer


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
def test_a_reply_over_the_cap_fails_with_one_line_and_is_not_retried(
    declare_length: bool, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with FaultServer(big_reply(3_000_000, declare_length)) as server:
        started = time.monotonic()
        assert cli.main(cli_argv(server.url, tmp_path)) == 1
        elapsed = time.monotonic() - started
        assert server.requests == 1
    assert elapsed < 10
    assert error_lines(capsys.readouterr().err) == [
        "error: retail_0: ReplyError: openai/u: the reply is larger than 2,000,000 bytes "
        "(raise --max-reply-bytes to accept it)"
    ]
    assert not list(tmp_path.rglob("eval_results_*.json"))
    stored = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert stored < 100_000  # nothing of the reply kept


def test_the_cap_is_a_flag_and_applies_on_litellm_s_path_too(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with FaultServer(big_reply(3_000_000)) as server:
        reply = ModelClient(None, max_reply_bytes=4_000_000).complete(
            "simulator", "openai/u", MESSAGES, api_base=server.url
        )
        assert len(reply.content) == 3_000_000
        with pytest.raises(ReplyError, match="larger than 1,000,000 bytes"):
            ModelClient(None, completion_fn=litellm.completion, max_reply_bytes=1_000_000).complete(
                "simulator", "openai/u", MESSAGES, api_base=server.url, api_key="EMPTY"
            )
    assert cli.main(cli_argv("http://127.0.0.1:9/v1", tmp_path, "--max-reply-bytes", "0")) == 2
    assert capsys.readouterr().err == "error: --max-reply-bytes must be >= 1, got 0\n"


# --- secrets never printed or stored: logs and result files get shared -------------------

KEY = "sk-echoed-secret-0123456789abcdef"


def everything_stored(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_a_key_echoed_in_a_normal_reply_is_never_stored_or_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    """The simulator's reply quotes the key (plainly and JSON-escaped); the run succeeds,
    and neither the results, the work file, the cache, the card nor the output hold it."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def echo(n: int, handler: BaseHTTPRequestHandler) -> None:
        send_json(handler, 200, completion(f"###STOP### my key is {KEY}, see {json.dumps(KEY)}"))

    with FaultServer(echo) as server:
        assert cli.main(cli_argv(server.url, tmp_path)) == 0
    out, err = capfd.readouterr()
    stored = everything_stored(tmp_path)
    assert KEY not in stored + out + err
    record = json.loads((tmp_path / "eval_results_openai-u.json").read_text())["retail_0"]
    assert record["conversation"][1]["content"].startswith("my key is [redacted]")
    assert {part for p in tmp_path.rglob("*.json") for part in p.parts} >= {".work", "responses"}  # all looked at


def test_credentials_in_the_api_base_are_never_printed_or_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    def answer(n: int, handler: BaseHTTPRequestHandler) -> None:
        send_json(handler, 200, completion("###STOP###"))

    with FaultServer(answer) as server:
        url = server.url.replace("http://", "http://alice:pa55-w0rd-secret@")
        assert cli.main(cli_argv(url, tmp_path)) == 0
    assert "pa55-w0rd-secret" not in "".join(capsys.readouterr())
    card = json.loads((tmp_path / "card_openai-u.json").read_text())
    assert card["simulator"]["api_base"] == server.url.replace("http://", "http://[redacted]@")
    assert "pa55-w0rd-secret" not in everything_stored(tmp_path)
    # an endpoint that cannot be reached, and one that is malformed: one line, no password
    for bad in ("http://alice:pa55-w0rd-secret@127.0.0.1:9/v1", "http://alice:pa55-w0rd-secret@h:99999/v1"):
        assert cli.main(cli_argv(bad, tmp_path / "other")) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "pa55-w0rd-secret" not in err, err
        assert "alice:" not in err and "[redacted]@" in err
