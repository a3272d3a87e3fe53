"""The human ceiling with weights and relabellings: the batch pairs 1-2, 1-3, 2-3 and
their mean (the reference cell of :func:`usersim_utils.usi.human_ceiling`), on task
resamples and with each task's three sessions reassigned to batches at random, so that
its interval does not hang on the study's one grouping of participants.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import usi
from ..features import DIMENSIONS
from ..stats import Method, centred_interval, confidence_interval, jackknife_weights, resample_counts
from .arrays import Dimensions, TaskArrays, clip_to_range, difficulty_bins, metric_names
from .weighted import (
    dimension_columns,
    dimension_scores,
    ece_terms,
    mean_defined,
    safe_divide,
    weighted_ece,
    weighted_usi,
)

#: The six relabellings of batches (1, 2, 3) within a task; index 0 is the identity.
BATCH_RELABELLINGS: tuple[tuple[int, int, int], ...] = tuple(itertools.permutations(range(3)))
#: The reference batch pairs as 0-based batch positions.
PAIR_POSITIONS: tuple[tuple[int, int], ...] = tuple((a - 1, b - 1) for a, b in usi.HUMAN_PAIRS)
PAIR_NAMES: tuple[str, ...] = tuple(f"{a}-{b}" for a, b in usi.HUMAN_PAIRS)


def ceiling_weights(
    panel: TaskArrays,
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
    columns = dimension_columns(dimensions)
    bins = difficulty_bins(panel, difficulty, edges)
    onehot = (bins[:, None] == np.arange(len(edges) + 1)[None, :]).astype(float)
    in_map = bins >= 0
    if relabelling is None:
        parts_of = {0: weights}
    else:
        parts_of = {q: weights * (relabelling == q) for q in range(len(BATCH_RELABELLINGS))}
    eval_mean = None
    if panel.ceiling_agreement is not None:
        eval_mean = safe_divide(weights @ panel.ceiling_agreement.total, weights @ panel.ceiling_agreement.count)
    per_pair = []
    for j, k in PAIR_POSITIONS:
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
            terms.append((w, *ece_terms(panel.human_success[a].success, common,
                                         panel.human_success[b], onehot, in_map)))
        row_a = safe_divide(num_a, den_a[:, None])
        row_b = safe_divide(num_b, den_b[:, None])
        valid = (common_n > 0) & ~np.isnan(row_a[:, 0]) & ~np.isnan(row_b[:, 0])
        dims = np.where(valid[:, None], dimension_scores(row_a, row_b, columns), np.nan)
        ece = np.where(valid, weighted_ece(terms), np.nan)
        usi_pair = weighted_usi(dims, ece, eval_mean)
        eval_cell = eval_mean if eval_mean is not None else np.full(len(weights), np.nan)
        per_pair.append(np.column_stack([dims, eval_cell, ece, usi_pair]))
    pairs = np.stack(per_pair, axis=1)
    # The eval cell is the re-rating mean, not an average over pairs.
    mean = mean_defined(pairs, axis=1)
    return np.concatenate([pairs, mean[:, None, :]], axis=1)


def human_ceiling_intervals(
    panel: TaskArrays,
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
            low, high = clip_to_range(confidence_interval(estimate, fixed[1:n_boot + 1, p, m], fixed[n_boot + 1:, p, m],
                                                  level, method), metric)
            rows.append((pair, metric, estimate, low, high))
    for m, metric in enumerate(metrics):
        estimate = float(mean_defined(relabelled_estimate[:, m], axis=0))
        interval = clip_to_range(centred_interval(relabelled[:, m], estimate, level), metric)
        rows.append(("relabelled", metric, estimate, *interval))
    return pd.DataFrame(rows, columns=["pair", "metric", "estimate", "low", "high"])
