"""The design-matched comparison: a simulator and the human ceiling scored like for like.

Why the reference comparison flatters a simulator with several runs
--------------------------------------------------------------------
The index (docs/method.md §8) averages a simulator's run rows before Dice: against
human batch b it scores ``Dice(h_b, (m_1 + ... + m_R) / R)``. The human ceiling
scores ``Dice(h_a, h_b)``: two single batches. Each row is a mean over about one
conversation per task, so it carries noise: h = μ + e, var(e) = s²/n. Dice is
``1 − |h − m| / (h + m)`` and so falls with the *size* of the noisy difference
``h − m``. Batch against batch, that difference has variance 2·s²/n; batch
against the mean of R runs, (1 + 1/R)·s²/n, i.e. 4/3·s²/n for three runs. A
simulator that *is* the human process therefore gets a smaller expected
``|h − m|`` (by a factor sqrt(2/3), about 18 % less Dice penalty) than people get
with each other, and can beat the ceiling by pure averaging. ECE is already
scored run by run (mean over runs of ECE(run, batch)), so only D1-D4 and USI
carry the advantage.

The matched comparison
----------------------
* Simulator: each run is scored *on its own* against each human batch, exactly
  as one human batch is scored against another (single run vs single batch:
  the run row and the batch row on their shared tasks), and the per-run values
  are averaged over runs, then over batches. Under the null "the simulator's
  runs are further draws of the human process" a (run, batch) pair has the same
  joint distribution as a (batch, batch) pair, so every per-pair statistic
  (Dice of any feature, ECE) has the same distribution, and so the same
  expectation, on both sides: the matched gap is 0 in expectation, whatever
  the bias of Dice, for 1 run or 10. Averaging over runs only reduces the
  variance of the simulator's score, never shifts it.
* Ceiling: batch against batch, the reference human ceiling (pairs 1-2, 1-3,
  2-3) for D1-D4 and ECE.
* Eval: the simulator's Eval compares its survey of *its own* conversation with
  a person's survey of *another* conversation of the same task. The matched
  human baseline compares batch i's survey with batch j's survey of the same
  task (:func:`pair_eval_agreements`), not the re-rating of the same
  conversation that the reference ceiling uses (:func:`matched_comparison.eval_baselines`
  shows both).
* USI: (D1 + D2 + D3 + D4 [+ Eval] + 100·(1 − ECE)) / 6 or 5 on each side from
  the matched terms; Eval enters both sides or neither.

Intervals resample tasks (the same resampled tasks for every human batch, run,
simulator and survey; :mod:`usersim_utils.uncertainty`), and the gap
``simulator − ceiling`` is a paired difference on the same resamples. For ECE
lower is better, so a positive ECE gap means worse calibration than people.

The comparison table is :mod:`usersim_utils.matched_comparison`'s; the command
(``usersim-baselines``) :mod:`usersim_utils.baselines`'s.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import ids, schema, scoring, usi
from . import uncertainty as unc
from .errors import DataError
from .features import DIMENSIONS, FEATURES
from .survey import agreement
from .uncertainty.weighted import (
    dice,
    dimension_columns,
    ece_terms,
    mean_defined,
    safe_divide,
    weighted_ece,
    weighted_eval,
    weighted_usi,
)

#: ``(b, a)``: human batch b (0-based) scored on the tasks it shares with batch a, a ≠ b.
ORDERED_BATCH_PAIRS: tuple[tuple[int, int], ...] = tuple(itertools.permutations(range(len(schema.BATCHES)), 2))


# --- Eval: human batch against human batch. ------------------------------------------------
def _kept_surveys_by_batch(human_records: Mapping[str, Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    by_batch: dict[int, dict[str, Any]] = defaultdict(dict)
    for key, record in human_records.items():
        if record.get("keep", True) is not False:
            base, batch = ids.split_batch(key)
            by_batch[batch][base] = record.get("survey")
    return by_batch


def pair_eval_agreements(human_records: Mapping[str, Mapping[str, Any]], *, seed: int = 42) -> pd.DataFrame:
    """Agreement of human batch a's survey with batch b's survey of the same task,
    for the pairs 1-2, 1-3, 2-3: people rating *different* conversations of one task.

    Scored like a simulator's Eval (docs/method.md §7) with batch a in the simulator's place:
    items that batch b did not answer validly are skipped, a missing answer of
    batch a is drawn from one ``default_rng(seed)``, walking the pairs in order and,
    within a pair, the task keys kept in both batches, string-sorted.
    Columns: ``pair`` (``"1-2"``...), ``task_key``, ``agreement`` (undefined ones dropped).
    """
    rng = np.random.default_rng(seed)
    by_batch = _kept_surveys_by_batch(human_records)
    rows = []
    for (a, b), pair in zip(usi.HUMAN_PAIRS, unc.PAIR_NAMES):
        for task in sorted(set(by_batch[a]) & set(by_batch[b])):
            value = agreement(by_batch[b][task], by_batch[a][task], rng)
            if value is not None:
                rows.append((pair, task, value))
    return pd.DataFrame(rows, columns=["pair", "task_key", "agreement"])


def pair_eval_cell(pair_agreements: pd.DataFrame) -> usi.Cell | None:
    """(mean, population std) over the pairs of the pair-mean agreement, like every other cell."""
    if pair_agreements.empty:
        return None
    per_pair = pair_agreements.groupby("pair", sort=True)["agreement"].mean().to_numpy()
    return float(per_pair.mean()), float(np.std(per_pair))


# --- Per-task arrays. -------------------------------------------------------------------------
@dataclass(frozen=True)
class MatchedArrays:
    """Everything the matched comparison reads, per task: the study's ``task_arrays`` (human
    batches and every simulator's runs, :class:`uncertainty.TaskArrays`) plus the human
    batch-vs-batch Eval agreements as (3 pairs, T) ``pair_agreement`` arrays (``None``
    without human surveys)."""

    task_arrays: unc.TaskArrays
    pair_agreement: unc.AgreementArrays | None

    @property
    def labels(self) -> tuple[str, ...]:
        """The simulators' labels, in the order of ``task_arrays``."""
        return self.task_arrays.labels

    def runs(self, label: str) -> int:
        """Number of runs of a simulator's behaviour rows (:func:`usi.row_runs`)."""
        return len(self.task_arrays.simulators[label].row_runs)


def _pair_arrays(pair_agreements: pd.DataFrame, tasks: Sequence[str]) -> unc.AgreementArrays:
    position = {t: i for i, t in enumerate(tasks)}
    total, count = np.zeros((3, len(tasks))), np.zeros((3, len(tasks)))
    for pair, task, value in zip(pair_agreements["pair"], pair_agreements["task_key"],
                                 pair_agreements["agreement"]):
        if pair not in unc.PAIR_NAMES:
            raise DataError(f"pair must be one of {', '.join(unc.PAIR_NAMES)}, not {pair!r}",
                            file="human", field="pair")
        if task not in position:
            raise DataError("agreement for a task without a kept human session",
                            file="human", record=str(task), field="task_key")
        total[unc.PAIR_NAMES.index(pair), position[task]] += value
        count[unc.PAIR_NAMES.index(pair), position[task]] += 1
    return unc.AgreementArrays(total, count)


def build_matched_arrays(
    human: pd.DataFrame,
    simulators: Mapping[str, pd.DataFrame],
    *,
    agreements: Mapping[str, pd.DataFrame] | None = None,
    ceiling_agreements: pd.DataFrame | None = None,
    pair_agreements: pd.DataFrame | None = None,
    run_split: usi.RunSplit = "reference",
) -> MatchedArrays:
    """Per-task arrays of everything the matched comparison needs.

    ``human``/``simulators``: features tables; ``agreements``: per simulator
    :func:`usi.eval_agreements`; ``ceiling_agreements``: :func:`usi.ceiling_agreements`
    (the reference ceiling); ``pair_agreements``: :func:`pair_eval_agreements`.
    """
    task_arrays = unc.build_task_arrays(human, simulators, agreements=agreements,
                                        ceiling_agreements=ceiling_agreements, run_split=run_split)
    pairs = None
    if pair_agreements is not None and not pair_agreements.empty:
        pairs = _pair_arrays(pair_agreements, task_arrays.tasks)
    return MatchedArrays(task_arrays, pairs)


# --- Weighted matched scoring. ------------------------------------------------------------------
def _run_feature_dice(weights: np.ndarray, run: unc.RowArrays, batch: unc.RowArrays,
                      other_batch: np.ndarray) -> tuple[np.ndarray, ...]:
    """(K, F) Dice of one run's row against one human batch's row on the tasks they share
    with another batch (``other_batch``: (T,) the tasks it kept), with both rows; NaN where
    undefined. The batch row covers the tasks where the run is counted, as
    :func:`usi.score_batch` does for a single run."""
    shared = (run.present & batch.present & other_batch).astype(float)
    # one product for both rows: [run sums, run count, batch sums, batch count] on the shared tasks
    stacked = np.column_stack([run.feature_sum, run.n_features, batch.feature_sum, batch.n_features]) * shared[:, None]
    totals = weights @ stacked
    n = len(FEATURES)
    run_den, human_den = totals[:, n], totals[:, 2 * n + 1]
    run_row = safe_divide(totals[:, :n], run_den[:, None])
    # the batch row counts only where the run is counted (it has a conversation with features)
    human_row = safe_divide(totals[:, n + 1:2 * n + 1], np.where(run_den > 0, human_den, 0.0)[:, None])
    return dice(human_row, run_row), human_row, run_row


def _dimension_values(feature_dice: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    """(K, D): 100 x mean of each dimension's feature Dice."""
    return np.stack([100.0 * feature_dice[:, c].mean(axis=1) for c in columns], axis=1)


def matched_simulator(
    task_arrays: unc.TaskArrays,
    sim: unc.SimulatorArrays,
    weights: np.ndarray,
    bins: np.ndarray,
    n_bins: int,
    dimensions: unc.Dimensions = DIMENSIONS,
    *,
    eval_in_usi: bool = True,
) -> np.ndarray:
    """(K, M) cells of one simulator scored run by run.

    The ceiling's own design: the ceiling scores batch a against batch b on the tasks
    kept in both, so each run is scored against batch b on the tasks kept in b *and*
    in another batch a, for each a ≠ b (:func:`_run_feature_dice`). A run therefore
    never averages more tasks than a ceiling pair, and sessions that people dropped
    (``keep`` false) cost both sides the same: scored on b's tasks alone, a run would
    average more tasks, carry less noise and gain Dice (docs/method.md §14). For each
    ordered pair (b, a): Dice averaged over the runs counted; ECE = mean over runs of
    ECE(run, batch b) on the same tasks; USI from these terms and the simulator's Eval
    (left out of USI, not of the Eval cell, with ``eval_in_usi`` False). Cells are means
    over the pairs that have a value; metrics as :func:`uncertainty.metric_names`.
    """
    columns = dimension_columns(dimensions)
    onehot = (bins[:, None] == np.arange(n_bins)[None, :]).astype(float)
    in_map = bins >= 0
    eval_mean = weighted_eval([(weights, sim)])
    dims_b, ece_b, usi_b = [], [], []
    for b, a in ORDERED_BATCH_PAIRS:
        hrow, hsucc, other = task_arrays.human_rows[b], task_arrays.human_success[b], task_arrays.human_rows[a].present
        per_run = []
        for run in sim.row_runs.values():
            dice, human_row, run_row = _run_feature_dice(weights, run, hrow, other)
            defined = ~np.isnan(human_row[:, :1]) & ~np.isnan(run_row[:, :1])
            per_run.append(np.where(defined, dice, np.nan))
        if per_run:
            feature_dice = mean_defined(np.stack(per_run, axis=2), axis=2)
        else:
            feature_dice = np.full((len(weights), len(FEATURES)), np.nan)
        counted = ~np.isnan(feature_dice[:, 0])
        dims = _dimension_values(feature_dice, columns)
        run_eces = [weighted_ece([(weights, *ece_terms(s.success, s.present & other, hsucc, onehot, in_map))])
                    for s in sim.ece_runs.values()]
        ece = mean_defined(np.stack(run_eces, axis=1), axis=1) if run_eces else np.full(len(weights), np.nan)
        ece = np.where(counted, ece, np.nan)
        dims_b.append(dims)
        ece_b.append(ece)
        usi_b.append(weighted_usi(dims, ece, eval_mean if eval_in_usi else None))
    eval_cell = eval_mean if eval_mean is not None else np.full(len(weights), np.nan)
    return np.column_stack([
        mean_defined(np.stack(dims_b, axis=2), axis=2),
        eval_cell,
        mean_defined(np.stack(ece_b, axis=1), axis=1),
        mean_defined(np.stack(usi_b, axis=1), axis=1),
    ])


def pair_eval_mean(pair_agreement: unc.AgreementArrays | None, weights: np.ndarray) -> np.ndarray | None:
    """(K,) batch-vs-batch Eval: mean over pairs of the weighted pair means; ``None`` without surveys."""
    if pair_agreement is None:
        return None
    per_pair = [safe_divide(weights @ pair_agreement.total[p], weights @ pair_agreement.count[p])
                for p in range(len(unc.PAIR_NAMES))]
    return mean_defined(np.stack(per_pair, axis=1), axis=1)


def matched_ceiling(
    matched: MatchedArrays,
    weights: np.ndarray,
    difficulty: Mapping[str, float],
    *,
    edges: Sequence[float] = usi.BIN_EDGES,
    dimensions: unc.Dimensions = DIMENSIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """The matched human ceiling: ``(with_eval (K, M), without_eval (K, M))``.

    D1-D4 and ECE: the reference batch pairs (:func:`uncertainty.ceiling_weights`);
    Eval: batch against batch (:func:`pair_eval_mean`); USI per pair from these,
    with the batch-vs-batch Eval (first) or without Eval (second: the ceiling of a
    simulator that has no surveys), then the mean over pairs.
    """
    pairs = unc.ceiling_weights(matched.task_arrays, weights, difficulty, edges=edges, dimensions=dimensions)[:, :3, :]
    n_dims = len(dimensions)
    pair_dims, pair_ece = pairs[:, :, :n_dims], pairs[:, :, n_dims + 1]
    eval_mean = pair_eval_mean(matched.pair_agreement, weights)
    out = []
    for eval_term in (eval_mean, None):
        usi_pairs = np.stack([weighted_usi(pair_dims[:, p], pair_ece[:, p], eval_term) for p in range(pairs.shape[1])],
                             axis=1)
        out.append(np.column_stack([
            mean_defined(pair_dims, axis=1),
            eval_mean if eval_mean is not None else np.full(len(weights), np.nan),
            mean_defined(pair_ece, axis=1),
            mean_defined(usi_pairs, axis=1),
        ]))
    return out[0], out[1]


def matched_weights(
    matched: MatchedArrays,
    weights: np.ndarray,
    difficulty: Mapping[str, float],
    *,
    labels: Sequence[str] | None = None,
    difficulty_by_label: Mapping[str, Mapping[str, float]] | None = None,
    edges: Sequence[float] = usi.BIN_EDGES,
    dimensions: unc.Dimensions = DIMENSIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """``(simulator (K, S, M), ceiling (K, S, M))`` matched cells with task weights
    ``weights`` (K, T); ones give the estimates, counts a bootstrap resample.

    ``difficulty_by_label`` (optional, the maps of :func:`leave_own_runs_out`): the map each
    simulator is binned by, the same for it and its ceiling; labels it lacks use
    ``difficulty``. The ceiling then differs between simulators in ECE too; otherwise
    only in USI: it includes the batch-vs-batch Eval exactly when the simulator has an
    Eval and people have surveys (otherwise neither side counts Eval, and the
    simulator's USI is recomputed without it).
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    if weights.shape[1] != len(matched.task_arrays.tasks):
        raise ValueError(f"weights have {weights.shape[1]} tasks, the study {len(matched.task_arrays.tasks)}")
    labels = list(labels) if labels is not None else list(matched.labels)
    n_bins = len(edges) + 1
    ceilings_of: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # one ceiling per distinct map
    sims, ceilings = [], []
    for label in labels:
        own = (difficulty_by_label or {}).get(label, difficulty)
        if id(own) not in ceilings_of:
            ceilings_of[id(own)] = matched_ceiling(matched, weights, own, edges=edges, dimensions=dimensions)
        with_eval, without_eval = ceilings_of[id(own)]
        bins = unc.difficulty_bins(matched.task_arrays, own, edges)
        sim = matched.task_arrays.simulators[label]
        # Eval counts in USI on both sides or on neither (people may have no surveys to match)
        both_have_eval = sim.agreement is not None and matched.pair_agreement is not None
        sims.append(matched_simulator(matched.task_arrays, sim, weights, bins, n_bins, dimensions,
                                      eval_in_usi=both_have_eval))
        ceilings.append(with_eval if both_have_eval else without_eval)
    return np.stack(sims, axis=1), np.stack(ceilings, axis=1)


def leave_own_runs_out(
    mode: str,
    simulators: Mapping[str, pd.DataFrame],
    *,
    study_labels: Sequence[str] | None = None,
    domain: str | None = None,
) -> dict[str, scoring.DifficultyChoice]:
    """``{label: difficulty choice}``: for the pooled modes (``all``, ``study``), each
    simulator's map is the pool without its own runs, so that its successes never
    decide its own bins (:func:`scoring.resolve_difficulty` on the others; the published
    map, with its ``note``, when they give no task the pooled entries a difficulty needs).
    Other modes do not hold the run: the same choice for all.
    """
    kind, _ = usi.parse_difficulty_mode(mode)
    shared = scoring.resolve_difficulty(mode, simulators, study_labels=study_labels, domain=domain)
    if kind not in ("all", "study"):
        return dict.fromkeys(simulators, shared)
    out = {}
    for label in simulators:
        if kind == "study" and label not in (study_labels or ()):
            out[label] = shared
            continue
        others = {k: v for k, v in simulators.items() if k != label}
        kept_labels = [k for k in study_labels if k != label] if study_labels is not None else None
        out[label] = scoring.resolve_difficulty(mode, others, study_labels=kept_labels, domain=domain)
    return out


def feature_dice_weights(matched: MatchedArrays,
                         weights: np.ndarray) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
    """``(names, dice, human, simulator)``: per-feature matched Dice (x 100) and the two rows
    averaged the same way, each (K, 1 + S, F) for task weights ``weights`` (K, T): the human
    ceiling first (``"human"``; its ``simulator`` row is the first batch of each pair), then
    every simulator (see :func:`matched_comparison.feature_dice`)."""
    task_arrays = matched.task_arrays
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    ceiling_dice, ceiling_a, ceiling_b = [], [], []
    for a, b in ((a - 1, b - 1) for a, b in usi.HUMAN_PAIRS):
        rows_a, rows_b = task_arrays.human_rows[a], task_arrays.human_rows[b]
        common = rows_a.present & rows_b.present
        row_a, row_b = (safe_divide(weights @ (rows.feature_sum * common[:, None]),
                                    (weights @ (rows.n_features * common))[:, None]) for rows in (rows_a, rows_b))
        ceiling_dice.append(100.0 * dice(row_b, row_a))
        ceiling_a.append(row_a)
        ceiling_b.append(row_b)
    dices = [mean_defined(np.stack(ceiling_dice), axis=0)]
    humans, sims = [mean_defined(np.stack(ceiling_b), axis=0)], [mean_defined(np.stack(ceiling_a), axis=0)]
    nothing = np.full((len(weights), len(FEATURES)), np.nan)
    for label in matched.labels:
        sim = task_arrays.simulators[label]
        dice_b, human_b, sim_b = [], [], []
        for b, a in ORDERED_BATCH_PAIRS:
            per_run = [_run_feature_dice(weights, run, task_arrays.human_rows[b], task_arrays.human_rows[a].present)
                       for run in sim.row_runs.values()]
            if not per_run:
                continue
            dice_b.append(mean_defined(np.stack([100.0 * d for d, _, _ in per_run]), axis=0))
            human_b.append(mean_defined(np.stack([h for _, h, _ in per_run]), axis=0))
            sim_b.append(mean_defined(np.stack([r for _, _, r in per_run]), axis=0))
        for out, per_batch in ((dices, dice_b), (humans, human_b), (sims, sim_b)):
            out.append(mean_defined(np.stack(per_batch), axis=0) if per_batch else nothing)
    names = (schema.HUMAN_LABEL, *matched.labels)
    return names, np.stack(dices, axis=1), np.stack(humans, axis=1), np.stack(sims, axis=1)
