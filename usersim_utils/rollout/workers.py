"""One run's conversations played by several processes (``--processes N``).

A process does its client work (requests, replies, tools, the reward) under one GIL:
6-15 ms of CPU a conversation, so one core keeps up with about 70-150 conversations a
second. Past that (a fast local server at high concurrency, and cores to spare), the
run's own process, which keeps the label lock, the progress bar, the merge and the
outputs, hands the conversations to ``N`` worker processes
(``python -m usersim_utils.rollout.workers``) that share the ``--concurrency`` slots.
A worker gets a new conversation each time one of its own finishes, so a worker that
drew short conversations takes more of them.

Each worker plays with the same code as one process does
(:func:`~usersim_utils.rollout.runner.conversation_player`): a conversation is written
atomically to the shared ``.work`` folder before it is reported, and model calls go
through the shared response cache. The guarantees of one process hold:

* a kill -9 of the run or of a worker loses only the conversations in flight; workers
  die with the run's process (``PR_SET_PDEATHSIG``), so none plays on after it;
* Ctrl-C (the terminal signals the whole process group) ends every worker at once,
  and the run's process kills whatever is left however it stops;
* a run-level failure in a worker (a full disk, an unreachable endpoint) stops the run
  with that worker's one line;
* a worker that dies unexpectedly fails only its unfinished conversations, which the
  next run plays.

The pipe protocol is JSON lines. To a worker (its stdin): its :class:`WorkerSpec`, then
one ``[task, run]`` per conversation; the end of input means no more. From a worker
(a private copy of its stdout; its own stdout goes to stderr): per conversation
``{"job": [task, run], "error": line or null, "stop": {"kind", "message"} or null,
"ledger": its calls so far}``.
"""

from __future__ import annotations

import collections
import ctypes
import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .cache import ResponseCache
from .client import Ledger, ModelClient
from .errors import EndpointError, OutputError, ReportedFailure, RolloutError, describe
from .play import Job, Outcome, conversation_file, conversation_player, load_finished, settings_digest, start_workers
from .protocol import ProtocolSettings

#: Run-level failures a worker can report, by name.
_STOPS: dict[str, type[RolloutError]] = {cls.__name__: cls for cls in (RolloutError, OutputError, EndpointError)}
#: How long a stopped worker may take to exit before it is killed.
_STOP_GRACE_S = 2.0


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to play conversations of a run: the conversation
    settings, the number of runs per task (it sets instance ids), the output folder and
    label, its share of the slots and the call limits."""

    settings: ProtocolSettings
    runs: int
    out_dir: Path
    label: str
    concurrency: int
    max_retries: int
    request_timeout_s: float
    retry_budget_s: float
    max_reply_bytes: int

    @classmethod
    def of(cls, config: Any) -> WorkerSpec:
        """The spec of a validated :class:`~usersim_utils.rollout.runner.RolloutConfig`."""
        return cls(config.protocol_settings(), config.runs, Path(config.out_dir), str(config.label),
                   config.concurrency, config.max_retries, config.request_timeout_s, config.retry_budget_s,
                   config.max_reply_bytes)  # fmt: skip

    @property
    def work_dir(self) -> Path:
        """The run's folder of finished conversations."""
        return self.out_dir / ".work" / self.label / settings_digest(self.settings)

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "out_dir": str(self.out_dir)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkerSpec:
        return cls(**{**data, "settings": ProtocolSettings(**data["settings"]), "out_dir": Path(data["out_dir"])})


def shares(concurrency: int, processes: int) -> list[int]:
    """Slots of each worker: ``concurrency`` split as evenly as possible over at most
    ``processes`` workers, each with at least one."""
    n = max(1, min(processes, concurrency))
    return [concurrency // n + (1 if i < concurrency % n else 0) for i in range(n)]


class ProcessPool:
    """The worker processes of one run, seen from the run's process: :meth:`start` returns
    the queue of outcomes ``(job, record, exception)``, one per job, as
    :func:`~usersim_utils.rollout.runner.start_workers` does; :meth:`stop` ends them;
    :meth:`ledger` sums their calls."""

    def __init__(self, spec: WorkerSpec, processes: int, todo: list[Job], cancel: threading.Event) -> None:
        self.spec = spec
        self.work_dir = spec.work_dir
        self.cancel = cancel
        self.slots = shares(spec.concurrency, min(processes, len(todo)))
        self.waiting: collections.deque[Job] = collections.deque(todo)
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
        self.procs: list[subprocess.Popen[str]] = []
        self.ledgers: list[dict[str, Any]] = [{} for _ in self.slots]
        self.in_flight: list[set[Job]] = [set() for _ in self.slots]
        self.live = len(self.slots)
        self._lock = threading.Lock()

    def start(self) -> queue.Queue[Outcome]:
        for i, slots in enumerate(self.slots):
            spec = dataclasses.replace(self.spec, concurrency=slots).to_json()
            proc = subprocess.Popen(
                [sys.executable, "-m", "usersim_utils.rollout.workers"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
            )  # fmt: skip
            self.procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(spec, allow_nan=False) + "\n")
            for _ in range(slots):
                self._send(i)
            threading.Thread(target=self._read, args=(i,), name=f"rollout-worker-{i}", daemon=True).start()
        return self.outcomes

    def _send(self, i: int) -> None:
        """Give worker ``i`` its next conversation, or tell it there are no more."""
        stdin = self.procs[i].stdin
        assert stdin is not None
        with self._lock:
            job = self.waiting.popleft() if self.waiting and not self.cancel.is_set() else None
            if job is not None:
                self.in_flight[i].add(job)
        try:
            if job is None:
                stdin.close()
            else:
                stdin.write(json.dumps(job, allow_nan=False) + "\n")
                stdin.flush()
        except (BrokenPipeError, ValueError):  # the worker has gone (ValueError: already closed)
            pass

    def _read(self, i: int) -> None:
        """Turn worker ``i``'s reports into outcomes; when it ends, fail what it left unfinished."""
        proc = self.procs[i]
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                message = json.loads(line)
                job: Job = (str(message["job"][0]), int(message["job"][1]))
            except (ValueError, KeyError, IndexError, TypeError):
                continue  # not a report
            self.ledgers[i] = message.get("ledger") or {}
            with self._lock:
                self.in_flight[i].discard(job)
            self.outcomes.put(self._outcome(job, message))
            if message.get("stop"):
                self.cancel.set()
                return
            self._send(i)
        status = proc.wait()
        with self._lock:
            self.live -= 1
            lost = sorted(self.in_flight[i]) + (list(self.waiting) if self.live == 0 else [])
            if self.live == 0:
                self.waiting.clear()
        for job in lost:
            reason = f"the worker process ended (exit status {status}) before this conversation finished"
            self.outcomes.put((job, None, ReportedFailure(reason)))

    def _outcome(self, job: Job, message: dict[str, Any]) -> Outcome:
        stop = message.get("stop")
        if stop:
            kind = _STOPS.get(str(stop.get("kind")), RolloutError)
            return job, None, kind(str(stop.get("message")))
        if message.get("error"):
            return job, None, ReportedFailure(str(message["error"]))
        record = load_finished(conversation_file(self.work_dir, *job), *job)
        if record is None:
            unreadable = f"the worker reported {job[0]} run {job[1]} finished, but its file is unreadable"
            return job, None, ReportedFailure(unreadable)
        return job, record, None

    def stop(self) -> None:
        """End every worker still running (they have been told to cancel): wait briefly, then kill."""
        self.cancel.set()
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def ledger(self) -> dict[str, dict[str, float]]:
        """The calls of every worker, as one :meth:`Ledger.to_json`."""
        total = Ledger()
        for snapshot in self.ledgers:
            total.absorb(snapshot)
        return total.to_json()


# --- the worker process -------------------------------------------------------------------


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the process that started it dies (a kill -9 of
    the run included); elsewhere, nothing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def play_jobs(spec: WorkerSpec, jobs_in: IO[str], reports: IO[str]) -> int:
    """Play the jobs read from ``jobs_in`` (one ``[task, run]`` per line) on
    ``spec.concurrency`` threads and report each on ``reports``; 0 when all were played,
    1 after a run-level failure (reported)."""
    cancel = threading.Event()
    client = ModelClient(
        ResponseCache(spec.out_dir / ".cache" / "responses"),
        max_retries=spec.max_retries,
        request_timeout_s=spec.request_timeout_s,
        retry_budget_s=spec.retry_budget_s,
        max_reply_bytes=spec.max_reply_bytes,
        cancel_event=cancel,
    )
    play = conversation_player(spec.settings, spec.runs, client, spec.work_dir)
    jobs: queue.Queue[Job | None] = queue.Queue()
    received: list[int | None] = [None]  # how many jobs came, once the input has ended

    def read_jobs() -> None:
        count = 0
        for line in jobs_in:
            task, run = json.loads(line)
            jobs.put((str(task), int(run)))
            count += 1
        jobs.put(None)
        received[0] = count
        outcomes.put(None)  # wakes the loop below, which may have reported every job already

    outcomes: queue.Queue[Outcome | None] = start_workers(jobs, play, spec.concurrency, cancel)  # type: ignore[assignment]
    threading.Thread(target=read_jobs, daemon=True).start()
    reported = 0
    while received[0] is None or reported < received[0]:
        item = outcomes.get()
        if item is None:
            continue
        job, _, exc = item
        reported += 1
        report: dict[str, Any] = {"job": list(job), "error": None, "stop": None}
        if isinstance(exc, RolloutError):
            report["stop"] = {"kind": type(exc).__name__, "message": describe(exc)}
        elif isinstance(exc, Exception):
            report["error"] = describe(exc)
        elif exc is not None:
            raise exc
        report["ledger"] = client.ledger.to_json()
        reports.write(json.dumps(report, allow_nan=False) + "\n")
        reports.flush()
        if report["stop"]:
            return 1
    return 0


def main() -> int:
    """The worker process: the config on the first line of stdin, then jobs."""
    _die_with_parent()
    reports = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever else prints goes to stderr, not into the reports
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))  # stopped by the run: nothing to save
    first = sys.stdin.readline()
    if not first:  # the run's process died before it said what to play
        return 0
    return play_jobs(WorkerSpec.from_json(json.loads(first)), sys.stdin, reports)


if __name__ == "__main__":
    try:
        status = main()
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the run's process reports it
        status = 130
    sys.stderr.flush()
    os._exit(status)  # leave the daemon threads (calls in flight) behind at once
