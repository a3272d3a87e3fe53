"""Test doubles shared by the rollout tests: a scripted fake model playing both sides
(:class:`ScriptedModels`, also behind litellm as :class:`ScriptedProvider`), the run
config they use, and the concurrency benchmark's stub server (:func:`load_benchmark`).
The fixture that blocks outbound connections is ``loopback_only`` in conftest.py."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

# Before litellm is first imported, or it fetches a price map from the network.
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
import litellm  # noqa: E402

from usersim_utils import ids, paths, taubench  # noqa: E402
from usersim_utils.rollout import prompts  # noqa: E402
from usersim_utils.rollout.runner import RolloutConfig  # noqa: E402

BENCH = paths.REPO_ROOT / "benchmarks" / "bench_rollout_concurrency.py"
VALID_SURVEY = {
    "task_success": "Yes - Task completed",
    "efficiency": "About right",
    "question_amount_preference": "About right",
    "answer_effort_time": "Low",
    "human_like": "Partially",
    "interaction_flow": "Smooth",
    "overall_score": "4 (Good)",
    "reuse": "Yes",
}


# --- a scripted fake model -----------------------------------------------------------


class SimulatedCrash(BaseException):
    """Stands for the process dying (not an ``Exception``: the runner must not absorb it)."""


class ScriptedModels:
    """A deterministic stand-in for litellm.completion playing simulator and agent.

    Simulator: says ``user line <n> (<task hint>)``, and ``###STOP###`` at turn
    ``stop_after`` (never when None). Agent: works through ``plan`` (tool calls, one
    per reply) in its first turn, then answers with ``agent_text``; with
    ``always_tool`` it calls ``think`` whenever tools are allowed. Survey: ``survey_text``.
    """

    def __init__(
        self,
        *,
        stop_after: int | None = 3,
        plan: list[tuple[str, Any]] | None = None,
        agent_text: str = "Done.",
        survey_text: str = json.dumps(VALID_SURVEY),
        always_tool: bool = False,
        delay_s: float = 0.0,
        crash_on_call: int | None = None,
        fail_tasks: tuple[str, ...] = (),
    ) -> None:
        self.stop_after = stop_after
        self.plan = plan or []
        self.agent_text = agent_text
        self.survey_text = survey_text
        self.always_tool = always_tool
        self.delay_s = delay_s
        self.crash_on_call = crash_on_call
        self.fail_tasks = fail_tasks
        self.calls: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, *, model: str, messages: list[dict[str, Any]], **kwargs: Any) -> litellm.ModelResponse:
        with self._lock:
            n = sum(self.calls.values()) + 1
            role = "agent" if "tools" in kwargs else "survey" if is_survey(messages) else "simulator"
            self.calls[role] += 1
            self.requests.append({"model": model, "messages": messages, **kwargs})
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            if self.crash_on_call is not None and n >= self.crash_on_call:
                raise SimulatedCrash(f"crash at call {n}")
            text = json.dumps(messages)
            if any(task_hint(t) in text for t in self.fail_tasks):
                raise litellm.AuthenticationError("bad key", llm_provider="openai", model=model)
            if role == "agent":
                return self._agent(messages, kwargs)
            if role == "survey":
                return scripted_response(self.survey_text)
            return self._simulator(messages)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _simulator(self, messages: list[dict[str, Any]]) -> litellm.ModelResponse:
        n = sum(m["role"] == "assistant" for m in messages) + 1
        if self.stop_after is not None and n >= self.stop_after:
            return scripted_response(prompts.STOP_MARKER)
        hint = messages[0]["content"].split("Instruction: ", 1)[1][:30]
        return scripted_response(f"user line {n} ({hint})")

    def _agent(self, messages: list[dict[str, Any]], kwargs: dict[str, Any]) -> litellm.ModelResponse:
        if kwargs.get("tool_choice") == "none":
            return scripted_response("Forced to answer.")
        if self.always_tool:
            return scripted_response("", [("think", {"thought": "hmm"})])
        done = sum(m["role"] == "tool" for m in messages)
        if done < len(self.plan):
            return scripted_response("", [self.plan[done]])
        return scripted_response(self.agent_text)


def task_hint(task_key: str) -> str:
    """The task's instruction as it appears in JSON-encoded messages."""
    return json.dumps(taubench.get_task(task_key)[1].instruction)[1:-1]


def is_survey(messages: list[dict[str, Any]]) -> bool:
    """Whether the last message asks for the survey."""
    return "fill out the survey below" in str(messages[-1].get("content"))


def scripted_response(content: str, calls: list[tuple[str, Any]] = ()) -> litellm.ModelResponse:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
            }
            for i, (name, args) in enumerate(calls)
        ]
    return litellm.ModelResponse(
        model="scripted",
        choices=[{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        usage={"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    )


def gold_plan(task_key: str) -> list[tuple[str, Any]]:
    return [(a.name, a.kwargs) for a in taubench.get_task(task_key)[1].actions]


def config(tmp_path: Path, tasks: str = "retail:0-1", **kw: Any) -> RolloutConfig:
    base = dict(
        simulator="scripted/user",
        agent="scripted/agent",
        tasks=tuple(ids.parse_task_spec(tasks)),
        out_dir=tmp_path,
        max_user_turns=10,
        concurrency=2,
    )
    return RolloutConfig(**{**base, **kw})


class ScriptedProvider(litellm.CustomLLM):
    """The fake behind litellm, registered like the local provider."""

    def __init__(self, fake: ScriptedModels) -> None:
        super().__init__()
        self.fake = fake

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:  # type: ignore[override]
        return self.fake(model=model, messages=messages, **(kwargs.get("optional_params") or {}))


def load_benchmark() -> Any:
    """``benchmarks/bench_rollout_concurrency.py`` (its stub server), loaded from its file."""
    spec = importlib.util.spec_from_file_location("bench_rollout_concurrency", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
