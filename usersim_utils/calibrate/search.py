"""The search: rounds of K candidates, successive halving, the design-matched comparison
on the tuning tasks as the score.

It is given the tuning tasks' human sessions and nothing else (the held-out ones stay
sealed in :class:`usersim_utils.calibrate.split.HeldOut`, which this module never sees).

* Round 0 plays the starting card on the tuning tasks with every run: the incumbent.
* Each round the proposer turns the incumbent's gap report into K candidates. Rung j
  (j = 1..runs) plays run j of the survivors; all are scored by the matched comparison
  (:func:`usersim_utils.matched_comparison.compare`: each run scored against a human batch as one
  batch is scored against another, docs/method.md §14) and the better half goes on, so
  most conversations go to the best candidates. The incumbent takes part in every rung
  with its full score; the round's best at the last rung becomes the incumbent.
* It stops after ``rounds`` rounds, or before a rung whose low forecast would take the
  spending (with the final report's forecast reserved) above the budget.

Every candidate's conversations sit under ``<out>/rollouts`` and every model call in the
runner's record/replay cache, so a killed search, run again, replays what it had done.
``search.json`` is rewritten after every rung.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import usi
from ..features import features_table
from ..matched_comparison import compare
from ..matched_design import MatchedArrays, build_matched_arrays, pair_eval_agreements
from ..rollout.cache import write_json_atomic
from ..schema import HUMAN_LABEL
from . import budget, cards, proposer, targets
from .play import Played, play

SEARCH_FILE = "search.json"
#: Task resamples of the intervals shown during the search (the choice uses the estimate).
SEARCH_BOOT = 200


@dataclass
class Scorer:
    """The matched comparison against the tuning tasks' people (built once)."""

    human_records: Mapping[str, Mapping[str, Any]]
    difficulty: Mapping[str, float]
    human: pd.DataFrame = field(init=False)
    pairs: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.human = features_table(self.human_records, source="human", label=HUMAN_LABEL)
        self.pairs = pair_eval_agreements(self.human_records)

    def matched_arrays(self, played: Sequence[Played]) -> MatchedArrays:
        """The matched arrays of these people and the candidates played (each at its own runs)."""
        sims = {p.label: features_table(p.eval_results, source="llm", label=p.label) for p in played}
        agreements = {p.label: usi.eval_agreements(self.human_records, p.surveys) for p in played if p.surveys}
        # candidates' files are small: split runs by suffix (the reference split needs > 170 entries)
        return build_matched_arrays(self.human, sims, agreements=agreements, pair_agreements=self.pairs,
                                    run_split="suffix")

    def compare(self, played: Sequence[Played], rng: np.random.Generator, n_boot: int = SEARCH_BOOT) -> pd.DataFrame:
        """:func:`matched_comparison.compare` of the candidates played, difficulty binned by the given map."""
        return compare(self.matched_arrays(played), self.difficulty, rng, n_boot=n_boot)


def usi_rows(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``{label: {usi, gap, low, high}}`` of the matched USI rows."""
    rows = table[table["metric"] == "usi"]
    return {r.name: {"usi": float(r.simulator), "gap": float(r.gap), "low": float(r.low), "high": float(r.high)}
            for r in rows.itertuples(index=False)}


@dataclass
class SearchResult:
    """What the search did: the rounds' log, the chosen candidate and the money spent."""

    start: cards.Candidate
    chosen: cards.Candidate
    rounds: list[dict[str, Any]]
    tuning_usi: dict[str, float]
    spent_usd: float
    stopped: str
    candidates: dict[str, cards.Candidate]
    played: dict[str, Played]

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start.label, "chosen": self.chosen.label, "spent_usd": self.spent_usd,
                "stopped": self.stopped, "tuning_usi": self.tuning_usi, "rounds": self.rounds}


def label_stem(label: str) -> str:
    """A label safe for file names, for the candidates' labels."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "card"


def run_search(
    start: cards.Candidate,
    tuning_records: Mapping[str, Mapping[str, Any]],
    tuning_targets: targets.Targets,
    tasks: Sequence[str],
    difficulty: Mapping[str, float],
    out: Path,
    rng: np.random.Generator,
    *,
    rounds: int,
    candidates: int,
    runs: int,
    budget_usd: float,
    one_conversation: budget.Cost,
    report_reserve_usd: float,
    proposer_model: str = "rules",
    seed: int = 0,
    completion_fn: Any = None,
    progress: Callable[[str], None] = lambda line: None,
) -> SearchResult:
    """Search (module docstring) from ``start`` on the tuning ``tasks``; ``tuning_records``
    are their human sessions, and the only ones this function is given."""
    out = Path(out)
    scorer = Scorer(tuning_records, difficulty)
    spent = 0.0
    stem = label_stem(start.label)
    start = cards.Candidate(f"{stem}-start", start.card, start.prompt, start.values)
    played: dict[str, Played] = {}
    pool: dict[str, cards.Candidate] = {start.label: start}
    log: list[dict[str, Any]] = []

    def do_play(c: cards.Candidate, n_runs: int) -> Played:
        nonlocal spent
        result = play(c, tasks, n_runs, out, difficulty, seed=seed, completion_fn=completion_fn)
        spent += result.cost_usd - (played[c.label].cost_usd if c.label in played else 0.0)
        played[c.label] = result
        return result

    def save(stopped: str) -> None:
        write_json_atomic(out / SEARCH_FILE, {"start": start.label, "spent_usd": spent, "stopped": stopped,
                                              "rounds": log})

    do_play(start, runs)
    scores = usi_rows(scorer.compare([played[start.label]], rng))
    incumbent, best = start, scores[start.label]
    full_usi = {start.label: best["usi"]}
    log.append({"round": 0, "candidates": [{"label": start.label, "origin": start.origin, "values": start.values,
                                            "rungs": [{"runs": runs, **best}]}], "winner": start.label})
    progress(f"round 0: {start.label} matched USI {best['usi']:.1f} on {len(tasks)} tuning tasks")
    save("running")
    stopped = f"after {rounds} round(s)"
    for r in range(1, rounds + 1):
        gaps = targets.gap_report(targets.profile(played[incumbent.label].eval_results,
                                                  played[incumbent.label].surveys, incumbent.label), tuning_targets)
        new = _proposals(incumbent, gaps, tuning_targets, candidates, r, rng, stem, proposer_model, out,
                         completion_fn)
        pool |= {c.label: c for c in new}
        entries = {c.label: {"label": c.label, "origin": c.origin, "values": c.values, "rungs": []} for c in new}
        alive = [c.label for c in new]
        halted = False
        for rung, n_alive in enumerate(budget.survivors(candidates, runs), start=1):
            alive = alive[:n_alive]
            rung_low = one_conversation.low_usd * len(alive) * len(tasks)
            if spent + rung_low + report_reserve_usd > budget_usd:
                stopped, halted = f"at the budget, before round {r} rung {rung}", True
                break
            batch = [do_play(pool[label], rung) for label in alive]
            table = scorer.compare([*batch, played[incumbent.label]], rng)
            scores = usi_rows(table)
            for label in alive:
                entries[label]["rungs"].append({"runs": rung, **scores[label]})
            alive = sorted(alive, key=lambda label: -scores[label]["usi"])
            save("running")
        finalists = [label for label in alive
                     if entries[label]["rungs"] and entries[label]["rungs"][-1]["runs"] == runs]
        for label in finalists:
            full_usi[label] = entries[label]["rungs"][-1]["usi"]
        winner = max([incumbent.label, *finalists], key=lambda label: full_usi[label])
        log.append({"round": r, "parent": incumbent.label, "candidates": list(entries.values()), "winner": winner})
        progress(f"round {r}: best {winner} matched USI {full_usi[winner]:.1f} (incumbent "
                 f"{incumbent.label} {full_usi[incumbent.label]:.1f})")
        incumbent = pool[winner]
        save("running")
        if halted:
            break
    save(stopped)
    return SearchResult(start, incumbent, log, full_usi, spent, stopped, pool, played)


def _proposals(parent: cards.Candidate, gaps: pd.DataFrame, tuning_targets: targets.Targets, k: int, round_: int,
               rng: np.random.Generator, stem: str, proposer_model: str, out: Path, completion_fn: Any
               ) -> list[cards.Candidate]:
    """The round's K candidates from the rules or the LLM proposer."""
    labels = [f"{stem}-r{round_}c{i}" for i in range(k)]
    if proposer_model == "rules":
        values = proposer.rule_proposals(parent.values, gaps, tuning_targets, k, rng)
        origins = ["rules: people's means"] + [f"rules: persona draw {i}" for i in range(1, k)]
        return [cards.child(parent, label, v, round_, origin) for label, v, origin in zip(labels, values, origins)]
    templates = proposer.llm_proposals(proposer_model, parent.prompt, gaps, k, out / "proposer" / "cache",
                                       out / "proposer" / f"round{round_}_prompts.txt", completion_fn=completion_fn)
    return [cards.Candidate(label, parent.card, text, cards.directives.parse(text), parent.label, round_,
                            f"llm: {proposer_model}") for label, text in zip(labels, templates)]
