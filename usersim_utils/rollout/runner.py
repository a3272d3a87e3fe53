"""Run many conversations: bounded concurrency, resume, merged outputs, ledger.

Layout under the output folder ``out`` (default ``paths.ROLLOUTS_DIR``)::

    eval_results_<label>.json        the rollouts, the study's format (docs/method.md §10)
    card_<label>.json                the resolved simulator card (``card.resolved_card``)
    survey_comparable_<label>.json   the simulator's surveys, keyed like human sessions
    ledger_<label>.json              calls, tokens, cost: this invocation and all conversations
    .cache/responses/                record/replay store of every model call
    .work/<label>/<settings>/        one file per finished conversation (<task>__run<r>.json)
    .lock-<label>                    held (``flock``) while a process rolls out the label

A conversation is written atomically to ``.work`` the moment it finishes, before the
next one is looked at, so an interruption (crash, Ctrl-C, kill) loses at most the
conversations in flight; a rerun loads finished ones instead of playing them again,
and replays the calls an interrupted one had already made from the cache.
``<settings>`` is a digest of everything that shapes a conversation (models,
endpoints, limits, prompt style, temperatures), so changing any of them starts
afresh instead of mixing incompatible conversations under one label.

``eval_results_<label>.json`` and ``survey_comparable_<label>.json`` are rebuilt at
the end of every run from the whole ``<settings>`` folder: they hold every finished
conversation of the label played with these settings, whichever ``--tasks`` and
``--runs`` earlier runs asked for (this run's tasks first, in the order asked, then
the others by domain, task and run). A run that finished nothing leaves them as they
were. Conversations of the label played with other settings stay in their own folder
(``RolloutSummary.set_aside`` counts them).

A second process on the same output folder and label refuses to start
(:class:`RunLockedError`) instead of playing everything again beside the first.
Ctrl-C abandons the calls in flight at once (their conversations resume from the
cache next time); a failed write (full disk, read-only folder) stops the run with one
line (:class:`OutputError`), the finished conversations staying in ``.work``.

Runs: with ``runs == 1`` keys are ``<domain>_<i>``; with more, ``<domain>_<i>_<run>``
for run 1..3 (the reference scorer knows runs 1-3 only). Survey keys mirror the
study's three human batches: run 1 -> ``x``, run 2 -> ``x_ann2``, run 3 -> ``x_ann3``.
Each conversation's calls carry its task and run in their cache key, so runs (and
tasks whose conversations happen to start alike) are independent samples rather than
replays of one another.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .. import ids, paths, schema
from . import card as card_mod
from .cache import ResponseCache, write_json_atomic
from .client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_RETRY_BUDGET_S,
    CompletionFn,
    ModelClient,
    RoleUsage,
)
from .errors import OutputError, RolloutError, RunLockedError, describe
from .http_chat import ENDPOINT_CHECK_TIMEOUT_S, behind_proxy, check_endpoint, parse_endpoint
from .play import conversation_player, job_queue, load_finished, settings_digest, start_workers
from .prompts import DEFAULT_MAX_TOOL_CALLS, DEFAULT_MAX_USER_TURNS, INSTRUCTION_SLOT, LOCAL_PREFIX
from .protocol import ProtocolSettings, resolve_prompt_style
from .replies import DEFAULT_MAX_REPLY_BYTES
from .summary import RolloutSummary

MAX_RUNS = len(schema.BATCHES)  # runs 1-3, the study's three batches
# fullmatch, not match with "$": "$" also matches before a final newline ("okx\n" is no label)
_LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CONVERSATION_FILE_RE = re.compile(r"^(?P<task>[a-z]+_[0-9]+)__run(?P<run>[0-9]+)\.json\Z")
#: Position of every study task in the order of earlier conversations in the results.
_TASK_ORDER = {key: i for i, key in enumerate(ids.parse_task_spec("all"))}


def default_label(simulator: str) -> str:
    """A file-name-safe label from a litellm model string: ``openai/gpt-4o`` ->
    ``openai-gpt-4o``."""
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", simulator).strip("-.")
    return label or "simulator"


@dataclass(frozen=True)
class RolloutConfig:
    """Everything one rollout invocation needs. Models are litellm model strings;
    ``api_base`` applies to both sides unless a side has its own. ``None``
    temperatures send nothing (the provider's default; greedy for the local model).
    Each model call gets ``max_retries + 1`` attempts of at most ``request_timeout_s``
    each, and at most ``retry_budget_s`` seconds in all (waits between attempts included)."""

    simulator: str
    agent: str
    tasks: tuple[str, ...]
    runs: int = 1
    concurrency: int = 4
    max_user_turns: int = DEFAULT_MAX_USER_TURNS
    max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS
    out_dir: Path = paths.ROLLOUTS_DIR
    label: str | None = None
    api_base: str | None = None
    simulator_api_base: str | None = None
    agent_api_base: str | None = None
    simulator_prompt: str = "auto"
    simulator_temperature: float | None = None
    agent_temperature: float | None = None
    agent_reasoning_effort: str | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    retry_budget_s: float = DEFAULT_RETRY_BUDGET_S
    #: Largest reply accepted (``--max-reply-bytes``); past it the call fails with one line.
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES
    #: The simulator prompt template (``{instruction}`` slot); None = the harness's default.
    simulator_template: str | None = None
    #: Where the template came from (recorded in the resolved card only).
    simulator_prompt_file: str | None = None
    #: ``study``, ``function-calling`` or ``auto`` (the study's harness for hosted agents).
    agent_harness: str = "function-calling"
    #: ``responses``, ``chat`` or ``auto`` (Responses for the study harness on a hosted agent).
    agent_api: str = "auto"
    persona_source: str | None = None
    persona_seed: int = 0
    #: The card this run was defined by (recorded in the resolved card only).
    card_file: str | None = None

    def validated(self) -> RolloutConfig:
        """This config with tasks checked and the label filled in; ``ValueError`` (one
        line) on anything wrong."""
        if not self.simulator.strip() or not self.agent.strip():
            raise ValueError("--simulator and --agent must be litellm model strings")
        bad = [t for t in self.tasks if not ids.is_valid_key(t) or ids.task_key(t) != t]
        if bad or not self.tasks:
            raise ValueError(f"bad task keys {bad[:3]}: expected <airline|retail>_<i>" if bad else "no tasks given")
        for t in self.tasks:
            domain, index = t.split("_")
            if int(index) >= ids.N_TASKS[domain]:
                raise ValueError(f"task {t!r} outside {domain} 0-{ids.N_TASKS[domain] - 1}")
        if not 1 <= self.runs <= MAX_RUNS:
            raise ValueError(f"--runs must be 1..{MAX_RUNS} (the study's scorer knows runs 1-3), got {self.runs}")
        for name in ("concurrency", "max_user_turns", "max_tool_calls"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.max_retries < 0:
            raise ValueError(f"--max-retries must be >= 0, got {self.max_retries}")
        card_mod.check_ranges(asdict(self))  # temperatures and the persona seed, from a card or a flag
        if self.max_reply_bytes < 1:
            raise ValueError(f"--max-reply-bytes must be >= 1, got {self.max_reply_bytes}")
        for name in ("request_timeout_s", "retry_budget_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"--{name[:-2].replace('_', '-')} must be a positive number of seconds, got {value!r}")
        for name in ("api_base", "simulator_api_base", "agent_api_base"):
            if getattr(self, name) is not None:
                parse_endpoint(getattr(self, name), f"--{name.replace('_', '-')}")
        resolve_prompt_style(self.simulator_prompt, self.simulator)
        agent_base = self.agent_api_base or self.api_base
        harness = card_mod.resolve_harness(self.agent_harness, self.agent, agent_base)
        api = card_mod.resolve_agent_api(self.agent_api, harness, self.agent, agent_base)
        if self.simulator_template is not None and INSTRUCTION_SLOT not in self.simulator_template:
            raise ValueError(f"the simulator prompt template has no {INSTRUCTION_SLOT} slot")
        if self.persona_source not in (None, *card_mod.PERSONA_SOURCES):
            expected = ", ".join(card_mod.PERSONA_SOURCES)
            raise ValueError(f"bad persona source {self.persona_source!r}: expected {expected}")
        label = self.label if self.label is not None else default_label(self.simulator)
        if not _LABEL_RE.fullmatch(label):
            raise ValueError(f"bad --label {label!r}: use letters, digits, '.', '_' and '-'")
        return replace(
            self,
            tasks=tuple(dict.fromkeys(self.tasks)),
            label=label,
            out_dir=Path(self.out_dir),
            agent_harness=harness,
            agent_api=api,
        )

    def protocol_settings(self) -> ProtocolSettings:
        """The conversation settings this config implies."""
        return ProtocolSettings(
            simulator=self.simulator,
            agent=self.agent,
            max_user_turns=self.max_user_turns,
            max_tool_calls=self.max_tool_calls,
            simulator_prompt=resolve_prompt_style(self.simulator_prompt, self.simulator),
            simulator_api_base=self.simulator_api_base or self.api_base,
            agent_api_base=self.agent_api_base or self.api_base,
            simulator_temperature=self.simulator_temperature,
            agent_temperature=self.agent_temperature,
            agent_reasoning_effort=self.agent_reasoning_effort,
            simulator_template=self.simulator_template,
            agent_harness=card_mod.resolve_harness(
                self.agent_harness, self.agent, self.agent_api_base or self.api_base
            ),
            agent_api=self.agent_api if self.agent_api in card_mod.AGENT_APIS else "chat",
            persona_source=self.persona_source,
            persona_seed=self.persona_seed,
        )


def load_work_folder(work_dir: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """Every finished conversation in ``work_dir``, keyed by ``(task_key, run)``:
    files named ``<task>__run<r>.json`` of a study task and a run 1..MAX_RUNS whose
    content is that task and run. Nothing when the folder is absent."""
    finished: dict[tuple[str, int], dict[str, Any]] = {}
    try:
        names = sorted(p.name for p in work_dir.iterdir())
    except OSError:
        return finished
    for name in names:
        m = _CONVERSATION_FILE_RE.match(name)
        if not m or m["task"] not in _TASK_ORDER or not 1 <= int(m["run"]) <= MAX_RUNS:
            continue
        task, run = m["task"], int(m["run"])
        record = load_finished(work_dir / name, task, run)
        if record is not None:
            finished[(task, run)] = record
    return finished


def merged_records(
    finished: dict[tuple[str, int], dict[str, Any]], jobs: Sequence[tuple[str, int]], runs: int
) -> dict[str, dict[str, Any]]:
    """The contents of ``eval_results_<label>.json``: the finished conversations keyed
    by instance id, those of ``jobs`` first in their order, then the others by domain,
    task and run. Keys carry the run (``<task>_<run>``) when ``runs > 1`` or any
    conversation is of run 2 or 3, so one file never mixes the two key forms."""
    runs_in_keys = max([runs, *(run for _, run in finished)])
    asked = [job for job in dict.fromkeys(jobs) if job in finished]
    others = sorted(set(finished) - set(asked), key=lambda job: (_TASK_ORDER[job[0]], job[1]))
    records: dict[str, dict[str, Any]] = {}
    for task, run in asked + others:
        key = ids.instance_id(task, run, runs_in_keys)
        records[key] = dict(finished[(task, run)], instance_id=key)
    return records


def survey_file(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The contents of ``survey_comparable_<label>.json`` for :func:`merged_records`."""
    return {ids.survey_key(r["task_key"], r["run"]): {"survey": r["survey"]} for r in records.values()}


def prepare_output_folder(out: Path) -> None:
    """Create ``out`` if needed; :class:`OutputError` when it is a file, lies under
    one, or cannot be created."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "not a folder" if isinstance(exc, (FileExistsError, NotADirectoryError)) else exc.strerror or str(exc)
        raise OutputError(f"cannot use --out {out}: {reason}") from None


@contextlib.contextmanager
def label_lock(out: Path, label: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<out>/.lock-<label>`` for the block, or raise
    :class:`RunLockedError` at once if another process holds it. The kernel releases
    it when the holder exits, however it exits; the file itself stays."""
    path = out / f".lock-{label}"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            raise RunLockedError(
                f"another process (pid {holder}) is rolling out label {label!r} into {out}; "
                "wait for it to finish, or use another --out or --label"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def check_endpoints(settings: ProtocolSettings, timeout_s: float) -> None:
    """One TCP connection to each endpoint a non-local model of ``settings`` uses
    (:func:`~usersim_utils.rollout.http_chat.check_endpoint`); not to one reached through a
    proxy, which only the proxy may be able to reach."""
    endpoints = {
        base
        for model, base in (
            (settings.simulator, settings.simulator_api_base),
            (settings.agent, settings.agent_api_base),
        )
        if base and not model.startswith(LOCAL_PREFIX) and not behind_proxy(base)
    }
    for base in sorted(endpoints):
        check_endpoint(base, timeout_s)


def conversation_usage(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Calls, tokens and cost of the conversations as produced, summed per role."""
    roles: dict[str, RoleUsage] = {}
    for record in records:
        for role, usage in (record.get("usage") or {}).items():
            acc = roles.setdefault(role, RoleUsage())
            for name, value in usage.items():
                setattr(acc, name, getattr(acc, name) + value)
    out = {role: {k: v for k, v in asdict(u).items() if k != "cache_hits"} for role, u in sorted(roles.items())}
    return out


def run_rollouts(
    config: RolloutConfig,
    *,
    completion_fn: CompletionFn | None = None,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    responses_fn: CompletionFn | None = None,
) -> RolloutSummary:
    """Play every (task, run) of ``config`` not finished before, then write
    ``eval_results_<label>.json``, ``survey_comparable_<label>.json`` (every finished
    conversation of the label with these settings) and the ledger.

    ``completion_fn`` replaces ``litellm.completion`` and ``responses_fn``
    ``litellm.responses`` (tests); without ``completion_fn``, each
    ``--api-base`` must accept a connection before anything is played. A conversation
    that raises an ``Exception`` is reported in ``failures`` and left for the next run.
    :class:`RolloutError` (one line, with ``summary`` when the run had started): the
    output folder is unusable, a write failed, an endpoint is unreachable, or another
    process holds the label. Any other ``BaseException`` (Ctrl-C, a simulated crash)
    stops the run at once, abandoning the conversations in flight; the finished ones
    are already in the working folder.
    """
    config = config.validated()
    assert config.label is not None
    settings = config.protocol_settings()
    if any(m.startswith(LOCAL_PREFIX) for m in (settings.simulator, settings.agent)):
        from . import local_model

        local_model.register()
    out = config.out_dir
    prepare_output_folder(out)
    with label_lock(out, config.label):
        work_dir = out / ".work" / config.label / settings_digest(settings)
        finished = load_work_folder(work_dir)
        jobs = [(task, run) for task in config.tasks for run in range(1, config.runs + 1)]
        todo = [job for job in jobs if job not in finished]
        reused = len(jobs) - len(todo)
        if todo and completion_fn is None:
            check_endpoints(settings, min(config.request_timeout_s, ENDPOINT_CHECK_TIMEOUT_S))
        cancel = threading.Event()
        client = ModelClient(
            ResponseCache(out / ".cache" / "responses"),
            completion_fn=completion_fn,
            max_retries=config.max_retries,
            request_timeout_s=config.request_timeout_s,
            retry_budget_s=config.retry_budget_s,
            max_reply_bytes=config.max_reply_bytes,
            sleep=sleep,
            cancel_event=cancel,
            responses_fn=responses_fn,
        )
        failures: dict[str, str] = {}
        play = conversation_player(settings, config.runs, client, work_dir, personas=bool(todo))
        stopped: RolloutError | None = None
        bar = tqdm(total=len(jobs), initial=reused, desc=f"rollouts {config.label}", unit="conv", disable=not progress)
        with bar:
            outcomes = start_workers(job_queue(todo), play, min(config.concurrency, len(todo)), cancel)
            try:
                for _ in todo:
                    (task, run), record, exc = outcomes.get()
                    if exc is None:
                        finished[(task, run)] = record
                    elif isinstance(exc, RolloutError):
                        stopped = exc
                        break
                    elif isinstance(exc, Exception):  # one conversation failed; the others go on
                        failures[ids.instance_id(task, run, config.runs)] = describe(exc)
                    else:
                        raise exc
                    bar.update(1)
            finally:
                cancel.set()  # no new conversation; those in flight stop at their next model call
        set_aside = _count_set_aside(out, config.label, work_dir)
        ledger = client.ledger.to_json()
        summary = _summary(config, jobs, finished, ledger, reused, failures, set_aside=set_aside)
        if stopped is not None:
            summary.written = False
            stopped.summary = summary
            raise stopped
        try:
            _write_outputs(config, summary)
        except OutputError as exc:
            summary.written = False
            exc.summary = summary
            raise
        return summary


def _count_set_aside(out: Path, label: str, work_dir: Path) -> int:
    """Finished conversation files of ``label`` under settings other than ``work_dir``'s."""
    return sum(1 for p in (out / ".work" / label).glob("*/*__run*.json") if p.parent != work_dir)


def _summary(
    config: RolloutConfig,
    jobs: list[tuple[str, int]],
    finished: dict[tuple[str, int], dict[str, Any]],
    ledger: dict[str, dict[str, float]],
    reused: int,
    failures: dict[str, str],
    *,
    set_aside: int,
) -> RolloutSummary:
    assert config.label is not None
    out = config.out_dir
    label_records = merged_records(finished, jobs, config.runs)
    asked = {(task, run) for task, run in jobs}
    return RolloutSummary(
        label=config.label,
        eval_results_path=out / schema.eval_results_name(config.label),
        survey_path=out / schema.survey_name(config.label),
        ledger_path=out / f"ledger_{config.label}.json",
        card_path=out / card_mod.card_name(config.label),
        records={k: r for k, r in label_records.items() if (r["task_key"], r["run"]) in asked},
        label_records=label_records,
        ledger=ledger,
        reused=reused,
        failures=failures,
        set_aside=set_aside,
    )


def _write_outputs(config: RolloutConfig, summary: RolloutSummary) -> None:
    """Write the results and surveys (unless nothing is finished: an earlier file is
    then left as it was) and the ledger."""
    records = summary.label_records
    summary.written = bool(records)
    if records:
        write_json_atomic(summary.eval_results_path, records)
        write_json_atomic(summary.survey_path, survey_file(records))
        write_json_atomic(summary.card_path, card_mod.resolved_card(config))
    write_json_atomic(
        summary.ledger_path,
        {
            "label": summary.label,
            "simulator": config.simulator,
            "agent": config.agent,
            "this_invocation": summary.ledger,
            "all_conversations": conversation_usage(list(records.values())),
            "conversations": len(records),
            "reused_conversations": summary.reused,
            "failed_conversations": summary.failures,
        },
    )
