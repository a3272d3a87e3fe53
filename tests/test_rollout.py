"""Rollouts: environments, protocol, survey parsing, cache, resume, CLI.

A scripted fake model (deterministic, no weights) plays both sides; one slow test
runs the real embedded SmolLM2-135M. Every test runs with outbound connections
blocked (loopback allowed), so nothing here can reach the network unnoticed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

# Before litellm is first imported, or it fetches a price map from the network.
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
import litellm  # noqa: E402
from fault_server import TopOfJitter  # noqa: E402
from rollout_doubles import (  # noqa: E402
    VALID_SURVEY,
    ScriptedModels,
    ScriptedProvider,
    SimulatedCrash,
    config,
    gold_plan,
    scripted_response,
    task_hint,
)

from usersim_utils import features, ids, paths, survey, taubench
from usersim_utils.rollout import __main__ as cli
from usersim_utils.rollout import local_model, model_check, prompts, protocol
from usersim_utils.rollout.cache import ResponseCache, request_key, write_json_atomic
from usersim_utils.rollout.client import ModelClient
from usersim_utils.rollout.play import play_conversation
from usersim_utils.rollout.runner import default_label, run_rollouts

# litellm's pydantic models warn about typing details on first use; not ours to fix.
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning:pydantic"), pytest.mark.usefixtures("loopback_only")]

SHARED = paths.REPO_ROOT.parent / "shared"
def settings(**kw: Any) -> protocol.ProtocolSettings:
    base = dict(simulator="scripted/user", agent="scripted/agent", max_user_turns=10)
    return protocol.ProtocolSettings(**{**base, **kw})


# --- environment ------------------------------------------------------------------------


def test_import_contains_the_openai_key_and_stays_offline(tmp_path: Path) -> None:
    """In a clean process: no key before -> no key after, offline mode on, no socket opened."""
    probe = (
        "import os, socket\n"
        "tried = []\n"
        "real = socket.socket.connect\n"
        "socket.socket.connect = lambda self, a: tried.append(a) or real(self, a)\n"
        "socket.getaddrinfo = lambda *a, **k: tried.append(a[:2]) or []\n"
        "import usersim_utils.taubench as e, usersim_utils.rollout as r\n"
        "print(repr(os.environ.get('OPENAI_API_KEY')), os.environ['LITELLM_OFFLINE_MODE'], tried)\n"
    )
    clean_env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    out = subprocess.run([sys.executable, "-c", probe], env=clean_env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "true", "[]"]


def test_contained_environment_restores_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-user-own")
    monkeypatch.delenv("USERSIM_TEST_ADDED", raising=False)
    with taubench.contained_environment():
        assert os.environ["OPENAI_API_KEY"] == "sk-user-own"  # a real key is never replaced
        os.environ["USERSIM_TEST_ADDED"] = "from a .env file"
        os.environ["OPENAI_API_KEY"] = "changed"
    assert os.environ["OPENAI_API_KEY"] == "sk-user-own"
    assert "USERSIM_TEST_ADDED" not in os.environ


def test_domains_hold_the_study_tasks() -> None:
    assert [len(taubench.load_domain(d).tasks) for d in ("retail", "airline")] == [115, 50]
    domain, task = taubench.get_task("retail_0")
    assert task.key == "retail_0" and "Yusuf Rossi" in task.instruction
    assert "transfer_to_human_agents" in domain.tool_classes and domain.wiki
    with pytest.raises(ValueError, match="outside airline"):
        taubench.get_task("airline_50")


@pytest.mark.skipif(not (SHARED / "data" / "tau-bench").is_dir(), reason="needs ../shared")
def test_airline_tasks_are_tau_bench_v1_in_order() -> None:
    """tau-bench's own GPT-4o trajectories hold the same task at every index: same user,
    gold actions and outputs; the instruction differs at most by tau-bench's later
    rewording of its opening ("You are <id>" -> "Your user id is <id>")."""
    trajectories = json.loads((SHARED / "data" / "tau-bench" / "gpt-4o-airline.json").read_text())
    by_index = {t["task_id"]: t["info"]["task"] for t in trajectories}
    assert sorted(by_index) == list(range(50))
    opening = re.compile(r"^(?:Your user id is|You are|You)\s+")
    for i, theirs in by_index.items():
        ours = taubench.get_task(f"airline_{i}")[1]
        assert ours.user_id == theirs["user_id"] and list(ours.outputs) == theirs["outputs"]
        assert [(a.name, a.kwargs) for a in ours.actions] == [(a["name"], a["kwargs"]) for a in theirs["actions"]]
        assert opening.sub("", ours.instruction) == opening.sub("", theirs["instruction"])


def test_gold_actions_of_all_165_tasks_earn_reward_1() -> None:
    failed = []
    for key in ids.parse_task_spec("all"):
        task_env = taubench.TaskEnv(key)
        for action in task_env.task.actions:
            task_env.call_tool(action.name, action.kwargs)
        if task_env.task.outputs:
            task_env.record_reply("The answer: " + ", ".join(task_env.task.outputs))
        if task_env.reward().reward != 1.0:
            failed.append(key)
    assert failed == []


def _tau_trait_reward(task_key: str, actions: list[tuple[str, dict]], replies: list[str]) -> float:
    """The reward tau-trait's own Env computes for the same actions."""
    with taubench.contained_environment():
        from tau_trait.envs import get_env
        from tau_trait.types import Action

    domain, index = task_key.split("_")
    tau_env = get_env(domain, user_strategy="human", user_model="none", task_split="test", task_index=int(index))
    for name, kwargs in actions:
        tau_env.step(Action(name=name, kwargs=kwargs))
    tau_env.actions += [Action(name="respond", kwargs={"content": r}) for r in replies]
    return tau_env.calculate_reward().reward


@pytest.mark.parametrize(
    "task_key, mutate",
    [
        ("retail_0", None),
        ("retail_0", "drop_last"),
        ("airline_0", None),
        ("airline_3", "int_to_float"),
        ("airline_2", None),
    ],
)
def test_reward_equals_tau_trait_reward(task_key: str, mutate: str | None) -> None:
    actions = [(a.name, dict(a.kwargs)) for a in taubench.get_task(task_key)[1].actions]
    if mutate == "drop_last":
        actions = actions[:-1]
    if mutate == "int_to_float":  # tau-bench's hash tells 1 from 1.0: so must we
        actions = [(n, json.loads(json.dumps(k), parse_int=float)) for n, k in actions]
    replies = ["Sure: " + ", ".join(taubench.get_task(task_key)[1].outputs)]
    ours = taubench.TaskEnv(task_key)
    for name, kwargs in actions:
        ours.call_tool(name, kwargs)
    ours.record_reply(replies[0])
    assert ours.reward().reward == _tau_trait_reward(task_key, actions, replies)
    if mutate:
        assert ours.reward().reward == 0.0


def test_database_equality_ignores_insertion_order_but_not_types() -> None:
    gold = taubench.GoldState({"users": {"a": {"n": 1}, "b": {"n": 2}}})
    assert gold.matches({"users": {"a": {"n": 1}, "b": {"n": 2}}})  # the fast path
    assert gold.matches({"users": {"b": {"n": 2}, "a": {"n": 1}}})  # same records, other order
    assert not gold.matches({"users": {"a": {"n": 1.0}, "b": {"n": 2}}})  # 1 is not 1.0
    assert not gold.matches({"users": {"a": {"n": 1}}})


def test_missing_output_fails_the_reward() -> None:
    task_env = taubench.TaskEnv("airline_2")  # a task with a required output
    assert task_env.task.outputs
    for action in task_env.task.actions:
        task_env.call_tool(action.name, action.kwargs)
    result = task_env.reward()
    assert result.r_actions and result.reward == 0.0 and not any(result.outputs.values())


def test_tool_errors_become_observations() -> None:
    task_env = taubench.TaskEnv("retail_0")
    assert task_env.call_tool("no_such_tool", {}) == "Unknown action no_such_tool"
    assert task_env.call_tool("get_order_details", {"wrong": 1}).startswith("Error:")
    assert task_env.call_tool("get_order_details", {"order_id": "#W0"}) == "Error: order not found"


# --- survey parsing -----------------------------------------------------------------------


def test_survey_prompt_lists_every_item_and_option() -> None:
    prompt = prompts.survey_prompt()
    assert prompt.startswith("Based on the above conversation, fill out the survey below.")
    for item in survey.SURVEY_ITEMS:
        assert f"- {item}: {survey.SURVEY_QUESTIONS[item]}" in prompt
        assert all(json.dumps(option) in prompt for option in survey.SURVEY_OPTIONS[item])
    assert "ONLY with a JSON object" in prompt


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(VALID_SURVEY),
        "```json\n" + json.dumps(VALID_SURVEY, indent=2) + "\n```",
        "Sure! Here is my survey: " + json.dumps(VALID_SURVEY) + " Thanks.",
        "\n".join(f"- {k}: {v}" for k, v in VALID_SURVEY.items()),
        json.dumps({k: v.upper() for k, v in VALID_SURVEY.items()}),
    ],
    ids=["json", "fenced", "prose", "lines", "case"],
)
def test_survey_parsing_is_lenient(text: str) -> None:
    assert protocol.parse_survey(text) == VALID_SURVEY


def test_invalid_survey_answers_are_missing() -> None:
    reply = dict(VALID_SURVEY, task_success="Yes", overall_score=4, reuse=None)
    parsed = protocol.parse_survey(json.dumps(reply))
    assert parsed["task_success"] is None and parsed["overall_score"] is None and parsed["reuse"] is None
    assert parsed["efficiency"] == "About right"
    assert protocol.parse_survey("I liked it.") == dict.fromkeys(survey.SURVEY_ITEMS)
    record = protocol.survey_record(parsed)
    assert record["task_success"] == {"question": survey.SURVEY_QUESTIONS["task_success"], "answer": None}


def test_survey_schema_allows_exactly_the_options() -> None:
    schema = protocol.survey_response_format()["json_schema"]["schema"]
    assert schema["required"] == list(survey.SURVEY_ITEMS)
    for item, options in survey.SURVEY_OPTIONS.items():
        assert set(schema["properties"][item]["enum"]) == set(options)


# --- the conversation loop ---------------------------------------------------------------


def play(fake: ScriptedModels, task_key: str = "retail_0", **kw: Any) -> dict[str, Any]:
    client = ModelClient(None, completion_fn=fake)
    return play_conversation(task_key, 1, task_key, client, settings(**kw))


def test_conversation_stops_on_the_marker() -> None:
    fake = ScriptedModels(stop_after=3)
    record = play(fake)
    conv = record["conversation"]
    assert conv[0] == {"role": "assistant", "content": prompts.GREETING}
    assert conv[-1] == {"role": "user", "content": prompts.STOP_MARKER}
    assert [m["role"] for m in conv] == ["assistant", "user", "assistant", "user", "assistant", "user"]
    assert record["stop_reason"] == "stop" and record["n_user_turns"] == 3
    assert fake.calls == {"simulator": 3, "agent": 2, "survey": 1}
    assert record["survey"]["task_success"]["answer"] == "Yes - Task completed"
    assert record["keep"] is True and record["reward"] == 0.0
    # the simulator got tau-bench's prompt, the agent the domain policy and the greeting
    first_sim, first_agent = fake.requests[0]["messages"], fake.requests[1]["messages"]
    assert first_sim[0]["content"] == prompts.simulator_system_prompt(taubench.get_task("retail_0")[1].instruction)
    assert first_sim[1] == {"role": "user", "content": prompts.GREETING}
    assert first_agent[0]["content"] == taubench.load_domain("retail").wiki
    assert first_agent[1] == {"role": "assistant", "content": prompts.GREETING}


def test_conversation_respects_the_user_turn_limit() -> None:
    fake = ScriptedModels(stop_after=None)
    record = play(fake, max_user_turns=4)
    users = [m for m in record["conversation"] if m["role"] == "user"]
    assert len(users) == 4 and prompts.STOP_MARKER not in [m["content"] for m in users]
    assert record["stop_reason"] == "max_user_turns"
    assert fake.calls == {"simulator": 4, "agent": 4, "survey": 1}


def test_agent_tool_calls_run_against_the_environment() -> None:
    fake = ScriptedModels(plan=gold_plan("retail_0"), stop_after=3)
    record = play(fake)
    assert record["reward"] == 1.0 and record["reward_info"]["r_actions"] is True
    assert record["n_tool_calls"] == len(gold_plan("retail_0"))
    agent_turn = record["conversation"][2]["content"]
    assert agent_turn.startswith(
        "<function=find_user_id_by_name_zip><parameter=first_name>Yusuf</parameter>"
        "<parameter=last_name>Rossi</parameter><parameter=zip>19122</parameter></function>"
        "<|tool|>yusuf_rossi_9620<|/tool|>"
    )
    assert '<parameter=item_ids>["1151293680", "4983901480"]</parameter>' in agent_turn
    assert agent_turn.endswith("Done.")
    # the agent saw each tool result, in OpenAI's format
    last_agent = [r for r in fake.requests if "tools" in r][-1]["messages"]
    tool_msgs = [m for m in last_agent if m["role"] == "tool"]
    assert tool_msgs[0]["content"] == "yusuf_rossi_9620" and tool_msgs[0]["tool_call_id"] == "call_0"
    # the user-facing features see no markup
    assert features.conversation_features(record["conversation"], "llm") is not None


def test_wrong_actions_earn_no_reward() -> None:
    plan = [("cancel_pending_order", {"order_id": "#W2378156", "reason": "no longer needed"})]
    record = play(ScriptedModels(plan=plan))
    assert record["reward"] == 0.0 and record["n_tool_calls"] == 1


def test_tool_calls_per_turn_are_capped() -> None:
    fake = ScriptedModels(always_tool=True, stop_after=3)
    record = play(fake, max_tool_calls=5)
    assert record["n_tool_calls"] == 10  # 5 in each of the 2 agent turns
    forced = [r for r in fake.requests if r.get("tool_choice") == "none"]
    assert len(forced) == 2
    assert record["conversation"][2]["content"].count("<function=think>") == 5
    assert record["conversation"][2]["content"].endswith("Forced to answer.")


def test_malformed_tool_calls_do_not_break_the_loop() -> None:
    fake = ScriptedModels(plan=[("get_order_details", "{not json"), ("nope", {})], stop_after=2)
    record = play(fake)
    turn = record["conversation"][2]["content"]
    assert "<function=get_order_details><parameter=arguments>{not json</parameter></function>" in turn
    assert "<|tool|>Error: the arguments of get_order_details are not a JSON object" in turn
    assert "<|tool|>Unknown action nope<|/tool|>" in turn
    assert record["stop_reason"] == "stop"


def test_transfer_ends_after_the_next_user_turn() -> None:
    fake = ScriptedModels(plan=[("transfer_to_human_agents", {"summary": "needs help"})], stop_after=None)
    record = play(fake)
    assert record["stop_reason"] == "transfer" and record["n_user_turns"] == 2


def test_stop_marker_with_words_keeps_the_words() -> None:
    assert protocol.split_stop("Thanks, bye! ###STOP###") == ("Thanks, bye!", True)
    assert protocol.split_stop("###STOP###") == ("", True)
    assert protocol.split_stop("hello") == ("hello", False)


def test_transcript_framing_for_small_models() -> None:
    assert protocol.resolve_prompt_style("auto", "local/smollm2-135m") == "transcript"
    assert protocol.resolve_prompt_style("auto", "openai/gpt-4o") == "chat"
    turns = [("agent", prompts.GREETING), ("user", "I need a refund."), ("agent", "Sure, your email?")]
    msgs = protocol.simulator_messages("transcript", "You are Ann.", turns)
    assert len(msgs) == 1 and msgs[0]["role"] == "user"
    assert msgs[0]["content"].endswith("Agent: Sure, your email?\nCustomer:")
    assert "Instruction: You are Ann." in msgs[0]["content"]
    reply = "Customer: It is ann@x.com\nAgent: thanks"
    assert protocol.clean_simulator_reply("transcript", reply) == "It is ann@x.com"
    assert protocol.clean_simulator_reply("transcript", "\n Ann here\nYou: hi") == "Ann here"
    assert protocol.clean_simulator_reply("chat", " hi ") == "hi"


# --- cache, runner, resume ----------------------------------------------------------------


def test_cache_round_trip_and_atomic_writes(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = request_key({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert key == request_key({"messages": [{"content": "hi", "role": "user"}], "model": "m"})
    assert cache.get(key) is None
    cache.put(key, {"content": "hello"})
    assert cache.get(key) == {"content": "hello"} and len(cache) == 1
    cache.path(key).write_text("{truncated")
    assert cache.get(key) is None  # unreadable entries are misses, never crashes
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_retries_back_off_on_rate_limits() -> None:
    replies = iter([litellm.RateLimitError("slow down", "openai", "m"), litellm.Timeout("t", "m", "openai")])
    waits: list[float] = []

    def flaky(**kw: Any) -> litellm.ModelResponse:
        error = next(replies, None)
        if error is not None:
            raise error
        return scripted_response("ok")

    client = ModelClient(None, completion_fn=flaky, sleep=waits.append, rng=TopOfJitter())
    assert client.complete("agent", "m", [{"role": "user", "content": "x"}]).content == "ok"
    assert waits == [1.0, 2.0]  # the top of each jitter range
    failing = ModelClient(
        None,
        completion_fn=lambda **kw: (_ for _ in ()).throw(litellm.RateLimitError("x", "o", "m")),
        sleep=waits.append,
        max_retries=2,
    )
    with pytest.raises(litellm.RateLimitError):
        failing.complete("agent", "m", [{"role": "user", "content": "x"}])


def test_outputs_follow_the_study_formats(tmp_path: Path) -> None:
    fake = ScriptedModels()
    summary = run_rollouts(config(tmp_path, "retail:0-1,airline:0", runs=3), completion_fn=fake, progress=False)
    results = json.loads((tmp_path / "eval_results_scripted-user.json").read_text())
    surveys = json.loads((tmp_path / "survey_comparable_scripted-user.json").read_text())
    assert list(results) == [f"{t}_{r}" for t in ("retail_0", "retail_1", "airline_0") for r in (1, 2, 3)]
    assert sorted(surveys) == sorted(
        f"{t}{s}" for t in ("retail_0", "retail_1", "airline_0") for s in ("", "_ann2", "_ann3")
    )
    record = results["airline_0_2"]
    assert record["instance_id"] == "airline_0_2" and record["task_key"] == "airline_0" and record["run"] == 2
    assert {"conversation", "reward", "keep", "survey", "simulator", "agent", "n_tool_calls", "stop_reason"} <= set(
        record
    )
    assert all(m["role"] in ("user", "assistant") for m in record["conversation"])
    assert surveys["airline_0_ann2"] == {"survey": record["survey"]}
    assert summary.summary_line() == "conversations=9 model_calls=54 cache_hits=0 cost_usd=0.000000"
    ledger = json.loads(summary.ledger_path.read_text())
    assert ledger["all_conversations"]["agent"]["model_calls"] == 18
    # each run is its own sample: the three runs of a task made separate calls
    assert fake.calls["survey"] == 9
    # and the files load with the project's own validators
    from usersim_utils import data

    assert len(data.load_eval_results(summary.eval_results_path)) == 9
    assert len(data.load_survey_records(summary.survey_path)) == 9


def test_single_run_keys_and_default_label(tmp_path: Path) -> None:
    summary = run_rollouts(config(tmp_path, "retail:3"), completion_fn=ScriptedModels(), progress=False)
    assert list(summary.records) == ["retail_3"] and ids.survey_key("retail_3", 1) == "retail_3"
    assert default_label("openai/Qwen/Qwen3-8B:free") == "openai-Qwen-Qwen3-8B-free"


def test_rerun_makes_no_model_calls(tmp_path: Path) -> None:
    first = run_rollouts(config(tmp_path), completion_fn=ScriptedModels(), progress=False)
    again = ScriptedModels()
    second = run_rollouts(config(tmp_path), completion_fn=again, progress=False)
    assert sum(again.calls.values()) == 0 and second.reused == 2
    assert second.summary_line() == "conversations=2 model_calls=0 cache_hits=0 cost_usd=0.000000"
    assert second.records == first.records


def test_cache_replays_every_call(tmp_path: Path) -> None:
    first = run_rollouts(config(tmp_path), completion_fn=ScriptedModels(), progress=False)
    for f in (tmp_path / ".work").rglob("*.json"):
        f.unlink()  # forget the finished conversations: only the call cache is left
    replay = ScriptedModels()
    second = run_rollouts(config(tmp_path), completion_fn=replay, progress=False)
    assert sum(replay.calls.values()) == 0
    assert second.ledger["total"]["cache_hits"] == first.ledger["total"]["model_calls"] > 0
    assert second.records == first.records


def test_resume_after_a_crash_neither_loses_nor_redoes(tmp_path: Path) -> None:
    cfg = config(tmp_path, "retail:0-3", concurrency=1)
    per_conversation = 6  # 3 simulator turns (the last is ###STOP###), 2 agent replies, 1 survey
    crashing = ScriptedModels(crash_on_call=2 * per_conversation + 3)
    with pytest.raises(SimulatedCrash):
        run_rollouts(cfg, completion_fn=crashing, progress=False)
    done = sorted(p.name for p in (tmp_path / ".work").rglob("*.json"))
    assert done == ["retail_0__run1.json", "retail_1__run1.json"]
    assert not (tmp_path / "eval_results_scripted-user.json").exists()
    resumed = ScriptedModels()
    summary = run_rollouts(cfg, completion_fn=resumed, progress=False)
    seen = json.dumps([r["messages"] for r in resumed.requests])
    assert task_hint("retail_0") not in seen and task_hint("retail_1") not in seen  # not redone
    assert summary.reused == 2 and summary.conversations == 4
    assert summary.ledger["total"]["cache_hits"] == 2  # retail_2's calls before the crash
    assert sum(resumed.calls.values()) == 2 * per_conversation - 2


def test_a_failing_conversation_does_not_stop_the_others(tmp_path: Path) -> None:
    fake = ScriptedModels(fail_tasks=("retail_1",))
    summary = run_rollouts(config(tmp_path, "retail:0-2"), completion_fn=fake, progress=False)
    assert list(summary.failures) == ["retail_1"] and "AuthenticationError" in summary.failures["retail_1"]
    assert sorted(summary.records) == ["retail_0", "retail_2"]


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    fake = ScriptedModels(delay_s=0.05)
    run_rollouts(config(tmp_path, "retail:0-5", concurrency=3), completion_fn=fake, progress=False)
    assert fake.max_in_flight == 3


def test_settings_change_starts_afresh(tmp_path: Path) -> None:
    run_rollouts(config(tmp_path, max_user_turns=10), completion_fn=ScriptedModels(), progress=False)
    fake = ScriptedModels()
    summary = run_rollouts(config(tmp_path, max_user_turns=2), completion_fn=fake, progress=False)
    assert summary.reused == 0 and all(r["n_user_turns"] == 2 for r in summary.records.values())


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(runs=4), "--runs must be 1..3"),
        (dict(concurrency=0), "--concurrency must be >= 1"),
        (dict(label="a/b"), "bad --label"),
        (dict(label="okx\n"), "bad --label"),  # a pattern ending in "$" would let the trailing newline through
        (dict(tasks=("retail_200",)), "outside retail"),
        (dict(simulator_prompt="poem"), "bad simulator prompt style"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        dataclasses.replace(config(tmp_path), **change).validated()


# --- litellm path and command line ---------------------------------------------------------


@pytest.fixture()
def scripted_provider(monkeypatch: pytest.MonkeyPatch) -> ScriptedModels:
    fake = ScriptedModels(plan=gold_plan("retail_0")[:2])
    handlers = [*litellm.custom_provider_map, {"provider": "scripted", "custom_handler": ScriptedProvider(fake)}]
    monkeypatch.setattr(litellm, "custom_provider_map", handlers)
    return fake


def test_command_line_runs_and_reruns_from_cache(
    tmp_path: Path, scripted_provider: ScriptedModels, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--simulator", "scripted/user", "--agent", "scripted/agent", "--domains", "retail:0,airline:0-1"]
    argv += ["--runs", "2", "--concurrency", "2", "--max-user-turns", "5", "--out", str(tmp_path), "--no-progress"]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"conversations=6 model_calls=\d+ cache_hits=0 cost_usd=0\.000000", first)
    assert scripted_provider.calls["agent"] > 0
    assert cli.main(argv) == 0
    assert (
        capsys.readouterr().out.strip().splitlines()[-1]
        == "conversations=6 model_calls=0 cache_hits=0 cost_usd=0.000000"
    )
    results = json.loads((tmp_path / "eval_results_scripted-user.json").read_text())
    assert sorted(results) == ["airline_0_1", "airline_0_2", "airline_1_1", "airline_1_2", "retail_0_1", "retail_0_2"]
    assert "<function=find_user_id_by_name_zip>" in results["retail_0_1"]["conversation"][2]["content"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--domains", "retail:0-200"],
        ["--domains", "shop:1"],
        ["--domains", "retail:0", "--runs", "0"],
        ["--domains", "retail:0", "--concurrency", "x"],
        ["--domains", "retail:0", "--bogus"],
        [],
    ],
)
def test_command_line_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    try:
        status = cli.main(argv)
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error: ")


# --- the embedded model -------------------------------------------------------------------


def test_embedded_model_ships_in_the_wheel() -> None:
    path = local_model.gguf_path()
    assert path.name.endswith(".gguf") and path.stat().st_size > 50_000_000


def test_local_prompt_and_tool_call_parsing() -> None:
    tools = list(taubench.load_domain("retail").tools_info)
    prompt = local_model.render_chatml([{"role": "user", "content": "hi"}], tools)
    assert prompt.startswith(f"<|im_start|>system\n{local_model.DEFAULT_SYSTEM}")
    assert "- get_order_details(order_id: string): Get the status and details of an order." in prompt
    assert prompt.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    content, calls = local_model.parse_tool_calls(
        'Sure <tool_call>{"name": "think", "arguments": {"thought": "x"}}</tool_call>'
    )
    assert content == "Sure" and calls[0]["function"] == {"name": "think", "arguments": '{"thought": "x"}'}
    assert local_model.parse_tool_calls("<tool_call>{broken</tool_call>") == ("<tool_call>{broken</tool_call>", [])


def _rollout_in_child(out: Path, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(records, this invocation's ledger)`` of the embedded model playing retail_0 for two
    turns, run by the command line in a child process: a fault of the model on this CPU
    fails this test with its signal instead of killing the test run."""
    argv = [sys.executable, "-m", "usersim_utils.rollout", "--domains", "retail:0", "--max-user-turns", "2",
            "--out", str(out), "--label", label, "--no-progress"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode < 0:
        pytest.fail(f"the embedded model's process died with {model_check.signal_name(done.returncode)}")
    assert done.returncode == 0, done.stderr
    records = json.loads((out / f"eval_results_{label}.json").read_text())
    ledger = json.loads((out / f"ledger_{label}.json").read_text())["this_invocation"]
    return records, ledger


@pytest.mark.slow
def test_embedded_model_plays_a_short_conversation(tmp_path: Path) -> None:
    started = time.perf_counter()
    records, ledger = _rollout_in_child(tmp_path, "smollm2")
    elapsed = time.perf_counter() - started
    record = records["retail_0"]
    assert record["simulator_prompt"] == "transcript" and record["n_user_turns"] == 2
    assert record["conversation"][0]["content"] == prompts.GREETING
    assert all(m["content"] for m in record["conversation"])
    # the survey schema makes even this model answer with listed options only
    assert all(entry["answer"] in survey.SURVEY_OPTIONS[item] for item, entry in record["survey"].items())
    assert ledger["total"]["model_calls"] == 5
    print(f"embedded model: {elapsed:.1f} s for one 2-turn conversation (start-up included)")
    rerun_records, rerun_ledger = _rollout_in_child(tmp_path, "smollm2")
    assert rerun_ledger["total"]["model_calls"] == 0 and rerun_records == records
