"""The native function-calling agent: the domain policy as its system prompt, the tools as
the API's ``tools``, each call answered by a ``tool`` message.

An agent turn lasts until the agent writes to the user. After ``max_tool_calls`` calls it
is asked for text only (``tool_choice: none``) and any further call is ignored; malformed
arguments come back to it as an error observation (they count towards the limit). The
turn's transcript message holds its calls and results in the study's markup, then its
text. The simulator's turn after a transfer to a human ends the conversation (``transfer``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..trajectories import function_markup
from .conversation import Agent, AgentTurn
from .replies import Reply


def parse_tool_arguments(arguments: str) -> dict[str, Any] | None:
    """The arguments of a tool call as a dict, or ``None`` when they are not a JSON
    object (nested too deep to parse included: the agent is told, as for any other
    malformed call)."""
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except (json.JSONDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def render_tool_call(name: str, arguments: Mapping[str, Any] | str) -> str:
    """The study's markup of a tool call: ``<function=NAME><parameter=K>V</parameter></function>``
    (non-string values as JSON; unparseable arguments as one ``arguments`` parameter)."""
    return function_markup(name, {"arguments": arguments} if isinstance(arguments, str) else arguments)


def render_tool_result(observation: str) -> str:
    """The study's markup of a tool result."""
    return f"<|tool|>{observation}<|/tool|>"


def _assistant_tool_message(reply: Reply) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": reply.content or None,
        "tool_calls": [
            {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": tc.arguments}}
            for tc in reply.tool_calls
        ],
    }


class FunctionCallingAgent(Agent):
    """The agent through the chat API's tool calls (module docstring)."""

    stops_after_transfer = True

    def system_prompt(self) -> str:
        return self.env.domain.wiki

    def turn(self) -> AgentTurn:
        settings, messages = self.settings, self.messages
        pieces: list[str] = []
        n_calls = 0
        while True:
            forced_text = n_calls >= settings.max_tool_calls
            reply = self.calls.complete(
                "agent",
                settings.agent,
                messages,
                api_base=settings.agent_api_base,
                tools=self.env.tools_info,
                tool_choice="none" if forced_text else None,
                temperature=settings.agent_temperature,
                reasoning_effort=settings.agent_reasoning_effort,
            )
            if not reply.tool_calls or forced_text:
                messages.append({"role": "assistant", "content": reply.content})
                pieces.append(reply.content)
                rendered = "\n".join(p for p in pieces if p)
                return AgentTurn(reply.content, [{"role": "assistant", "content": rendered}], n_calls)
            messages.append(_assistant_tool_message(reply))
            for call in reply.tool_calls:
                args = parse_tool_arguments(call.arguments)
                if n_calls >= settings.max_tool_calls:
                    observation = (
                        f"Error: limit of {settings.max_tool_calls} tool calls per turn reached; reply to the user."
                    )
                elif args is None:
                    observation = f"Error: the arguments of {call.name} are not a JSON object: {call.arguments}"
                    n_calls += 1
                else:
                    observation = self.env.call_tool(call.name, args)
                    n_calls += 1
                shown = args if args is not None else call.arguments
                pieces.append(render_tool_call(call.name, shown) + render_tool_result(observation))
                messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name, "content": observation})
