"""How often each flag fires, beside people, and what a flag costs the agent, with intervals
that resample whole tasks.

The conversations of one task are not independent: the task's scenario makes a flag likely
or unlikely for everyone who plays it (on the demo panel and in simulated studies the
within-task correlation of a flag reached 0.44-0.94). An interval that counts conversations
as independent (Wilson's) is then too narrow, so every interval here resamples tasks
(:func:`usersim_utils.stats.resample_counts`, one (B, T) draw per name, shared by its flags
and difficulty bins):

* **A rate** (:func:`flag_rates`) keeps Wilson's form, which stays inside [0, 1] and keeps a
  width at 0 flags, with the number of conversations replaced by an effective number
  n / deff. The design effect deff is the task-resampled variance of the rate over the
  binomial one, p(1 − p) / n, between 1 (independent conversations) and Σ n_t² / n (every
  conversation of a task agrees; the mean number per task for equal tasks), that largest
  value when no or every conversation is flagged (no variance to measure). A plain
  percentile interval of the resampled rates collapses onto 0 for a rare flag.
* **A simulator-minus-human difference** (:func:`rate_differences`) on the tasks both have:
  the mean over tasks of the task's simulator rate minus its human rate (each task weighs
  the same on both sides), and the percentile interval of that mean over task resamples, so
  that what the two sides share through the task cancels. ``more_often`` / ``less_often`` only
  when that interval excludes 0; with fewer than :data:`MIN_INTERVAL_TASKS` shared tasks no
  interval and no verdict.
* **A reward gap** (:func:`reward_gaps`): mean success of flagged minus unflagged
  conversations per difficulty bin, the percentile interval of the difference over the
  same task resamples (resamples without a side left out), given only when each side spans
  at least :data:`MIN_INTERVAL_TASKS` tasks of the bin: with fewer, a simulated study's
  interval covered the true gap in 45-70% (2-4 tasks) or 80-93% (5-9 tasks) of studies.

Measured coverage on simulated studies with a known answer: docs/method.md §19.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import schema, stats, usi
from .rules import FLAGS

RATE_COLUMNS: tuple[str, ...] = ("name", "flag", "count", "conversations", "tasks", "rate", "low", "high",
                                 "design_effect")
DIFFERENCE_COLUMNS: tuple[str, ...] = ("name", "flag", "tasks", "conversations", "human_conversations", "simulator",
                                       "human", "diff", "low", "high", "more_often", "less_often")
GAP_COLUMNS: tuple[str, ...] = ("name", "flag", "difficulty_bin", "n_flagged", "n_unflagged", "tasks_flagged",
                                "tasks_unflagged", "reward_flagged", "reward_unflagged", "difference", "low", "high")
#: The fewest tasks (shared by both sides, or on each side of a reward gap) that get an interval.
MIN_INTERVAL_TASKS = 10
N_BOOT = 1000


def task_sums(group: pd.DataFrame, columns: list[str], tasks: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(sums (T, C), conversations (T,))``: per task of ``tasks`` (in that order), the sum of
    each column over the group's conversations of the task and their number."""
    summed = group.groupby("task_key")[columns].sum().reindex(tasks, fill_value=0)
    sizes = group.groupby("task_key").size().reindex(tasks, fill_value=0)
    return summed.to_numpy(dtype=float), sizes.to_numpy(dtype=float)


def resampled_means(counts: np.ndarray, sums: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """(B, C) means on each task resample: ``counts`` (B, T) @ ``sums`` (T, C) over the
    resampled conversations ``counts @ sizes``; NaN where a resample holds none."""
    total = counts @ sizes
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total[:, None] > 0, (counts @ sums) / total[:, None], np.nan)


def design_effect(rate: float, sizes: np.ndarray, replicates: np.ndarray) -> float:
    """The task-resampled variance of a rate over its binomial variance rate(1 − rate) / n,
    within [1, Σ n_t² / n] (``sizes``: conversations per task); that largest value when
    ``rate`` is 0 or 1. NaN without conversations."""
    n = float(sizes.sum())
    if n == 0:
        return math.nan
    largest = float((sizes**2).sum()) / n
    if rate in (0.0, 1.0):
        return largest
    variance = float(np.var(stats.without_nan(replicates), ddof=1))
    return min(max(variance / (rate * (1.0 - rate) / n), 1.0), largest)


def clustered_wilson_interval(rate: float, n: float, deff: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson's interval of ``rate`` on n / ``deff`` effective conversations (NaN for none)."""
    if n == 0 or math.isnan(deff):
        return math.nan, math.nan
    effective = n / deff
    return stats.wilson_interval(rate * effective, effective, level)


def flag_rates(conversations: pd.DataFrame, rng: np.random.Generator, *, n_boot: int = N_BOOT,
               level: float = 0.95) -> pd.DataFrame:
    """Per name (table order; each its own child of ``rng``, one task resample shared by its
    flags) and flag (:data:`FLAGS` order): flagged and audited conversations, tasks, the rate,
    its task-clustered Wilson interval and the design effect behind it (module docstring).
    Columns :data:`RATE_COLUMNS`."""
    stats.check_level(level)
    groups = list(conversations.groupby("name", sort=False))
    rows = []
    for (name, group), child in zip(groups, rng.spawn(len(groups))):
        tasks = sorted(set(group["task_key"]))
        sums, sizes = task_sums(group, list(FLAGS), tasks)
        replicates = resampled_means(stats.resample_counts(len(tasks), n_boot, child), sums, sizes)
        n = float(sizes.sum())
        for f, flag in enumerate(FLAGS):
            count = int(sums[:, f].sum())
            rate = count / n
            deff = design_effect(rate, sizes, replicates[:, f])
            rows.append((name, flag, count, int(n), len(tasks), rate,
                         *clustered_wilson_interval(rate, n, deff, level), deff))
    return pd.DataFrame(rows, columns=list(RATE_COLUMNS))


def rate_differences(conversations: pd.DataFrame, rng: np.random.Generator, *, human: str = schema.HUMAN_LABEL,
                     n_boot: int = N_BOOT, level: float = 0.95) -> pd.DataFrame:
    """Simulator-minus-``human`` rate of every flag, per simulator (table order, each its own
    child of ``rng``) on the tasks both have, with a paired interval over the same task
    resamples (module docstring). Columns :data:`DIFFERENCE_COLUMNS`; ``simulator`` and
    ``human`` are the sides' rates on those tasks, each the mean of its per-task rates (so
    they may differ from :func:`flag_rates`' pooled ones). No rows without ``human``
    conversations."""
    stats.check_level(level)
    people = conversations[conversations["name"] == human]
    groups = [(n, g) for n, g in conversations.groupby("name", sort=False) if n != human] if len(people) else []
    human_tasks = sorted(set(people["task_key"]))
    all_human_sums, all_human_sizes = task_sums(people, list(FLAGS), human_tasks)
    position = {task: i for i, task in enumerate(human_tasks)}
    rows = []
    for (name, group), child in zip(groups, rng.spawn(len(groups))):
        tasks = sorted(set(group["task_key"]) & position.keys())
        sim_sums, sim_sizes = task_sums(group, list(FLAGS), tasks)
        shared = [position[t] for t in tasks]
        human_sums, human_sizes = all_human_sums[shared], all_human_sizes[shared]
        # Each task weighs the same on both sides: with conversation weights, people's dropped
        # sessions alone moved the difference (the tasks they fall in count less on one side).
        sim_task_rates, human_task_rates = sim_sums / sim_sizes[:, None], human_sums / human_sizes[:, None]
        per_task = sim_task_rates - human_task_rates
        undefined = np.full(len(FLAGS), np.nan)
        sim_rate = sim_task_rates.mean(axis=0) if tasks else undefined
        human_rate = human_task_rates.mean(axis=0) if tasks else undefined
        low = high = undefined
        if len(tasks) >= MIN_INTERVAL_TASKS:
            counts = stats.resample_counts(len(tasks), n_boot, child)
            replicates = counts @ per_task / len(tasks)
            low, high = np.array([stats.percentile_interval(replicates[:, f], level) for f in range(len(FLAGS))]).T
        for f, flag in enumerate(FLAGS):
            rows.append((name, flag, len(tasks), int(sim_sizes.sum()), int(human_sizes.sum()), sim_rate[f],
                         human_rate[f], sim_rate[f] - human_rate[f], low[f], high[f], bool(low[f] > 0),
                         bool(high[f] < 0)))
    return pd.DataFrame(rows, columns=list(DIFFERENCE_COLUMNS))


def gap_row(flagged: tuple[np.ndarray, np.ndarray], unflagged: tuple[np.ndarray, np.ndarray], counts: np.ndarray,
            level: float) -> tuple[float, ...]:
    """``(n_flagged, n_unflagged, tasks_flagged, tasks_unflagged, reward_flagged, reward_unflagged,
    difference, low, high)`` of one flag and bin from per-task (successes (T,), conversations (T,))
    of each side and the name's task resamples ``counts`` (B, T) restricted to the bin."""
    (wins_f, n_f), (wins_u, n_u) = flagged, unflagged
    tasks_f, tasks_u = int((n_f > 0).sum()), int((n_u > 0).sum())
    mean_f = float(wins_f.sum() / n_f.sum()) if n_f.sum() else math.nan
    mean_u = float(wins_u.sum() / n_u.sum()) if n_u.sum() else math.nan
    low = high = math.nan
    if min(tasks_f, tasks_u) >= MIN_INTERVAL_TASKS:
        replicates = (resampled_means(counts, wins_f[:, None], n_f)[:, 0]
                      - resampled_means(counts, wins_u[:, None], n_u)[:, 0])
        low, high = stats.percentile_interval(replicates, level)
    return int(n_f.sum()), int(n_u.sum()), tasks_f, tasks_u, mean_f, mean_u, mean_f - mean_u, low, high


def reward_gaps(conversations: pd.DataFrame, difficulty: Mapping[str, float], rng: np.random.Generator, *,
                n_boot: int = N_BOOT, level: float = 0.95) -> pd.DataFrame:
    """Mean success of flagged minus unflagged conversations, per name (table order, each its
    own child of ``rng``), flag and difficulty bin (0-4, :func:`usi.difficulty_bin`; tasks
    without a difficulty are left out of the bins), and over all conversations
    (``difficulty_bin`` None), with conversation and task counts of each side and a
    task-clustered interval (module docstring). Only flags raised at least once for the name.
    Columns :data:`GAP_COLUMNS`; a side's reward is NaN when it is empty."""
    stats.check_level(level)
    groups = list(conversations.groupby("name", sort=False))
    rows = []
    for (name, group), child in zip(groups, rng.spawn(len(groups))):
        tasks = sorted(set(group["task_key"]))
        counts = stats.resample_counts(len(tasks), n_boot, child)
        bins = np.array([usi.difficulty_bin(difficulty[t]) if t in difficulty else -1 for t in tasks])
        for flag in FLAGS:
            if not group[flag].any():
                continue
            flagged = group[flag].to_numpy(dtype=float)
            sides = group.assign(flagged=flagged, wins_flagged=group["success"] * flagged,
                                 wins_unflagged=group["success"] * (1.0 - flagged))
            sums, sizes = task_sums(sides, ["wins_flagged", "flagged", "wins_unflagged"], tasks)
            wins_f, n_f, wins_u = sums[:, 0], sums[:, 1], sums[:, 2]
            n_u = sizes - n_f
            for bin_ in [None, *sorted(int(b) for b in set(bins) if b >= 0)]:
                inside = np.ones(len(tasks), bool) if bin_ is None else bins == bin_
                row = gap_row((wins_f[inside], n_f[inside]), (wins_u[inside], n_u[inside]), counts[:, inside], level)
                rows.append((name, flag, bin_, *row))
    return pd.DataFrame(rows, columns=list(GAP_COLUMNS)).astype({"difficulty_bin": "Int64"})
