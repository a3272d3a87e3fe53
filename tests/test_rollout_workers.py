"""Rollouts in several processes (``--processes``, usersim_utils/rollout/workers.py): the same
results as one process, and the guarantees of one process (Ctrl-C, kill -9, a worker that
dies, a failure that stops the run)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from usersim_utils import paths
from usersim_utils.rollout import workers
from usersim_utils.rollout.client import Ledger
from usersim_utils.rollout.runner import RolloutConfig

LABEL = "openai-stub-user"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydantic")


def stub_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_rollout_concurrency", paths.REPO_ROOT / "benchmarks" / "bench_rollout_concurrency.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def argv(url: str, out: Path, domains: str, *, runs: int = 1, concurrency: int = 4, processes: int = 2) -> list[str]:
    return [
        sys.executable, "-m", "usersim_utils.rollout", "--simulator", "openai/stub-user", "--agent",
        "openai/stub-agent", "--api-base", url, "--domains", domains, "--runs", str(runs), "--max-user-turns", "2",
        "--concurrency", str(concurrency), "--processes", str(processes), "--max-retries", "0", "--out", str(out),
        "--no-progress",
    ]  # fmt: skip


def child_env() -> dict[str, str]:
    return dict(os.environ, LITELLM_OFFLINE_MODE="true", HF_HUB_OFFLINE="1")


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=child_env(), timeout=300)


def worker_pids(parent: int) -> set[int]:
    """The live worker processes of the run ``parent`` (from /proc)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().split(")")[-1].split()[1])
            command = (proc / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"usersim_utils.rollout.workers" in command and alive(int(proc.name)):
            pids.add(int(proc.name))
    return pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited
        return stat.read().split(")")[-1].split()[0] != "Z"


def wait_for(predicate: Any, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_shares_split_the_slots_evenly() -> None:
    assert workers.shares(8, 2) == [4, 4]
    assert workers.shares(7, 3) == [3, 2, 2]
    assert workers.shares(2, 4) == [1, 1]  # never a worker without a slot


def test_the_spec_travels_to_a_worker_unchanged(tmp_path: Path) -> None:
    config = RolloutConfig(simulator="openai/a", agent="openai/b", tasks=("retail_1", "airline_2"), out_dir=tmp_path,
                           api_base="http://127.0.0.1:9/v1", runs=2, processes=2, agent_harness="study",
                           persona_source="human-study").validated()  # fmt: skip
    spec = workers.WorkerSpec.of(config)
    assert workers.WorkerSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    assert spec.work_dir.parent == tmp_path / ".work" / config.label and spec.runs == 2


def test_ledgers_of_workers_add_up() -> None:
    total = Ledger()
    total.absorb({"agent": {"model_calls": 2, "cache_hits": 1, "prompt_tokens": 10, "completion_tokens": 3,
                            "cost_usd": 0.5}, "total": {"model_calls": 99}})  # fmt: skip
    total.absorb({"agent": {"model_calls": 1, "cache_hits": 0, "prompt_tokens": 5, "completion_tokens": 1,
                            "cost_usd": 0.25}})  # fmt: skip
    assert total.to_json()["total"] == {"model_calls": 3, "cache_hits": 1, "prompt_tokens": 15,
                                        "completion_tokens": 4, "cost_usd": 0.75}  # fmt: skip


def test_a_local_model_cannot_be_played_by_several_processes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--processes above 1 needs served models"):
        RolloutConfig(simulator="local/smollm2-135m", agent="openai/b", tasks=("retail_1",), processes=2).validated()


def test_two_processes_give_the_results_and_ledger_of_one(tmp_path: Path) -> None:
    with stub_module().StubServer(0.01, 2, 10_000, 300) as stub:
        one = run(argv(stub.url, tmp_path / "one", "retail:0-5,airline:0-3", runs=2, processes=1))
        two = run(argv(stub.url, tmp_path / "two", "retail:0-5,airline:0-3", runs=2, processes=2))
    assert one.returncode == two.returncode == 0, two.stderr
    assert one.stdout == two.stdout  # the summary line: conversations, calls, cache hits, cost
    for name in (f"eval_results_{LABEL}.json", f"survey_comparable_{LABEL}.json"):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()
    ledgers = [json.loads((tmp_path / d / f"ledger_{LABEL}.json").read_text()) for d in ("one", "two")]
    assert ledgers[0]["this_invocation"] == ledgers[1]["this_invocation"]
    assert ledgers[1]["this_invocation"]["total"]["model_calls"] == 20 * 5  # user, agent x2, user (stop), survey


def test_ctrl_c_stops_the_run_and_every_worker_at_once(tmp_path: Path) -> None:
    with stub_module().StubServer(0.3, 2, 10_000, 300) as stub:
        proc = subprocess.Popen(argv(stub.url, tmp_path, "retail:0-31"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=child_env())  # fmt: skip
        try:
            assert wait_for(lambda: len(worker_pids(proc.pid)) == 2 and stub.requests > 0)
            pids = worker_pids(proc.pid)
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)  # to the run's process only: it must stop the workers itself
            _, err = proc.communicate(timeout=30)
            elapsed = time.monotonic() - started
        finally:
            proc.kill()
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert elapsed < 5
    assert wait_for(lambda: not any(alive(pid) for pid in pids), 5)


def test_kill_9_of_the_run_takes_its_workers_and_loses_no_finished_conversation(tmp_path: Path) -> None:
    with stub_module().StubServer(0.05, 2, 10_000, 300) as stub:

        def slow_after_40(n: int, body: Any, headers: Any) -> None:  # the calls in flight at the kill last 5 s
            if n > 40:
                stub.closing.wait(5)

        stub.respond = slow_after_40
        command = argv(stub.url, tmp_path, "retail:0-23")
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env())
        try:
            assert wait_for(lambda: stub.requests > 44)
            pids = worker_pids(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            proc.kill()
        assert len(pids) == 2 and wait_for(lambda: not any(alive(pid) for pid in pids), 2)  # PR_SET_PDEATHSIG
        finished = {p.name: p.read_text() for p in tmp_path.glob(".work/*/*/*__run1.json")}
        assert len(finished) >= 4 and all(json.loads(text)["task_key"] for text in finished.values())  # whole
        stub.respond = None
        again = run(command)
    assert again.returncode == 0, again.stderr
    record = json.loads((tmp_path / f"eval_results_{LABEL}.json").read_text())
    assert len(record) == 24
    for name, text in finished.items():  # kept, not played again
        assert (next(tmp_path.glob(f".work/*/*/{name}"))).read_text() == text


def test_a_worker_that_dies_fails_only_its_unfinished_conversations(tmp_path: Path) -> None:
    with stub_module().StubServer(0.05, 2, 10_000, 300) as stub:
        command = argv(stub.url, tmp_path, "retail:0-23")
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
        try:
            played = lambda: len(list(tmp_path.glob(".work/*/*/*.json")))  # noqa: E731
            assert wait_for(lambda: len(worker_pids(proc.pid)) == 2 and played() >= 2)
            os.kill(min(worker_pids(proc.pid)), signal.SIGKILL)
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 1, err
        lost = [line for line in err.splitlines() if "worker process ended" in line]
        assert 1 <= len(lost) <= 2  # its two slots at most; the other worker played the rest
        assert f"conversations={24 - len(lost)}" in out
        again = run(command)
    assert again.returncode == 0 and "conversations=24" in again.stdout


def test_a_failure_that_stops_a_worker_stops_the_run_with_one_line(tmp_path: Path) -> None:
    (tmp_path / ".cache").mkdir(parents=True)
    (tmp_path / ".cache" / "responses").write_text("not a folder")  # every cache write fails
    with stub_module().StubServer(0.01, 2, 10_000, 300) as stub:
        result = run(argv(stub.url, tmp_path, "retail:0-7"))
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(errors) == 1 and "cannot write" in errors[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout.startswith("conversations=0 ")
