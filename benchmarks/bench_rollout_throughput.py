"""Does the rollout client keep up with a fast server? The issue-14 goals, measured.

The stub of ``bench_rollout_concurrency.py`` (one thread per request, a fixed delay
per call, 8 calls per conversation at ``--turns 3``) runs in its own process, as a
vLLM server would, so that neither its CPU nor its share of the GIL counts as the
client's. Every measure runs the real command, ``python -m usersim_utils.rollout``,
in a fresh process into a fresh folder (no cache hits), timed from launch to exit:

* ``client_ms_per_conversation``: CPU seconds (user + system) of the command per
  conversation, start-up excluded: the difference between a run of 48 and one of 8
  conversations against a stub that answers at once, divided by 40. The model's
  time is not in it (the stub's CPU is in the other process). Goal < 30 ms.
* ``startup_s``: launch to the stub's first request (imports, task databases).
* ``speedup_8``: wall time of 48 conversations at concurrency 1 over that at
  concurrency 8, 0.2 s per call, start-up included. Goal >= 6.
* ``efficiency_32``: 330 conversations (165 tasks x 2 runs) at concurrency 32, 0.05 s
  per call: ideal waiting time (calls x delay / 32) over wall time, start-up included
  (``efficiency_32_after_startup``: from the first request). Goal >= 0.35.
* ``peak_rss_mb_64``: peak resident memory of 128 conversations at concurrency 64,
  0.2 s per call, the command's own (``VmHWM`` sampled every 50 ms). Goal < 2048 MB.

Measured on the shared 2-core machine, before (litellm for every call, a full database
copy per conversation) -> after: client CPU 174 -> 6-12 ms per conversation (up to 24 ms
under load; 14-19 ms at concurrency 32); start-up 5.9-8.6 -> 0.4-0.5 s; speed-up 5.6 ->
7.2x; efficiency 0.059 -> 0.57-0.64 (0.60-0.62 with the two worker processes of the
former ``--processes 2``: no gain on two cores shared with the stub, so it was removed);
peak RSS at concurrency 64: 902 -> 124 MB. On another day the same machine gave efficiency
0.35-0.39 for this code and the code before the reliability work (deadlines, retries, reply
caps) alike: the bound is the machine's.

The stub sets TCP_NODELAY, as asyncio servers (uvicorn: vLLM, llama.cpp's server) do:
without it each reply's body waits for the client's delayed ACK (up to 40 ms), which is
the stub's latency, not the client's work.

    .venv/bin/python benchmarks/bench_rollout_throughput.py [--only NAME ...]

The last line printed is JSON (read by tests/test_rollout_speed.py).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TURNS = 3  # 8 calls per conversation: 3 simulator turns, 2 agent turns of 2 calls, the survey
MEASURES = ("client_cpu", "speedup", "efficiency", "memory")


def load_stub_module() -> Any:
    """``bench_rollout_concurrency`` (the stub server), loaded from its file."""
    spec = importlib.util.spec_from_file_location("bench_rollout_concurrency", HERE / "bench_rollout_concurrency.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _child_env() -> dict[str, str]:
    return dict(os.environ, LITELLM_OFFLINE_MODE="true", HF_HUB_OFFLINE="1")


@contextlib.contextmanager
def stub_process(delay_s: float, turns: int = TURNS) -> Iterator[str]:
    """A stub server in its own process answering after ``delay_s``; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(delay_s), str(turns)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_child_env(), cwd=REPO,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the stub server did not start")
        yield url
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stub_stats(url: str, reset: bool = False) -> dict[str, Any]:
    """The stub's counters (``/stats``); ``reset`` starts the peak and first call afresh."""
    with urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/stats" + ("?reset=1" if reset else ""), timeout=10) as r:
        return json.loads(r.read())


def rollout_argv(url: str, tasks: str, runs: int, concurrency: int, out: Path) -> list[str]:
    """The rollout command against the stub."""
    return [
        sys.executable, "-m", "usersim_utils.rollout", "--simulator", "openai/stub-user",
        "--agent", "openai/stub-agent", "--api-base", url, "--tasks", tasks, "--runs", str(runs),
        "--concurrency", str(concurrency), "--max-user-turns", str(TURNS), "--max-retries", "0",
        "--out", str(out), "--no-progress",
    ]  # fmt: skip


def _high_water_mb(pid: int) -> float | None:
    """``VmHWM`` of a running process in MB (None once it is gone). The kernel keeps it per
    address space, so it starts afresh at ``exec``; ``ru_maxrss`` does not: it also counts the
    launching process's memory copied at fork (gigabytes inside a long test session)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next((row for row in status if row.startswith("VmHWM:")), None)
    except OSError:
        return None
    return int(line.split()[1]) / 1024 if line else None


def _sample_high_water(pid: int, peak: list[float], done: threading.Event) -> None:
    """Keep the highest ``VmHWM`` of ``pid`` in ``peak[0]`` until ``done`` (every 50 ms)."""
    while not done.is_set():
        mb = _high_water_mb(pid)
        if mb is not None:
            peak[0] = max(peak[0], mb)
        done.wait(0.05)


def timed_rollout(url: str, tasks: str, runs: int, concurrency: int) -> dict[str, float]:
    """Run the command once into a fresh folder: wall seconds (launch to exit), CPU
    seconds, peak RSS (MB, of the command's own process: :func:`_high_water_mb`), start-up
    (launch to first call) and the stub's calls."""
    stub_stats(url, reset=True)
    before = stub_stats(url)["requests"]
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as log:
        started = time.monotonic()
        proc = subprocess.Popen(
            rollout_argv(url, tasks, runs, concurrency, Path(tmp) / "out"),
            stdout=log, stderr=log, env=_child_env(), cwd=REPO,
        )  # fmt: skip
        peak, done = [0.0], threading.Event()
        sampler = threading.Thread(target=_sample_high_water, args=(proc.pid, peak, done), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)  # reaps the child with its resource usage
        wall = time.monotonic() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"rollout failed ({proc.returncode}): {log.read().decode()[-500:]}")
    stats = stub_stats(url)
    return {
        "wall_s": wall,
        "startup_s": (stats["first_request_at"] or started) - started,
        "calls": stats["requests"] - before,
        "peak_in_flight": stats["peak_in_flight"],
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": peak[0],
    }


def measure_client_cpu() -> dict[str, float]:
    """CPU per conversation without start-up: (48-conversation run - 8-conversation run) / 40."""
    with stub_process(0.0) as url:
        small = timed_rollout(url, "retail:0-7", 1, 8)
        large = timed_rollout(url, "retail:0-47", 1, 8)
    return {
        "client_ms_per_conversation": round(1000 * (large["cpu_s"] - small["cpu_s"]) / 40, 1),
        "startup_s": round(small["startup_s"], 2),
        "startup_cpu_s": round(small["cpu_s"] - 8 * (large["cpu_s"] - small["cpu_s"]) / 40, 2),
    }


def measure_speedup(serial: bool = True) -> dict[str, float]:
    """48 conversations at 0.2 s per call, concurrency 1 and 8, start-up included.
    ``speedup_8_floor`` needs no serial run: a serial run waits at least calls x 0.2 s,
    so that over the concurrent run's wall time is a floor of the speed-up
    (``serial=False`` skips the serial run, 80 s, for the tests)."""
    parallel_only = {}
    with stub_process(0.2) as url:
        parallel = timed_rollout(url, "retail:0-47", 1, 8)
        if serial:
            serial_run = timed_rollout(url, "retail:0-47", 1, 1)
            parallel_only = {
                "seconds_concurrency_1": round(serial_run["wall_s"], 2),
                "speedup_8": round(serial_run["wall_s"] / parallel["wall_s"], 2),
            }
    return {
        **parallel_only,
        "seconds_concurrency_8": round(parallel["wall_s"], 2),
        "speedup_8_floor": round(parallel["calls"] * 0.2 / parallel["wall_s"], 2),
        "peak_calls_concurrency_8": parallel["peak_in_flight"],
    }


def measure_efficiency() -> dict[str, float]:
    """330 conversations at concurrency 32, 0.05 s per call."""
    with stub_process(0.05) as url:
        run = timed_rollout(url, "all", 2, 32)
    waiting = run["calls"] * 0.05 / 32
    return {
        "calls_32": run["calls"],
        "seconds_32": round(run["wall_s"], 2),
        "waiting_s_32": round(waiting, 2),
        "efficiency_32": round(waiting / run["wall_s"], 3),
        "efficiency_32_after_startup": round(waiting / (run["wall_s"] - run["startup_s"]), 3),
        "client_ms_per_conversation_32": round(1000 * run["cpu_s"] / 330, 1),
    }


def measure_memory() -> dict[str, float]:
    """Peak RSS of 128 conversations at concurrency 64, 0.2 s per call."""
    with stub_process(0.2) as url:
        run = timed_rollout(url, "retail:0-63", 2, 64)
    return {"peak_rss_mb_64": round(run["peak_rss_mb"]), "peak_calls_concurrency_64": run["peak_in_flight"]}


def run(only: tuple[str, ...] = MEASURES) -> dict[str, float]:
    """The measures named in ``only``, merged."""
    result: dict[str, float] = {}
    for name in only:
        result.update(globals()[f"measure_{name}"]())
    return result


def serve(delay_s: float, turns: int) -> None:
    """Serve the stub until stdin closes (``--serve``); the first line printed is its URL."""
    stub_module = load_stub_module()
    with stub_module.StubServer(delay_s, turns, 10**7, 24 * 3600) as stub:
        print(stub.url, flush=True)
        sys.stdin.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=MEASURES, default=list(MEASURES), help="measures to run")
    parser.add_argument("--serve", nargs=2, metavar=("DELAY", "TURNS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(float(args.serve[0]), int(args.serve[1]))
        return
    result = run(tuple(args.only))
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
