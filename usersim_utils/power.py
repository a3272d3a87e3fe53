"""Power: how large a difference between two simulators this study can resolve at all.

A reviewer's first question about a leaderboard is whether its neighbours differ. The
answer depends on the design (how many tasks, how many runs per simulator) and on the
study's own variance, which this module reads off the study by resampling it.

* **The spread of a paired difference.** Two simulators are scored on the same tasks, so
  their difference is paired. For a design of ``tasks`` tasks and ``runs`` runs, every
  simulator keeps its first ``runs`` runs (simulators with fewer are left out of that
  design) and the study's tasks are drawn ``tasks`` times with replacement (the same
  draws for every simulator, as in :func:`usersim_utils.uncertainty.bootstrap`); the
  standard deviation over draws of ``metric(a) − metric(b)`` is that pair's ``sd``. A row
  reports the median over every pair of simulators (``pairs`` of them): the spread of a
  typical comparison. The study's tasks stand in for the population of tasks, and the
  difficulty map stays fixed.
* **Minimum detectable difference.** A two-sided test at level α of a difference whose
  estimate is normal with that ``sd`` rejects with probability ``power`` when the true
  difference is ``mde = (z_{1−α/2} + z_{power}) · sd`` (2.80 · sd at α = 0.05 and 80 %).
  ``power_at`` is the power at a chosen ``difference`` (USI points; ECE in hundredths of
  its 0-1 range), and ``tasks_needed`` the task count at which that difference reaches
  80 % power with the row's runs, from ``sd ∝ 1/√tasks`` at the study's task count.
* **USI depends on the number of tasks.** Noise pulls Dice below 100, more so with fewer
  tasks, so the same true shift between two simulators costs fewer USI points in a smaller
  study. ``typical_difference``, the median over pairs of the mean |difference| under the
  design's draws, shows it: compare a subset's differences only with differences of the
  same size of study.

Validated by simulation (``tests/test_power.py``): across independent studies drawn from
one process (1 and 3 runs, 0-15 % of human sessions not kept, rows with many zeros) the
spread of the observed difference matches the ``sd`` estimated from one study. What it
leaves out: the uncertainty of ``sd`` itself (a few hundred draws, one study), and
differences with the human ceiling (whose batches are people's, not runs).

Command line (``usersim-power``)::

    python -m usersim_utils.power --human PATH --eval-results FILE [FILE ...] --difficulty MODE --json OUT
        [--survey-dir DIR] [--tasks 40,80,165] [--runs 1,3] [--difference D] [--n-boot B] [--seed S]

The study's own design (its task count, its largest run count) is always a row. Rows:
``{metric, tasks, runs, study_design, pairs, sd, mde, difference, power_at, tasks_needed,
typical_difference}``. Bad input: one ``error:`` line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from . import baselines, command_line, data, scoring, stats, usi
from . import uncertainty as unc
from .atomic import write_output
from .features import DIMENSIONS, FEATURES
from .matched_design import MatchedArrays, feature_dice_weights
from .rollout.comparability import protocol_cards

#: Level of the two-sided test and the power a minimum detectable difference is defined by.
ALPHA = 0.05
POWER = 0.80
#: Task counts shown beside the study's own by default (the paper's subsets are of this size).
DEFAULT_TASKS = (40, 80)
DEFAULT_RUNS = (1, 3)
#: The difference ``power_at`` is computed for: USI points (ECE: hundredths of its range).
DEFAULT_DIFFERENCE = 1.0
#: Task draws per design: the ``sd`` of a pair is then within about 5 % of its limit.
N_DRAWS = 200
ROW_KEYS = ("metric", "tasks", "runs", "study_design", "pairs", "sd", "mde", "difference", "power_at",
            "tasks_needed", "typical_difference")


# --- The normal approximation. -------------------------------------------------------------------
def detectable_difference(sd: float, *, alpha: float = ALPHA, power: float = POWER) -> float:
    """The true difference a two-sided level-``alpha`` test of an estimate with
    standard deviation ``sd`` detects with probability ``power``."""
    z = NormalDist()
    return (z.inv_cdf(1.0 - alpha / 2.0) + z.inv_cdf(power)) * sd


def power_at(difference: float, sd: float, *, alpha: float = ALPHA) -> float:
    """Probability that the two-sided level-``alpha`` test rejects when the true
    difference is ``difference`` and its estimate is normal with ``sd``."""
    if not sd > 0:
        return math.nan
    z = NormalDist()
    crit = z.inv_cdf(1.0 - alpha / 2.0)
    return z.cdf(difference / sd - crit) + z.cdf(-difference / sd - crit)


def tasks_needed(difference: float, sd: float, tasks: int, *, alpha: float = ALPHA, power: float = POWER) -> int:
    """Tasks at which ``difference`` reaches ``power``, given ``sd`` at ``tasks`` tasks
    and ``sd ∝ 1/√tasks``."""
    if not (sd > 0 and difference > 0):
        return -1
    return math.ceil(tasks * (detectable_difference(sd, alpha=alpha, power=power) / difference) ** 2)


# --- Designs drawn from the study. ---------------------------------------------------------------
def with_runs(panel: unc.TaskArrays, runs: int) -> unc.TaskArrays:
    """The panel with every simulator cut to its first ``runs`` runs (behaviour rows and
    ECE alike); simulators with fewer runs are left out."""
    kept = {}
    for label, sim in panel.simulators.items():
        if len(sim.row_runs) < runs or len(sim.ece_runs) < runs:
            continue
        row_runs = {r: sim.row_runs[r] for r in sorted(sim.row_runs)[:runs]}
        ece_runs = {r: sim.ece_runs[r] for r in sorted(sim.ece_runs)[:runs]}
        kept[label] = replace(sim, row_runs=row_runs, ece_runs=ece_runs)
    return replace(panel, simulators=kept)


def design_draws(n_study_tasks: int, tasks: int, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """(n_draws, n_study_tasks) counts: each row draws ``tasks`` of the study's tasks
    with replacement."""
    return rng.multinomial(tasks, np.full(n_study_tasks, 1.0 / n_study_tasks), size=n_draws).astype(float)


def pair_differences(scores: np.ndarray) -> np.ndarray:
    """(K, P, M) differences ``a − b`` of every pair a < b of (K, S, M) ``scores``."""
    first, second = np.triu_indices(scores.shape[1], k=1)
    return scores[:, first, :] - scores[:, second, :]


def _nan_median(values: np.ndarray) -> float:
    """Median of the defined values; NaN when none is."""
    defined = values[~np.isnan(values)]
    return float(np.median(defined)) if defined.size else math.nan


@dataclass(frozen=True)
class PowerRow:
    """One design and metric (see the module docstring for each field)."""

    metric: str
    tasks: int
    runs: int
    study_design: bool
    pairs: int
    sd: float
    mde: float
    difference: float
    power_at: float
    tasks_needed: int
    typical_difference: float


def metric_difference(metric: str, difference: float) -> float:
    """``difference`` in a metric's unit: as given on 0-100 cells, over 100 for ECE."""
    return difference / 100.0 if unc.metric_range(metric)[1] == 1.0 else difference


def pair_spreads(
    panel: unc.TaskArrays,
    difficulty: Mapping[str, float],
    tasks: int,
    rng: np.random.Generator,
    *,
    n_draws: int = N_DRAWS,
    dimensions: unc.Dimensions = DIMENSIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """``(sd, typical)``, each (P, M) over the pairs a < b of ``panel``'s simulators (in
    label order) and the metrics: the standard deviation and the mean |value| of
    ``metric(a) − metric(b)`` over ``n_draws`` draws of ``tasks`` tasks (NaN where
    fewer than two draws define it)."""
    draws = design_draws(len(panel.tasks), tasks, n_draws, rng)
    # an all-NaN slice (a metric undefined in every draw) is expected here: it becomes NaN, not a warning
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        diffs = pair_differences(unc.score_weights(panel, draws, difficulty, dimensions=dimensions))
        defined = (~np.isnan(diffs)).sum(axis=0)
        spread = np.where(defined >= 2, np.nanstd(diffs, axis=0, ddof=1), np.nan)
        typical = np.where(defined >= 1, np.abs(np.nanmean(diffs, axis=0)), np.nan)
    return spread, typical


def design_rows(
    panel: unc.TaskArrays,
    difficulty: Mapping[str, float],
    tasks: int,
    runs: int,
    rng: np.random.Generator,
    *,
    study_design: bool = False,
    n_draws: int = N_DRAWS,
    difference: float = DEFAULT_DIFFERENCE,
    alpha: float = ALPHA,
    power: float = POWER,
    dimensions: unc.Dimensions = DIMENSIONS,
) -> list[PowerRow]:
    """A :class:`PowerRow` per metric for one design; none when fewer than two
    simulators have ``runs`` runs."""
    cut = with_runs(panel, runs)
    if len(cut.simulators) < 2:
        return []
    spread, typical = pair_spreads(cut, difficulty, tasks, rng, n_draws=n_draws, dimensions=dimensions)
    rows = []
    for m, metric in enumerate(unc.metric_names(dimensions)):
        sd = _nan_median(spread[:, m])
        wanted = metric_difference(metric, difference)
        rows.append(PowerRow(
            metric, tasks, runs, study_design, spread.shape[0], sd,
            detectable_difference(sd, alpha=alpha, power=power), wanted, power_at(wanted, sd, alpha=alpha),
            tasks_needed(wanted, sd, tasks, alpha=alpha, power=power), _nan_median(typical[:, m]),
        ))
    return rows


def study_design(panel: unc.TaskArrays) -> tuple[int, int]:
    """``(tasks, runs)`` of the study: its task count and its simulators' largest run count."""
    runs = max((min(len(s.row_runs), len(s.ece_runs)) for s in panel.simulators.values()), default=0)
    return len(panel.tasks), runs


def power_table(
    panel: unc.TaskArrays,
    difficulty: Mapping[str, float],
    rng: np.random.Generator,
    *,
    tasks: Sequence[int] = DEFAULT_TASKS,
    runs: Sequence[int] = DEFAULT_RUNS,
    n_draws: int = N_DRAWS,
    difference: float = DEFAULT_DIFFERENCE,
    alpha: float = ALPHA,
    power: float = POWER,
    dimensions: unc.Dimensions = DIMENSIONS,
) -> pd.DataFrame:
    """Rows of :data:`ROW_KEYS` for every design of ``tasks`` and the study's task count x
    ``runs`` and the study's run count (:func:`study_design`), by task count then runs.
    Designs with fewer than two simulators of that many runs have no row. Draws come from
    ``rng`` design by design in that order."""
    if len(panel.simulators) < 2:
        raise ValueError("power compares simulators: it needs at least two")
    if any(t < 1 for t in tasks) or any(r < 1 for r in runs):
        raise ValueError("every task count and run count must be at least 1")
    own = study_design(panel)
    designs = sorted((t, r) for t in {*tasks, own[0]} for r in {*runs, own[1]})
    rows = []
    for n_tasks, n_runs in designs:
        rows += design_rows(panel, difficulty, n_tasks, n_runs, rng, study_design=(n_tasks, n_runs) == own,
                            n_draws=n_draws, difference=difference, alpha=alpha, power=power,
                            dimensions=dimensions)
    return pd.DataFrame([asdict(r) for r in rows], columns=list(ROW_KEYS))


def neighbour_differences(board: pd.DataFrame, sd: float, *, metric: str = "usi", alpha: float = ALPHA,
                          power: float = POWER) -> pd.DataFrame:
    """Each pair of neighbours in ``board`` (``name`` and ``metric`` columns; e.g.
    :func:`usersim_utils.published.published_table` without its human row), ranked by
    ``metric``: ``a``, ``b``, ``difference`` (a − b ≥ 0), ``resolved`` (a level-``alpha``
    test with spread ``sd`` rejects "no difference") and ``detectable`` (the difference
    is at least the minimum detectable one, :func:`detectable_difference`)."""
    ranked = board.dropna(subset=[metric]).sort_values(metric, ascending=False, kind="stable")
    names, values = list(ranked["name"]), ranked[metric].to_numpy(dtype=float)
    crit = NormalDist().inv_cdf(1.0 - alpha / 2.0) * sd
    mde = detectable_difference(sd, alpha=alpha, power=power)
    rows = [(a, b, d, bool(d > crit), bool(d >= mde))
            for a, b, d in zip(names, names[1:], values[:-1] - values[1:])]
    return pd.DataFrame(rows, columns=["a", "b", "difference", "resolved", "detectable"])


# --- What each feature, and Eval, can measure. -----------------------------------------------------
FEATURE_DICE_COLUMNS = ("name", "runs", "dimension", "feature", "dice", "low", "high")


def feature_dice_intervals(
    matched: MatchedArrays,
    rng: np.random.Generator,
    *,
    n_boot: int = N_DRAWS,
    level: float = 0.95,
    dimensions: unc.Dimensions = DIMENSIONS,
) -> pd.DataFrame:
    """Per-feature matched Dice (:func:`usersim_utils.matched_design.feature_dice_weights`) of the
    human ceiling (``name`` ``"human"``, ``runs`` 0) and every simulator, with centred
    intervals over ``n_boot`` task resamples (the same for every row).

    The ceiling's row is each feature's **reliability**: two batches of the same people score
    it that far below 100, so no simulator can be told from people on it by more than that
    noise, and a feature whose ceiling interval reaches far down cannot be measured by this
    study. Columns: :data:`FEATURE_DICE_COLUMNS`."""
    n_tasks = len(matched.task_arrays.tasks)
    weights = np.vstack([np.ones((1, n_tasks)), stats.resample_counts(n_tasks, n_boot, rng)])
    names, dices, _, _ = feature_dice_weights(matched, weights)
    position = {f: i for i, f in enumerate(FEATURES)}
    rows = []
    for s, name in enumerate(names):
        runs = 0 if s == 0 else matched.runs(name)
        for dimension, feats in dimensions.items():
            for feature in feats:
                i = position[feature]
                estimate = float(dices[0, s, i])
                low, high = stats.confidence_interval(estimate, dices[1:, s, i], None, level, "centred")
                rows.append((name, runs, dimension, feature, estimate, min(low, 100.0), min(high, 100.0)))
    return pd.DataFrame(rows, columns=list(FEATURE_DICE_COLUMNS))


def eval_seed_spread(
    human_records: Mapping[str, Mapping[str, Any]],
    surveys: Mapping[str, Mapping[str, Any]],
    *,
    seeds: Sequence[int] = tuple(range(100)),
) -> dict[str, float]:
    """The Monte Carlo error of Eval: a simulator's missing survey answers are replaced by
    draws of a generator seeded 42 in the reference (docs/method.md §7). Rescored under each
    of ``seeds``: ``reference`` (seed 42), ``mean``, ``sd`` over seeds, ``low``/``high``
    (their range) and ``n_seeds``. An sd of 0 means no answer was missing."""
    values = []
    for seed in seeds:
        cell = usi.eval_cell(usi.eval_agreements(human_records, surveys, seed=seed))
        values.append(cell[0] if cell else math.nan)
    reference = usi.eval_cell(usi.eval_agreements(human_records, surveys))
    defined = np.array([v for v in values if not math.isnan(v)])
    if defined.size == 0:
        return {"reference": math.nan, "mean": math.nan, "sd": math.nan, "low": math.nan, "high": math.nan,
                "n_seeds": len(seeds)}
    return {"reference": reference[0] if reference else math.nan, "mean": float(defined.mean()),
            "sd": float(defined.std(ddof=1)) if defined.size > 1 else 0.0, "low": float(defined.min()),
            "high": float(defined.max()), "n_seeds": len(seeds)}


# --- Command line. ---------------------------------------------------------------------------------
def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, not {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, not {text!r}")
    return values


def rows_json(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON values: NaN as ``None``, ``tasks_needed`` −1 (no answer) as ``None``."""
    out = []
    for record in table.to_dict(orient="records"):
        row: dict[str, Any] = {}
        for key, value in record.items():
            if isinstance(value, str):
                row[key] = value
            elif isinstance(value, (bool, np.bool_)):
                row[key] = bool(value)
            elif isinstance(value, (int, np.integer)):
                row[key] = None if key == "tasks_needed" and value < 0 else int(value)
            else:
                row[key] = None if math.isnan(value) else float(value)
        out.append(row)
    return out


def format_table(table: pd.DataFrame, metric: str = "usi") -> str:
    """A plain-text view of one metric's rows."""
    lines = [f"{'tasks':>5} {'runs':>4} {'pairs':>5} {'sd':>6} {'mde':>6} {'power at':>9} {'tasks needed':>12}"]
    for r in table[table["metric"] == metric].itertuples(index=False):
        mark = " (the study)" if r.study_design else ""
        needed = "-" if r.tasks_needed < 0 else str(r.tasks_needed)
        lines.append(f"{r.tasks:>5} {r.runs:>4} {r.pairs:>5} {r.sd:>6.2f} {r.mde:>6.2f} {r.power_at:>9.0%} "
                     f"{needed:>12}{mark}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``usersim-power``."""
    demo = command_line.DEMO_PANEL
    p = command_line.command_parser(
        "usersim-power",
        "The smallest difference between two simulators the study resolves, design by design. "
        "Also run as python -m usersim_utils.power.",
        f"usersim-power --human {demo} --eval-results {demo}/eval_results/*.json --tasks 40,80 --runs 1,3 "
        "--json power.json",
    )
    data.add_study_arguments(p)
    p.add_argument("--tasks", type=_int_list, default=list(DEFAULT_TASKS),
                   help=f"task counts, comma-separated (default: {_comma(DEFAULT_TASKS)}; the study's own is "
                        "always added)")
    p.add_argument("--runs", type=_int_list, default=list(DEFAULT_RUNS),
                   help=f"run counts, comma-separated (default: {_comma(DEFAULT_RUNS)})")
    p.add_argument("--difference", type=float, default=DEFAULT_DIFFERENCE,
                   help="the difference power_at and tasks_needed are for, in USI points")
    p.add_argument("--n-boot", type=int, default=N_DRAWS, help="task draws per design")
    return p


def _comma(values: Sequence[int]) -> str:
    """``40,80``: counts as ``--tasks`` and ``--runs`` take them."""
    return ",".join(map(str, values))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.n_boot < 2:
            raise ValueError(f"--n-boot must be at least 2, not {args.n_boot}")
        if not args.difference > 0:
            raise ValueError(f"--difference must be positive, not {args.difference}")
        json_out = data.check_output_path(args.json_out) if args.json_out is not None else None  # before any work
        mode, default_note = scoring.difficulty_mode(args.difficulty, protocol_cards(args.eval_results))
        inputs = baselines.load(args.human, args.eval_results, survey_dir=args.survey_dir, domain=args.domain)
        choice = scoring.resolve_difficulty(mode, inputs.simulators, domain=args.domain)
        table = power_table(inputs.matched.task_arrays, choice.map, np.random.default_rng(args.seed), tasks=args.tasks,
                            runs=args.runs, n_draws=args.n_boot, difference=args.difference)
        if json_out is not None:
            write_output(json_out, json.dumps(rows_json(table), indent=2) + "\n")
    except (*data.BAD_INPUT, OSError) as err:
        return data.report_bad_input(err)
    for note in (default_note, choice.note):
        if note:
            print(f"note: {note}", file=sys.stderr)
    print(format_table(table))
    return 0


if __name__ == "__main__":  # python -m usersim_utils.power
    raise SystemExit(main())
