"""Run many conversations: bounded concurrency, resume, merged outputs, ledger.

Layout under the output folder ``out`` (default ``paths.ROLLOUTS_DIR``)::

    eval_results_<label>.json        the rollouts, the study's format (spec usi.md §1)
    survey_comparable_<label>.json   the simulator's surveys, keyed like human sessions
    ledger_<label>.json              calls, tokens, cost: this invocation and all conversations
    .cache/responses/                record/replay store of every model call
    .work/<label>/<settings>/        one file per finished conversation (<task>__run<r>.json)

A conversation is written atomically to ``.work`` the moment it finishes, before the
next one is looked at, so an interruption (crash, Ctrl-C, kill) loses at most the
conversations in flight; a rerun loads finished ones instead of playing them again,
and replays the calls an interrupted one had already made from the cache.
``<settings>`` is a digest of everything that shapes a conversation (models,
endpoints, limits, prompt style, temperatures), so changing any of them starts
afresh instead of mixing incompatible conversations under one label.

Runs: with ``runs == 1`` keys are ``<domain>_<i>``; with more, ``<domain>_<i>_<run>``
for run 1..3 (the reference scorer knows runs 1-3 only). Survey keys mirror the
study's three human batches: run 1 -> ``x``, run 2 -> ``x_ann2``, run 3 -> ``x_ann3``.
Each conversation's calls carry its task and run in their cache key, so runs (and
tasks whose conversations happen to start alike) are independent samples rather than
replays of one another.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .. import ids, paths
from .cache import ResponseCache, request_key, write_json_atomic
from .client import CompletionFn, ModelClient, RoleUsage
from .protocol import (
    DEFAULT_MAX_TOOL_CALLS,
    DEFAULT_MAX_USER_TURNS,
    LOCAL_PREFIX,
    ProtocolSettings,
    resolve_prompt_style,
    run_conversation,
)

MAX_RUNS = 3
_SURVEY_SUFFIX = {1: "", 2: "_ann2", 3: "_ann3"}
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def default_label(simulator: str) -> str:
    """A file-name-safe label from a litellm model string: ``openai/gpt-4o`` ->
    ``openai-gpt-4o``."""
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", simulator).strip("-.")
    return label or "simulator"


def instance_id(task_key: str, run: int, runs: int) -> str:
    """``<domain>_<i>`` when there is one run, else ``<domain>_<i>_<run>``."""
    return task_key if runs == 1 else f"{task_key}_{run}"


def survey_key(task_key: str, run: int) -> str:
    """Survey key of a run, like the human batches: ``x``, ``x_ann2``, ``x_ann3``."""
    return f"{task_key}{_SURVEY_SUFFIX[run]}"


@dataclass(frozen=True)
class RolloutConfig:
    """Everything one rollout invocation needs. Models are litellm model strings;
    ``api_base`` applies to both sides unless a side has its own. ``None``
    temperatures send nothing (the provider's default; greedy for the local model)."""

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
    max_retries: int = 6

    def validated(self) -> "RolloutConfig":
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
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        resolve_prompt_style(self.simulator_prompt, self.simulator)
        label = self.label if self.label is not None else default_label(self.simulator)
        if not _LABEL_RE.match(label):
            raise ValueError(f"bad --label {label!r}: use letters, digits, '.', '_' and '-'")
        return replace(self, tasks=tuple(dict.fromkeys(self.tasks)), label=label, out_dir=Path(self.out_dir))

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
        )


@dataclass
class RolloutSummary:
    """What a run produced: output files, conversations (``records``, keyed by instance
    id), this invocation's ledger and the conversations that failed."""

    label: str
    eval_results_path: Path
    survey_path: Path
    ledger_path: Path
    records: dict[str, dict[str, Any]]
    ledger: dict[str, dict[str, float]]
    reused: int
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def conversations(self) -> int:
        """Number of conversations in ``eval_results_<label>.json``."""
        return len(self.records)

    def summary_line(self) -> str:
        """``conversations=N model_calls=M cache_hits=K cost_usd=X`` (this invocation)."""
        total = self.ledger["total"]
        return (
            f"conversations={self.conversations} model_calls={int(total['model_calls'])} "
            f"cache_hits={int(total['cache_hits'])} cost_usd={total['cost_usd']:.6f}"
        )


def settings_digest(settings: ProtocolSettings) -> str:
    """Short digest of the settings that shape a conversation."""
    return request_key(asdict(settings))[:16]


def conversation_file(work_dir: Path, task_key: str, run: int) -> Path:
    """Where one finished conversation lives."""
    return work_dir / f"{task_key}__run{run}.json"


def load_finished(path: Path, task_key: str, run: int) -> dict[str, Any] | None:
    """A finished conversation, or ``None`` if absent or not this task/run."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    ok = isinstance(record, dict) and record.get("task_key") == task_key and record.get("run") == run
    return record if ok else None


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
) -> RolloutSummary:
    """Play every (task, run) of ``config`` not finished before, then write
    ``eval_results_<label>.json``, ``survey_comparable_<label>.json`` and the ledger.

    ``completion_fn`` replaces ``litellm.completion`` (tests). A conversation that
    raises an ``Exception`` is reported in ``failures`` and left for the next run; any
    other ``BaseException`` (Ctrl-C, a simulated crash) stops the run at once, after
    writing nothing but the conversations already finished.
    """
    config = config.validated()
    assert config.label is not None
    settings = config.protocol_settings()
    if any(m.startswith(LOCAL_PREFIX) for m in (settings.simulator, settings.agent)):
        from . import local_model

        local_model.register()
    out = config.out_dir
    work_dir = out / ".work" / config.label / settings_digest(settings)
    jobs = [(task, run) for task in config.tasks for run in range(1, config.runs + 1)]
    finished: dict[tuple[str, int], dict[str, Any]] = {}
    for task, run in jobs:
        record = load_finished(conversation_file(work_dir, task, run), task, run)
        if record is not None:
            finished[(task, run)] = record
    reused = len(finished)
    cancel = threading.Event()
    client = ModelClient(
        ResponseCache(out / ".cache" / "responses"),
        completion_fn=completion_fn,
        max_retries=config.max_retries,
        sleep=sleep,
        cancel_event=cancel,
    )
    failures: dict[str, str] = {}

    def play(task: str, run: int) -> dict[str, Any]:
        record = run_conversation(task, run, instance_id(task, run, config.runs), client, settings, cache_tag=f"{task}/run{run}")
        write_json_atomic(conversation_file(work_dir, task, run), record)
        return record

    todo = [job for job in jobs if job not in finished]
    with tqdm(total=len(jobs), initial=reused, desc=f"rollouts {config.label}", unit="conv", disable=not progress) as bar:
        pool = ThreadPoolExecutor(max_workers=min(config.concurrency, max(1, len(todo))), thread_name_prefix="rollout")
        futures: dict[Future[dict[str, Any]], tuple[str, int]] = {pool.submit(play, *job): job for job in todo}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    task, run = futures[fut]
                    try:
                        finished[(task, run)] = fut.result()
                    except Exception as exc:  # one conversation failed; the others go on
                        failures[instance_id(task, run, config.runs)] = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    bar.update(1)
        except BaseException:
            cancel.set()  # in-flight conversations stop at their next model call
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return _write_outputs(config, jobs, finished, client, reused, failures)


def _write_outputs(
    config: RolloutConfig,
    jobs: list[tuple[str, int]],
    finished: dict[tuple[str, int], dict[str, Any]],
    client: ModelClient,
    reused: int,
    failures: dict[str, str],
) -> RolloutSummary:
    assert config.label is not None
    out = config.out_dir
    records: dict[str, dict[str, Any]] = {}
    surveys: dict[str, dict[str, Any]] = {}
    for task, run in jobs:
        if (task, run) not in finished:
            continue
        key = instance_id(task, run, config.runs)
        records[key] = dict(finished[(task, run)], instance_id=key)
        surveys[survey_key(task, run)] = {"survey": records[key]["survey"]}
    eval_path = out / f"eval_results_{config.label}.json"
    survey_path = out / f"survey_comparable_{config.label}.json"
    ledger_path = out / f"ledger_{config.label}.json"
    write_json_atomic(eval_path, records)
    write_json_atomic(survey_path, surveys)
    ledger = client.ledger.to_json()
    write_json_atomic(
        ledger_path,
        {
            "label": config.label,
            "simulator": config.simulator,
            "agent": config.agent,
            "this_invocation": ledger,
            "all_conversations": conversation_usage(list(records.values())),
            "conversations": len(records),
            "reused_conversations": reused,
            "failed_conversations": failures,
        },
    )
    return RolloutSummary(
        label=config.label,
        eval_results_path=eval_path,
        survey_path=survey_path,
        ledger_path=ledger_path,
        records=records,
        ledger=ledger,
        reused=reused,
        failures=failures,
    )
