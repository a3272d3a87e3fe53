"""Rollouts of one candidate card on some tasks: the scripted simulator's, or the rollout
runner's for any other model (every call through its record/replay cache, so a killed
search replays what was done and pays only for the rest).

Everything goes under ``<out>/rollouts``: ``eval_results_<label>.json``,
``survey_comparable_<label>.json`` and, for real models, the runner's ``.cache`` and
``.work`` folders (:mod:`usersim_utils.rollout.runner`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import schema
from ..rollout.cache import write_json_atomic
from .cards import Candidate
from .scripted_user import is_scripted
from .scripted_user import play as play_scripted


@dataclass(frozen=True)
class Played:
    """A candidate's conversations on the tasks asked: rollouts and surveys (study formats),
    model calls made now and the cost of these conversations as produced (USD)."""

    label: str
    eval_results: Mapping[str, Mapping[str, Any]]
    surveys: Mapping[str, Mapping[str, Any]]
    model_calls: int
    cost_usd: float


def rollout_config(candidate: Candidate, tasks: Sequence[str], runs: int, out: Path) -> Any:
    """The runner's config of a candidate (card fields as ``usersim-rollout --card`` reads
    them, the candidate's prompt as the template), validated."""
    from ..rollout.__main__ import CARD_TO_CONFIG, CONFIG_DEFAULTS
    from ..rollout.runner import RolloutConfig

    fields = {CARD_TO_CONFIG[k]: v for k, v in candidate.card.items() if k in CARD_TO_CONFIG}
    fields |= {"label": candidate.label, "simulator_template": candidate.prompt, "simulator_prompt_file": None}
    return RolloutConfig(tasks=tuple(tasks), runs=runs, out_dir=out, concurrency=2,
                         **{**CONFIG_DEFAULTS, **fields}).validated()


def play(candidate: Candidate, tasks: Sequence[str], runs: int, out: Path, difficulty: Mapping[str, float], *,
         seed: int = 0, completion_fn: Any = None) -> Played:
    """Play ``candidate`` on ``tasks`` x runs 1..``runs`` into ``<out>/rollouts``.
    ``completion_fn`` replaces litellm's (tests). :class:`usersim_utils.rollout.errors.RolloutError`
    (one line) when the runner stops; ``ValueError`` for a card it refuses."""
    folder = Path(out) / "rollouts"
    model = str(candidate.card.get("simulator.model", ""))
    if is_scripted(model):
        rollouts, surveys = play_scripted(candidate.prompt, tasks, runs, difficulty, seed=seed)
        write_json_atomic(folder / schema.eval_results_name(candidate.label), rollouts)
        write_json_atomic(folder / schema.survey_name(candidate.label), surveys)
        return Played(candidate.label, rollouts, surveys, 0, 0.0)
    from ..rollout.runner import conversation_usage, run_rollouts, survey_file

    summary = run_rollouts(rollout_config(candidate, tasks, runs, folder), completion_fn=completion_fn,
                           progress=False)
    if summary.failures:
        first = next(iter(summary.failures.items()))
        raise ValueError(f"{len(summary.failures)} conversation(s) of {candidate.label} failed, e.g. "
                         f"{first[0]}: {first[1]}; rerun the same command to resume")
    records = summary.records
    usage = conversation_usage(list(records.values()))
    cost = sum(role.get("cost_usd", 0.0) for role in usage.values())
    calls = int(summary.ledger["total"]["model_calls"])
    return Played(candidate.label, records, survey_file(records), calls, float(cost))
