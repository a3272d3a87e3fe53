"""Uncertainty around the User-Sim Index: bootstrap confidence intervals over tasks,
paired comparisons of simulators, ranking uncertainty, and a human ceiling that
does not hang on one split of the participants into batches.

None of this changes a reference number. Every statistic here is the statistic of
:mod:`usersim_utils.usi` evaluated with a weight per task; with every task weighted
once it *is* the reference value (the tests check 1e-9).

How it stays fast. Features are computed once (:func:`features.features_table`).
A :class:`Panel` turns each human batch and each (simulator, run) into per-task
arrays: the sum of each feature over the task's conversations that have features,
their number, whether the task is present, its success. A bootstrap resample of
tasks is then a vector of integer counts per task (the same vector for every
batch, every run, every simulator and the ECE maps), and a resampled feature row
is a weighted mean ``counts @ sums / counts @ n``: 1,000 resamples are a handful of
matrix products per (simulator, run, batch).

* ECE under resampling: per-bin means weighted by the same counts.
* Eval under resampling: the per-task agreements of :func:`usi.eval_agreements`
  weighted by the same counts. The agreements, and the reference generator's
  draws for missing simulator answers inside them, stay fixed: a resample changes
  which tasks count, not how a survey pair was scored.

Which interval. Dice of two noisy means and ECE (an absolute gap) are biased: noise
alone pulls Dice below 100 and ECE above 0, so the USI of a finite study sits below
its large-sample value, the more so the closer a simulator is to people. A
resample adds the same noise again, so the replicates sit about one bias *below*
the reference value. The textbook percentile interval then misses the estimate,
and BCa, whose bias correction extrapolates into the far tail of the replicates,
collapses. The ``centred`` interval shifts the percentile interval by the
bootstrap's bias estimate, so it is centred on the reference value: an interval
for the expected USI of a study of this design (same tasks count, sessions per
task, runs). On simulated panels it covers that value at about its nominal rate
where percentile and BCa cover it far less often (``tests/test_uncertainty.py``).
It is the default; percentile and BCa are offered beside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from . import ids, usi
from .errors import DataError
from .features import DIMENSIONS, FEATURES, ID_COLUMNS, UNSCALED_FEATURES

Method = Literal["centred", "percentile", "bca"]
METHODS: tuple[str, ...] = ("centred", "percentile", "bca")
Dimensions = Mapping[str, Sequence[str]]

#: Row scale of each feature, in FEATURES order (rates and info_frontload x 100).
_ROW_SCALE = np.array([1.0 if f in UNSCALED_FEATURES else 100.0 for f in FEATURES])
_FEATURE_POSITION = {f: i for i, f in enumerate(FEATURES)}
#: The six relabellings of batches (1, 2, 3) within a task; index 0 is the identity.
BATCH_RELABELLINGS: tuple[tuple[int, int, int], ...] = tuple(itertools.permutations(range(3)))
#: The reference batch pairs as 0-based batch positions.
_PAIR_POSITIONS: tuple[tuple[int, int], ...] = tuple((a - 1, b - 1) for a, b in usi.HUMAN_PAIRS)
PAIR_NAMES: tuple[str, ...] = tuple(f"{a}-{b}" for a, b in usi.HUMAN_PAIRS)
#: The human ceiling's name in results, as in :func:`usi.score_all`.
CEILING_LABEL = "human"


def metric_names(dimensions: Dimensions = DIMENSIONS) -> tuple[str, ...]:
    """The scored metrics: the dimension names, then ``eval_agree``, ``ece``, ``usi``."""
    return (*dimensions, "eval_agree", "ece", "usi")


def metric_range(metric: str) -> tuple[float, float]:
    """The values a metric can take: ECE in [0, 1], every other cell in [0, 100]."""
    return (0.0, 1.0) if metric == "ece" else (0.0, 100.0)


def _clip(interval: tuple[float, float], metric: str) -> tuple[float, float]:
    """A centred interval can step past the metric's range; it is cut back to it."""
    low, high = metric_range(metric)
    return float(np.clip(interval[0], low, high)), float(np.clip(interval[1], low, high))


# --- Per-task arrays. -------------------------------------------------------------------
@dataclass(frozen=True)
class RowArrays:
    """One set of conversations (a human batch or a simulator run) per task.

    ``present`` (T,) bool: the set has a kept conversation of the task;
    ``feature_sum`` (T, 19): sum of each feature (row scale) over the task's
    conversations with features; ``n_features`` (T,): their number.
    """

    present: np.ndarray
    feature_sum: np.ndarray
    n_features: np.ndarray


@dataclass(frozen=True)
class SuccessArrays:
    """``{task: success}`` of a set as arrays: ``present`` (T,) bool, ``success`` (T,)."""

    present: np.ndarray
    success: np.ndarray


@dataclass(frozen=True)
class AgreementArrays:
    """Per-task agreements: ``total`` and ``count``, shape (3, T) for a simulator
    (one row per human batch) or (T,) for the human re-rating ceiling."""

    total: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class SimulatorArrays:
    """A simulator's runs as per-task arrays.

    ``row_runs``: the runs of the behaviour rows (:func:`usi.row_runs`);
    ``ece_runs``: the runs of ECE (:func:`usi.ece_runs`); ``agreement``: Eval
    agreements per batch and task, ``None`` when the simulator has no surveys.
    """

    label: str
    row_runs: dict[str, RowArrays]
    ece_runs: dict[str, SuccessArrays]
    agreement: AgreementArrays | None


@dataclass(frozen=True)
class Panel:
    """Everything the index needs, as per-task arrays over ``tasks``.

    ``tasks``: the sorted task keys of the kept human sessions (a task outside them
    can match nothing). ``human_rows`` and ``human_success``: batches 1, 2, 3.
    """

    tasks: tuple[str, ...]
    human_rows: tuple[RowArrays, RowArrays, RowArrays]
    human_success: tuple[SuccessArrays, SuccessArrays, SuccessArrays]
    simulators: dict[str, SimulatorArrays]
    ceiling_agreement: AgreementArrays | None

    @property
    def labels(self) -> tuple[str, ...]:
        """The simulators' labels, in panel order."""
        return tuple(self.simulators)


def _row_arrays(rows: pd.DataFrame, ids_of_rows: Sequence[str], position: Mapping[str, int]) -> RowArrays:
    """Per-task arrays of kept ``rows`` whose matching ids are ``ids_of_rows``
    (ids that are not a task of the panel match no human session and are left out)."""
    n_tasks = len(position)
    pos = np.array([position.get(i, -1) for i in ids_of_rows], dtype=int)
    inside = pos >= 0
    has = rows["has_features"].to_numpy(dtype=bool) & inside
    values = rows[list(FEATURES)].to_numpy(dtype=float)[has] * _ROW_SCALE
    feature_sum = np.zeros((n_tasks, len(FEATURES)))
    np.add.at(feature_sum, pos[has], values)
    return RowArrays(
        present=np.bincount(pos[inside], minlength=n_tasks) > 0,
        feature_sum=feature_sum,
        n_features=np.bincount(pos[has], minlength=n_tasks).astype(float),
    )


def _success_arrays(success: Mapping[str, int], position: Mapping[str, int]) -> SuccessArrays:
    present = np.zeros(len(position), dtype=bool)
    values = np.zeros(len(position))
    for task, value in success.items():
        if task in position:
            present[position[task]] = True
            values[position[task]] = value
    return SuccessArrays(present, values)


def _agreement_arrays(agreements: pd.DataFrame, position: Mapping[str, int], label: str) -> AgreementArrays:
    """(3, T) totals and counts of ``batch``/``task_key``/``agreement`` rows."""
    total, count = np.zeros((3, len(position))), np.zeros((3, len(position)))
    for batch, task, value in zip(agreements["batch"], agreements["task_key"], agreements["agreement"]):
        if task not in position:
            raise DataError("agreement for a task without a kept human session",
                            file=label, record=str(task), field="task_key")
        total[int(batch) - 1, position[task]] += value
        count[int(batch) - 1, position[task]] += 1
    return AgreementArrays(total, count)


def simulator_arrays(
    label: str,
    sim: pd.DataFrame,
    position: Mapping[str, int],
    *,
    agreements: pd.DataFrame | None = None,
    run_split: usi.RunSplit = "reference",
) -> SimulatorArrays:
    """Per-task arrays of one simulator's features table (``key``, ``keep``,
    ``success``, ``has_features``, the 19 features); ``agreements`` as
    :func:`usi.eval_agreements` returns them, or ``None`` without surveys."""
    row_runs = {
        run: _row_arrays(table, list(table.index), position)
        for run, table in usi.row_runs(sim, run_split).items()
    }
    ece_runs = {run: _success_arrays(m, position) for run, m in usi.ece_runs(sim).items()}
    agreement = _agreement_arrays(agreements, position, label) if agreements is not None else None
    return SimulatorArrays(label, row_runs, ece_runs, agreement)


def build_panel(
    human: pd.DataFrame,
    simulators: Mapping[str, pd.DataFrame],
    *,
    agreements: Mapping[str, pd.DataFrame] | None = None,
    ceiling_agreements: pd.DataFrame | None = None,
    run_split: usi.RunSplit = "reference",
) -> Panel:
    """Precompute the per-task arrays of the human batches and every simulator.

    ``human`` and ``simulators`` are features tables (:func:`features.features_table`);
    ``agreements`` maps a label to :func:`usi.eval_agreements` (labels without an
    entry have no Eval); ``ceiling_agreements`` is :func:`usi.ceiling_agreements`.
    """
    missing = [c for c in ID_COLUMNS if c not in human.columns]
    if missing:
        raise DataError(f"not a features table: no column {missing[0]!r}", file="human")
    kept = human.loc[human["keep"]]
    tasks = tuple(sorted(set(kept["task_key"])))
    position = {t: i for i, t in enumerate(tasks)}
    human_rows, human_success = [], []
    for batch in usi.BATCHES:
        rows = kept.loc[kept["batch"] == batch]
        human_rows.append(_row_arrays(rows, list(rows["task_key"]), position))
        human_success.append(_success_arrays(dict(zip(rows["task_key"], rows["success"].astype(int))), position))
    agreements = agreements or {}
    sims = {
        label: simulator_arrays(label, table, position, agreements=agreements.get(label), run_split=run_split)
        for label, table in simulators.items()
    }
    ceiling = None
    if ceiling_agreements is not None and not ceiling_agreements.empty:
        total, count = np.zeros(len(tasks)), np.zeros(len(tasks))
        for task, value in zip(ceiling_agreements["task_key"], ceiling_agreements["agreement"]):
            if task not in position:
                raise DataError("re-rating of a task without a kept human session",
                                file="human-eval-100", record=str(task), field="task_key")
            total[position[task]] += value
            count[position[task]] += 1
        ceiling = AgreementArrays(total, count)
    return Panel(tasks, tuple(human_rows), tuple(human_success), sims, ceiling)


def difficulty_bins(
    panel: Panel, difficulty: Mapping[str, float], edges: Sequence[float] = usi.BIN_EDGES
) -> np.ndarray:
    """(T,) bin of each task as :func:`usi.difficulty_bin`; -1 for tasks without a difficulty."""
    values = np.array([difficulty.get(t, np.nan) for t in panel.tasks], dtype=float)
    # difficulty_bin = index of the first edge above the value = number of edges <= value.
    bins = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return np.where(np.isnan(values), -1, bins)


# --- Weighted scoring. ------------------------------------------------------------------
# A "part" is (weights (K, T), simulator): the simulator's conversations of each task
# count with that weight. One part is a resample; two parts with 0/1 weights that sum
# to one are a simulator whose tasks were swapped with another's (permutation test).
Part = tuple[np.ndarray, SimulatorArrays]


def _dice(human: np.ndarray, sim: np.ndarray) -> np.ndarray:
    """Element-wise :func:`usi.dice`."""
    h, m = np.abs(human), np.abs(sim)
    total = h + m
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 2.0 * np.minimum(h, m) / total
    return np.where(total == 0, 1.0, out)


def _dimension_columns(dimensions: Dimensions) -> list[np.ndarray]:
    return [np.array([_FEATURE_POSITION[f] for f in feats]) for feats in dimensions.values()]


def _dimension_scores(human_row: np.ndarray, sim_row: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    """(K, D): 100 x mean Dice of each dimension's features."""
    d = _dice(human_row, sim_row)
    return np.stack([100.0 * d[:, c].mean(axis=1) for c in columns], axis=1)


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (den broadcast over num's trailing axes)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _mean_defined(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` of the non-NaN values; NaN where none is defined."""
    defined = ~np.isnan(values)
    count = defined.sum(axis=axis)
    total = np.where(defined, values, 0.0).sum(axis=axis)
    return _safe_divide(total, count)


def _ece_terms(sim_success: np.ndarray, sim_present: np.ndarray, human: SuccessArrays,
               onehot: np.ndarray, in_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-task terms of ECE: ``(T, bins)`` signed success gaps in each task's bin,
    and ``(T,)`` 1 for the tasks ECE counts. ECE = Σ_bins |w @ gaps| / (w @ counted)."""
    counted = (sim_present & human.present & in_map).astype(float)
    gap = (sim_success - human.success) * counted
    return onehot * gap[:, None], counted


def _ece(parts_terms: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """(K,) ECE from ``(weights, gaps, counted)`` of every part; NaN without a counted task."""
    gaps = sum(w @ g for w, g, _ in parts_terms)
    n = sum(w @ c for w, _, c in parts_terms)
    return _safe_divide(np.abs(gaps).sum(axis=1), n)


def _eval_mean(parts: Sequence[Part]) -> np.ndarray | None:
    """(K,) Eval mean (mean over batches of the weighted batch means), ``None`` without surveys."""
    if parts[0][1].agreement is None:
        return None
    batch_means = []
    for b in range(3):
        total = sum(w @ s.agreement.total[b] for w, s in parts)
        count = sum(w @ s.agreement.count[b] for w, s in parts)
        batch_means.append(_safe_divide(total, count))
    return _mean_defined(np.stack(batch_means, axis=1), axis=1)


def _usi(dims: np.ndarray, ece: np.ndarray, eval_mean: np.ndarray | None) -> np.ndarray:
    """(K,) USI of :func:`usi.usi_value`: NaN where ECE (or Eval) is undefined."""
    terms = dims.sum(axis=1) + 100.0 * (1.0 - ece)
    n_terms = dims.shape[1] + 1
    if eval_mean is not None:
        terms, n_terms = terms + eval_mean, n_terms + 1
    return terms / n_terms


def _check_compatible(parts: Sequence[Part]) -> None:
    first = parts[0][1]
    for _, other in parts[1:]:
        if set(other.row_runs) != set(first.row_runs) or set(other.ece_runs) != set(first.ece_runs):
            raise ValueError(f"{first.label!r} and {other.label!r} have different runs; "
                             "their tasks cannot be swapped run for run")
        if (other.agreement is None) != (first.agreement is None):
            raise ValueError(f"only one of {first.label!r} and {other.label!r} has surveys (Eval)")


def score_parts(
    panel: Panel,
    parts: Sequence[Part],
    bins: np.ndarray,
    n_bins: int,
    dimensions: Dimensions = DIMENSIONS,
) -> np.ndarray:
    """(K, M) cells (mean over batches) of one simulator made of weighted ``parts``,
    metrics as :func:`metric_names`; NaN where a cell is undefined.

    Follows :func:`usi.score_batch`: a run counts in a batch when some of its
    shared tasks have features; the human row is over the union of the counted
    runs' shared tasks; the pooled row is the plain mean of the run rows.
    """
    _check_compatible(parts)
    columns = _dimension_columns(dimensions)
    human_weight = sum(w for w, _ in parts)
    onehot = (bins[:, None] == np.arange(n_bins)[None, :]).astype(float)
    in_map = bins >= 0
    eval_mean = _eval_mean(parts)
    dims_b, ece_b, usi_b = [], [], []
    for b in range(3):
        hrow, hsucc = panel.human_rows[b], panel.human_success[b]
        pooled_total = np.zeros((len(human_weight), len(FEATURES)))
        n_runs = np.zeros(len(human_weight))
        overlap = np.zeros(human_weight.shape, dtype=bool)
        for run in parts[0][1].row_runs:
            num = den = member = 0.0
            for w, sim in parts:
                arrays = sim.row_runs[run]
                shared = arrays.present & hrow.present
                num = num + w @ (arrays.feature_sum * shared[:, None])
                den = den + w @ (arrays.n_features * shared)
                member = member + w * shared
            counted = den > 0
            pooled_total += np.where(counted[:, None], _safe_divide(num, den[:, None]), 0.0)
            n_runs += counted
            overlap |= counted[:, None] & (member > 0)
        hw = np.where(overlap, human_weight, 0.0)
        human_row = _safe_divide(hw @ hrow.feature_sum, (hw @ hrow.n_features)[:, None])
        pooled = _safe_divide(pooled_total, n_runs[:, None])
        valid = ~np.isnan(human_row[:, 0]) & ~np.isnan(pooled[:, 0])
        dims = np.where(valid[:, None], _dimension_scores(human_row, pooled, columns), np.nan)
        run_eces = []
        for run in parts[0][1].ece_runs:
            terms = [(w, *_ece_terms(s.ece_runs[run].success, s.ece_runs[run].present, hsucc, onehot, in_map))
                     for w, s in parts]
            run_eces.append(_ece(terms))
        ece = _mean_defined(np.stack(run_eces, axis=1), axis=1) if run_eces else np.full(len(hw), np.nan)
        ece = np.where(valid, ece, np.nan)
        dims_b.append(dims)
        ece_b.append(ece)
        usi_b.append(_usi(dims, ece, eval_mean))
    eval_cell = eval_mean if eval_mean is not None else np.full(len(human_weight), np.nan)
    return np.column_stack([
        _mean_defined(np.stack(dims_b, axis=2), axis=2),
        eval_cell,
        _mean_defined(np.stack(ece_b, axis=1), axis=1),
        _mean_defined(np.stack(usi_b, axis=1), axis=1),
    ])


def score_weights(
    panel: Panel,
    weights: np.ndarray,
    difficulty: Mapping[str, float],
    *,
    labels: Sequence[str] | None = None,
    edges: Sequence[float] = usi.BIN_EDGES,
    dimensions: Dimensions = DIMENSIONS,
) -> np.ndarray:
    """(K, S, M) cells of each simulator with task weights ``weights`` (K, T).

    ``weights`` of ones give the reference values (:func:`usi.score_simulator`'s
    means); integer counts give a bootstrap resample. ``edges`` are the difficulty
    bin edges of :func:`usi.ece`; ``dimensions`` the feature groups of the index.
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    if weights.shape[1] != len(panel.tasks):
        raise ValueError(f"weights have {weights.shape[1]} tasks, the panel {len(panel.tasks)}")
    bins = difficulty_bins(panel, difficulty, edges)
    labels = list(labels) if labels is not None else list(panel.labels)
    return np.stack(
        [score_parts(panel, [(weights, panel.simulators[label])], bins, len(edges) + 1, dimensions)
         for label in labels],
        axis=1,
    )


def point_scores(
    panel: Panel,
    difficulty: Mapping[str, float],
    *,
    edges: Sequence[float] = usi.BIN_EDGES,
    dimensions: Dimensions = DIMENSIONS,
) -> pd.DataFrame:
    """The reference cells (means over batches) of every simulator: a row per
    label (index ``name``), a column per metric of :func:`metric_names`."""
    values = score_weights(panel, np.ones((1, len(panel.tasks))), difficulty, edges=edges, dimensions=dimensions)[0]
    return pd.DataFrame(values, index=pd.Index(panel.labels, name="name"), columns=list(metric_names(dimensions)))


# --- Generic bootstrap machinery. --------------------------------------------------------
def resample_counts(n_tasks: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_tasks) integer counts: each row draws ``n_tasks`` tasks with replacement."""
    return rng.multinomial(n_tasks, np.full(n_tasks, 1.0 / n_tasks), size=n_boot).astype(float)


def jackknife_weights(n_tasks: int) -> np.ndarray:
    """(n_tasks, n_tasks) weights leaving out one task per row (for BCa's acceleration)."""
    return 1.0 - np.eye(n_tasks)


def _defined(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the defined replicates; NaN when none is defined."""
    values = _defined(replicates)
    if values.size == 0:
        return np.nan, np.nan
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def centred_interval(replicates: np.ndarray, estimate: float, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval shifted by the bootstrap bias (mean replicate −
    ``estimate``), so that it is centred like the replicates around ``estimate``:
    an interval for the expected value of the statistic at the study's size."""
    values = _defined(replicates)
    if values.size == 0 or np.isnan(estimate):
        return np.nan, np.nan
    bias = values.mean() - estimate
    low, high = percentile_interval(values, level)
    return float(low - bias), float(high - bias)


def bca_interval(
    replicates: np.ndarray, estimate: float, jackknife: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """Bias-corrected and accelerated interval (Efron 1987).

    Bias correction z0 = Φ⁻¹(share of replicates below the estimate, ties counted
    half); acceleration from the leave-one-task-out values ``jackknife``:
    a = Σ(m − θ_i)³ / (6 (Σ(m − θ_i)²)^1.5), m their mean. NaN replicates and
    jackknife values are left out; all replicates equal -> (that value, that value).
    When nearly every replicate lies on one side of the estimate, z0 is large and
    the interval shrinks onto the extreme replicates: see the module notes.
    """
    values = _defined(replicates)
    if values.size == 0 or np.isnan(estimate):
        return np.nan, np.nan
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    share = (np.sum(values < estimate) + 0.5 * np.sum(values == estimate)) / values.size
    share = float(np.clip(share, 0.5 / values.size, 1.0 - 0.5 / values.size))
    z0 = stats.norm.ppf(share)
    jack = _defined(jackknife)
    spread = jack.mean() - jack if jack.size else np.zeros(1)
    denom = 6.0 * np.sum(spread**2) ** 1.5
    accel = float(np.sum(spread**3) / denom) if denom > 0 else 0.0
    alpha = (1.0 - level) / 2.0
    quantiles = []
    for z in (stats.norm.ppf(alpha), stats.norm.ppf(1.0 - alpha)):
        quantiles.append(stats.norm.cdf(z0 + (z0 + z) / (1.0 - accel * (z0 + z))))
    low, high = np.quantile(values, quantiles)
    return float(low), float(high)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")


def confidence_interval(
    estimate: float,
    replicates: np.ndarray,
    jackknife: np.ndarray | None = None,
    level: float = 0.95,
    method: Method = "centred",
) -> tuple[float, float]:
    """``(low, high)`` of one statistic from its bootstrap ``replicates`` by
    ``method``; ``jackknife`` (leave-one-out values) is needed for ``"bca"`` only."""
    _check_method(method)
    if method == "bca" and jackknife is None:
        raise ValueError("the bca interval needs the jackknife values")
    if method == "centred":
        return centred_interval(replicates, estimate, level)
    if method == "percentile":
        return percentile_interval(replicates, level)
    return bca_interval(replicates, estimate, jackknife, level)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval."""

    estimate: float
    low: float
    high: float


def bootstrap_interval(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    method: Method = "percentile",
) -> Interval:
    """Bootstrap interval of any statistic written over observation weights.

    ``statistic`` maps (K, n) weights to (K,) values, e.g. a mean
    ``lambda w: w @ x / w.sum(axis=1)``; weights of ones give the estimate.
    """
    _check_method(method)
    estimate = float(statistic(np.ones((1, n)))[0])
    replicates = statistic(resample_counts(n, n_boot, rng))
    jackknife = statistic(jackknife_weights(n)) if method == "bca" else np.empty(0)
    return Interval(estimate, *confidence_interval(estimate, replicates, jackknife, level, method))


# --- The leaderboard under resampling. ----------------------------------------------------
@dataclass(frozen=True)
class BootstrapResult:
    """Resampled cells of every simulator.

    ``estimate`` (S, M): the reference cells; ``replicates`` (B, S, M): the cells
    on each task resample; ``jackknife`` (T, S, M): leaving one task out.
    Axes follow ``labels`` and ``metrics``.
    """

    labels: tuple[str, ...]
    metrics: tuple[str, ...]
    estimate: np.ndarray
    replicates: np.ndarray
    jackknife: np.ndarray

    def values(self, label: str, metric: str = "usi") -> tuple[float, np.ndarray, np.ndarray]:
        """``(estimate, replicates, jackknife)`` of one cell."""
        s, m = self.labels.index(label), self.metrics.index(metric)
        return float(self.estimate[s, m]), self.replicates[:, s, m], self.jackknife[:, s, m]

    def centred_replicates(self) -> np.ndarray:
        """(B, S, M) replicates shifted so that each cell's mean is its estimate
        (each cell's bootstrap bias removed; see :func:`centred_interval`)."""
        defined = ~np.isnan(self.replicates)
        count = defined.sum(axis=0)
        total = np.where(defined, self.replicates, 0.0).sum(axis=0)
        bias = _safe_divide(total, count) - self.estimate
        return self.replicates - bias[None]


def bootstrap(
    panel: Panel,
    difficulty: Mapping[str, float],
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    labels: Sequence[str] | None = None,
    include_ceiling: bool = True,
    edges: Sequence[float] = usi.BIN_EDGES,
    dimensions: Dimensions = DIMENSIONS,
) -> BootstrapResult:
    """Resample the panel's tasks ``n_boot`` times (the same counts for every
    human batch, run, simulator, ECE map and Eval agreement) and score each resample.

    With ``include_ceiling`` the human ceiling (the mean of the three batch pairs,
    as :func:`usi.human_ceiling`) comes first, labelled ``"human"``, scored on the
    same resamples: the gap of a simulator to it is then a paired difference.
    Counts are drawn first from ``rng``, so a simulator's replicates do not depend
    on which other simulators are scored.
    """
    labels = tuple(labels) if labels is not None else panel.labels
    n_tasks = len(panel.tasks)
    counts = resample_counts(n_tasks, n_boot, rng)
    weights = np.vstack([np.ones((1, n_tasks)), counts, jackknife_weights(n_tasks)])
    scored = score_weights(panel, weights, difficulty, labels=labels, edges=edges, dimensions=dimensions)
    if include_ceiling:
        ceiling = ceiling_weights(panel, weights, difficulty, edges=edges, dimensions=dimensions)[:, -1]
        scored = np.concatenate([ceiling[:, None, :], scored], axis=1)
        labels = (CEILING_LABEL, *labels)
    return BootstrapResult(labels, metric_names(dimensions), scored[0], scored[1:n_boot + 1], scored[n_boot + 1:])


def intervals(result: BootstrapResult, *, level: float = 0.95, method: Method = "centred") -> pd.DataFrame:
    """A row per (simulator, metric): ``name``, ``metric``, ``estimate`` (the
    reference value), ``low``, ``high`` (within :func:`metric_range`), ``method``,
    ``level``, and two diagnostics:
    ``bias`` (mean replicate − estimate) and ``share_below`` (share of replicates
    below the estimate; far from 0.5 the percentile interval is off-centre and BCa
    extrapolates into the tail, see the module notes)."""
    rows = []
    for label in result.labels:
        for metric in result.metrics:
            estimate, reps, jack = result.values(label, metric)
            low, high = _clip(confidence_interval(estimate, reps, jack, level, method), metric)
            defined = _defined(reps)
            bias = float(defined.mean() - estimate) if defined.size else np.nan
            share = float(np.mean(defined < estimate)) if defined.size else np.nan
            rows.append((label, metric, estimate, low, high, method, level, bias, share))
    return pd.DataFrame(rows, columns=["name", "metric", "estimate", "low", "high", "method", "level",
                                       "bias", "share_below"])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each column per row, 1 = highest, ties share the best rank, NaN ranks last."""
    filled = np.where(np.isnan(values), -np.inf, values)
    return stats.rankdata(-filled, method="min", axis=-1)


def rank_summary(
    result: BootstrapResult, *, metric: str = "usi", level: float = 0.95, centred: bool = True
) -> pd.DataFrame:
    """Ranking uncertainty among the simulators (the human ceiling is left out): a
    row per simulator with ``name``, ``estimate``, ``rank`` (of the estimate),
    ``p_best`` (share of resamples where it is best; ties share the win, so the
    column sums to 1), ``mean_rank``, ``rank_low``, ``rank_high`` (percentile
    interval of its rank). Sorted by rank.

    With ``centred`` each simulator's replicates are first shifted by its own
    bootstrap bias (:meth:`BootstrapResult.centred_replicates`): the bias is larger
    for simulators closer to people, and would otherwise rank them too low.
    """
    m = result.metrics.index(metric)
    keep = [i for i, label in enumerate(result.labels) if label != CEILING_LABEL]
    labels = [result.labels[i] for i in keep]
    replicates = result.centred_replicates() if centred else result.replicates
    reps = replicates[:, keep, m]
    reps = reps[~np.all(np.isnan(reps), axis=1)]  # resamples where no simulator has a value rank nobody
    estimate = result.estimate[keep, m]
    table = pd.DataFrame({"name": labels, "estimate": estimate, "rank": _ranks(estimate[None, :])[0]})
    if len(reps) == 0:
        table[["p_best", "mean_rank", "rank_low", "rank_high"]] = np.nan
    else:
        best = np.where(np.isnan(reps), -np.inf, reps)
        winners = best == best.max(axis=1, keepdims=True)
        ranks = _ranks(reps)
        alpha = (1.0 - level) / 2.0
        table["p_best"] = (winners / winners.sum(axis=1, keepdims=True)).mean(axis=0)
        table["mean_rank"] = ranks.mean(axis=0)
        table["rank_low"] = np.quantile(ranks, alpha, axis=0, method="lower")
        table["rank_high"] = np.quantile(ranks, 1.0 - alpha, axis=0, method="higher")
    return table.sort_values(["rank", "name"], ignore_index=True)


@dataclass(frozen=True)
class Difference:
    """A paired comparison ``a − b`` on the same task resamples (``method`` as
    :func:`intervals`)."""

    a: str
    b: str
    metric: str
    estimate: float
    low: float
    high: float
    p_a_better: float  # share of resamples where a's value exceeds b's (centred with method "centred")
    method: str


def paired_difference(
    result: BootstrapResult, a: str, b: str, *, metric: str = "usi", level: float = 0.95,
    method: Method = "centred",
) -> Difference:
    """Bootstrap of ``metric(a) − metric(b)``: both simulators were scored on the
    same resampled tasks, so the interval accounts for what they share."""
    est_a, reps_a, jack_a = result.values(a, metric)
    est_b, reps_b, jack_b = result.values(b, metric)
    diff = _defined(reps_a - reps_b)
    estimate = est_a - est_b
    low, high = confidence_interval(estimate, diff, jack_a - jack_b, level, method)
    if method == "centred" and diff.size:
        diff = diff - (diff.mean() - estimate)
    p_better = float(np.mean(diff > 0)) if diff.size else np.nan
    return Difference(a, b, metric, estimate, low, high, p_better, method)


@dataclass(frozen=True)
class PermutationResult:
    """Permutation test of ``metric(a) − metric(b)``: ``observed``, two-sided
    ``p_value`` = (1 + #{|null| ≥ |observed|}) / (1 + n_perm), and the ``null`` draws."""

    a: str
    b: str
    metric: str
    observed: float
    p_value: float
    null: np.ndarray


def permutation_test(
    panel: Panel,
    difficulty: Mapping[str, float],
    a: str,
    b: str,
    rng: np.random.Generator,
    *,
    n_perm: int = 1000,
    metric: str = "usi",
    edges: Sequence[float] = usi.BIN_EDGES,
    dimensions: Dimensions = DIMENSIONS,
) -> PermutationResult:
    """Are ``a`` and ``b`` exchangeable? Under that null, swapping the two
    simulators' conversations (every run, ECE entry and survey) of a task changes
    nothing, so each permutation swaps a random half of the tasks and rescores.

    Both simulators need the same runs and both or neither need surveys
    (``ValueError`` otherwise). Difficulty stays fixed.
    """
    sim_a, sim_b = panel.simulators[a], panel.simulators[b]
    bins = difficulty_bins(panel, difficulty, edges)
    n_bins, m = len(edges) + 1, metric_names(dimensions).index(metric)
    n_tasks = len(panel.tasks)
    swap = rng.integers(0, 2, size=(n_perm, n_tasks)).astype(float)
    ones = np.ones((1, n_tasks))
    observed = (score_parts(panel, [(ones, sim_a)], bins, n_bins, dimensions)[0, m]
                - score_parts(panel, [(ones, sim_b)], bins, n_bins, dimensions)[0, m])
    as_a = score_parts(panel, [(1.0 - swap, sim_a), (swap, sim_b)], bins, n_bins, dimensions)[:, m]
    as_b = score_parts(panel, [(swap, sim_a), (1.0 - swap, sim_b)], bins, n_bins, dimensions)[:, m]
    null = as_a - as_b
    # A tiny tolerance so that draws equal to the observed value count as extreme.
    extreme = np.sum(np.abs(null[~np.isnan(null)]) >= abs(observed) - 1e-9)
    p_value = float((1 + extreme) / (1 + n_perm)) if not np.isnan(observed) else np.nan
    return PermutationResult(a, b, metric, float(observed), p_value, null)


# --- The human ceiling. ----------------------------------------------------------------------
def ceiling_weights(
    panel: Panel,
    weights: np.ndarray,
    difficulty: Mapping[str, float],
    *,
    relabelling: np.ndarray | None = None,
    edges: Sequence[float] = usi.BIN_EDGES,
    dimensions: Dimensions = DIMENSIONS,
) -> np.ndarray:
    """(K, 4, M) human-ceiling cells: the pairs 1-2, 1-3, 2-3, then their mean
    (the reference cell of :func:`usi.human_ceiling` with weights of ones).

    ``relabelling`` (K, T) picks, per resample and task, one of the six
    :data:`BATCH_RELABELLINGS`: which session of the task plays batch 1, 2 and 3.
    The batches are arbitrary groups of participants, so a relabelled ceiling
    shows how much the reference value hangs on that one grouping.
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    columns = _dimension_columns(dimensions)
    bins = difficulty_bins(panel, difficulty, edges)
    onehot = (bins[:, None] == np.arange(len(edges) + 1)[None, :]).astype(float)
    in_map = bins >= 0
    if relabelling is None:
        parts_of = {0: weights}
    else:
        parts_of = {q: weights * (relabelling == q) for q in range(len(BATCH_RELABELLINGS))}
    eval_mean = None
    if panel.ceiling_agreement is not None:
        eval_mean = _safe_divide(weights @ panel.ceiling_agreement.total, weights @ panel.ceiling_agreement.count)
    per_pair = []
    for j, k in _PAIR_POSITIONS:
        num_a = den_a = num_b = den_b = common_n = 0.0
        terms = []
        for q, w in parts_of.items():
            a, b = BATCH_RELABELLINGS[q][j], BATCH_RELABELLINGS[q][k]
            rows_a, rows_b = panel.human_rows[a], panel.human_rows[b]
            common = rows_a.present & rows_b.present
            num_a = num_a + w @ (rows_a.feature_sum * common[:, None])
            den_a = den_a + w @ (rows_a.n_features * common)
            num_b = num_b + w @ (rows_b.feature_sum * common[:, None])
            den_b = den_b + w @ (rows_b.n_features * common)
            common_n = common_n + w @ common
            # usi.ece(success_a, success_b) on the common tasks: batch a plays the simulator.
            terms.append((w, *_ece_terms(panel.human_success[a].success, common,
                                         panel.human_success[b], onehot, in_map)))
        row_a = _safe_divide(num_a, den_a[:, None])
        row_b = _safe_divide(num_b, den_b[:, None])
        valid = (common_n > 0) & ~np.isnan(row_a[:, 0]) & ~np.isnan(row_b[:, 0])
        dims = np.where(valid[:, None], _dimension_scores(row_a, row_b, columns), np.nan)
        ece = np.where(valid, _ece(terms), np.nan)
        usi_pair = _usi(dims, ece, eval_mean)
        eval_cell = eval_mean if eval_mean is not None else np.full(len(weights), np.nan)
        per_pair.append(np.column_stack([dims, eval_cell, ece, usi_pair]))
    pairs = np.stack(per_pair, axis=1)
    # The eval cell is the re-rating mean, not an average over pairs.
    mean = _mean_defined(pairs, axis=1)
    return np.concatenate([pairs, mean[:, None, :]], axis=1)


def human_ceiling_intervals(
    panel: Panel,
    difficulty: Mapping[str, float],
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    method: Method = "centred",
    edges: Sequence[float] = usi.BIN_EDGES,
    dimensions: Dimensions = DIMENSIONS,
) -> pd.DataFrame:
    """The human ceiling with intervals: a row per (``pair``, ``metric``) with
    ``estimate``, ``low``, ``high``.

    ``pair`` is ``1-2``, ``1-3``, ``2-3`` (tasks resampled), ``mean of pairs`` (the
    reference cell, tasks resampled) and ``relabelled`` (tasks resampled *and*
    each task's three sessions randomly reassigned to batches 1-3, then the mean
    of the pairs; its estimate is the mean over random relabellings of all tasks,
    so it does not hang on the study's one grouping of participants; its interval
    is the percentile interval of the resampled relabellings, centred on that
    estimate whatever ``method``, since BCa has no jackknife over relabellings).
    """
    n_tasks = len(panel.tasks)
    counts = resample_counts(n_tasks, n_boot, rng)
    relabelling = rng.integers(0, len(BATCH_RELABELLINGS), size=(n_boot, n_tasks))
    relabel_only = rng.integers(0, len(BATCH_RELABELLINGS), size=(n_boot, n_tasks))
    kwargs = {"edges": edges, "dimensions": dimensions}
    weights = np.vstack([np.ones((1, n_tasks)), counts, jackknife_weights(n_tasks)])
    fixed = ceiling_weights(panel, weights, difficulty, **kwargs)
    relabelled = ceiling_weights(panel, counts, difficulty, relabelling=relabelling, **kwargs)[:, -1]
    relabelled_estimate = ceiling_weights(panel, np.ones((n_boot, n_tasks)), difficulty,
                                          relabelling=relabel_only, **kwargs)[:, -1]
    metrics = metric_names(dimensions)
    rows = []
    for p, pair in enumerate((*PAIR_NAMES, "mean of pairs")):
        for m, metric in enumerate(metrics):
            estimate = float(fixed[0, p, m])
            low, high = _clip(confidence_interval(estimate, fixed[1:n_boot + 1, p, m], fixed[n_boot + 1:, p, m],
                                                  level, method), metric)
            rows.append((pair, metric, estimate, low, high))
    for m, metric in enumerate(metrics):
        estimate = float(_mean_defined(relabelled_estimate[:, m], axis=0))
        interval = _clip(centred_interval(relabelled[:, m], estimate, level), metric)
        rows.append(("relabelled", metric, estimate, *interval))
    return pd.DataFrame(rows, columns=["pair", "metric", "estimate", "low", "high"])


# --- Synthetic features tables (benchmarks and tests; never regex features). -----------------
#: A plausible human mean per feature, on the raw (not x100) scale.
SYNTHETIC_HUMAN_MEANS: dict[str, float] = {
    "politeness_rate": 0.15, "short_msg_rate": 0.29, "formality_rate": 0.03, "ack_only_rate": 0.12,
    "verbosity_cv": 0.6, "repeat_rate": 0.02, "id_confuse_rate": 0.05, "info_frontload": 0.45,
    "id_density": 1.5, "user_words_per_turn": 11.0, "opening_words": 14.0, "uncertainty_rate": 0.08,
    "certainty_rate": 0.04, "pushback_q_rate": 0.05, "clarify_q_rate": 0.06, "info_q_rate": 0.18,
    "emotion_rate": 0.05, "accusation_rate": 0.03, "pivot_rate": 0.08,
}
_FLAG_FEATURES = frozenset({"repeat_rate", "id_confuse_rate"})
_COUNT_FEATURES = frozenset({"opening_words"})


def _draw_features(rng: np.random.Generator, means: Mapping[str, float], n: int) -> dict[str, np.ndarray]:
    """``n`` conversations' features around ``means``: flags Bernoulli, counts
    Poisson, unscaled features Gamma(2), fractions Beta with concentration 5."""
    out = {}
    for f in FEATURES:
        mu = means[f]
        if f in _FLAG_FEATURES:
            out[f] = (rng.random(n) < mu).astype(float)
        elif f in _COUNT_FEATURES:
            out[f] = rng.poisson(mu, n).astype(float)
        elif f in UNSCALED_FEATURES:
            out[f] = rng.gamma(2.0, mu / 2.0, n)
        else:
            out[f] = rng.beta(mu * 5.0, (1.0 - mu) * 5.0, n)
    return out


def synthetic_table(
    rng: np.random.Generator,
    label: str,
    keys: Sequence[str],
    means: Mapping[str, float],
    success_probability: Mapping[str, float],
    *,
    source: Literal["human", "llm"] = "llm",
    missing_rate: float = 0.02,
    drop_rate: float = 0.0,
) -> pd.DataFrame:
    """A features table with random features (columns of :func:`features.features_table`).

    ``keys`` are instance ids; ``success_probability`` maps a task key to its
    success rate; ``missing_rate`` of the conversations have no features and
    ``drop_rate`` of them are not kept.
    """
    n = len(keys)
    feats = _draw_features(rng, means, n)
    has_features = rng.random(n) >= missing_rate
    task_keys = [ids.task_key(k) for k in keys]
    table = pd.DataFrame({
        "label": label,
        "source": source,
        "key": list(keys),
        "task_key": task_keys,
        "batch": [ids.split_batch(k)[1] if source == "human" else 0 for k in keys],
        "keep": rng.random(n) >= drop_rate,
        "success": (rng.random(n) < np.array([success_probability[t] for t in task_keys])).astype(int),
        "has_features": has_features,
        **{f: np.where(has_features, v, np.nan) for f, v in feats.items()},
        "n_turns": np.where(has_features, rng.integers(2, 30, n).astype(float), np.nan),
    })
    return table


def synthetic_tables(
    rng: np.random.Generator,
    *,
    n_simulators: int = 31,
    n_runs: int = 3,
    tasks: Sequence[str] | None = None,
    spread: float = 0.5,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """A full-size synthetic panel: human sessions (3 batches of ``tasks``, all 165
    study tasks by default) and ``n_simulators`` simulators of ``n_runs`` runs.

    Each simulator's feature means are the human ones times ``exp(spread · z)``,
    z standard normal per feature; its success rate is the task's plus a
    simulator bias. Keys follow the study: ``x``, ``x_ann2``, ``x_ann3`` and ``x_<run>``.
    """
    tasks = list(tasks) if tasks is not None else ids.parse_task_spec("all")
    task_success = dict(zip(tasks, rng.beta(2.0, 2.0, len(tasks))))
    human_keys = [f"{t}{suffix}" for suffix in ("", "_ann2", "_ann3") for t in tasks]
    human = synthetic_table(rng, "human", human_keys, SYNTHETIC_HUMAN_MEANS, task_success,
                            source="human", drop_rate=0.03)
    sims = {}
    for i in range(n_simulators):
        label = f"sim-{i:02d}"
        means = {}
        for f, mu in SYNTHETIC_HUMAN_MEANS.items():
            value = mu * float(np.exp(spread * rng.standard_normal()))
            bounded = f not in UNSCALED_FEATURES
            means[f] = min(value, 0.95) if bounded else value
        bias = 0.15 * rng.standard_normal()
        success = {t: float(np.clip(p + bias, 0.0, 1.0)) for t, p in task_success.items()}
        keys = tasks if n_runs == 1 else [f"{t}_{r}" for r in range(1, n_runs + 1) for t in tasks]
        sims[label] = synthetic_table(rng, label, keys, means, success)
    return human, sims
