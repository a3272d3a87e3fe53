"""The index with a weight per task: every statistic of :mod:`usersim_utils.usi`
evaluated on :class:`.arrays.TaskArrays` with task weights (K, T). Weights of ones give
the reference values (the tests check 1e-9); integer counts give a bootstrap resample.

A "part" is (weights (K, T), simulator): the simulator's conversations of each task
count with that weight. One part is a resample; two parts with 0/1 weights that sum
to one are a simulator whose tasks were swapped with another's (permutation test).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import usi
from ..features import DIMENSIONS, FEATURES
from .arrays import (
    FEATURE_POSITION,
    Dimensions,
    SimulatorArrays,
    SuccessArrays,
    TaskArrays,
    difficulty_bins,
    metric_names,
)

Part = tuple[np.ndarray, SimulatorArrays]


def dice(human: np.ndarray, sim: np.ndarray) -> np.ndarray:
    """Element-wise :func:`usi.dice`."""
    h, m = np.abs(human), np.abs(sim)
    total = h + m
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 2.0 * np.minimum(h, m) / total
    return np.where(total == 0, 1.0, out)


def dimension_columns(dimensions: Dimensions) -> list[np.ndarray]:
    return [np.array([FEATURE_POSITION[f] for f in feats]) for feats in dimensions.values()]


def dimension_scores(human_row: np.ndarray, sim_row: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    """(K, D): 100 x mean Dice of each dimension's features."""
    d = dice(human_row, sim_row)
    return np.stack([100.0 * d[:, c].mean(axis=1) for c in columns], axis=1)


def safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (den broadcast over num's trailing axes)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def mean_defined(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` of the non-NaN values; NaN where none is defined."""
    defined = ~np.isnan(values)
    count = defined.sum(axis=axis)
    total = np.where(defined, values, 0.0).sum(axis=axis)
    return safe_divide(total, count)


def ece_terms(sim_success: np.ndarray, sim_present: np.ndarray, human: SuccessArrays,
               onehot: np.ndarray, in_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-task terms of ECE: ``(T, bins)`` signed success gaps in each task's bin,
    and ``(T,)`` 1 for the tasks ECE counts. ECE = Σ_bins |w @ gaps| / (w @ counted)."""
    counted = (sim_present & human.present & in_map).astype(float)
    gap = (sim_success - human.success) * counted
    return onehot * gap[:, None], counted


def weighted_ece(parts_terms: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """(K,) ECE from ``(weights, gaps, counted)`` of every part; NaN without a counted task."""
    gaps = sum(w @ g for w, g, _ in parts_terms)
    n = sum(w @ c for w, _, c in parts_terms)
    return safe_divide(np.abs(gaps).sum(axis=1), n)


def weighted_eval(parts: Sequence[Part]) -> np.ndarray | None:
    """(K,) Eval mean (mean over batches of the weighted batch means), ``None`` without surveys."""
    if parts[0][1].agreement is None:
        return None
    batch_means = []
    for b in range(3):
        total = sum(w @ s.agreement.total[b] for w, s in parts)
        count = sum(w @ s.agreement.count[b] for w, s in parts)
        batch_means.append(safe_divide(total, count))
    return mean_defined(np.stack(batch_means, axis=1), axis=1)


def weighted_usi(dims: np.ndarray, ece: np.ndarray, eval_mean: np.ndarray | None) -> np.ndarray:
    """(K,) USI of :func:`usi.usi_value`: NaN where ECE (or Eval) is undefined."""
    terms = dims.sum(axis=1) + 100.0 * (1.0 - ece)
    n_terms = dims.shape[1] + 1
    if eval_mean is not None:
        terms, n_terms = terms + eval_mean, n_terms + 1
    return terms / n_terms


def check_compatible(parts: Sequence[Part]) -> None:
    first = parts[0][1]
    for _, other in parts[1:]:
        if set(other.row_runs) != set(first.row_runs) or set(other.ece_runs) != set(first.ece_runs):
            raise ValueError(f"{first.label!r} and {other.label!r} have different runs; "
                             "their tasks cannot be swapped run for run")
        if (other.agreement is None) != (first.agreement is None):
            raise ValueError(f"only one of {first.label!r} and {other.label!r} has surveys (Eval)")


def score_parts(
    panel: TaskArrays,
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
    check_compatible(parts)
    columns = dimension_columns(dimensions)
    human_weight = sum(w for w, _ in parts)
    onehot = (bins[:, None] == np.arange(n_bins)[None, :]).astype(float)
    in_map = bins >= 0
    eval_mean = weighted_eval(parts)
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
            pooled_total += np.where(counted[:, None], safe_divide(num, den[:, None]), 0.0)
            n_runs += counted
            overlap |= counted[:, None] & (member > 0)
        hw = np.where(overlap, human_weight, 0.0)
        human_row = safe_divide(hw @ hrow.feature_sum, (hw @ hrow.n_features)[:, None])
        pooled = safe_divide(pooled_total, n_runs[:, None])
        valid = ~np.isnan(human_row[:, 0]) & ~np.isnan(pooled[:, 0])
        dims = np.where(valid[:, None], dimension_scores(human_row, pooled, columns), np.nan)
        run_eces = []
        for run in parts[0][1].ece_runs:
            terms = [(w, *ece_terms(s.ece_runs[run].success, s.ece_runs[run].present, hsucc, onehot, in_map))
                     for w, s in parts]
            run_eces.append(weighted_ece(terms))
        ece = mean_defined(np.stack(run_eces, axis=1), axis=1) if run_eces else np.full(len(hw), np.nan)
        ece = np.where(valid, ece, np.nan)
        dims_b.append(dims)
        ece_b.append(ece)
        usi_b.append(weighted_usi(dims, ece, eval_mean))
    eval_cell = eval_mean if eval_mean is not None else np.full(len(human_weight), np.nan)
    return np.column_stack([
        mean_defined(np.stack(dims_b, axis=2), axis=2),
        eval_cell,
        mean_defined(np.stack(ece_b, axis=1), axis=1),
        mean_defined(np.stack(usi_b, axis=1), axis=1),
    ])


def score_weights(
    panel: TaskArrays,
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
    panel: TaskArrays,
    difficulty: Mapping[str, float],
    *,
    edges: Sequence[float] = usi.BIN_EDGES,
    dimensions: Dimensions = DIMENSIONS,
) -> pd.DataFrame:
    """The reference cells (means over batches) of every simulator: a row per
    label (index ``name``), a column per metric of :func:`metric_names`."""
    values = score_weights(panel, np.ones((1, len(panel.tasks))), difficulty, edges=edges, dimensions=dimensions)[0]
    return pd.DataFrame(values, index=pd.Index(panel.labels, name="name"), columns=list(metric_names(dimensions)))
