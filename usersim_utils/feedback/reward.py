"""Rule-based reward versus human judgement: does the binary tau-bench reward agree
with what the participant says about the same session?

:func:`reward_correlations` (point-biserial with a Fisher-z interval, Spearman with a
bootstrap over sessions), :func:`reward_judgement` (the same with the three sessions of
a task as one cluster, an equivalence bound and adjusted p-values), and the sessions
where the reward and the participant's own ``task_success`` answer disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from ..stats import (
    Kind,
    adjust_table,
    bootstrap_spearman_interval,
    clustered_correlation,
    fisher_interval,
    pearson_spearman,
)
from ..survey import SURVEY_ITEMS, SURVEY_OPTIONS

#: ``task_success`` values the human counts as a success ("Yes - Task completed",
#: "Fully - Exceeded expectations"); a failure explained by policy (2) is not one.
REPORTED_SUCCESS_MIN_VALUE = 4


def reward_with_answers(sessions: pd.DataFrame, surveys: pd.DataFrame) -> pd.DataFrame:
    """Each kept human session's reward beside its own survey answers.

    ``sessions``: sessions table (``instance_id``, ``success``, ``keep``);
    ``surveys``: the human long survey table. Ordinal items only.
    Columns: ``instance_id``, ``task_key``, ``batch``, ``success`` (0/1), ``item``,
    ``answer``, ``value``, ``value_norm`` (NaN when not answered validly).
    """
    kept = sessions.loc[sessions["keep"], ["instance_id", "success"]]
    answers = surveys[surveys["item"].isin(SURVEY_ITEMS)]
    answers = answers[["instance_id", "task_key", "batch", "item", "answer", "value", "value_norm"]]
    merged = kept.merge(answers, on="instance_id", how="inner")
    return merged[["instance_id", "task_key", "batch", "success", "item", "answer", "value", "value_norm"]]


def reward_correlations(
    reward_answers: pd.DataFrame, rng: np.random.Generator, *, n_boot: int = 1000, level: float = 0.95
) -> pd.DataFrame:
    """Correlation of the binary reward with each survey item, over kept sessions
    with a valid answer.

    ``reward_answers``: :func:`reward_with_answers`. ``point_biserial`` is Pearson's r
    of the 0/1 reward with ``value_norm`` (Fisher-z interval); ``spearman`` is
    Spearman's rho (percentile bootstrap over sessions; ``rng`` consumed item by item).
    Columns: ``item``, ``n``, ``point_biserial``, ``pb_low``, ``pb_high``, ``pb_p``,
    ``spearman``, ``sp_low``, ``sp_high``, ``sp_p``.
    """
    records = []
    for item in SURVEY_ITEMS:
        rows = reward_answers[(reward_answers["item"] == item) & reward_answers["value_norm"].notna()]
        x = rows["success"].to_numpy(dtype=float)
        y = rows["value_norm"].to_numpy(dtype=float)
        r, r_p, rho, rho_p = pearson_spearman(x, y)
        pb_low, pb_high = fisher_interval(r, len(rows), level)
        sp_low, sp_high = (bootstrap_spearman_interval(x, y, rng, n_boot=n_boot, level=level)
                           if not math.isnan(rho) else (math.nan, math.nan))
        records.append({"item": item, "n": len(rows), "point_biserial": r, "pb_low": pb_low, "pb_high": pb_high,
                        "pb_p": r_p, "spearman": rho, "sp_low": sp_low, "sp_high": sp_high, "sp_p": rho_p})
    columns = ["item", "n", "point_biserial", "pb_low", "pb_high", "pb_p", "spearman", "sp_low", "sp_high", "sp_p"]
    return pd.DataFrame.from_records(records, columns=columns)


NO_ANSWER = "(no valid answer)"


def reward_by_reported_success(reward_answers: pd.DataFrame) -> pd.DataFrame:
    """Cross-table of the rule-based reward against the human's own ``task_success``
    answer: rows = reward (0, 1), columns = the five options in order, then
    :data:`NO_ANSWER`; cells = number of kept sessions. Margins not included."""
    rows = reward_answers[reward_answers["item"] == "task_success"]
    answers = rows["answer"].where(rows["value"].notna(), NO_ANSWER)
    columns = [*SURVEY_OPTIONS["task_success"], NO_ANSWER]
    table = pd.crosstab(rows["success"].astype(int), pd.Categorical(answers, categories=columns), dropna=False)
    table = table.reindex(index=[0, 1], columns=columns, fill_value=0)
    table.index.name, table.columns.name = "reward", "task_success"
    return table.astype(int)


def reward_disagreements(reward_answers: pd.DataFrame) -> pd.DataFrame:
    """Sessions where the reward and the human's ``task_success`` answer disagree:
    reward 1 while the human reports no success (value < 4), or reward 0 while the
    human reports success (value >= 4). Sessions without a valid answer are left out.

    Columns: ``instance_id``, ``task_key``, ``batch``, ``success``, ``task_success``
    (the answer), ``overall_score`` (the answer, or None), ``kind``
    (``"reward 1, human: not done"`` or ``"reward 0, human: done"``); sorted by kind
    then instance id.
    """
    wide = reward_answers.pivot_table(index=["instance_id", "task_key", "batch", "success"], columns="item",
                                      values="answer", aggfunc="first").reset_index()
    values = reward_answers[reward_answers["item"] == "task_success"].set_index("instance_id")["value"]
    wide["ts_value"] = wide["instance_id"].map(values)
    wide = wide[wide["ts_value"].notna()]
    reported = wide["ts_value"] >= REPORTED_SUCCESS_MIN_VALUE
    disagree = wide[(wide["success"] == 1) != reported].copy()
    disagree["kind"] = np.where(disagree["success"] == 1, "reward 1, human: not done", "reward 0, human: done")
    if "overall_score" not in disagree:
        disagree["overall_score"] = None
    out = disagree[["instance_id", "task_key", "batch", "success", "task_success", "overall_score", "kind"]]
    return out.sort_values(["kind", "instance_id"], ignore_index=True)


REWARD_JUDGEMENT_COLUMNS: tuple[str, ...] = (
    "item", "n", "n_tasks", "r", "r_low", "r_high", "largest_abs_r", "bound_low", "bound_high", "p",
    "p_if_independent", "p_holm", "p_bh",
)


def reward_judgement(
    reward_answers: pd.DataFrame,
    rng: np.random.Generator,
    *,
    kind: Kind = "pearson",
    n_boot: int = 1000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Rule-based reward versus each survey item, with the three sessions of a task
    treated as one cluster.

    ``reward_answers``: :func:`reward_with_answers` (``task_key``,
    ``success``, ``item``, ``value_norm``). Per item over sessions with a valid
    answer: ``r`` (Pearson = point-biserial, or Spearman), its task-clustered
    interval at ``level`` (``r_low``, ``r_high``), ``largest_abs_r`` (the equivalence bound
    of two one-sided tests at alpha = 1 − level: :func:`usersim_utils.stats.equivalence_bound`)
    with the (2·level − 1) interval it ends (``bound_low``, ``bound_high``; ``level`` must
    exceed 0.5), ``p`` (of "no correlation"; :func:`usersim_utils.stats.bootstrap_p_value`, so
    it respects the clustering) and its Holm and BH adjustments over the items, and, for
    contrast only, ``p_if_independent`` (scipy's test, which treats the sessions as independent
    and is too small when a task's sessions resemble each other). The interval, the bound and
    ``p`` come from the same task resamples, one set per item (``rng`` consumed item by item),
    so the bound's interval always lies inside the ``level`` one: a one-sided test at 1 − level
    is the (2·level − 1) interval, narrower than the two-sided ``level`` interval, which is why
    the bound can be smaller than ``r_high`` (:func:`judgement_line` prints both intervals).
    """
    if not 0.5 < level < 1:
        raise ValueError(f"confidence level must be in (0.5, 1) for the equivalence bound, not {level!r}")
    records = []
    for item in SURVEY_ITEMS:
        rows = reward_answers[(reward_answers["item"] == item) & reward_answers["value_norm"].notna()]
        x = rows["success"].to_numpy(dtype=float)
        y = rows["value_norm"].to_numpy(dtype=float)
        clusters = rows["task_key"].to_numpy()
        constant = len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0
        if constant:
            r = low = high = bound = bound_low = bound_high = p = naive_p = math.nan
        else:
            out = clustered_correlation(x, y, clusters, rng, kind=kind, n_boot=n_boot, level=level,
                                        equivalence_alpha=1.0 - level)
            r, low, high, p = out["r"], out["low"], out["high"], out["p"]
            bound, bound_low, bound_high = out["bound"], out["bound_low"], out["bound_high"]
            test = scipy_stats.pearsonr(x, y) if kind == "pearson" else scipy_stats.spearmanr(x, y)
            naive_p = float(test.pvalue)
        records.append({"item": item, "n": len(rows), "n_tasks": int(pd.Series(clusters).nunique()), "r": r,
                        "r_low": low, "r_high": high, "largest_abs_r": bound, "bound_low": bound_low,
                        "bound_high": bound_high, "p": p, "p_if_independent": naive_p})
    table = pd.DataFrame.from_records(records, columns=list(REWARD_JUDGEMENT_COLUMNS[:-2]))
    return adjust_table(table, ["p"])


def judgement_line(row: Mapping[str, Any], level: float) -> str:
    """One row of :func:`reward_judgement` (a Series or a mapping) in words: the correlation with its ``level``
    interval, then the bound with the (2·level − 1) interval it is the end of, so that each
    number stands beside the interval it comes from, e.g. ``r = 0.57, 95% interval [0.42, 0.70]
    over 30 tasks; |r| above 0.69 ruled out at 5% (two one-sided tests: 90% interval [0.45,
    0.69])``."""
    return (f"r = {row['r']:.2f}, {level:.0%} interval [{row['r_low']:.2f}, {row['r_high']:.2f}] over "
            f"{row['n_tasks']} tasks; |r| above {row['largest_abs_r']:.2f} ruled out at {1 - level:.0%} (two "
            f"one-sided tests: {2 * level - 1:.0%} interval [{row['bound_low']:.2f}, {row['bound_high']:.2f}])")
