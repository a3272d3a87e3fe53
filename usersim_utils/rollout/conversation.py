"""One conversation, whichever harness plays the agent: the loop, the simulator's side and
the interface an agent harness implements (:class:`Agent`).

The loop (``docs/method.md`` §10): the agent greets; the simulator answers; while it has
turns left, the agent replies (its tools running against the task's database) and the
simulator answers again. ``###STOP###`` in a simulator reply ends the conversation
(``stop``), and so does the turn limit (``max_user_turns``); a harness may also end it on an
empty simulator reply (``empty_user_response``) or on the simulator's turn after the agent
transferred the user to a human (``transfer``). Then the reward and the survey.

The two harnesses (:mod:`~usersim_utils.rollout.function_calling`, the native tool calls;
:mod:`~usersim_utils.rollout.harness`, the study's text catalogue and call markup) are
:class:`Agent` subclasses; a third is one more subclass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..taubench import TaskEnv
from .client import ModelClient
from .prompts import GREETING, STOP_MARKER, render_template
from .protocol import (
    ConversationCalls,
    ProtocolSettings,
    Turn,
    clean_simulator_reply,
    parse_survey,
    simulator_messages,
    simulator_params,
    split_stop,
    survey_messages,
    survey_record,
    survey_response_format,
)
from .replies import Reply


def simulator_prompt(settings: ProtocolSettings, instruction: str, persona: str | None) -> str:
    """The simulator's system prompt: the template in force with the instruction, then
    the persona's style targets (if any) after a blank line."""
    text = render_template(settings.template(), instruction)
    return f"{text}\n\n{persona}" if persona else text


@dataclass
class CustomerSide:
    """The simulator's side of one conversation: its prompt, the ``turns`` it has seen and
    the scored ``conversation`` (opened by the agent's greeting)."""

    calls: ConversationCalls
    settings: ProtocolSettings
    instruction: str
    system: str
    turns: list[Turn] = field(default_factory=lambda: [("agent", GREETING)])
    conversation: list[dict[str, str]] = field(default_factory=lambda: [{"role": "assistant", "content": GREETING}])

    def next_message(self) -> str:
        """The simulator's next message (one model call), cleaned of its style's labels."""
        style = self.settings.simulator_prompt
        reply = self.calls.complete(
            "simulator",
            self.settings.simulator,
            simulator_messages(style, self.instruction, self.turns, self.system),
            api_base=self.settings.simulator_api_base,
            temperature=self.settings.simulator_temperature,
            **simulator_params(style),
        )
        return clean_simulator_reply(style, reply.content)

    def add_message(self, said: str) -> tuple[str, bool]:
        """Record what the simulator said; returns its text without the stop marker, and
        whether it stopped (the marker is then a message of its own in the transcript)."""
        text, stopped = split_stop(said)
        self.turns.append(("user", said))
        if text or not stopped:
            self.conversation.append({"role": "user", "content": text})
        if stopped:
            self.conversation.append({"role": "user", "content": STOP_MARKER})
        return text, stopped

    def survey(self) -> Reply:
        """The simulator's survey reply in the conversation's context (re-asked while unparseable)."""
        style = self.settings.simulator_prompt
        return self.calls.complete(
            "simulator",
            self.settings.simulator,
            survey_messages(style, self.instruction, self.turns, self.system),
            api_base=self.settings.simulator_api_base,
            temperature=self.settings.simulator_temperature,
            response_format=survey_response_format() if style == "transcript" else None,
            check=lambda reply: parse_survey(reply.content),
        )


@dataclass
class AgentTurn:
    """One agent turn: its ``text`` to the user, the messages it adds to the scored
    ``transcript`` and the ``tool_calls`` it ran."""

    text: str
    transcript: list[dict[str, str]]
    tool_calls: int


class Agent(ABC):
    """The agent of one conversation under one harness: its chat (``messages``, opened by
    its system prompt and the greeting) and how it answers a user message. The class
    attributes and :meth:`heard` are where harnesses differ in the loop."""

    #: An empty simulator reply ends the conversation (``empty_user_response``).
    stops_on_empty_reply: ClassVar[bool] = False
    #: The simulator's turn after a transfer to a human ends the conversation (``transfer``).
    stops_after_transfer: ClassVar[bool] = False

    def __init__(self, calls: ConversationCalls, settings: ProtocolSettings, env: TaskEnv) -> None:
        self.calls = calls
        self.settings = settings
        self.env = env
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": self.system_prompt()},
            {"role": "assistant", "content": GREETING},
        ]

    @abstractmethod
    def system_prompt(self) -> str:
        """The agent's system prompt for ``self.env``'s domain."""

    @abstractmethod
    def turn(self) -> AgentTurn:
        """Act on ``self.messages`` (a user message last) until writing to the user; appends to them."""

    def heard(self, said: str) -> str:
        """The simulator's message as this harness takes it (the study's strips thinking)."""
        return said

    def record_fields(self) -> dict[str, Any]:
        """Fields this harness adds at the end of the conversation's record."""
        return {}

    def reply(self, text: str) -> AgentTurn:
        """The agent's turn answering the user's ``text``."""
        self.messages.append({"role": "user", "content": text})
        return self.turn()


def finish_conversation(
    customer: CustomerSide,
    env: TaskEnv,
    ids: tuple[str, str, int],
    n_user_turns: int,
    n_tool_calls: int,
    stop_reason: str,
    **extra: Any,
) -> dict[str, Any]:
    """The reward, then the survey, then the record of a finished conversation in the
    study's rollout format plus metadata. ``ids``: instance id, task key, run; ``extra``
    fields (the harness's) come last."""
    instance_id, task_key, run = ids
    reward = env.reward()
    survey_reply = customer.survey()
    settings = customer.settings
    return {
        "instance_id": instance_id,
        "conversation": customer.conversation,
        "reward": reward.reward,
        "keep": True,
        "survey": survey_record(parse_survey(survey_reply.content)),
        "task_key": task_key,
        "run": run,
        "simulator": settings.simulator,
        "agent": settings.agent,
        "simulator_prompt": settings.simulator_prompt,
        "n_user_turns": n_user_turns,
        "n_tool_calls": n_tool_calls,
        "stop_reason": stop_reason,
        "reward_info": {"r_actions": reward.r_actions, "outputs": reward.outputs},
        "usage": customer.calls.tally.to_json(),
        "survey_reply": survey_reply.content,
        **extra,
    }


def run_conversation(
    agent_class: type[Agent],
    task_key: str,
    run: int,
    instance_id: str,
    client: ModelClient,
    settings: ProtocolSettings,
    *,
    cache_tag: str | None = None,
    persona: str | None = None,
) -> dict[str, Any]:
    """Play one conversation of ``settings.simulator`` with ``settings.agent`` under
    ``agent_class`` on ``task_key`` and return its record in the study's rollout format
    plus metadata (``task_key``, ``run``, models, ``n_user_turns`` (simulator turns, a
    stopping one included), ``n_tool_calls``, ``stop_reason``, ``reward_info``, the raw
    survey reply, ``usage`` per role, then the harness's fields). ``persona`` (style
    targets as text) is appended to the simulator's prompt."""
    calls = ConversationCalls(client, cache_tag=cache_tag, seed=run)
    env = TaskEnv(task_key)
    instruction = env.task.instruction
    customer = CustomerSide(calls, settings, instruction, simulator_prompt(settings, instruction, persona))
    agent = agent_class(calls, settings, env)
    stop_reason, n_user_turns, n_tool_calls = "max_user_turns", 0, 0
    while n_user_turns < settings.max_user_turns:
        said = agent.heard(customer.next_message())
        n_user_turns += 1
        if not said and agent.stops_on_empty_reply:
            stop_reason = "empty_user_response"
            break
        text, stopped = customer.add_message(said)
        if stopped:
            stop_reason = "stop"
            break
        if agent.stops_after_transfer and env.transferred:  # the customer has answered the hand-over
            stop_reason = "transfer"
            break
        turn = agent.reply(text)
        n_tool_calls += turn.tool_calls
        env.record_reply(turn.text)
        customer.conversation.extend(turn.transcript)
        customer.turns.append(("agent", turn.text))
    ids = (instance_id, task_key, run)
    return finish_conversation(customer, env, ids, n_user_turns, n_tool_calls, stop_reason, **agent.record_fields())
