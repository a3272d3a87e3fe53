"""The study's conversation protocol: the settings, the simulator's prompts and the survey.

One conversation on one task (``docs/method.md`` §10; the loop is
:func:`usersim_utils.rollout.conversation.run_conversation`):

1. the agent greets first ("Hi! How can I help you today?");
2. the simulator, prompted with tau-bench's role-play rules and the task instruction,
   answers; the agent (a tool-using LLM whose system prompt is the domain policy)
   replies, its tool calls running against the task's database (at most 64 per agent
   turn); and so on, for at most ``max_user_turns`` simulator turns;
3. a simulator reply containing ``###STOP###`` ends the conversation; so does, under
   native function calling, the simulator's next turn after the agent transferred the
   user to a human agent;
4. tau-bench's rule-based reward is computed on the final database;
5. the simulator, in the same context, fills in the 8-item survey as JSON. The reply
   is parsed leniently (bare JSON, JSON in a code fence or in prose, or ``field: value``
   lines); an answer that is not one of the item's options is stored as missing (null).
   A reply that cannot be parsed at all (JSON nested too deep for the parser) fails
   the conversation with one line and is not kept in the cache, so a rerun asks the
   model again instead of replaying the failure.

Two framings of the simulator prompt:

* ``chat``: tau-bench's own. The rules are the system message, the agent's messages
  are ``user`` turns and the simulator's are ``assistant`` turns. Used for real models.
* ``transcript``: one user message holding the rules, the instruction and the dialogue
  so far as "Agent: ... / Customer: ..." lines, asking for the Customer's next line.
  Tiny chat models (the embedded SmolLM2-135M) answer *as the agent* under the chat
  framing (they were trained to be the helpful assistant); asked to continue a
  transcript they write a customer line. ``auto`` picks it for ``local/`` models.
  In this framing the survey request also carries a JSON-schema ``response_format``
  listing each item's options (the embedded model enforces it with a grammar; vLLM
  and llama.cpp servers do too), because a 135M model otherwise writes no JSON at all.
  The chat framing sends the study's survey prompt alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .. import survey as survey_mod
from .client import ModelClient, UsageTally
from .errors import ReplyError
from .prompts import (
    AGENT_LABEL,
    CUSTOMER_LABEL,
    DEFAULT_MAX_TOOL_CALLS,
    DEFAULT_MAX_USER_TURNS,
    LOCAL_PREFIX,
    STOP_MARKER,
    AgentApi,
    Harness,
    default_template,
    simulator_system_prompt,
    survey_prompt,
)
from .replies import Reply

PromptStyle = Literal["chat", "transcript"]


def resolve_prompt_style(style: str, simulator_model: str) -> PromptStyle:
    """``chat`` or ``transcript``; ``auto`` means transcript for the embedded ``local/``
    models and chat (tau-bench's framing) for everything else."""
    if style == "auto":
        return "transcript" if simulator_model.startswith(LOCAL_PREFIX) else "chat"
    if style not in ("chat", "transcript"):
        raise ValueError(f"bad simulator prompt style {style!r}: expected auto, chat or transcript")
    return style  # type: ignore[return-value]


# --- simulator prompts -------------------------------------------------------------

Turn = tuple[Literal["agent", "user"], str]


def render_transcript(turns: Sequence[Turn]) -> str:
    """The dialogue as ``Agent: ...`` / ``Customer: ...`` lines."""
    return "\n".join(f"{AGENT_LABEL if who == 'agent' else CUSTOMER_LABEL}: {text}" for who, text in turns)


def simulator_messages(
    style: PromptStyle, instruction: str, turns: Sequence[Turn], system: str | None = None
) -> list[dict[str, str]]:
    """Messages asking the simulator for its next turn, given the dialogue so far;
    ``system`` is the rendered prompt (default: tau-bench's for ``instruction``)."""
    system = simulator_system_prompt(instruction) if system is None else system
    if style == "chat":
        messages = [{"role": "system", "content": system}]
        messages += [{"role": "user" if who == "agent" else "assistant", "content": text} for who, text in turns]
        return messages
    prompt = (
        f"{system}\n"
        f"You are the {CUSTOMER_LABEL}. Below is the conversation so far. "
        f"Write only the {CUSTOMER_LABEL}'s next line.\n\n"
        f"{render_transcript(turns)}\n{CUSTOMER_LABEL}:"
    )
    return [{"role": "user", "content": prompt}]


def simulator_params(style: PromptStyle) -> dict[str, Any]:
    """Extra request parameters: in the transcript framing, stop before the model goes
    on to write the next speaker's line."""
    if style == "transcript":
        return {"stop": [f"\n{AGENT_LABEL}:", f"\n{CUSTOMER_LABEL}:"]}
    return {}


_LABEL_RE = re.compile(rf"^\s*(?:{CUSTOMER_LABEL}|User)\s*:\s*", re.IGNORECASE)


def clean_simulator_reply(style: PromptStyle, text: str) -> str:
    """The simulator's message, stripped. In the transcript framing, one transcript line:
    the first non-empty line, without a leading ``Customer:`` label (small models go on
    to write further lines, often for other speakers)."""
    text = text.strip()
    if style == "transcript":
        lines = [line for line in _LABEL_RE.sub("", text, count=1).splitlines() if line.strip()]
        text = lines[0].strip() if lines else ""
    return text


def split_stop(text: str) -> tuple[str, bool]:
    """``(text without the stop marker, stopped)``. tau-bench stops when the marker
    appears anywhere in the reply; words around it are kept as a last user turn."""
    if STOP_MARKER not in text:
        return text, False
    return " ".join(part.strip() for part in text.split(STOP_MARKER) if part.strip()), True


# --- the survey --------------------------------------------------------------------


def survey_messages(
    style: PromptStyle, instruction: str, turns: Sequence[Turn], system: str | None = None
) -> list[dict[str, str]]:
    """The simulator's context followed by the survey request."""
    system = simulator_system_prompt(instruction) if system is None else system
    if style == "chat":
        return simulator_messages("chat", instruction, turns, system) + [{"role": "user", "content": survey_prompt()}]
    prompt = (
        f"{system}\n"
        f"You were the {CUSTOMER_LABEL} in this conversation:\n\n{render_transcript(turns)}\n\n{survey_prompt()}"
    )
    return [{"role": "user", "content": prompt}]


def survey_response_format() -> dict[str, Any]:
    """An OpenAI ``response_format`` whose JSON schema allows exactly the listed options."""
    properties = {
        item: {"type": "string", "enum": list(dict.fromkeys(survey_mod.SURVEY_OPTIONS[item]))}
        for item in survey_mod.SURVEY_ITEMS
    }
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(survey_mod.SURVEY_ITEMS),
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "survey", "schema": schema, "strict": True}}


_FENCE_RE = re.compile("```")
#: ``item: value`` at the start of a line, the item one of the survey's; the value is
#: trimmed in Python (:func:`_field_value`), not by the pattern (a lazy value before
#: ``\s*$`` backtracked quadratically on runs of spaces).
_ITEM_NAMES = "|".join(sorted(map(re.escape, survey_mod.SURVEY_OPTIONS), key=len, reverse=True))
_FIELD_LINE_RE = re.compile(rf"""^(?:[^\S\n]|[-*])*["']?({_ITEM_NAMES})(?!\w)["']?[^\S\n]*[:=](.*)$""", re.M)
_ITEM_RE = re.compile(_ITEM_NAMES)


def _fenced_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the text of each closed ```` ``` ```` fence (an opening
    ``json`` tag left out), pairing the fences left to right."""
    marks = [m.start() for m in _FENCE_RE.finditer(text)]
    spans = []
    for start, end in zip(marks[::2], marks[1::2]):
        body = start + 3 + (4 if text.startswith(("json", "JSON"), start + 3) else 0)
        spans.append((min(body, end), end))
    return spans


def _balanced_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each outermost balanced ``{...}`` span (an unmatched ``}``
    ignored), in order: the depth after each brace is the running sum of +1/-1 less its
    running minimum (a walk that cannot go below 0), computed in numpy, not per character."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    where = np.flatnonzero((codes == ord("{")) | (codes == ord("}")))
    if where.size == 0:
        return []
    steps = np.where(codes[where] == ord("{"), 1, -1)
    total = np.cumsum(steps)
    depth = total - np.minimum(np.minimum.accumulate(total), 0)
    before = np.concatenate(([0], depth[:-1]))
    starts = where[(steps == 1) & (before == 0)]
    ends = where[(steps == -1) & (before == 1)]
    return list(zip(starts[: len(ends)].tolist(), (ends + 1).tolist()))


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    """Every JSON object findable in ``text``: the whole text, then the fenced blocks and
    balanced ``{...}`` spans that contain a survey item's name, in that order (others are
    not parsed (a reply of 500,000 ``{}`` costs no 500,000
    parses). :class:`ReplyError` when a candidate is nested too deep to parse."""
    names = np.array([m.start() for m in _ITEM_RE.finditer(text)], dtype=np.int64)
    # the whole text is always parsed (once, linear): JSON nested too deep fails the reply
    parts = [*_fenced_spans(text), *_balanced_spans(text)] if names.size else []
    spans = np.array([(0, len(text)), *parts], dtype=np.int64)
    named = np.searchsorted(names, spans[:, 1]) > np.searchsorted(names, spans[:, 0])
    named[0] = True
    for start, end in spans[named].tolist():
        try:
            value = json.loads(text[start:end].strip())
        except (json.JSONDecodeError, ValueError):
            continue
        except RecursionError:
            raise ReplyError("the survey reply cannot be parsed: its JSON is nested too deep") from None
        if isinstance(value, dict):
            yield value


def _field_value(rest: str) -> str:
    """A ``key: value`` line's value: trimmed, without a trailing comma or outer quotes."""
    value = rest.strip()
    if value.endswith(","):
        value = value[:-1].rstrip()
    if value[:1] in ("'", '"'):
        value = value[1:]
    if value[-1:] in ("'", '"'):
        value = value[:-1]
    return value


def _canonical_option(item: str, answer: Any) -> str | None:
    """The listed option ``answer`` names (exact, else ignoring case and outer white
    space), or ``None``."""
    if not isinstance(answer, str):
        return None
    options = survey_mod.SURVEY_OPTIONS[item]
    if answer in options:
        return answer
    folded = {o.casefold(): o for o in options}
    return folded.get(answer.strip().casefold())


def parse_survey(text: str) -> dict[str, str | None]:
    """``{item: option or None}`` for the 8 items, from a free-form reply.

    The first JSON object that names at least one item is used; with none, lines such
    as ``task_success: Yes - Task completed`` are read. Invalid answers become ``None``.
    :class:`ReplyError` when the reply cannot be parsed (JSON nested too deep).
    """
    raw: dict[str, Any] = {}
    for obj in _json_objects(text):
        if any(item in obj for item in survey_mod.SURVEY_ITEMS):
            raw = obj
            break
    else:
        for m in _FIELD_LINE_RE.finditer(text):
            raw.setdefault(m.group(1), _field_value(m.group(2)))
    return {item: _canonical_option(item, raw.get(item)) for item in survey_mod.SURVEY_ITEMS}


def survey_record(answers: Mapping[str, str | None]) -> dict[str, dict[str, str | None]]:
    """The study's survey shape ``{item: {question, answer}}``."""
    return {
        item: {"question": survey_mod.SURVEY_QUESTIONS[item], "answer": answers.get(item)}
        for item in survey_mod.SURVEY_ITEMS
    }


# --- settings and calls ---------------------------------------------------------


@dataclass(frozen=True)
class ProtocolSettings:
    """Who talks and how: litellm model strings, endpoints and limits."""

    simulator: str
    agent: str
    max_user_turns: int = DEFAULT_MAX_USER_TURNS
    max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS
    simulator_prompt: PromptStyle = "chat"
    simulator_api_base: str | None = None
    agent_api_base: str | None = None
    #: None sends no temperature: the provider's default (greedy for the local model).
    simulator_temperature: float | None = None
    agent_temperature: float | None = None
    #: e.g. "low" for GPT-5.x (the study's agent); None sends nothing.
    agent_reasoning_effort: str | None = None
    #: The simulator prompt template (``{instruction}`` slot); None = the harness's default.
    simulator_template: str | None = None
    agent_harness: Harness = "function-calling"
    agent_api: AgentApi = "chat"
    #: Where per-conversation style targets come from (``"human-study"``), or None.
    persona_source: str | None = None
    persona_seed: int = 0

    def template(self) -> str:
        """The simulator prompt template in force."""
        return self.simulator_template or default_template(self.agent_harness)


@dataclass
class ConversationCalls:
    """The model calls of one conversation: the shared client, plus the conversation's
    usage tally, cache tag (its run) and sampling seed (sent to ``local/`` models only,
    where it makes runs differ when a temperature above 0 is set)."""

    client: ModelClient
    cache_tag: str | None = None
    seed: int | None = None
    tally: UsageTally = field(default_factory=UsageTally)

    def complete(self, role: str, model: str, messages: list[dict[str, Any]], **params: Any) -> Reply:
        """One call of ``model`` on ``messages`` for ``role`` (see :meth:`ModelClient.complete`)."""
        seed = self.seed if model.startswith(LOCAL_PREFIX) else None
        return self.client.complete(
            role, model, messages, tally=self.tally, cache_tag=self.cache_tag, seed=seed, **params
        )
