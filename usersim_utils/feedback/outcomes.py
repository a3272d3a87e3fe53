"""\"Easy mode\": is the agent more successful with a simulated user than with people?
Success per domain and difficulty bin with Wilson intervals, and the paired gap per
simulator over the tasks it shares with the humans.

Outcome tables (:func:`outcomes_table`) are the outcome columns of
:func:`usersim_utils.features.features_table`: ``label``, ``key``, ``task_key``,
``keep``, ``success``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import ids, usi
from ..errors import DataError
from ..features import success_of
from ..schema import HUMAN_LABEL
from ..stats import bootstrap_mean_interval, wilson_interval


def outcomes_table(records: Mapping[str, Mapping[str, Any]], *, label: str) -> pd.DataFrame:
    """The outcome columns of :func:`usersim_utils.features.features_table` without
    computing the 19 features (easy mode needs only these): one row per record.

    ``records``: human sessions or rollouts (``{key: {reward, keep, ...}}``).
    Columns: ``label``, ``key``, ``task_key``, ``keep`` (missing -> True),
    ``success`` (1 if reward > 0, null -> 0; :func:`usersim_utils.features.success_of`).
    """
    rows = [(label, key, ids.task_key(key), record.get("keep", True) is not False, success_of(record))
            for key, record in records.items()]
    table = pd.DataFrame(rows, columns=["label", "key", "task_key", "keep", "success"])
    return table.astype({"keep": bool, "success": int})


def outcomes_with_difficulty(outcomes: pd.DataFrame, difficulty: Mapping[str, float]) -> pd.DataFrame:
    """Kept rows of outcome or features tables (:func:`outcomes_table`: ``label``,
    ``key``, ``task_key``, ``keep``, ``success``), concatenated, with ``domain``,
    ``difficulty`` (NaN when the task has none) and
    ``difficulty_bin`` (:func:`usersim_utils.usi.difficulty_bin`, nullable Int64).

    Columns: ``label``, ``key``, ``task_key``, ``domain``, ``success``,
    ``difficulty``, ``difficulty_bin``.
    """
    kept = outcomes.loc[outcomes["keep"], ["label", "key", "task_key", "success"]].copy()
    kept["domain"] = kept["task_key"].map(ids.domain_of)
    kept["difficulty"] = kept["task_key"].map(lambda t: difficulty.get(t, math.nan)).astype(float)
    kept["difficulty_bin"] = pd.array(
        [pd.NA if math.isnan(d) else usi.difficulty_bin(d) for d in kept["difficulty"]], dtype="Int64"
    )
    columns = ["label", "key", "task_key", "domain", "success", "difficulty", "difficulty_bin"]
    return kept[columns].reset_index(drop=True)


def success_rates(table: pd.DataFrame, by: Sequence[str] = ("label",), *, level: float = 0.95) -> pd.DataFrame:
    """Success rate with a Wilson interval for each group of ``by`` columns.

    ``table``: :func:`outcomes_with_difficulty` (or any table with ``success``);
    rows whose ``by`` value is missing (e.g. a task without difficulty) are left
    out. The interval treats conversations as independent (tasks repeat across
    batches and runs, so it is somewhat too narrow).
    Columns: the ``by`` columns, ``n``, ``successes``, ``rate``, ``ci_low``, ``ci_high``.
    """
    by = list(by)
    grouped = table.dropna(subset=by).groupby(by, sort=True)["success"].agg(["size", "sum"]).reset_index()
    grouped = grouped.rename(columns={"size": "n", "sum": "successes"})
    intervals = [wilson_interval(int(s), int(n), level) for s, n in zip(grouped["successes"], grouped["n"])]
    grouped["rate"] = grouped["successes"] / grouped["n"]
    grouped["ci_low"] = [lo for lo, _ in intervals]
    grouped["ci_high"] = [hi for _, hi in intervals]
    return grouped[[*by, "n", "successes", "rate", "ci_low", "ci_high"]]


def success_gap(
    table: pd.DataFrame,
    rng: np.random.Generator,
    *,
    human_label: str = HUMAN_LABEL,
    n_boot: int = 1000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Paired "easy mode" gap: for each simulator, the mean over the tasks it shares
    with the humans of (its success rate on the task − the humans' rate on the task),
    with a bootstrap interval over tasks (``rng`` consumed simulator by simulator).

    ``table``: :func:`outcomes_with_difficulty`. Columns: ``label``, ``n_tasks``,
    ``human_rate``, ``sim_rate`` (means of the per-task rates), ``gap``, ``ci_low``, ``ci_high``.
    """
    per_task = table.groupby(["label", "task_key"], sort=False)["success"].mean()
    if human_label not in per_task.index.get_level_values("label"):
        raise DataError(f"no rows labelled {human_label!r} to compare the simulators with", field="label")
    human = per_task.loc[human_label]
    records = []
    for label in dict.fromkeys(table["label"]):
        if label == human_label:
            continue
        sim = per_task.loc[label]
        shared = sim.index.intersection(human.index)
        diffs = (sim.loc[shared] - human.loc[shared]).to_numpy()
        gap, lo, hi = bootstrap_mean_interval(diffs, rng, n_boot=n_boot, level=level)
        records.append({"label": label, "n_tasks": len(shared),
                        "human_rate": float(human.loc[shared].mean()) if len(shared) else math.nan,
                        "sim_rate": float(sim.loc[shared].mean()) if len(shared) else math.nan,
                        "gap": gap, "ci_low": lo, "ci_high": hi})
    columns = ["label", "n_tasks", "human_rate", "sim_rate", "gap", "ci_low", "ci_high"]
    return pd.DataFrame.from_records(records, columns=columns)
