"""The study as per-task arrays: for each human batch and each (simulator, run), the
sum of each feature over the task's conversations that have features, their number,
whether the task is present, its success; and the Eval agreements per task. A
bootstrap resample or a permutation of tasks is then a weight per task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import schema, usi
from ..errors import DataError
from ..features import DIMENSIONS, FEATURE_SCALE, FEATURES, ID_COLUMNS

Dimensions = Mapping[str, Sequence[str]]

#: Row scale of each feature, in FEATURES order (:data:`usersim_utils.features.FEATURE_SCALE`).
ROW_SCALE = np.array([FEATURE_SCALE[f] for f in FEATURES])
FEATURE_POSITION = {f: i for i, f in enumerate(FEATURES)}


def metric_names(dimensions: Dimensions = DIMENSIONS) -> tuple[str, ...]:
    """The scored metrics: the dimension names, then ``eval_agree``, ``ece``, ``usi``."""
    return (*dimensions, "eval_agree", "ece", "usi")


def metric_range(metric: str) -> tuple[float, float]:
    """The values a metric can take: ECE in [0, 1], every other cell in [0, 100]."""
    return (0.0, 1.0) if metric == "ece" else (0.0, 100.0)


def clip_to_range(interval: tuple[float, float], metric: str) -> tuple[float, float]:
    """A centred interval can step past the metric's range; it is cut back to it."""
    low, high = metric_range(metric)
    return float(np.clip(interval[0], low, high)), float(np.clip(interval[1], low, high))


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
class TaskArrays:
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
        """The simulators' labels, in table order."""
        return tuple(self.simulators)


def row_arrays(rows: pd.DataFrame, ids_of_rows: Sequence[str], position: Mapping[str, int]) -> RowArrays:
    """Per-task arrays of kept ``rows`` whose matching ids are ``ids_of_rows``
    (ids that are not a task of the panel match no human session and are left out)."""
    n_tasks = len(position)
    pos = np.array([position.get(i, -1) for i in ids_of_rows], dtype=int)
    inside = pos >= 0
    has = rows["has_features"].to_numpy(dtype=bool) & inside
    values = rows[list(FEATURES)].to_numpy(dtype=float)[has] * ROW_SCALE
    feature_sum = np.zeros((n_tasks, len(FEATURES)))
    np.add.at(feature_sum, pos[has], values)
    return RowArrays(
        present=np.bincount(pos[inside], minlength=n_tasks) > 0,
        feature_sum=feature_sum,
        n_features=np.bincount(pos[has], minlength=n_tasks).astype(float),
    )


def success_arrays(success: Mapping[str, int], position: Mapping[str, int]) -> SuccessArrays:
    present = np.zeros(len(position), dtype=bool)
    values = np.zeros(len(position))
    for task, value in success.items():
        if task in position:
            present[position[task]] = True
            values[position[task]] = value
    return SuccessArrays(present, values)


def agreement_arrays(agreements: pd.DataFrame, position: Mapping[str, int], label: str) -> AgreementArrays:
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
        run: row_arrays(table, list(table.index), position)
        for run, table in usi.row_runs(sim, run_split).items()
    }
    ece_runs = {run: success_arrays(m, position) for run, m in usi.ece_runs(sim).items()}
    agreement = agreement_arrays(agreements, position, label) if agreements is not None else None
    return SimulatorArrays(label, row_runs, ece_runs, agreement)


def build_task_arrays(
    human: pd.DataFrame,
    simulators: Mapping[str, pd.DataFrame],
    *,
    agreements: Mapping[str, pd.DataFrame] | None = None,
    ceiling_agreements: pd.DataFrame | None = None,
    run_split: usi.RunSplit = "reference",
) -> TaskArrays:
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
        human_rows.append(row_arrays(rows, list(rows["task_key"]), position))
        human_success.append(success_arrays(dict(zip(rows["task_key"], rows["success"].astype(int))), position))
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
                                file=schema.RERATING_LABEL, record=str(task), field="task_key")
            total[position[task]] += value
            count[position[task]] += 1
        ceiling = AgreementArrays(total, count)
    return TaskArrays(tasks, tuple(human_rows), tuple(human_success), sims, ceiling)


def difficulty_bins(
    panel: TaskArrays, difficulty: Mapping[str, float], edges: Sequence[float] = usi.BIN_EDGES
) -> np.ndarray:
    """(T,) bin of each task as :func:`usi.difficulty_bin`; -1 for tasks without a difficulty."""
    values = np.array([difficulty.get(t, np.nan) for t in panel.tasks], dtype=float)
    # difficulty_bin = index of the first edge above the value = number of edges <= value.
    bins = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return np.where(np.isnan(values), -1, bins)
