"""The final report, on the held-out tasks: the starting card and the chosen one side by side.

Opened only after the search (:meth:`usersim_utils.calibrate.split.HeldOut.open`), the
held-out human sessions score both cards, every run, with the design-matched comparison
(:func:`usersim_utils.matched_comparison.compare`, task-bootstrap intervals) on every term; their
paired difference takes the same task resamples for both
(:func:`usersim_utils.matched_ranking.matched_differences`). Beside them: the features
inside people's held-out interval for each card, success inflation over people
(:func:`usersim_utils.feedback.outcomes.success_gap`, a task-bootstrap interval), whether
each card succeeds on the same tasks as people and covers their population
(:mod:`usersim_utils.inflation`), the classifier two-sample test of each card against people
(:mod:`usersim_utils.distinguish`: cross-validation grouped by task, the AUC with its
interval, a within-task permutation p-value, the equivalence test; people against people as
the reference), the cost, and the optimism, tuning gain minus held-out gain: how much of
the gain seen while choosing was the choice fitting the tuning tasks' noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import distinguish, inflation, matched_ranking, usi
from ..features import features_table
from ..feedback.outcomes import outcomes_table, outcomes_with_difficulty, success_gap
from ..schema import HUMAN_LABEL
from . import targets
from .play import Played
from .search import Scorer

METRICS = (*usi.DIMENSION_NAMES, "eval_agree", "ece", "usi")


def _float(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def feature_table(human: targets.Targets, profiles: Mapping[str, targets.Profile]) -> pd.DataFrame:
    """Per feature (and positivity): people's held-out mean and interval, and each card's
    value and direction (``under``/``over``/``inside``). Columns ``feature``, ``human``,
    ``low``, ``high``, then ``<label>`` and ``<label>_direction`` per card."""
    table = None
    for label, prof in profiles.items():
        gaps = targets.gap_report(prof, human).rename(columns={"simulator": label, "direction": f"{label}_direction"})
        table = gaps if table is None else table.merge(gaps[["feature", label, f"{label}_direction"]], on="feature")
    assert table is not None
    return table


def brought_inside(features: pd.DataFrame, start: str, chosen: str) -> list[str]:
    """The features (not positivity) outside people's interval for ``start`` and inside it for ``chosen``."""
    rows = features[(features[f"{start}_direction"] != "inside") & (features[f"{chosen}_direction"] == "inside")]
    return [f for f in rows["feature"] if f != targets.POSITIVITY]


def two_sample_rows(human: pd.DataFrame, sims: Mapping[str, pd.DataFrame], rng: np.random.Generator, *,
                    n_boot: int) -> list[dict[str, Any]]:
    """The classifier two-sample test on the held-out tasks (``human`` and ``sims``: features
    tables): the human reference (each batch against the others), then each card against
    people, as :meth:`usersim_utils.distinguish.C2STRow.to_json` rows. A comparison that cannot
    be made (fewer than two shared tasks, or ``n_boot`` below 2) is a row with null numbers
    and a note."""
    return [row.to_json() for row in distinguish.distinguish_all(
        human, sims, rng, n_boot=n_boot, n_refit=min(distinguish.N_REFIT, n_boot), strict=False)]


def predictive_rows(human: pd.DataFrame, sims: Mapping[str, pd.DataFrame], rng: np.random.Generator, *,
                    n_boot: int) -> list[dict[str, Any]]:
    """Per card (``sims``: features tables, ``human`` people's, on the held-out tasks): whether it
    succeeds on the same tasks as people (:func:`usersim_utils.inflation.outcome_agreement`:
    Cohen's kappa and F1 of the majority outcomes) and how well it covers their population
    (:func:`usersim_utils.inflation.population_coverage`: Chamfer distance relative to
    people's own, with a task-bootstrap interval). Rows ``{label, agreement, coverage}``."""
    return [{"label": label, "agreement": _json_numbers(inflation.outcome_agreement(human, sim)),
             "coverage": _json_numbers(inflation.population_coverage(human, sim, rng, n_boot=n_boot))}
            for label, sim in sims.items()]


def _json_numbers(values: Mapping[str, float]) -> dict[str, float | None]:
    return {k: int(v) if isinstance(v, int | np.integer) else _float(v) for k, v in values.items()}


def held_out_report(
    held_records: Mapping[str, Mapping[str, Any]],
    start: Played,
    chosen: Played,
    difficulty: Mapping[str, float],
    rng: np.random.Generator,
    *,
    tuning_usi: Mapping[str, float],
    search_cost_usd: float,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """The report (module docstring) as JSON-ready data; ``start`` and ``chosen`` played on the
    held-out tasks (the same label twice when the search kept the starting card)."""
    same = start.label == chosen.label
    scorer = Scorer(held_records, difficulty)
    played = [start] if same else [start, chosen]
    table = scorer.compare(played, rng, n_boot=n_boot)
    cards_json: dict[str, Any] = {}
    for p in played:
        rows = table[table["name"] == p.label].set_index("metric")
        cards_json[p.label] = {m: {k: _float(rows.loc[m, k]) for k in ("simulator", "ceiling", "gap", "low", "high")}
                               for m in METRICS if m in rows.index}
    if same:
        difference = {m: {"difference": 0.0, "low": 0.0, "high": 0.0, "resolved": False} for m in METRICS}
    else:
        mp = scorer.matched_arrays(played)
        result = matched_ranking.matched_bootstrap(mp, difficulty, rng, n_boot=n_boot)
        difference = {}
        for m in METRICS:
            d = matched_ranking.matched_differences(result, [(chosen.label, start.label)], metric=m).iloc[0]
            difference[m] = {"difference": _float(d["difference"]), "low": _float(d["low"]),
                             "high": _float(d["high"]), "resolved": bool(d["resolved"])}
    human_targets = targets.human_targets(held_records, rng)
    profiles = {p.label: targets.profile(p.eval_results, p.surveys, p.label) for p in played}
    features = feature_table(human_targets, profiles)
    inside = brought_inside(features, start.label, chosen.label)
    outcome = pd.concat([outcomes_table(held_records, label=HUMAN_LABEL),
                         *(outcomes_table(p.eval_results, label=p.label) for p in played)], ignore_index=True)
    success = success_gap(outcomes_with_difficulty(outcome, difficulty), rng, n_boot=n_boot)
    # these last, so that adding them left every other number of the report as it was
    sims = {p.label: features_table(p.eval_results, source="llm", label=p.label) for p in played}
    two_sample = two_sample_rows(scorer.human, sims, rng, n_boot=n_boot)
    predictive = predictive_rows(scorer.human, sims, rng, n_boot=n_boot)
    held_gain = difference["usi"]["difference"] or 0.0
    tuning_gain = tuning_usi[chosen.label] - tuning_usi[start.label]
    return {
        "held_out_tasks": sorted({k for p in played for k in p.eval_results}),
        "cards": cards_json,
        "difference": difference,
        "features": features.to_dict(orient="records"),
        "brought_inside": inside,
        "outside_at_start": [f for f, d in zip(features["feature"], features[f"{start.label}_direction"])
                             if d != "inside" and f != targets.POSITIVITY],
        "success_inflation": success.to_dict(orient="records"),
        "two_sample": two_sample,
        "predictive": predictive,
        "tuning_gain": tuning_gain,
        "held_out_gain": held_gain,
        "optimism": tuning_gain - held_gain,
        "cost_usd": {"search": search_cost_usd, "report": start.cost_usd + (0.0 if same else chosen.cost_usd)},
        "start": start.label,
        "chosen": chosen.label,
    }


def _n(x: float | None, fmt: str = "+.1f") -> str:
    return "n/a" if x is None or math.isnan(x) else format(x, fmt)


def two_sample_line(row: Mapping[str, Any]) -> str:
    """One row of the classifier two-sample test in words (its note when undefined)."""
    who = "people against people" if row["name"] == HUMAN_LABEL else f"{row['name']} against people"
    if row["auc"] is None:
        return f"  classifier two-sample test, {who}: undefined ({row.get('note', '')})"
    return (f"  classifier two-sample test, {who}: AUC {row['auc']:.2f} [{_n(row['low'], '.2f')}, "
            f"{_n(row['high'], '.2f')}], permutation p {_n(row['p_value'], '.2f')}, within 0.5 ± "
            f"{distinguish.EQUIVALENCE_MARGIN} (TOST): {'yes' if row['equivalent'] else 'not shown'}")


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """The report in a few lines of text (what the command prints)."""
    start, chosen = report["start"], report["chosen"]
    lines = [f"held-out report ({len(report['held_out_tasks'])} conversations): {start} -> {chosen}"]
    for label in dict.fromkeys([start, chosen]):
        u = report["cards"][label]["usi"]
        lines.append(f"  {label}: matched USI {_n(u['simulator'], '.1f')}, gap to people {_n(u['gap'])} "
                     f"[{_n(u['low'])}, {_n(u['high'])}]")
    d = report["difference"]["usi"]
    lines.append(f"  held-out gain {_n(d['difference'])} [{_n(d['low'])}, {_n(d['high'])}]; tuning gain "
                 f"{_n(report['tuning_gain'])}; optimism {_n(report['optimism'])}")
    lines.append(f"  features brought inside people's interval: {len(report['brought_inside'])} of "
                 f"{len(report['outside_at_start'])} outside at the start"
                 + (f" ({', '.join(report['brought_inside'])})" if report["brought_inside"] else ""))
    for row in report["success_inflation"]:
        lines.append(f"  success inflation {row['label']}: {_n(row['gap'], '+.2f')} "
                     f"[{_n(row['ci_low'], '+.2f')}, {_n(row['ci_high'], '+.2f')}]")
    for row in report["predictive"]:
        a, c = row["agreement"], row["coverage"]
        lines.append(f"  {row['label']}: outcomes task by task kappa {_n(a['kappa'], '.2f')}, F1 {_n(a['f1'], '.2f')} "
                     f"({a['n_tasks']} tasks); population coverage {_n(c['relative'], '.2f')} "
                     f"[{_n(c['low'], '.2f')}, {_n(c['high'], '.2f')}] (1: as far as people from each other)")
    for row in report["two_sample"]:
        lines.append(two_sample_line(row))
    cost = report["cost_usd"]
    lines.append(f"  cost: search {cost['search']:.2f} USD, report {cost['report']:.2f} USD")
    return lines
