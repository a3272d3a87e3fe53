"""Playing the conversations of a run and keeping them: where one is stored, how it is
read back, the player that does both (:func:`conversation_player`) and the threads that
play them (:func:`start_workers`), for :mod:`usersim_utils.rollout.runner`."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .. import ids
from .cache import request_key, write_json_atomic
from .client import ModelClient
from .conversation import Agent, run_conversation
from .errors import RolloutError
from .function_calling import FunctionCallingAgent
from .harness import StudyAgent
from .prompts import Harness
from .protocol import ProtocolSettings

#: One conversation to play: ``(task key, run)``.
Job = tuple[str, int]
#: What became of a job: ``(job, record, None)`` or ``(job, None, exception)``.
Outcome = tuple[Job, dict[str, Any] | None, BaseException | None]


#: The agent of each harness (``ProtocolSettings.agent_harness``).
AGENTS: dict[Harness, type[Agent]] = {"function-calling": FunctionCallingAgent, "study": StudyAgent}


def play_conversation(
    task_key: str,
    run: int,
    instance_id: str,
    client: ModelClient,
    settings: ProtocolSettings,
    *,
    cache_tag: str | None = None,
    persona: str | None = None,
) -> dict[str, Any]:
    """One conversation with the agent of ``settings.agent_harness``
    (:func:`~usersim_utils.rollout.conversation.run_conversation`)."""
    agent = AGENTS[settings.agent_harness]
    return run_conversation(agent, task_key, run, instance_id, client, settings, cache_tag=cache_tag, persona=persona)


#: Settings added with cards and the study harness, at their defaults: left out of the
#: digest so that runs made before them keep their folder and resume.
_LATER_DEFAULTS: dict[str, Any] = {
    "simulator_template": None,
    "agent_harness": "function-calling",
    "agent_api": "chat",
    "persona_source": None,
    "persona_seed": 0,
}


def settings_digest(settings: ProtocolSettings) -> str:
    """Short digest of the settings that shape a conversation."""
    fields = {k: v for k, v in asdict(settings).items() if k not in _LATER_DEFAULTS or v != _LATER_DEFAULTS[k]}
    return request_key(fields)[:16]


def conversation_file(work_dir: Path, task_key: str, run: int) -> Path:
    """Where one finished conversation lives."""
    return work_dir / f"{task_key}__run{run}.json"


def load_finished(path: Path, task_key: str, run: int) -> dict[str, Any] | None:
    """A finished conversation, or ``None`` if absent, unreadable or not this task/run
    (it is then played again)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # ValueError: bad JSON or UTF-8
        return None
    ok = isinstance(record, dict) and record.get("task_key") == task_key and record.get("run") == run
    return record if ok else None


def conversation_player(
    settings: ProtocolSettings, runs: int, client: ModelClient, work_dir: Path, *, personas: bool = True
) -> Callable[[str, int], dict[str, Any]]:
    """``play(task, run)``: one conversation with ``settings`` (of a run of ``runs`` runs per
    task, which sets its instance id), written atomically to ``work_dir`` the moment it
    finishes, then returned. ``personas``: draw the persona style targets (needs the human
    study's features: pandas, seconds), when the settings ask for them."""
    if settings.persona_source:  # here, not at the top: the human-study features need pandas (start-up)
        from . import persona as persona_mod
    styles = persona_mod.style_pool() if settings.persona_source and personas else None

    def play(task: str, run: int) -> dict[str, Any]:
        iid = ids.instance_id(task, run, runs)
        targets = persona_mod.draw(styles, settings.persona_seed, task, run) if styles is not None else None
        persona = persona_mod.render(targets) if targets is not None else None
        record = play_conversation(task, run, iid, client, settings, cache_tag=f"{task}/run{run}", persona=persona)
        if targets is not None:
            record["persona"] = targets
        write_json_atomic(conversation_file(work_dir, task, run), record)
        return record

    return play


def job_queue(jobs: Iterable[Job]) -> queue.Queue[Job | None]:
    """A queue of ``jobs`` that ends (``None``) after them."""
    pending: queue.Queue[Job | None] = queue.Queue()
    for job in jobs:
        pending.put(job)
    pending.put(None)
    return pending


def start_workers(
    jobs: queue.Queue[Job | None],
    play: Callable[[str, int], dict[str, Any]],
    threads: int,
    cancel: threading.Event,
) -> queue.Queue[Outcome]:
    """Play the jobs taken from ``jobs`` until a ``None`` on ``threads`` threads; each job's
    :data:`Outcome` arrives on the returned queue.

    A thread stops taking jobs once ``cancel`` is set, and after a run-level failure
    (:class:`RolloutError`, which also sets ``cancel``) or any ``BaseException``. The
    threads are daemons, unlike a ``ThreadPoolExecutor``'s, which the interpreter joins
    at exit: Ctrl-C would then wait for every call in flight (up to the request
    timeout). These are abandoned instead, so the process exits at once."""
    outcomes: queue.Queue[Outcome] = queue.Queue()

    def work() -> None:
        while not cancel.is_set():
            job = jobs.get()
            if job is None:
                jobs.put(None)  # for the other threads
                return
            try:
                outcomes.put((job, play(*job), None))
            except BaseException as exc:  # handed to the main thread, which decides
                if isinstance(exc, RolloutError) or not isinstance(exc, Exception):
                    cancel.set()
                outcomes.put((job, None, exc))
                if cancel.is_set():
                    return

    for i in range(threads):
        threading.Thread(target=work, name=f"rollout-{i}", daemon=True).start()
    return outcomes
