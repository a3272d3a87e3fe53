"""The rows of the design-matched comparison: every simulator against the human ceiling,
metric by metric and feature by feature, and the two human Eval baselines side by side.

What "matched" means, and why the reference comparison flatters a simulator with several
runs: :mod:`usersim_utils.matched_design`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import stats, usi
from . import uncertainty as unc
from .features import DIMENSIONS, FEATURES
from .matched_design import (
    MatchedArrays,
    feature_dice_weights,
    matched_weights,
    pair_eval_agreements,
    pair_eval_cell,
)

#: The first columns of :func:`compare`, in order: the keys of one row of the command's JSON output.
ROW_KEYS: tuple[str, ...] = ("name", "runs", "metric", "simulator", "ceiling", "gap", "low", "high")
#: What each human Eval baseline measures (shown beside the numbers).
EVAL_MEANINGS: dict[str, str] = {
    "same conversation, re-rated": (
        "Two people rate the same conversation: how consistently a conversation is judged "
        "(the reference ceiling); no simulator can match it, since it rates its own, different conversation."
    ),
    "same task, another batch": (
        "Two people rate their own, different conversations of the same task: exactly what a "
        "simulator's Eval compares, so the matched ceiling."
    ),
}


# --- Eval: the two human baselines. ---------------------------------------------------------------
def eval_baselines(
    human_records: Mapping[str, Mapping[str, Any]],
    rerating: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    seed: int = 42,
) -> pd.DataFrame:
    """The two human Eval baselines side by side: the reference re-rating ceiling
    (``rerating``: the ``human-eval-100`` surveys; row left out without them) and
    batch against batch on the same task (:func:`matched_design.pair_eval_agreements`).

    Columns: ``baseline``, ``mean``, ``std`` (over re-rated tasks, resp. over the
    three pairs, as the reference cells), ``n`` (agreements), ``meaning``.
    """
    rows = []
    if rerating is not None:
        same = usi.ceiling_agreements(human_records, rerating, seed=seed)
        cell = usi.ceiling_eval_cell(same)
        rows.append(("same conversation, re-rated", *(cell or (math.nan, math.nan)), len(same)))
    pairs = pair_eval_agreements(human_records, seed=seed)
    cell = pair_eval_cell(pairs)
    rows.append(("same task, another batch", *(cell or (math.nan, math.nan)), len(pairs)))
    table = pd.DataFrame(rows, columns=["baseline", "mean", "std", "n"])
    table["meaning"] = table["baseline"].map(EVAL_MEANINGS)
    return table


# --- The comparison table. ----------------------------------------------------------------------
def compare(
    matched: MatchedArrays,
    difficulty: Mapping[str, float],
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    method: stats.Method = "centred",
    labels: Sequence[str] | None = None,
    difficulty_by_label: Mapping[str, Mapping[str, float]] | None = None,
    edges: Sequence[float] = usi.BIN_EDGES,
    dimensions: unc.Dimensions = DIMENSIONS,
) -> pd.DataFrame:
    """The matched comparison of every simulator with the human ceiling, metric by metric.

    ``difficulty`` bins the reference (unmatched) columns, as the index does;
    ``difficulty_by_label`` (:func:`matched_design.leave_own_runs_out`) bins the matched ones when
    given: a pool that holds the run scored lets its own successes move tasks across
    bin edges, which shifts its ECE gap.

    Tasks are resampled ``n_boot`` times (counts drawn first from ``rng``; the same
    resamples for every simulator and the ceiling) and the gap's interval is
    taken by ``method`` (:func:`stats.confidence_interval`; ``"centred"``
    as notebook 06). Beside it, the reference (unmatched) values: the index's
    cell (runs pooled) and the reference ceiling (Eval = re-rating), and their gap.

    Columns: :data:`ROW_KEYS` (``simulator``/``ceiling`` matched, ``gap`` =
    simulator − ceiling, ``low``/``high`` its interval), then
    ``reference_simulator``, ``reference_ceiling``, ``reference_gap``.
    """
    labels = list(labels) if labels is not None else list(matched.labels)
    n_tasks = len(matched.task_arrays.tasks)
    counts = stats.resample_counts(n_tasks, n_boot, rng)
    parts = [np.ones((1, n_tasks)), counts]
    if method == "bca":
        parts.append(stats.jackknife_weights(n_tasks))
    weights = np.vstack(parts)
    sim_cells, ceiling_cells = matched_weights(matched, weights, difficulty, labels=labels, edges=edges,
                                               difficulty_by_label=difficulty_by_label, dimensions=dimensions)
    gaps = sim_cells - ceiling_cells
    ones = np.ones((1, n_tasks))
    arrays = matched.task_arrays
    reference = unc.score_weights(arrays, ones, difficulty, labels=labels, edges=edges, dimensions=dimensions)[0]
    reference_ceiling = unc.ceiling_weights(arrays, ones, difficulty, edges=edges, dimensions=dimensions)[0, -1]
    metrics = unc.metric_names(dimensions)
    rows = []
    for s, label in enumerate(labels):
        for m, metric in enumerate(metrics):
            estimate = float(gaps[0, s, m])
            replicates = gaps[1:n_boot + 1, s, m]
            jackknife = gaps[n_boot + 1:, s, m] if method == "bca" else None
            low, high = stats.confidence_interval(estimate, replicates, jackknife, level, method)
            rows.append((label, matched.runs(label), metric, float(sim_cells[0, s, m]), float(ceiling_cells[0, s, m]),
                         estimate, low, high, float(reference[s, m]), float(reference_ceiling[m]),
                         float(reference[s, m] - reference_ceiling[m])))
    return pd.DataFrame(rows, columns=[*ROW_KEYS, "reference_simulator", "reference_ceiling", "reference_gap"])


def feature_dice(matched: MatchedArrays, *, dimensions: unc.Dimensions = DIMENSIONS) -> pd.DataFrame:
    """Per-feature Dice (x 100) of every simulator, matched, and of the human ceiling:
    which features pull each dimension down.

    A simulator's value is the mean over the ordered batch pairs (b, a) of the mean over
    runs of Dice(run row, batch b's row) on the tasks kept in b and a (:func:`matched_design.matched_simulator`);
    the ceiling's is the mean over the pairs 1-2, 1-3, 2-3 of Dice(batch a, batch b) on their common tasks.
    ``human`` and ``simulator`` are the feature's row values averaged the same way
    (rates x 100; for the ceiling, ``simulator`` is the first batch of each pair,
    which plays the simulator). Rows: the ceiling first (``name`` ``"human"``, ``runs`` 0), then
    each simulator; columns ``name``, ``runs``, ``dimension``, ``feature``,
    ``human``, ``simulator``, ``dice``, ``ceiling_dice``, ``gap`` (dice − ceiling_dice).
    """
    names, dices, humans, sims = feature_dice_weights(matched, np.ones((1, len(matched.task_arrays.tasks))))
    ceiling = dices[0, 0]
    dimension_of = {f: d for d, feats in dimensions.items() for f in feats}
    position = {f: i for i, f in enumerate(FEATURES)}
    records = []
    for s, name in enumerate(names):
        runs = 0 if s == 0 else matched.runs(name)
        for feature, dimension in dimension_of.items():
            i = position[feature]
            records.append((name, runs, dimension, feature, float(humans[0, s, i]), float(sims[0, s, i]),
                            float(dices[0, s, i]), float(ceiling[i]), float(dices[0, s, i] - ceiling[i])))
    return pd.DataFrame(records, columns=["name", "runs", "dimension", "feature", "human", "simulator",
                                          "dice", "ceiling_dice", "gap"])


def weakest_features(table: pd.DataFrame, *, n: int = 1) -> pd.DataFrame:
    """The ``n`` features with the lowest Dice in each (name, dimension) of
    :func:`feature_dice`: what pulls that dimension down."""
    ordered = table.sort_values(["name", "dimension", "dice"], kind="stable")
    return ordered.groupby(["name", "dimension"], sort=False).head(n).reset_index(drop=True)
