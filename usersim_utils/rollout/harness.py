"""The study's agent harness (``docs/method.md`` §11): a text tool catalogue, call
markup in the agent's replies, observations as system messages.

The agent (the study: GPT-5.2 through the Responses API, reasoning effort ``low``) gets
the domain policy, a blank line and a tool-use block with the catalogue as its system
prompt, and calls a tool by replying with markup::

    <function=get_user_details>
    <parameter=user_id>ann_lee_123</parameter>
    </function>

Parsing (:func:`parse_reply`): only the text after the last ``<[...]>`` marker is read;
a call starts at the beginning of a line; parameter values may span lines; calls fewer
than :data:`GROUP_LINE_GAP` lines apart form a group, and the last group runs, in order.
A malformed call (a closing tag ``</function=NAME>``, an opening tag never closed) gets
a short format-error explanation as a **user** message and the agent tries again within
the turn. Tool results come back as one **system** message (several results joined by
a blank line; a failing tool gives ``Error executing tool: <message>``). An agent turn
has at most ``max_tool_calls`` rounds (model call + tools, 64 in the study); a round
without a call ends it and its text goes to the user; when the rounds run out the turn
ends with the text written before the last call.

The simulator keeps its own history (the prompt template with the instruction, the
greeting and every user-facing agent message as ``user`` messages, its own replies as
``assistant``); thinking tags are stripped from its replies; ``###STOP###`` ends the
conversation (``stop``), an empty reply too (``empty_user_response``), and so does
the turn limit (``max_user_turns``). The transcript saved is the greeting and every
user/assistant message of the agent's chat (format-error notes included, tool results
dropped, call markup kept), then ``###STOP###`` when the simulator stopped.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..taubench import TaskEnv
from .conversation import Agent, AgentTurn
from .protocol import ConversationCalls, ProtocolSettings

#: Calls whose lines are fewer than this many lines apart belong to one group.
GROUP_LINE_GAP = 4
TOOL_ERROR_PREFIX = "Error executing tool: "

TOOL_USE_INSTRUCTIONS = """You have access to the following functions:

{catalogue}

If you choose to call a function, reply ONLY with the call in the following format, on lines of its own:
<function=example_function_name>
<parameter=example_parameter_1>value_1</parameter>
<parameter=example_parameter_2>
a value that may span
several lines
</parameter>
</function>

Important:
- Call one function at a time and wait for its result, which comes back as a system message.
- You may write your reasoning before a call, never after it.
- Always give every required parameter.
- When no function call is needed, answer the user normally, without any markup."""

FORMAT_ERROR = (
    "Format error: {problem}. A function call is a line <function=NAME>, then one "
    "<parameter=KEY>VALUE</parameter> per parameter, then the line </function>. "
    "Please write the call again."
)

# Parsing is linear in the reply (a 1 MB reply parses in milliseconds): no pattern scans
# past the next '<' from each of many starts, and closing tags are found with str.find.
_MARKER_RE = re.compile(r"<\[(?:[^\]\n<]|<(?!\[))*\]>")
_CALL_START_RE = re.compile(r"^<function=([^<>\n]*)>", re.MULTILINE)
_CALL_END = "</function>"
_BAD_CLOSE_RE = re.compile(r"</function=[^<>\n]*>")
_PARAM_RE = re.compile(r"<parameter=([^<>\n]+)>(.*?)</parameter>", re.DOTALL)
_PARAM_END = "</parameter>"
_THINK_RE = re.compile(r"<(think|thinking)>.*?(?:</\1>|\Z)", re.DOTALL | re.IGNORECASE)


# --- the catalogue -------------------------------------------------------------------


def catalogue_entry(k: int, tool: Mapping[str, Any]) -> str:
    """Entry ``k`` (1-based) of the catalogue for one OpenAI function schema."""
    fn = tool["function"]
    params = fn.get("parameters") or {}
    properties: Mapping[str, Any] = params.get("properties") or {}
    required = set(params.get("required") or ())
    lines = [f"---- BEGIN FUNCTION #{k}: {fn['name']} ----", f"Description: {fn.get('description', '')}"]
    if properties:
        lines.append("Parameters:")
        for j, (name, prop) in enumerate(properties.items(), start=1):
            need = "required" if name in required else "optional"
            lines.append(f"  ({j}) {name} ({prop.get('type', 'string')}, {need}): {prop.get('description', '')}")
            if "enum" in prop:
                lines.append("Allowed values: [" + ", ".join(f"`{v}`" for v in prop["enum"]) + "]")
    else:
        lines.append("No parameters are required for this function.")
    lines.append(f"---- END FUNCTION #{k} ----")
    return "\n".join(lines)


def tool_catalogue(tools: Sequence[Mapping[str, Any]]) -> str:
    """The catalogue: one entry per tool in the environment's order, blank lines between."""
    return "\n\n".join(catalogue_entry(k, tool) for k, tool in enumerate(tools, start=1))


def agent_system_prompt(policy: str, tools: Sequence[Mapping[str, Any]]) -> str:
    """The agent's system prompt: the domain policy, a blank line, the tool-use block."""
    return f"{policy}\n\n{TOOL_USE_INSTRUCTIONS.format(catalogue=tool_catalogue(tools))}"


# --- parsing the markup -----------------------------------------------------------------


@dataclass(frozen=True)
class MarkupCall:
    """One parsed call: the function ``name`` and its raw string ``params``."""

    name: str
    params: dict[str, str]


@dataclass(frozen=True)
class ParsedReply:
    """An agent reply read for calls: ``text`` before the first call (what the user sees
    when the turn ends on this reply), the ``calls`` to run, or a format ``error``."""

    text: str
    calls: tuple[MarkupCall, ...] = ()
    error: str | None = None


def _strip_value(value: str) -> str:
    """A parameter value without the line break that follows its opening tag or
    precedes its closing tag."""
    value = value[1:] if value.startswith("\n") else value
    return value[:-1] if value.endswith("\n") else value


def after_last_marker(reply: str) -> str:
    """The text after the last ``<[...]>`` marker (no ``]`` or new line inside), or the
    whole reply. A match starts at the last ``<[`` before its ``]>``, so no start scans
    past the next one: linear, and the same last marker as ``<\\[[^\\]\\n]*\\]>``."""
    if "<[" not in reply:
        return reply
    last = collections.deque(_MARKER_RE.finditer(reply), maxlen=1)  # the last match, in C
    return reply[last[0].end() :] if last else reply


def _parameters(body: str, start: int, end: int) -> dict[str, str]:
    """The ``<parameter=K>V</parameter>`` pairs of ``body[start:end]`` (a later K wins).
    Only up to the last closing tag: a lazy value then always ends at the next one, so
    no opening tag scans to the end of the reply (which made many unclosed ones quadratic)."""
    last = body.rfind(_PARAM_END, start, end)
    if last < 0:
        return {}
    return {k.strip(): _strip_value(v) for k, v in _PARAM_RE.findall(body, start, last + len(_PARAM_END))}


def parse_reply(reply: str) -> ParsedReply:
    """The calls of an agent reply (module docstring): text after the last ``<[...]>``
    marker, calls at line starts, the last group of calls fewer than
    :data:`GROUP_LINE_GAP` lines apart; a format error for a ``</function=NAME>`` tag
    or a call never closed."""
    body = after_last_marker(reply)
    if bad := _BAD_CLOSE_RE.search(body):
        problem = f"the closing tag {bad.group(0)} is not valid; close with </function>"
        return ParsedReply(text=body.strip(), error=problem)
    calls = _CALL_START_RE.finditer(body)
    first_call = next(calls, None)
    if first_call is None:
        return ParsedReply(text=body.strip())
    text = body[: first_call.start()].strip()
    starts = [first_call, *calls]
    opened = np.array([m.start() for m in starts] + [len(body)], dtype=np.int64)
    closes = np.array([m.start() for m in re.finditer(_CALL_END, body)] + [len(body) + 1], dtype=np.int64)
    # each call's first </function> after its tag; past the next call's tag it closes nothing
    ends = closes[np.searchsorted(closes, [m.end() for m in starts])]
    unclosed = ends > opened[1:]
    nameless = np.array([not m.group(1).strip() for m in starts])
    bad = np.flatnonzero(unclosed | nameless)
    if bad.size:
        m = starts[int(bad[0])]
        problem = f"the call <function={m.group(1)}> is never closed with </function>"
        return ParsedReply(text=body.strip(), error=problem if unclosed[bad[0]] else "a call has no function name")
    # line numbers of each call's first and last line; the last group: gaps under GROUP_LINE_GAP
    newlines = np.flatnonzero(np.frombuffer(body.encode("utf-32-le"), dtype=np.uint32) == ord("\n"))
    first_line = np.searchsorted(newlines, opened[:-1])
    last_line = np.searchsorted(newlines, ends)
    apart = np.flatnonzero(first_line[1:] - last_line[:-1] >= GROUP_LINE_GAP)
    group = range(int(apart[-1]) + 1 if apart.size else 0, len(starts))
    chosen = tuple(
        MarkupCall(starts[k].group(1).strip(), _parameters(body, starts[k].end(), int(ends[k]))) for k in group
    )
    return ParsedReply(text=text, calls=chosen)


def coerce_arguments(params: Mapping[str, str], tool: Mapping[str, Any] | None) -> dict[str, Any]:
    """Markup values (strings) as the tool expects them: a property typed other than
    ``string`` is read as JSON when it parses (``3``, ``["a"]``, ``true``), else kept."""
    properties = ((tool or {}).get("function", {}).get("parameters") or {}).get("properties") or {}
    out: dict[str, Any] = {}
    for key, value in params.items():
        if properties.get(key, {}).get("type", "string") != "string":
            try:
                out[key] = json.loads(value)
                continue
            except ValueError:
                pass
        out[key] = value
    return out


def strip_thinking(text: str) -> str:
    """A simulator reply without ``<think>…</think>`` blocks (an unclosed one runs to the end)."""
    return _THINK_RE.sub("", text).strip()


# --- the agent -------------------------------------------------------------------------


def run_tool(env: TaskEnv, call: MarkupCall, tools_by_name: Mapping[str, Mapping[str, Any]]) -> str:
    """One call against the task's database; a failure becomes ``Error executing tool: …``."""
    tool = tools_by_name.get(call.name)
    if tool is None:
        return f"{TOOL_ERROR_PREFIX}unknown function {call.name!r}"
    return env.call_tool(call.name, coerce_arguments(call.params, tool), error_prefix=TOOL_ERROR_PREFIX)


class StudyAgent(Agent):
    """The agent under the study's harness (module docstring); its record adds
    ``agent_harness`` and ``format_errors``."""

    stops_on_empty_reply = True

    def __init__(self, calls: ConversationCalls, settings: ProtocolSettings, env: TaskEnv) -> None:
        super().__init__(calls, settings, env)
        self.tools_by_name = {t["function"]["name"]: t for t in env.domain.tools_info}
        self.format_errors = 0

    def system_prompt(self) -> str:
        return agent_system_prompt(self.env.domain.wiki, self.env.domain.tools_info)

    def heard(self, said: str) -> str:
        return strip_thinking(said)

    def record_fields(self) -> dict[str, Any]:
        return {"agent_harness": "study", "format_errors": self.format_errors}

    def turn(self) -> AgentTurn:
        settings, messages = self.settings, self.messages
        transcript: list[dict[str, str]] = []
        n_calls = 0
        parsed = ParsedReply(text="")
        for _ in range(settings.max_tool_calls):
            reply = self.calls.complete(
                "agent",
                settings.agent,
                messages,
                api=settings.agent_api,
                api_base=settings.agent_api_base,
                temperature=settings.agent_temperature,
                reasoning_effort=settings.agent_reasoning_effort,
            )
            said = {"role": "assistant", "content": reply.content}
            messages.append(said)
            transcript.append(said)
            parsed = parse_reply(reply.content)
            if parsed.error is not None:
                self.format_errors += 1
                note = {"role": "user", "content": FORMAT_ERROR.format(problem=parsed.error)}
                messages.append(note)
                transcript.append(note)
                continue
            if not parsed.calls:
                return AgentTurn(reply.content.strip(), transcript, n_calls)
            results = [run_tool(self.env, call, self.tools_by_name) for call in parsed.calls]
            n_calls += len(parsed.calls)
            messages.append({"role": "system", "content": "\n\n".join(results)})
        return AgentTurn(parsed.text, transcript, n_calls)
