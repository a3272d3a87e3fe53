"""The study's agent harness (spec study-harness.md) with a scripted provider:
catalogue text, markup parsing, the malformed-call retry, round and turn limits, the
Responses API call and the transcript."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
import litellm  # noqa: E402

from usersim_utils import ids  # noqa: E402
from usersim_utils.rollout import harness, prompts, protocol  # noqa: E402
from usersim_utils.rollout.client import ModelClient  # noqa: E402
from usersim_utils.rollout.play import play_conversation  # noqa: E402
from usersim_utils.rollout.runner import RolloutConfig, run_rollouts  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydantic")

SURVEY = json.dumps({"task_success": "Yes - Task completed", "overall_score": "4 (Good)"})


def chat_reply(text: str) -> litellm.ModelResponse:
    message = {"role": "assistant", "content": text}
    return litellm.ModelResponse(model="scripted", choices=[{"index": 0, "message": message}])


def responses_reply(text: str) -> dict[str, Any]:
    """A Responses API response: a reasoning item (with a summary the transcript must not keep), then the message."""
    return {
        "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "SECRET REASONING"}]},
            {"type": "message", "content": [{"type": "output_text", "text": text}]},
        ],
        "usage": {"input_tokens": 50, "output_tokens": 5},
    }


class Scripted:
    """Simulator through chat completions (``user_lines`` then ``###STOP###``), agent through
    the Responses API replying ``agent_replies`` in order (the last one repeated)."""

    def __init__(self, user_lines: list[str], agent_replies: list[str]) -> None:
        self.user_lines, self.agent_replies = user_lines, agent_replies
        self.sim_requests: list[dict[str, Any]] = []
        self.agent_requests: list[dict[str, Any]] = []

    def completion(self, *, model: str, messages: list[dict[str, Any]], **kw: Any) -> litellm.ModelResponse:
        self.sim_requests.append({"messages": messages, **kw})
        if "fill out the survey below" in messages[-1]["content"]:
            return chat_reply(SURVEY)
        n = sum(m["role"] == "assistant" for m in messages)
        return chat_reply(self.user_lines[n] if n < len(self.user_lines) else prompts.STOP_MARKER)

    def responses(self, *, model: str, input: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:  # noqa: A002
        self.agent_requests.append({"input": [dict(m) for m in input], **kw})
        n = len(self.agent_requests) - 1
        return responses_reply(self.agent_replies[min(n, len(self.agent_replies) - 1)])


def study_settings(**kw: Any) -> protocol.ProtocolSettings:
    base = dict(
        simulator="scripted/user", agent="gpt-5.2", agent_harness="study", agent_api="responses",
        agent_reasoning_effort="low", max_user_turns=80, max_tool_calls=64,
    )
    return protocol.ProtocolSettings(**{**base, **kw})


def play(script: Scripted, task: str = "retail_0", **kw: Any) -> dict[str, Any]:
    client = ModelClient(None, completion_fn=script.completion, responses_fn=script.responses)
    return play_conversation(task, 1, task, client, study_settings(**kw))


# --- catalogue -------------------------------------------------------------------------

TOOLS = [
    {"type": "function", "function": {
        "name": "get_order", "description": "Get an order.",
        "parameters": {"type": "object", "required": ["order_id"], "properties": {
            "order_id": {"type": "string", "description": "The order id."},
            "mode": {"type": "string", "description": "How.", "enum": ["fast", "slow"]},
        }},
    }},
    {"type": "function", "function": {"name": "list_all", "description": "List.", "parameters": {"properties": {}}}},
]


def test_catalogue_text_is_the_spec_layout() -> None:
    assert harness.tool_catalogue(TOOLS) == (
        "---- BEGIN FUNCTION #1: get_order ----\n"
        "Description: Get an order.\n"
        "Parameters:\n"
        "  (1) order_id (string, required): The order id.\n"
        "  (2) mode (string, optional): How.\n"
        "Allowed values: [`fast`, `slow`]\n"
        "---- END FUNCTION #1 ----\n"
        "\n"
        "---- BEGIN FUNCTION #2: list_all ----\n"
        "Description: List.\n"
        "No parameters are required for this function.\n"
        "---- END FUNCTION #2 ----"
    )
    prompt = harness.agent_system_prompt("POLICY", TOOLS)
    assert prompt.startswith("POLICY\n\nYou have access to the following functions:\n\n---- BEGIN FUNCTION #1")


# --- parsing ----------------------------------------------------------------------------


def test_markup_values_span_lines_and_calls_start_lines() -> None:
    reply = ("Let me look.\n<function=get_order>\n<parameter=order_id>\n#W1\n</parameter>\n"
             "<parameter=note>a\nb</parameter>\n</function>")
    parsed = harness.parse_reply(reply)
    assert parsed.error is None and parsed.text == "Let me look."
    assert parsed.calls == (harness.MarkupCall("get_order", {"order_id": "#W1", "note": "a\nb"}),)
    # a call that does not start a line is text, not a call
    assert harness.parse_reply("I would call <function=x></function> here").calls == ()


def test_last_group_of_calls_runs_and_text_before_last_marker_is_ignored() -> None:
    call = "<function={}>\n<parameter=k>v</parameter>\n</function>"
    far = call.format("a") + "\n\n\n\n\n" + call.format("b") + "\n" + call.format("c")
    assert [c.name for c in harness.parse_reply(far).calls] == ["b", "c"]
    near = call.format("a") + "\n\n" + call.format("b")  # fewer than 4 lines apart: one group
    assert [c.name for c in harness.parse_reply(near).calls] == ["a", "b"]
    marked = call.format("old") + "\nthen <[plan]> done thinking\n" + call.format("new")
    assert [c.name for c in harness.parse_reply(marked).calls] == ["new"]


@pytest.mark.parametrize(
    "reply",
    ["<function=get_order>\n<parameter=order_id>1</parameter>\n</function=get_order>",
     "<function=get_order>\n<parameter=order_id>1</parameter>"],
)
def test_malformed_calls_are_format_errors(reply: str) -> None:
    assert harness.parse_reply(reply).error


def test_values_are_coerced_by_schema() -> None:
    tool = {"function": {"parameters": {"properties": {"n": {"type": "integer"}, "ids": {"type": "array"},
                                                       "s": {"type": "string"}}}}}
    assert harness.coerce_arguments({"n": "3", "ids": '["a"]', "s": "007"}, tool) == {"n": 3, "ids": ["a"], "s": "007"}


# --- conversations ------------------------------------------------------------------------

CALL = "Checking.\n<function=find_user_id_by_name_zip>\n<parameter=first_name>Yusuf</parameter>\n" \
       "<parameter=last_name>Rossi</parameter>\n<parameter=zip>19122</parameter>\n</function>"


def test_study_conversation_transcript_observations_and_responses_api() -> None:
    script = Scripted(["I want to exchange an item.", "Thanks"], [CALL, "Found you. What next?", "Done."])
    record = play(script)
    roles = [m["role"] for m in record["conversation"]]
    assert record["conversation"][0] == {"role": "assistant", "content": prompts.GREETING}
    # the call markup stays in the transcript; the tool result (a system message) does not
    assert record["conversation"][2]["content"] == CALL and "system" not in roles
    assert record["conversation"][-1] == {"role": "user", "content": prompts.STOP_MARKER}
    assert record["stop_reason"] == "stop" and record["n_tool_calls"] == 1 and record["agent_harness"] == "study"
    assert all("SECRET REASONING" not in m["content"] for m in record["conversation"])
    second = script.agent_requests[1]
    assert second["reasoning"] == {"effort": "low", "summary": "auto"}
    assert second["input"][0]["role"] == "system" and "---- BEGIN FUNCTION #1" in second["input"][0]["content"]
    assert second["input"][-1]["role"] == "system" and second["input"][-1]["content"].startswith("yusuf_rossi")
    # the simulator got the study's prompt: the instruction, a blank line, the rules; the greeting as user
    first = script.sim_requests[0]["messages"]
    assert first[0]["content"].split("\n\nRules:\n")[1].count("\n- ") == 6  # seven rules
    assert first[1] == {"role": "user", "content": prompts.GREETING}


def test_malformed_call_is_retried_within_the_turn() -> None:
    bad = "<function=find_user_id_by_name_zip>\n<parameter=zip>19122</parameter>\n</function=find_user_id_by_name_zip>"
    script = Scripted(["Hello"], [bad, "Sorry, what is your name?"])
    record = play(script)
    assert record["format_errors"] == 1
    note = script.agent_requests[1]["input"][-1]
    assert note["role"] == "user" and note["content"].startswith("Format error:")
    assert [m["role"] for m in record["conversation"][:5]] == ["assistant", "user", "assistant", "user", "assistant"]


def test_a_raising_tool_reports_error_executing_tool() -> None:
    """A tool that raises (here: a required parameter missing) gives ``Error executing tool: …``;
    a tool's own error text (an unknown order) is its observation, as in tau-bench."""
    calls = "<function=get_order_details>\n</function>\n<function=get_order_details>\n" \
            "<parameter=order_id>#nope</parameter>\n</function>"
    script = Scripted(["Hello"], [calls, "Hm."])
    play(script)
    first, second = script.agent_requests[1]["input"][-1]["content"].split("\n\n")
    assert first.startswith("Error executing tool: ") and "order_id" in first
    assert second == "Error: order not found"


def test_round_limit_ends_the_agent_turn() -> None:
    script = Scripted(["Hello", "Still there?"], [CALL])  # the agent never stops calling
    record = play(script, max_tool_calls=3)
    assert len(script.agent_requests) == 2 * 3 and record["n_tool_calls"] == 6
    assert record["n_user_turns"] == 3


def test_user_turn_limit_and_empty_reply() -> None:
    record = play(Scripted(["a", "b", "c", "d"], ["ok"]), max_user_turns=2)
    assert record["stop_reason"] == "max_user_turns" and record["n_user_turns"] == 2
    record = play(Scripted(["a", "<think>nothing to say</think>"], ["ok"]))
    assert record["stop_reason"] == "empty_user_response" and record["n_user_turns"] == 2


def test_study_harness_through_the_runner_records_the_card(tmp_path: Path) -> None:
    script = Scripted(["Hi, I need help."], ["Sure."])
    config = RolloutConfig(
        simulator="scripted/user", agent="gpt-5.2", tasks=tuple(ids.parse_task_spec("retail:0-1")),
        out_dir=tmp_path, agent_harness="auto", agent_reasoning_effort="low",
    )
    summary = run_rollouts(config, completion_fn=script.completion, responses_fn=script.responses, progress=False)
    assert summary.conversations == 2 and not summary.failures
    card = json.loads(summary.card_path.read_text())
    assert card["agent"]["harness"] == "study" and card["agent"]["api"] == "responses"  # gpt-5.2 is hosted
