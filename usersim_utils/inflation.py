"""Does fidelity forecast success inflation? The paper's "easy mode" as numbers.

An agent tested against a simulated user succeeds more often than against people when the
simulator is too cooperative. The per-simulator gap ΔSuccess (simulator − people on the
tasks both have, with a task-bootstrap interval) is :func:`usersim_utils.feedback.success_gap`.
This module adds three questions around it:

* **Does the simulator succeed on the same tasks as people?** ΔSuccess can be 0 while the
  two succeed on different tasks. :func:`outcome_agreement` compares, task by task, the
  majority outcome of the simulator's runs with the majority outcome of the people's
  sessions (a tie counts as success on neither side: it is left out), by Cohen's κ and by
  the F1 of the simulator's successes against people's.
* **Does a higher fidelity score forecast less inflation?** Across simulators,
  :func:`fidelity_forecast` gives Spearman's ρ between each fidelity score (USI, a term,
  the matched gap, indistinguishability, the distributional index, ...) and |ΔSuccess|,
  with a percentile interval over resamples of the simulators (the simulators are the
  units; with a handful of them the interval is wide, and it says so).
* **Does the simulator cover the population of people?** :func:`population_coverage` is a
  two-sided Chamfer distance in feature space z-scored by people: the mean distance from
  each conversation of one set to the nearest of the other, both ways. Like with like (as
  the matched comparison), one simulator run is set against one human batch, averaged over
  runs and batches, and divided by the same distance between two human batches (people's
  own spread): sets of the same size, since nearest neighbours are nearer in a larger set.
  1 is "as far as people are from each other"; a simulator whose conversations lie away
  from people's scores above 1. Its blind spot: in 19 dimensions a set's centre is nearer
  to its points than they are to each other, so a simulator collapsed on each task's mean
  (no spread at all) scores *below* 1 (``tests/test_inflation.py``). Below 1 is therefore
  not "better than people": read coverage beside the diversity measures. Its interval resamples
  tasks with the nearest-neighbour distances held fixed (each computed once, against the
  whole other set), so it reflects which conversations are averaged, not which are
  available as neighbours.

Every resampling function takes an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score, f1_score
from sklearn.neighbors import NearestNeighbors

from . import ids
from .features import FEATURES
from .stats import cluster_weights, percentile_interval

AGREEMENT_COLUMNS = ("n_tasks", "kappa", "f1", "human_success_share", "sim_success_share")
FORECAST_COLUMNS = ("score", "n_simulators", "spearman", "low", "high")
COVERAGE_COLUMNS = ("chamfer", "human_chamfer", "relative", "low", "high", "n_human", "n_simulator")


# --- Outcomes task by task. ----------------------------------------------------------------------
def majority_outcomes(table: pd.DataFrame) -> pd.Series:
    """Per task of the kept rows of an outcomes or features table (``task_key``, ``keep``,
    ``success``): 1 when most conversations succeeded, 0 when most failed; ties left out."""
    kept = table.loc[table["keep"]]
    share = kept.groupby("task_key")["success"].mean()
    share = share[share != 0.5]
    return (share > 0.5).astype(int)


def outcome_agreement(human: pd.DataFrame, sim: pd.DataFrame) -> dict[str, float]:
    """:data:`AGREEMENT_COLUMNS` of the simulator's majority outcome against people's on the
    tasks both decide (:func:`majority_outcomes`); κ and F1 are NaN with fewer than two
    tasks or when either side never varies (κ) or never succeeds (F1)."""
    people, simulated = majority_outcomes(human), majority_outcomes(sim)
    shared = people.index.intersection(simulated.index)
    y_human, y_sim = people.loc[shared].to_numpy(), simulated.loc[shared].to_numpy()
    n = len(shared)
    varies = n >= 2 and len(set(y_human)) > 1 and len(set(y_sim)) > 1
    kappa = float(cohen_kappa_score(y_human, y_sim)) if varies else math.nan
    f1 = float(f1_score(y_human, y_sim, zero_division=np.nan)) if n >= 2 else math.nan
    return {"n_tasks": n, "kappa": kappa, "f1": f1,
            "human_success_share": float(y_human.mean()) if n else math.nan,
            "sim_success_share": float(y_sim.mean()) if n else math.nan}


# --- Fidelity against inflation, across simulators. ------------------------------------------------
def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    return float(np.corrcoef(rx, ry)[0, 1])


def fidelity_forecast(
    scores: pd.DataFrame,
    inflation: Mapping[str, float],
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
) -> pd.DataFrame:
    """A row per column of ``scores`` (index: simulator names; a column per fidelity score):
    Spearman's ρ between the score and ``inflation`` (name -> |ΔSuccess|) over the simulators
    with both, and its percentile interval over ``n_boot`` resamples of those simulators
    (resamples where a side is constant are left out). A forecast of less inflation by
    higher fidelity is a negative ρ. Columns: :data:`FORECAST_COLUMNS`."""
    target = pd.Series(dict(inflation), dtype=float)
    rows = []
    for column in scores.columns:
        both = pd.concat([scores[column].astype(float), target], axis=1, join="inner").dropna()
        x, y = both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()
        rho = _spearman(x, y)
        if math.isnan(rho):
            low = high = math.nan
        else:
            draws = rng.integers(0, len(x), size=(n_boot, len(x)))
            low, high = percentile_interval(np.array([_spearman(x[d], y[d]) for d in draws]), level)
        rows.append((column, len(x), rho, low, high))
    return pd.DataFrame(rows, columns=list(FORECAST_COLUMNS))


# --- Population coverage. -------------------------------------------------------------------------
def _kept_with_features(table: pd.DataFrame) -> pd.DataFrame:
    return table.loc[table["keep"] & table["has_features"]]


def nearest_distances(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(n,) Euclidean distance from each of ``points`` (n, d) to its nearest of ``others`` (m, d)."""
    return NearestNeighbors(n_neighbors=1).fit(others).kneighbors(points)[0][:, 0]


def _chamfer_terms(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return nearest_distances(a, b), nearest_distances(b, a)


def _weighted_chamfer(d_a: np.ndarray, d_b: np.ndarray, w_a: np.ndarray, w_b: np.ndarray) -> np.ndarray:
    """(K,) mean of ``d_a`` weighted by ``w_a`` (K, n_a) plus mean of ``d_b`` by ``w_b``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w_a @ d_a) / w_a.sum(axis=-1) + (w_b @ d_b) / w_b.sum(axis=-1)


def population_coverage(human: pd.DataFrame, sim: pd.DataFrame, rng: np.random.Generator, *,
                        n_boot: int = 1000, level: float = 0.95) -> dict[str, float]:
    """:data:`COVERAGE_COLUMNS` of one simulator, like with like: the two-sided Chamfer
    distance between one simulator run and one human batch (each a conversation per task),
    averaged over runs and batches (``chamfer``), against the same distance between two human
    batches, averaged over the pairs (``human_chamfer``, people's own spread); their ratio
    ``relative`` and its percentile interval over task resamples (the same draws for both).
    Features are z-scored by people's kept conversations. NaN with fewer than two human
    batches or no simulated conversation."""
    people, simulated = _kept_with_features(human), _kept_with_features(sim)
    batches = sorted(set(people["batch"]))
    if len(batches) < 2 or simulated.empty:
        return dict.fromkeys(COVERAGE_COLUMNS, math.nan) | {"n_human": len(people), "n_simulator": len(simulated)}
    reference = people[list(FEATURES)].to_numpy(dtype=float)
    mean, sd = reference.mean(axis=0), reference.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)  # a feature constant among people is not rescaled

    def side(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return (rows[list(FEATURES)].to_numpy(dtype=float) - mean) / sd, rows["task_key"].to_numpy()

    human_sides = [side(people.loc[people["batch"] == b]) for b in batches]
    run_of = simulated["key"].map(ids.ece_run_index)
    sim_sides = [side(simulated.loc[run_of == r]) for r in sorted(set(run_of))]
    tasks = np.unique(np.concatenate([t for _, t in (*human_sides, *sim_sides)]))
    position = {t: i for i, t in enumerate(tasks)}
    task_w = np.vstack([np.ones((1, len(tasks))), cluster_weights(tasks, n_boot, rng)])  # (1 + B, T)

    def chamfer(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        d_a, d_b = _chamfer_terms(a[0], b[0])
        w_a = task_w[:, [position[t] for t in a[1]]]
        w_b = task_w[:, [position[t] for t in b[1]]]
        return _weighted_chamfer(d_a, d_b, w_a, w_b)

    # A resample that gives every task of a side zero weight leaves that distance undefined
    # (a run of a few tasks often): NaN in every pair, so that replicate is left out of the
    # interval (percentile_interval), without numpy's "mean of empty slice" warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sim_values = np.nanmean([chamfer(run, batch) for run in sim_sides for batch in human_sides], axis=0)
        human_values = np.nanmean([chamfer(human_sides[i], human_sides[j])
                                   for i in range(len(batches)) for j in range(i + 1, len(batches))], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = sim_values / human_values
    low, high = percentile_interval(relative[1:], level)
    return {"chamfer": float(sim_values[0]), "human_chamfer": float(human_values[0]),
            "relative": float(relative[0]), "low": low, "high": high, "n_human": len(people),
            "n_simulator": len(simulated)}


def coverage_table(human: pd.DataFrame, simulators: Mapping[str, pd.DataFrame], rng: np.random.Generator, *,
                   labels: Sequence[str] | None = None, n_boot: int = 1000, level: float = 0.95) -> pd.DataFrame:
    """:func:`population_coverage` of each simulator (``rng`` consumed in label order): a row
    per simulator, index ``name``."""
    labels = list(labels) if labels is not None else list(simulators)
    rows = {label: population_coverage(human, simulators[label], rng, n_boot=n_boot, level=level)
            for label in labels}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(COVERAGE_COLUMNS)).rename_axis("name")
