"""The leaderboard under resampling: every simulator (and the human ceiling) scored on
the same task resamples, intervals by the method of :func:`usersim_utils.stats.confidence_interval`,
ranking uncertainty, paired differences and a permutation test of two simulators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .. import schema, usi
from ..features import DIMENSIONS
from ..stats import Method, confidence_interval, jackknife_weights, resample_counts, without_nan
from .arrays import Dimensions, TaskArrays, clip_to_range, difficulty_bins, metric_names
from .ceiling import ceiling_weights
from .weighted import safe_divide, score_parts, score_weights

#: The human ceiling's name in results, as in :func:`usi.score_all`.
CEILING_LABEL = schema.HUMAN_LABEL


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
        bias = safe_divide(total, count) - self.estimate
        return self.replicates - bias[None]


def bootstrap(
    panel: TaskArrays,
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
    extrapolates into the tail, see :mod:`usersim_utils.uncertainty`)."""
    rows = []
    for label in result.labels:
        for metric in result.metrics:
            estimate, reps, jack = result.values(label, metric)
            low, high = clip_to_range(confidence_interval(estimate, reps, jack, level, method), metric)
            defined = without_nan(reps)
            bias = float(defined.mean() - estimate) if defined.size else np.nan
            share = float(np.mean(defined < estimate)) if defined.size else np.nan
            rows.append((label, metric, estimate, low, high, method, level, bias, share))
    return pd.DataFrame(rows, columns=["name", "metric", "estimate", "low", "high", "method", "level",
                                       "bias", "share_below"])


def rank_columns(values: np.ndarray) -> np.ndarray:
    """Rank of each column per row, 1 = highest, ties share the best rank, NaN ranks last."""
    filled = np.where(np.isnan(values), -np.inf, values)
    return scipy_stats.rankdata(-filled, method="min", axis=-1)


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
    table = pd.DataFrame({"name": labels, "estimate": estimate, "rank": rank_columns(estimate[None, :])[0]})
    if len(reps) == 0:
        table[["p_best", "mean_rank", "rank_low", "rank_high"]] = np.nan
    else:
        best = np.where(np.isnan(reps), -np.inf, reps)
        winners = best == best.max(axis=1, keepdims=True)
        ranks = rank_columns(reps)
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
    diff = without_nan(reps_a - reps_b)
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
    panel: TaskArrays,
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
