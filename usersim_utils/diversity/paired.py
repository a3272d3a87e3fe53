"""Each simulator against the humans, like with like: every metric on both sides over the
same tasks, the same numbers of conversations per task where it matters, and the
simulator-minus-human difference with a paired interval over the same task resamples.
The method and its limits: :mod:`usersim_utils.diversity`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .. import schema, stats
from ..distinguish import usable_rows, user_texts
from .sides import (
    Side,
    across_similarity,
    make_side,
    matched_corpus_distinct,
    on_tasks,
    pooled_similarities,
    task_distinct,
    task_means,
    task_pair_similarity,
)

N_BOOT = 1000
#: Fewest compared tasks for an interval and a verdict: a bootstrap over fewer has too few
#: distinct resamples (over one task, every resample is the estimate: a zero-width interval).
MIN_TASKS = 10
METRICS: tuple[str, ...] = (
    "mattr", "mtld", "hdd", "distinct_1_task", "distinct_2_task", "similarity_task",
    "distinct_1_all", "distinct_2_all", "similarity_across",
)
#: Which scale each metric describes.
SCALES: dict[str, str] = {
    **dict.fromkeys(["mattr", "mtld", "hdd"], "within a conversation"),
    **dict.fromkeys(["distinct_1_task", "distinct_2_task", "similarity_task"], "same task"),
    **dict.fromkeys(["distinct_1_all", "distinct_2_all", "similarity_across"], "across tasks"),
}
#: For each metric, whether a higher value means more varied (similarity: lower is more varied).
HIGHER_IS_MORE_VARIED: dict[str, bool] = {m: not m.startswith("similarity") for m in METRICS}
#: Columns of :func:`compare_with_humans` (and fields of the command's JSON rows).
COLUMNS: tuple[str, ...] = (
    "name", "scale", "metric", "simulator", "human", "diff", "low", "high", "more_varied", "less_varied",
    "n_tasks", "short_simulator", "short_human",
)


@dataclass(frozen=True)
class Difference:
    """One metric of one simulator: both sides' values, the difference and its replicates
    (B,), the tasks it rests on, and each side's conversations too short for it."""

    simulator: float
    human: float
    diff: float
    replicates: np.ndarray
    n_tasks: int
    short_simulator: int = 0
    short_human: int = 0


def per_task_difference(sim: np.ndarray, human: np.ndarray, counts: np.ndarray) -> Difference:
    """Difference of two per-task values (T,) on the tasks where both are defined, each task
    weighing the same on both sides; replicates under ``counts`` (B, T)."""
    both = ~np.isnan(sim) & ~np.isnan(human)
    if not both.any():
        return Difference(np.nan, np.nan, np.nan, np.full(len(counts), np.nan), 0)
    drawn = counts[:, both]
    with np.errstate(invalid="ignore", divide="ignore"):
        replicates = drawn @ (sim[both] - human[both]) / drawn.sum(axis=1)
    return Difference(float(sim[both].mean()), float(human[both].mean()),
                      float((sim[both] - human[both]).mean()), replicates, int(both.sum()))


def corpus_difference(sim: tuple[float, np.ndarray], human: tuple[float, np.ndarray], n_tasks: int) -> Difference:
    """Difference of two corpus statistics, each ``(estimate, replicates (B,))`` on the same resamples."""
    return Difference(sim[0], human[0], sim[0] - human[0], sim[1] - human[1], n_tasks)


def differences(sim: Side, sim_codes: np.ndarray, human: Side, human_codes: np.ndarray, counts: np.ndarray,
                rng: np.random.Generator) -> dict[str, Difference]:
    """``{metric: Difference}`` of a simulator against the humans, both already on the same
    T tasks (codes (n_s,), (n_h,)); ``counts`` (B, T) the shared task resamples.

    Per-text measures: each side's task mean of its conversations long enough for the
    measure. Distinct-n (per task and corpus): on min(simulator's, humans') conversations of
    each task on both sides, averaged over subsamples. Similarities: means over pairs, which
    do not depend on how many conversations there are, with TF-IDF weights learnt from both
    sides' conversations together (:func:`~usersim_utils.diversity.sides.pooled_similarities`)."""
    n_tasks = counts.shape[1]
    out: dict[str, Difference] = {}
    for name, values in sim.per_text.items():
        found = per_task_difference(task_means(values, sim_codes, n_tasks),
                                    task_means(human.per_text[name], human_codes, n_tasks), counts)
        out[name] = replace(found, short_simulator=int(np.isnan(values).sum()),
                            short_human=int(np.isnan(human.per_text[name]).sum()))
    sizes = np.minimum(np.bincount(sim_codes, minlength=n_tasks), np.bincount(human_codes, minlength=n_tasks))
    for n in (1, 2):
        out[f"distinct_{n}_task"] = per_task_difference(
            task_distinct(sim.token_lists, sim_codes, sizes, n, rng),
            task_distinct(human.token_lists, human_codes, sizes, n, rng), counts)
    sim_similarity, human_similarity = pooled_similarities(sim.texts, human.texts)
    out["similarity_task"] = per_task_difference(task_pair_similarity(sim_similarity, sim_codes, n_tasks),
                                                 task_pair_similarity(human_similarity, human_codes, n_tasks), counts)
    for n in (1, 2):
        out[f"distinct_{n}_all"] = corpus_difference(
            matched_corpus_distinct(sim.grams[n], sim_codes, sizes, counts, rng),
            matched_corpus_distinct(human.grams[n], human_codes, sizes, counts, rng), n_tasks)
    out["similarity_across"] = corpus_difference(across_similarity(sim_similarity, sim_codes, n_tasks, counts),
                                                 across_similarity(human_similarity, human_codes, n_tasks, counts),
                                                 n_tasks)
    return {metric: out[metric] for metric in METRICS}


def difference_rows(name: str, found: Mapping[str, Difference], level: float) -> list[dict[str, Any]]:
    """Rows (:data:`COLUMNS`) of one simulator: the difference's centred bootstrap interval
    (:func:`usersim_utils.stats.centred_interval`: resampling repeats whole tasks, which biases
    the corpus statistics), none on fewer than :data:`MIN_TASKS` tasks; ``more_varied`` /
    ``less_varied`` only when it excludes 0."""
    rows = []
    for metric, d in found.items():
        low, high = (stats.confidence_interval(d.diff, d.replicates, level=level, method="centred")
                     if d.n_tasks >= MIN_TASKS else (np.nan, np.nan))
        above, below = bool(low > 0), bool(high < 0)  # False for NaN bounds
        higher = HIGHER_IS_MORE_VARIED[metric]
        rows.append({"name": name, "scale": SCALES[metric], "metric": metric, "simulator": d.simulator,
                     "human": d.human, "diff": d.diff, "low": low, "high": high,
                     "more_varied": above if higher else below, "less_varied": below if higher else above,
                     "n_tasks": d.n_tasks, "short_simulator": d.short_simulator, "short_human": d.short_human})
    return rows


def compare_with_humans(texts: pd.DataFrame, rng: np.random.Generator, *, human_label: str = schema.HUMAN_LABEL,
                        n_boot: int = N_BOOT, level: float = 0.95) -> pd.DataFrame:
    """Every metric of every simulator beside the humans', with the paired interval of the difference.

    ``texts``: :func:`usersim_utils.distinguish.user_texts` tables concatenated (columns
    :data:`usersim_utils.distinguish.TEXT_COLUMNS`), one of them labelled ``human_label``.
    Kept rows with a user turn; each simulator on the tasks it shares with the humans.
    Simulators in table order, each with its own child of ``rng`` (one task resample
    (B, T) shared by its metrics and both sides, then its subsamples). Columns
    :data:`COLUMNS`, one row per simulator and metric (:data:`METRICS`); a simulator with no
    task in common with the humans gets undefined rows (NaN values, ``n_tasks`` 0, no
    verdict), so a study where one simulator played other tasks still reports the others.
    Raises ``ValueError`` without human rows.
    """
    stats.check_level(level)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, not {n_boot}")
    rows = usable_rows(texts)
    human_rows = rows[rows["label"] == human_label]
    if human_rows.empty:
        raise ValueError(f"no usable conversation labelled {human_label!r} to compare with")
    human = make_side(list(human_rows["task_key"]), list(human_rows["text"]))
    labels = [x for x in dict.fromkeys(rows["label"]) if x != human_label]
    records = []
    for label, child in zip(labels, rng.spawn(len(labels))):
        mine = rows[rows["label"] == label]
        tasks = sorted(set(mine["task_key"]) & set(human_rows["task_key"]))
        if not tasks:
            undefined = Difference(np.nan, np.nan, np.nan, np.full(n_boot, np.nan), 0)
            records += difference_rows(label, dict.fromkeys(METRICS, undefined), level)
            continue
        sim, sim_codes = on_tasks(make_side(list(mine["task_key"]), list(mine["text"])), tasks)
        human_here, human_codes = on_tasks(human, tasks)
        counts = stats.resample_counts(len(tasks), n_boot, child)
        found = differences(sim, sim_codes, human_here, human_codes, counts, child)
        records += difference_rows(label, found, level)
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def compare_records(human_records: Mapping[str, Mapping[str, Any]],
                    simulators: Mapping[str, Mapping[str, Mapping[str, Any]]], rng: np.random.Generator,
                    *, n_boot: int = N_BOOT, level: float = 0.95) -> pd.DataFrame:
    """:func:`compare_with_humans` of raw records: human sessions and ``{label: rollouts}``."""
    tables = [user_texts(human_records, source="human", label=schema.HUMAN_LABEL)]
    tables += [user_texts(records, source="llm", label=label) for label, records in simulators.items()]
    return compare_with_humans(pd.concat(tables, ignore_index=True), rng, n_boot=n_boot, level=level)


def count_verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """Per simulator: on how many metrics it is more varied, less varied, or not told apart
    from people (the interval of the difference reaches 0, or the metric is undefined)."""
    verdict = np.select([table["more_varied"], table["less_varied"]], ["more varied", "less varied"], "cannot tell")
    counts = pd.crosstab(table["name"], verdict).reindex(columns=["more varied", "less varied", "cannot tell"],
                                                         fill_value=0)
    return counts.reindex(list(dict.fromkeys(table["name"]))).rename_axis(index=None, columns=None)
