"""Rollouts under faults (a long run meets them all): a hung or dead server, Ctrl-C, a
poisoned cache, lost conversations, two processes on one folder, an unwritable or
full disk, a server echoing the API key, malformed replies.

The scripted fake model of tests/rollout_doubles.py plays both sides in-process; the
benchmark's OpenAI-compatible stub on 127.0.0.1 plays a faulty server through litellm.
Outbound connections other than loopback fail the test (``loopback_only``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import litellm
import pytest
from fault_server import TopOfJitter
from rollout_doubles import VALID_SURVEY, ScriptedModels, ScriptedProvider, config, load_benchmark, task_hint

from usersim_utils import atomic
from usersim_utils.rollout import __main__ as cli
from usersim_utils.rollout import cache as cache_mod
from usersim_utils.rollout import function_calling, play, protocol
from usersim_utils.rollout.client import ModelClient
from usersim_utils.rollout.errors import OutputError, ReplyError, RunLockedError, describe
from usersim_utils.rollout.redact import REDACTED, redact, secret_values
from usersim_utils.rollout.replies import normalise_response
from usersim_utils.rollout.runner import run_rollouts

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning:pydantic"), pytest.mark.usefixtures("loopback_only")]

LABEL = "scripted-user"
SUMMARY_RE = r"conversations=\d+ model_calls=\d+ cache_hits=\d+ cost_usd=\d+\.\d{6}"
#: JSON nested 100,000 deep: Python's parser gives up with RecursionError.
DEEP_JSON = '{"a":' * 100_000 + "1" + "}" * 100_000


def error_lines(err: str) -> list[str]:
    """The lines of stderr that report an error."""
    return [line for line in err.splitlines() if line.startswith("error: ")]


def stub_argv(url: str, out: Path, domains: str = "retail:0", *extra: str) -> list[str]:
    """Command line of a run against the stub (2 simulator turns: 5 calls per conversation)."""
    return [
        "--simulator", "openai/stub-user", "--agent", "openai/stub-agent", "--api-base", url,
        "--domains", domains, "--max-user-turns", "2", "--out", str(out), "--no-progress", *extra,
    ]  # fmt: skip


def scripted_argv(out: Path, domains: str = "retail:0", *extra: str) -> list[str]:
    """Command line of a run of the scripted models (the ``scripted_provider`` fixture)."""
    return [
        "--simulator", "scripted/user", "--agent", "scripted/agent", "--domains", domains, "--out", str(out),
        "--no-progress", *extra,
    ]  # fmt: skip


@pytest.fixture()
def bench() -> Any:
    return load_benchmark()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- 1. timeouts and retries: one place, bounded -------------------------------------


def test_one_call_is_bounded_by_the_retry_budget_and_litellm_never_retries() -> None:
    """A hung server: each attempt waits its whole timeout. The budget (10 s) caps the
    call: attempt 4 s, wait 1 s, attempt 4 s, then the next wait (2 s) would overrun
    (the waits at the top of their jitter range)."""
    now = [0.0]
    seen: list[dict[str, Any]] = []

    def hung(**kwargs: Any) -> Any:
        seen.append(kwargs)
        now[0] += kwargs["timeout"]
        raise litellm.Timeout("timed out", "m", "openai")

    client = ModelClient(
        None, completion_fn=hung, max_retries=10, request_timeout_s=4.0, retry_budget_s=10.0,
        sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0], rng=TopOfJitter(),
    )  # fmt: skip
    with pytest.raises(litellm.Timeout):
        client.complete("agent", "openai/m", [{"role": "user", "content": "x"}])
    assert [k["timeout"] for k in seen] == [4.0, 4.0] and now[0] == 9.0
    assert all(k["num_retries"] == 0 and k["max_retries"] == 0 for k in seen)  # litellm's and OpenAI's off


def test_last_attempt_gets_only_what_is_left_of_the_budget() -> None:
    now = [0.0]
    timeouts: list[float] = []

    def hung(**kwargs: Any) -> Any:
        timeouts.append(kwargs["timeout"])
        now[0] += kwargs["timeout"]
        raise litellm.APIConnectionError("refused", "openai", "m")

    client = ModelClient(
        None, completion_fn=hung, max_retries=5, request_timeout_s=6.0, retry_budget_s=10.0,
        sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0], rng=TopOfJitter(),
    )  # fmt: skip
    with pytest.raises(litellm.APIConnectionError):
        client.complete("agent", "openai/m", [{"role": "user", "content": "x"}])
    assert timeouts == [6.0, 3.0] and now[0] <= 10.0


def test_a_failing_server_sees_each_attempt_once(tmp_path: Path, bench: Any) -> None:
    """HTTP 500 with --max-retries 1: 2 requests reach the server. Before, the OpenAI
    client retried every attempt twice more on its own (6 requests)."""
    error = (500, {"error": {"message": "overloaded", "type": "server_error"}})
    with bench.StubServer(0.0, 2, 100, 60, respond=lambda n, body, headers: error) as stub:
        cfg = config(
            tmp_path,
            "retail:0",
            simulator="openai/stub-user",
            agent="openai/stub-agent",
            api_base=stub.url,
            max_retries=1,
        )
        summary = run_rollouts(cfg, progress=False, sleep=lambda s: None)
        assert stub.requests == 2
    assert list(summary.failures) == ["retail_0"] and summary.failures["retail_0"].startswith("InternalServerError: ")


def test_request_timeout_and_retry_budget_bound_a_hung_server(
    tmp_path: Path, bench: Any, capsys: pytest.CaptureFixture
) -> None:
    def hang(n: int, body: Any, headers: Any) -> None:
        stub.closing.wait(30)

    with bench.StubServer(0.0, 2, 100, 60, respond=hang) as stub:
        started = time.monotonic()
        argv = stub_argv(
            stub.url, tmp_path, "retail:0", "--request-timeout", "0.5", "--retry-budget", "2", "--max-retries", "20"
        )
        status = cli.main(argv)
        elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert status == 1 and elapsed < 8, elapsed
    [line] = error_lines(err)
    assert line.startswith("error: retail_0: Timeout: ")
    assert re.fullmatch(SUMMARY_RE, out.splitlines()[-1])
    assert 2 <= stub.requests <= 4  # 0.5 s attempts with 1 s and 2 s waits inside 2 s


def test_unreachable_api_base_is_one_line_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    started = time.monotonic()
    status = cli.main(stub_argv(url, tmp_path, "retail:0-3"))
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert status == 2 and elapsed < 5, elapsed
    assert (
        err.count("\n") == 1
        and err.startswith(f"error: cannot reach {url} (127.0.0.1 port ")
        and "Traceback" not in err
    )
    assert out.splitlines() == ["conversations=0 model_calls=0 cache_hits=0 cost_usd=0.000000"]
    assert not (tmp_path / ".work").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--api-base", "localhost:8000"], "bad --api-base 'localhost:8000': expected http(s)://host[:port]/..."),
        (["--agent-api-base", "http://h:99999/v1"], "bad --agent-api-base"),
        (["--request-timeout", "0"], "--request-timeout must be a positive number of seconds"),
        (["--retry-budget", "nan"], "--retry-budget must be a positive number of seconds"),
        (["--max-retries", "-1"], "--max-retries must be >= 0"),
    ],
)
def test_bad_timeouts_and_endpoints_are_usage_errors(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # scripted models: should validation ever let these through, no real model runs
    status = cli.main(scripted_argv(tmp_path, "retail:0", *argv))
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith(f"error: {message}")


# --- 2. Ctrl-C stops at once ---------------------------------------------------------


def test_ctrl_c_during_a_slow_reply_exits_at_once_and_resumes(
    tmp_path: Path, bench: Any, capsys: pytest.CaptureFixture
) -> None:
    """retail_0 (5 calls) finishes; retail_1's first call hangs for 60 s; SIGINT then
    ends the process within seconds (it waited for the reply before: 139 s seen)."""
    hanging = [True]

    def slow_after_first_conversation(n: int, body: Any, headers: Any) -> None:
        if n > 5 and hanging[0]:
            stub.closing.wait(60)

    with bench.StubServer(0.0, 2, 1000, 300, respond=slow_after_first_conversation) as stub:
        argv = stub_argv(stub.url, tmp_path, "retail:0-1", "--concurrency", "1")
        env = dict(os.environ, LITELLM_OFFLINE_MODE="true", HF_HUB_OFFLINE="1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "usersim_utils.rollout", *argv],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while stub.requests < 6 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert stub.requests == 6 and stub.in_flight == 1, (stub.requests, proc.poll())
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
            elapsed = time.monotonic() - started
        finally:
            proc.kill()
        hanging[0] = False
        assert proc.returncode == 130 and elapsed < 5, (proc.returncode, elapsed, err)
        assert err.splitlines() == [
            "error: interrupted; finished conversations are saved, rerun the same command to resume"
        ]
        assert out == ""
        finished = sorted(p.name for p in (tmp_path / ".work").rglob("*.json"))
        assert finished == ["retail_0__run1.json"]
        # the same command resumes: retail_0 is not played again
        assert cli.main(argv) == 0
        assert (
            capsys.readouterr().out.splitlines()[-1] == "conversations=2 model_calls=5 cache_hits=0 cost_usd=0.000000"
        )
        assert json.loads((tmp_path / "ledger_openai-stub-user.json").read_text())["reused_conversations"] == 1


# --- 3. a reply that cannot be parsed ------------------------------------------------


def test_an_unparseable_survey_fails_its_conversation_and_is_not_replayed(tmp_path: Path) -> None:
    first = run_rollouts(
        config(tmp_path, "retail:0-1"), completion_fn=ScriptedModels(survey_text=DEEP_JSON), progress=False
    )
    assert sorted(first.failures) == ["retail_0", "retail_1"] and first.records == {}
    assert set(first.failures.values()) == {
        "ReplyError: the survey reply cannot be parsed: its JSON is nested too deep"
    }
    cache_dir = tmp_path / ".cache" / "responses"
    assert DEEP_JSON not in "".join(p.read_text() for p in cache_dir.rglob("*.json"))  # never recorded
    good = ScriptedModels()
    second = run_rollouts(config(tmp_path, "retail:0-1"), completion_fn=good, progress=False)
    assert second.failures == {} and sorted(second.records) == ["retail_0", "retail_1"]
    assert dict(good.calls) == {"survey": 2}  # only the surveys are asked again
    assert second.ledger["total"]["cache_hits"] == 10


def test_a_poisoned_cache_entry_is_discarded_and_asked_again(tmp_path: Path) -> None:
    """A survey reply recorded by an older version that cannot be parsed now."""
    run_rollouts(config(tmp_path, "retail:0"), completion_fn=ScriptedModels(), progress=False)
    entries = [
        p for p in (tmp_path / ".cache" / "responses").rglob("*.json") if VALID_SURVEY["efficiency"] in p.read_text()
    ]
    assert len(entries) == 1
    entry = json.loads(entries[0].read_text())
    entries[0].write_text(json.dumps(dict(entry, content=DEEP_JSON)))
    for f in (tmp_path / ".work").rglob("*.json"):
        f.unlink()
    again = ScriptedModels()
    summary = run_rollouts(config(tmp_path, "retail:0"), completion_fn=again, progress=False)
    assert summary.failures == {} and dict(again.calls) == {"survey": 1}
    assert summary.records["retail_0"]["survey"]["efficiency"]["answer"] == VALID_SURVEY["efficiency"]
    assert json.loads(entries[0].read_text())["content"] == json.dumps(VALID_SURVEY)


def test_tool_arguments_nested_too_deep_are_a_malformed_call() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert function_calling.parse_tool_arguments(deep) is None
    client = ModelClient(None, completion_fn=ScriptedModels(plan=[("get_order_details", deep)], stop_after=2))
    record = play.play_conversation(
        "retail_0", 1, "retail_0", client, protocol.ProtocolSettings("scripted/u", "scripted/a")
    )
    assert (
        "<|tool|>Error: the arguments of get_order_details are not a JSON object"
        in record["conversation"][2]["content"]
    )


def test_unreadable_work_and_cache_files_are_misses(tmp_path: Path) -> None:
    run_rollouts(config(tmp_path, "retail:0"), completion_fn=ScriptedModels(), progress=False)
    for f in [*(tmp_path / ".work").rglob("*.json"), *(tmp_path / ".cache").rglob("*.json")]:
        f.write_text("[" * 100_000)
    fresh = ScriptedModels()
    summary = run_rollouts(config(tmp_path, "retail:0"), completion_fn=fresh, progress=False)
    assert summary.failures == {} and summary.reused == 0 and sum(fresh.calls.values()) == 6


# --- 4. the results file holds every finished conversation; one process per label -----


def results(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / f"eval_results_{LABEL}.json").read_text())


def surveys(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / f"survey_comparable_{LABEL}.json").read_text())


def test_other_domains_add_to_the_results(tmp_path: Path) -> None:
    run_rollouts(config(tmp_path, "retail:1,retail:0"), completion_fn=ScriptedModels(), progress=False)
    summary = run_rollouts(config(tmp_path, "retail:2,airline:0"), completion_fn=ScriptedModels(), progress=False)
    # this run's tasks first, in the order asked; earlier ones after, by domain, task and run
    assert list(results(tmp_path)) == ["retail_2", "airline_0", "retail_0", "retail_1"] == list(summary.label_records)
    assert sorted(surveys(tmp_path)) == ["airline_0", "retail_0", "retail_1", "retail_2"]
    assert list(summary.records) == ["retail_2", "airline_0"] and summary.summary_line().startswith("conversations=2 ")
    ledger = json.loads(summary.ledger_path.read_text())
    assert ledger["conversations"] == 4 and ledger["all_conversations"]["simulator"]["model_calls"] == 16


def test_a_failing_run_keeps_the_results(tmp_path: Path) -> None:
    run_rollouts(config(tmp_path, "retail:0-3"), completion_fn=ScriptedModels(), progress=False)
    before = results(tmp_path)
    failing = ScriptedModels(fail_tasks=("airline_1",))
    summary = run_rollouts(config(tmp_path, "airline:1"), completion_fn=failing, progress=False)
    assert list(summary.failures) == ["airline_1"]
    assert results(tmp_path) == before and len(before) == 4


def test_more_runs_later_rekey_the_whole_file(tmp_path: Path) -> None:
    run_rollouts(config(tmp_path, "retail:0"), completion_fn=ScriptedModels(), progress=False)
    run_rollouts(config(tmp_path, "retail:1", runs=2), completion_fn=ScriptedModels(), progress=False)
    assert list(results(tmp_path)) == ["retail_1_1", "retail_1_2", "retail_0_1"]
    assert all(r["instance_id"] == k for k, r in results(tmp_path).items())
    assert sorted(surveys(tmp_path)) == ["retail_0", "retail_1", "retail_1_ann2"]


def test_other_settings_are_set_aside_not_mixed(
    tmp_path: Path, capsys: pytest.CaptureFixture, scripted_provider: ScriptedModels
) -> None:
    run_rollouts(config(tmp_path, "retail:0-1"), completion_fn=ScriptedModels(), progress=False)
    argv = ["--simulator", "scripted/user", "--agent", "scripted/agent", "--domains", "retail:2"]
    assert cli.main([*argv, "--max-user-turns", "2", "--out", str(tmp_path), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "note: 2 conversation(s) of label 'scripted-user' were played with other settings" in err
    assert list(results(tmp_path)) == ["retail_2"]


@pytest.fixture()
def scripted_provider(monkeypatch: pytest.MonkeyPatch) -> ScriptedModels:
    fake = ScriptedModels()
    handlers = [*litellm.custom_provider_map, {"provider": "scripted", "custom_handler": ScriptedProvider(fake)}]
    monkeypatch.setattr(litellm, "custom_provider_map", handlers)
    return fake


@pytest.fixture()
def held_lock(tmp_path: Path) -> Iterator[None]:
    """Another process's lock on the label (a separate open file: flock conflicts)."""
    with open(tmp_path / f".lock-{LABEL}", "w") as fh:
        fh.write("4242\n")
        fh.flush()
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


def test_a_second_process_on_the_label_refuses(
    tmp_path: Path, held_lock: None, capsys: pytest.CaptureFixture, scripted_provider: ScriptedModels
) -> None:
    fake = ScriptedModels()
    with pytest.raises(RunLockedError, match=r"another process \(pid 4242\) is rolling out label 'scripted-user'"):
        run_rollouts(config(tmp_path, "retail:0"), completion_fn=fake, progress=False)
    assert sum(fake.calls.values()) == 0
    argv = scripted_argv(tmp_path)
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("error: another process (pid 4242)")
    assert sum(scripted_provider.calls.values()) == 0 and not (tmp_path / ".work").exists()


def test_the_lock_is_released_after_a_run(tmp_path: Path) -> None:
    run_rollouts(config(tmp_path, "retail:0"), completion_fn=ScriptedModels(), progress=False)
    with open(tmp_path / f".lock-{LABEL}") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # would raise BlockingIOError if still held


# --- 5. an unusable output folder, a full disk ------------------------------------------


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_out_that_is_not_a_folder_is_one_line(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture, scripted_provider: ScriptedModels
) -> None:
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if where == "file" else tmp_path / "f" / "sub"
    argv = scripted_argv(out)
    assert cli.main(argv) == 2
    stdout, err = capsys.readouterr()
    assert err == f"error: cannot use --out {out}: not a folder\n"
    assert stdout == "conversations=0 model_calls=0 cache_hits=0 cost_usd=0.000000\n"
    assert sum(scripted_provider.calls.values()) == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, scripted_provider: ScriptedModels
) -> None:
    out = tmp_path / "ro"
    out.mkdir(mode=0o500)
    argv = scripted_argv(out)
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"error: cannot write {out / ('.lock-' + LABEL)}: Permission denied\n"


REAL_WRITE = cache_mod.atomic_write_text


def fill_disk_after(
    monkeypatch: pytest.MonkeyPatch, writes: int | None = None, name: str | None = None, code: int = errno.ENOSPC
) -> None:
    """The rollout's writes fail with ``code`` after ``writes`` successful ones, or when
    the file name starts with ``name``. (A real failure inside ``atomic_write`` removes
    its temporary file; the test checks none is left either way.)"""
    count = [0]

    def write(path: Path, text: str, **options: Any) -> None:
        count[0] += 1
        if (writes is not None and count[0] > writes) or (name is not None and path.name.startswith(name)):
            raise OSError(code, os.strerror(code))
        REAL_WRITE(path, text, **options)

    monkeypatch.setattr(cache_mod, "atomic_write_text", write)


def disk_freed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "atomic_write_text", REAL_WRITE)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_disk_mid_run_stops_with_one_line_and_resumes(
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    scripted_provider: ScriptedModels,
) -> None:
    """6 cache entries and 1 conversation file per conversation: the 10th write (the
    3rd call of retail_1) fails. The run stops there with one line (retail_2 is not
    played), and resumes: retail_1 replays its 2 recorded calls."""
    argv = scripted_argv(tmp_path, "retail:0-2", "--concurrency", "1", "--max-user-turns", "10")
    fill_disk_after(monkeypatch, writes=9, code=code)
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    [line] = error_lines(err)
    assert re.fullmatch(rf"error: cannot write {re.escape(str(tmp_path))}/\S+\.json: {os.strerror(code)}", line), line
    assert (
        "Traceback" not in err
        and out.splitlines()[-1] == "conversations=1 model_calls=9 cache_hits=0 cost_usd=0.000000"
    )
    assert task_hint("retail_2") not in json.dumps([r["messages"] for r in scripted_provider.requests])
    assert sorted(p.name for p in (tmp_path / ".work").rglob("*.json")) == ["retail_0__run1.json"]
    assert not list(tmp_path.rglob("*.tmp")) and not (tmp_path / f"eval_results_{LABEL}.json").exists()
    disk_freed(monkeypatch)
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "conversations=3 model_calls=10 cache_hits=2 cost_usd=0.000000"
    assert list(results(tmp_path)) == ["retail_0", "retail_1", "retail_2"]


def test_a_full_disk_when_writing_the_results_keeps_the_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, scripted_provider: ScriptedModels
) -> None:
    argv = ["--simulator", "scripted/user", "--agent", "scripted/agent", "--domains", "retail:0-1"]
    argv += ["--max-user-turns", "10", "--out", str(tmp_path), "--no-progress"]
    fill_disk_after(monkeypatch, name="eval_results_")
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert error_lines(err) == [
        f"error: cannot write {tmp_path / f'eval_results_{LABEL}.json'}: No space left on device"
    ]
    assert out.splitlines()[-1].startswith("conversations=2 model_calls=12 ")
    disk_freed(monkeypatch)
    summary = run_rollouts(config(tmp_path, "retail:0-1"), completion_fn=ScriptedModels(), progress=False)
    assert summary.reused == 2 and list(results(tmp_path)) == ["retail_0", "retail_1"] == list(summary.records)


# --- 6. no secret in any printed or stored error ------------------------------------------


def test_known_secret_values_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "OPENAI_API_KEY": "sk-abcdefgh12345678",
        "HF_TOKEN": "hf_zyxwvutsrq",
        "AWS_SECRET_ACCESS_KEY": "aws/secret+key",
        "MY_SERVICE_PASSWORD": "hunter2hunter2",
        "SHORT_KEY": "abc",  # too short to be a key; redacting it would garble words
        "PATH": "/usr/bin:/bin",
    }
    assert sorted(secret_values(env)) == sorted(
        ["sk-abcdefgh12345678", "hf_zyxwvutsrq", "aws/secret+key", "hunter2hunter2"]
    )
    text = "401: key sk-abcdefgh12345678 / hf_zyxwvutsrq, aws/secret+key; abc at /usr/bin:/bin, "
    text += "Authorization: Bearer tok_9"
    assert redact(text, secret_values(env)) == (
        f"401: key {REDACTED} / {REDACTED}, {REDACTED}; abc at /usr/bin:/bin, Authorization: Bearer {REDACTED}"
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-0123456789")
    assert describe(ValueError("bad sk-ant-0123456789\nsecond line")) == f"ValueError: bad {REDACTED}"


def test_a_server_echoing_the_key_never_shows_it(
    tmp_path: Path, bench: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    key = "sk-test-secret-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)

    def unauthorized(n: int, body: Any, headers: Any) -> tuple[int, Any]:
        auth = headers.get("Authorization")
        return 401, {
            "error": {
                "message": f"Incorrect API key provided: {auth} ({auth.split()[-1]})",
                "type": "invalid_request_error",
            }
        }

    with bench.StubServer(0.0, 2, 100, 60, respond=unauthorized) as stub:
        assert cli.main(stub_argv(stub.url, tmp_path, "retail:0-1")) == 1
        assert stub.requests == 2  # an authentication error is not retried
    out, err = capfd.readouterr()
    lines = error_lines(err)
    assert len(lines) == 2 and all(REDACTED in line and "AuthenticationError" in line for line in lines)
    assert key not in out + err
    stored = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert key not in stored
    ledger = json.loads((tmp_path / "ledger_openai-stub-user.json").read_text())
    assert REDACTED in ledger["failed_conversations"]["retail_0"]


# --- 7. malformed replies ------------------------------------------------------------------


def completion(choices: Any) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": choices}


@pytest.mark.parametrize(
    "payload, message",
    [
        (completion([]), "the server returned no choices"),
        (completion([{"index": 0, "message": None, "finish_reason": "stop"}]), "the server returned a null message"),
        (completion([{"index": 0, "finish_reason": "stop"}]), "the server returned a null message"),
        ({"id": "x", "object": "chat.completion"}, "the server returned no choices"),
        (completion("nonsense"), "the server returned 'choices' that is not a list"),
        ([1, 2], "the server returned a reply that is not a chat completion"),
    ],
    ids=["no-choices", "null-message", "no-message", "no-choices-key", "choices-not-a-list", "not-an-object"],
)
def test_malformed_replies_are_one_clear_line(
    payload: Any, message: str, tmp_path: Path, bench: Any, capsys: pytest.CaptureFixture
) -> None:
    with bench.StubServer(0.0, 2, 100, 60, respond=lambda n, body, headers: (200, payload)) as stub:
        assert cli.main(stub_argv(stub.url, tmp_path, "retail:0")) == 1
        assert stub.requests == 1  # not retried
    assert error_lines(capsys.readouterr().err) == [f"error: retail_0: ReplyError: openai/stub-user: {message}"]


def test_normalise_response_names_empty_and_null() -> None:
    class Choice:
        message = None

    class Empty:
        choices: list[Any] = []

    class Null:
        choices = [Choice()]

    with pytest.raises(ReplyError, match="^m: the server returned no choices$"):
        normalise_response(Empty(), "m")
    with pytest.raises(ReplyError, match="^m: the server returned a null message$"):
        normalise_response(Null(), "m")


def test_a_traceback_inside_an_error_is_cut() -> None:
    exc = litellm.APIError(
        500, "Invalid thing Traceback (most recent call last):\n  File x\nAttributeError: y", "openai", "m"
    )
    line = describe(exc)
    assert "Traceback" not in line and "\n" not in line and line.endswith("Invalid thing")


def test_a_full_disk_inside_the_atomic_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(
        OutputError, match=rf"^cannot write {re.escape(str(tmp_path / 'a.json'))}: No space left on device$"
    ):
        cache_mod.write_json_atomic(tmp_path / "a.json", {"x": 1})
    assert list(tmp_path.iterdir()) == []
