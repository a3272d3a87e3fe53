"""What a whole search will cost, before it runs (``--dry-run``), and its plan.

The plan (:func:`plan`): the starting card on the tuning tasks with every run, then per
round K candidates through successive halving over runs (rung j adds run j to the
survivors of rung j-1: K, ceil(K/2), ceil(K/4)...), and the final report (the starting
and the chosen card on the held-out tasks, every run). Each conversation is priced by
the rollout forecast (:mod:`usersim_utils.rollout.forecast`: calls, tokens, low-high USD
from litellm's offline price map); the scripted simulator costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import ids
from ..rollout import forecast as forecast_mod
from .cards import Candidate
from .scripted_user import is_scripted


def survivors(k: int, runs: int) -> list[int]:
    """Candidates at each rung of successive halving: ``[k, ceil(k/2), ...]``, ``runs`` rungs."""
    out = [k]
    for _ in range(runs - 1):
        out.append(max(1, math.ceil(out[-1] / 2)))
    return out


@dataclass(frozen=True)
class Plan:
    """Conversations of each stage of a search."""

    start: int
    per_round: int
    rounds: int
    report: int

    @property
    def search(self) -> int:
        return self.start + self.per_round * self.rounds

    @property
    def total(self) -> int:
        return self.search + self.report


def plan(n_tuning: int, n_held_out: int, *, rounds: int, candidates: int, runs: int) -> Plan:
    """The conversations of a search (module docstring)."""
    return Plan(n_tuning * runs, n_tuning * sum(survivors(candidates, runs)), rounds, 2 * n_held_out * runs)


@dataclass(frozen=True)
class Cost:
    """Calls, tokens and low-high USD of some conversations."""

    calls: int
    tokens: int
    low_usd: float
    high_usd: float
    unpriced: tuple[str, ...] = ()

    def scaled(self, conversations: int) -> Cost:
        return Cost(self.calls * conversations, self.tokens * conversations, self.low_usd * conversations,
                    self.high_usd * conversations, self.unpriced)


def per_conversation(candidate: Candidate, tasks: Sequence[str]) -> Cost:
    """The forecast of one conversation of ``candidate`` on ``tasks`` (longest instruction and
    policy of their domains, as ``usersim-rollout --dry-run``); zero for the scripted simulator."""
    card: Mapping[str, Any] = candidate.card
    simulator = str(card.get("simulator.model", ""))
    if is_scripted(simulator):
        return Cost(0, 0, 0.0, 0.0)
    from ..rollout.harness import agent_system_prompt
    from ..taubench import load_domain
    from .play import rollout_config

    config = rollout_config(candidate, tasks[:1], 1, Path("."))
    settings = config.protocol_settings()
    domains = [load_domain(d) for d in ids.DOMAINS if any(t.startswith(f"{d}_") for t in tasks)]
    instruction_chars = max(len(t.instruction) for d in domains for t in d.tasks)
    policy_chars = max(
        len(agent_system_prompt(d.wiki, d.tools_info)) if settings.agent_harness == "study" else len(d.wiki) + 6000
        for d in domains
    )  # function calling: the tool schemas travel beside the policy (as usersim-rollout --dry-run)
    result = forecast_mod.forecast(
        simulator=settings.simulator, agent=settings.agent, conversations=1,
        max_user_turns=settings.max_user_turns, simulator_prompt_chars=len(candidate.prompt) + instruction_chars,
        agent_prompt_chars=policy_chars, reasoning=bool(settings.agent_reasoning_effort),
    )
    return Cost(result.calls, result.tokens, result.cost_low_usd, result.cost_high_usd, result.unpriced)


def fits(cost: Cost, budget_usd: float) -> bool:
    """A search that cannot fit: even its low estimate is above the budget."""
    return cost.low_usd <= budget_usd


def dry_run_lines(p: Plan, one: Cost, budget_usd: float, *, rounds: int, candidates: int, runs: int,
                  n_tuning: int, n_held_out: int) -> list[str]:
    """What ``--dry-run`` prints; the last line ``estimated_calls=… estimated_tokens=… estimated_cost_usd=LOW-HIGH``."""
    total = one.scaled(p.total)
    lines = [
        "dry run: no model is called, nothing is written",
        f"tasks: {n_tuning} tuning, {n_held_out} held out; {rounds} round(s) of {candidates} candidate(s), "
        f"successive halving over {runs} run(s) ({' -> '.join(map(str, survivors(candidates, runs)))} candidates)",
        f"conversations: {p.start} starting card + {p.per_round} per round x {p.rounds} + {p.report} final report "
        f"= {p.total}",
        f"model calls: {total.calls}   tokens: {total.tokens}",
        f"cost: {total.low_usd:.2f}-{total.high_usd:.2f} USD (litellm's offline price map); "
        f"budget {budget_usd:.2f} USD",
    ]
    if one.unpriced:
        lines.append(f"not priced (counted as 0): {', '.join(one.unpriced)}")
    lines.append(f"estimated_calls={total.calls} estimated_tokens={total.tokens} "
                 f"estimated_cost_usd={total.low_usd:.2f}-{total.high_usd:.2f}")
    return lines
