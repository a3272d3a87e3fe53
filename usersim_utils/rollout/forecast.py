"""What a run will cost, before it runs (``--dry-run``): conversations, calls, tokens, USD.

No model is called. The number of simulator turns per conversation comes from the human
sessions (their quartiles of user turns, :func:`human_user_turns`) when the real study
data is present, else from :data:`DEFAULT_USER_TURNS` (low, typical, high: 5, 8, 14,
about the spread of tau-bench conversations). Per conversation with ``u`` simulator
turns (capped by ``max_user_turns``):

* simulator calls ``u + 1`` (the survey); agent calls ``u * AGENT_ROUNDS_PER_TURN``
  (a tool round and a reply per turn);
* prompt tokens: every call resends its history. The simulator's starts from its
  prompt, the agent's from the policy (with the catalogue under the study harness);
  each turn adds :data:`USER_MESSAGE_TOKENS` and :data:`AGENT_MESSAGE_TOKENS`, each tool
  round :data:`TOOL_RESULT_TOKENS`. Texts are counted as characters / 4;
* completion tokens: those message sizes; the high end adds
  :data:`REASONING_TOKENS_HIGH` per agent call when a reasoning effort is set.

Costs use litellm's bundled price map (offline); a model it does not price (local,
self-hosted) costs 0 and is named. Low = the low turn count without reasoning tokens;
high = the high turn count with them. The estimate ignores cached prompts and the
response cache (a rerun costs nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import card as card_mod

#: Simulator turns per conversation (low, typical, high) without the human data.
DEFAULT_USER_TURNS = (5, 8, 14)
AGENT_ROUNDS_PER_TURN = 2
USER_MESSAGE_TOKENS = 25
AGENT_MESSAGE_TOKENS = 70
TOOL_RESULT_TOKENS = 250
SURVEY_PROMPT_TOKENS = 300
SURVEY_REPLY_TOKENS = 120
REASONING_TOKENS_HIGH = 300
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class CallTokens:
    """Calls and tokens of one role in one conversation."""

    calls: int
    prompt_tokens: int
    completion_tokens: int


def conversation_tokens(
    user_turns: int, simulator_prompt_tokens: int, agent_prompt_tokens: int, reasoning_tokens: int
) -> tuple[CallTokens, CallTokens]:
    """``(simulator, agent)`` calls and tokens of one conversation of ``user_turns`` turns."""
    sim_prompt = agent_prompt = agent_calls = 0
    history = 0  # tokens of dialogue so far
    for _ in range(user_turns):
        sim_prompt += simulator_prompt_tokens + history
        history += USER_MESSAGE_TOKENS
        for round_ in range(AGENT_ROUNDS_PER_TURN):
            agent_prompt += agent_prompt_tokens + history + round_ * TOOL_RESULT_TOKENS
            agent_calls += 1
        history += AGENT_MESSAGE_TOKENS
    sim_prompt += simulator_prompt_tokens + history + SURVEY_PROMPT_TOKENS
    simulator = CallTokens(user_turns + 1, sim_prompt, user_turns * USER_MESSAGE_TOKENS + SURVEY_REPLY_TOKENS)
    agent = CallTokens(agent_calls, agent_prompt, agent_calls * (AGENT_MESSAGE_TOKENS + reasoning_tokens))
    return simulator, agent


def human_user_turns() -> tuple[int, int, int] | None:
    """Quartiles (25th, 50th, 75th percentile) of user turns per kept human session of
    the real study, or ``None`` when only the SYNTHETIC demo panel (or nothing) is here."""
    from .. import data, features
    from ..errors import DataError

    try:
        study = data.resolve_study(allow_demo=False)
    except DataError:
        return None
    if study.synthetic:
        return None
    counts = [
        len(features.clean_conversation(r["conversation"], "human")[0])
        for r in study.records.values()
        if r.get("keep", True)
    ]
    if not counts:
        return None
    low, mid, high = np.percentile(counts, [25, 50, 75])
    return round(low), round(mid), round(high)


def _cost(model: str, tokens: CallTokens) -> float:
    price = card_mod.price_of(model) or {}
    return tokens.prompt_tokens * float(price.get("input_cost_per_token") or 0) + tokens.completion_tokens * float(
        price.get("output_cost_per_token") or 0
    )


@dataclass(frozen=True)
class Forecast:
    """A run's expected size: conversations, calls and tokens (typical), cost low-high,
    where the turn counts came from, and the models without a price."""

    conversations: int
    calls: int
    tokens: int
    cost_low_usd: float
    cost_high_usd: float
    user_turns: tuple[int, int, int]
    turns_source: str
    unpriced: tuple[str, ...]

    def last_line(self) -> str:
        """``estimated_calls=… estimated_tokens=… estimated_cost_usd=LOW-HIGH``."""
        return (
            f"estimated_calls={self.calls} estimated_tokens={self.tokens} "
            f"estimated_cost_usd={self.cost_low_usd:.2f}-{self.cost_high_usd:.2f}"
        )


def forecast(
    *,
    simulator: str,
    agent: str,
    conversations: int,
    max_user_turns: int,
    simulator_prompt_chars: int,
    agent_prompt_chars: int,
    reasoning: bool,
    user_turns: Sequence[int] | None = None,
) -> Forecast:
    """The forecast of ``conversations`` conversations (module docstring). ``user_turns``
    (low, typical, high) defaults to the human quartiles, else :data:`DEFAULT_USER_TURNS`."""
    source = "given"
    if user_turns is None:
        found = human_user_turns()
        user_turns, source = (found, "human sessions") if found else (DEFAULT_USER_TURNS, "default")
    low, mid, high = (max(1, min(int(t), max_user_turns)) for t in user_turns)
    sim0, agent0 = simulator_prompt_chars // CHARS_PER_TOKEN, agent_prompt_chars // CHARS_PER_TOKEN

    def one(turns: int, reasoning_tokens: int) -> tuple[int, int, float]:
        s, a = conversation_tokens(turns, sim0, agent0, reasoning_tokens)
        tokens = s.prompt_tokens + s.completion_tokens + a.prompt_tokens + a.completion_tokens
        return s.calls + a.calls, tokens, _cost(simulator, s) + _cost(agent, a)

    calls, tokens, _ = one(mid, 0)
    cost_low = one(low, 0)[2]
    cost_high = one(high, REASONING_TOKENS_HIGH if reasoning else 0)[2]
    unpriced = tuple(m for m in dict.fromkeys((simulator, agent)) if card_mod.price_of(m) is None)
    return Forecast(
        conversations=conversations,
        calls=calls * conversations,
        tokens=tokens * conversations,
        cost_low_usd=cost_low * conversations,
        cost_high_usd=cost_high * conversations,
        user_turns=(low, mid, high),
        turns_source=source,
        unpriced=unpriced,
    )
