"""Honest statistics over many tests and clustered data.

* **Multiplicity.** Eight survey items x every simulator x several tests is a large
  family: :func:`adjust_pvalues` and :func:`adjust_table` add Holm (family-wise
  error) and Benjamini-Hochberg (false discovery rate) adjusted p-values, from
  statsmodels' maintained ``multipletests``.
* **Clustering.** The three sessions of a task share the task (its difficulty,
  its scenario), so they are not independent. :func:`cluster_weights` resamples
  whole tasks; :func:`clustered_correlation` and :func:`clustered_mean` give
  percentile intervals over task resamples.
* **"No relation" needs a bound, not a p-value.** A large p-value says the data
  cannot tell, not that the correlation is small. :func:`largest_correlation` is
  the largest |correlation| the data still allow: the equivalence margin that two
  one-sided tests at level α would just reject, i.e. max(|low|, |high|) of the
  clustered (1 − 2α) interval.
* **Arena per family**: correlations of USI with Chatbot Arena ratings within each
  model family, with Fisher-z intervals and the number of points, beside the
  paper's values (:func:`arena_family_correlations`).

Drop-in tables for notebook 05: :func:`reward_judgement` (reward versus each
survey item, clustered intervals, the bound, adjusted p-values) and
:func:`overrating` (the over-rating table of :func:`feedback.mean_differences`,
whose intervals are already clustered by task, with adjusted p-values).
Every resampling function takes an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from . import feedback, published
from .survey import SURVEY_ITEMS

Correction = Literal["holm", "bh"]
Kind = Literal["pearson", "spearman"]
#: Our names of the corrections -> statsmodels' ``method``.
CORRECTIONS: dict[str, str] = {"holm": "holm", "bh": "fdr_bh"}


# --- Multiplicity. ------------------------------------------------------------------------------
def adjust_pvalues(pvalues: Sequence[float] | np.ndarray, method: Correction = "holm") -> np.ndarray:
    """Adjusted p-values of one family of tests (statsmodels ``multipletests``).

    ``"holm"``: Holm's step-down (controls the family-wise error rate);
    ``"bh"``: Benjamini-Hochberg (controls the false discovery rate).
    NaN p-values (tests that could not be run) stay NaN and are not counted in
    the family. Shape as ``pvalues``.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"method must be one of {', '.join(CORRECTIONS)}, not {method!r}")
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    defined = ~np.isnan(p)
    if np.any((p[defined] < 0) | (p[defined] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    if defined.any():
        out[defined] = multipletests(p[defined], method=CORRECTIONS[method])[1]
    return out


def adjust_table(
    table: pd.DataFrame,
    p_columns: Sequence[str],
    *,
    by: Sequence[str] | None = None,
    methods: Sequence[Correction] = ("holm", "bh"),
) -> pd.DataFrame:
    """``table`` with ``<p column>_<method>`` columns of adjusted p-values.

    Each p column is its own family; with ``by`` (e.g. ``["label"]``) each group of
    rows is a separate family, without it the whole table is one (the safe
    default: every simulator and item together). Rows keep their order.
    """
    missing = [c for c in [*p_columns, *(by or [])] if c not in table.columns]
    if missing:
        raise ValueError(f"no column {missing[0]!r} in the table")
    out = table.copy()
    family = out.groupby(list(by), sort=False, dropna=False).ngroup() if by else pd.Series(0, index=out.index)
    groups = [out.index[(family == f).to_numpy()] for f in family.unique()]
    for column in p_columns:
        for method in methods:
            adjusted = pd.Series(np.nan, index=out.index)
            for idx in groups:
                adjusted.loc[idx] = adjust_pvalues(out.loc[idx, column].to_numpy(dtype=float), method)
            out[f"{column}_{method}"] = adjusted.to_numpy()
    return out


# --- Cluster bootstrap. ---------------------------------------------------------------------------
def cluster_weights(clusters: Sequence[Any] | np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) observation weights of a cluster bootstrap: each row draws as
    many clusters as there are, with replacement (one ``rng.multinomial`` call), and
    an observation weighs as many times as its cluster was drawn."""
    codes, uniques = pd.factorize(pd.Series(list(clusters)), sort=True)
    n_clusters = len(uniques)
    if n_clusters == 0:
        return np.zeros((n_boot, 0))
    drawn = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot).astype(float)
    return drawn[:, codes]


def weighted_pearson(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(K,) Pearson correlation of ``x`` and ``y`` ((n,) or (K, n)) with observation
    weights (K, n); NaN where a side is constant."""
    w = np.atleast_2d(weights)
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (w * x).sum(axis=1, keepdims=True) / total
        my = (w * y).sum(axis=1, keepdims=True) / total
        dx, dy = x - mx, y - my
        cov = (w * dx * dy).sum(axis=1)
        var = (w * dx * dx).sum(axis=1) * (w * dy * dy).sum(axis=1)
        r = np.where(var > 0, cov / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0)


def weighted_ranks(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(K, n) mid-ranks of ``x`` (n,) in the sample where observation i appears
    ``weights[k, i]`` times (ties share their mean rank, as ``scipy.stats.rankdata``)."""
    levels, codes = np.unique(x, return_inverse=True)
    w = np.atleast_2d(weights)
    per_level = np.zeros((len(w), len(levels)))
    np.add.at(per_level.T, codes, w.T)
    below = np.cumsum(per_level, axis=1) - per_level
    midrank = below + (per_level + 1.0) / 2.0
    return midrank[:, codes]


def weighted_correlation(x: np.ndarray, y: np.ndarray, weights: np.ndarray, kind: Kind = "pearson") -> np.ndarray:
    """(K,) Pearson or Spearman correlation under observation weights (K, n);
    integer weights give the correlation of the expanded sample exactly."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if kind == "pearson":
        return weighted_pearson(x, y, weights)
    if kind == "spearman":
        return weighted_pearson(weighted_ranks(x, weights), weighted_ranks(y, weights), weights)
    raise ValueError(f"kind must be 'pearson' or 'spearman', not {kind!r}")


def _percentile(replicates: np.ndarray, level: float) -> tuple[float, float]:
    values = replicates[~np.isnan(replicates)]
    if values.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be in (0, 1), not {level!r}")


def cluster_bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray],
    clusters: Sequence[Any] | np.ndarray,
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """``(estimate, low, high)`` of any statistic written over observation weights
    ((K, n) -> (K,)), with a percentile interval over cluster resamples."""
    _check_level(level)
    n = len(clusters)
    estimate = float(statistic(np.ones((1, n)))[0])
    replicates = statistic(cluster_weights(clusters, n_boot, rng))
    return (estimate, *_percentile(np.asarray(replicates, dtype=float), level))


def clustered_correlation(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    clusters: Sequence[Any] | np.ndarray,
    rng: np.random.Generator,
    *,
    kind: Kind = "pearson",
    n_boot: int = 1000,
    level: float = 0.95,
) -> dict[str, float]:
    """A correlation with a task-clustered percentile bootstrap interval.

    ``clusters``: one label per observation (the task key). Resamples where a side
    is constant are left out. Returns ``{"r", "low", "high", "n", "n_clusters"}``;
    NaN values for fewer than 3 observations.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not len(x) == len(y) == len(clusters):
        raise ValueError("x, y and clusters must have one entry per observation")
    n_clusters = int(pd.Series(list(clusters)).nunique())
    if len(x) < 3:
        return {"r": math.nan, "low": math.nan, "high": math.nan, "n": len(x), "n_clusters": n_clusters}
    r, low, high = cluster_bootstrap(lambda w: weighted_correlation(x, y, w, kind), clusters, rng,
                                     n_boot=n_boot, level=level)
    return {"r": r, "low": low, "high": high, "n": len(x), "n_clusters": n_clusters}


def clustered_mean(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[Any] | np.ndarray,
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` (e.g. simulator − human answer
    differences) with a task-clustered percentile interval; NaN for no values."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    return cluster_bootstrap(lambda w: (w @ v) / w.sum(axis=1), clusters, rng, n_boot=n_boot, level=level)


def largest_correlation(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    clusters: Sequence[Any] | np.ndarray,
    rng: np.random.Generator,
    *,
    alpha: float = 0.05,
    kind: Kind = "pearson",
    n_boot: int = 1000,
) -> float:
    """The largest |correlation| the data still allow (an equivalence bound).

    Two one-sided tests at level ``alpha`` reject "|rho| >= d" exactly when the
    (1 − 2·alpha) interval of rho lies inside (−d, d); the smallest such d is
    max(|low|, |high|) of the task-clustered (1 − 2·alpha) percentile interval.
    Any correlation stronger than the returned value is rejected at ``alpha``;
    weaker ones are compatible with the data. NaN for fewer than 3 observations.
    """
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), not {alpha!r}")
    out = clustered_correlation(x, y, clusters, rng, kind=kind, n_boot=n_boot, level=1.0 - 2.0 * alpha)
    return max(abs(out["low"]), abs(out["high"])) if not math.isnan(out["low"]) else math.nan


# --- Drop-in tables for the feedback notebook. ------------------------------------------------------
REWARD_JUDGEMENT_COLUMNS: tuple[str, ...] = (
    "item", "n", "n_tasks", "r", "r_low", "r_high", "largest_abs_r", "p", "p_holm", "p_bh",
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

    ``reward_answers``: :func:`feedback.reward_with_answers` (``task_key``,
    ``success``, ``item``, ``value_norm``). Per item over sessions with a valid
    answer: ``r`` (Pearson = point-biserial, or Spearman), its task-clustered
    interval at ``level`` (``r_low``, ``r_high``), ``largest_abs_r``
    (:func:`largest_correlation` with alpha = 1 − level, the equivalence test at the
    interval's own level: the (2·level − 1) interval's larger end; ``level`` must
    exceed 0.5), ``p`` (scipy's test, which treats sessions as independent)
    and its Holm and BH adjustments over the items. ``rng`` is consumed item by
    item: interval, then bound.
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
            r = low = high = bound = p = math.nan
        else:
            out = clustered_correlation(x, y, clusters, rng, kind=kind, n_boot=n_boot, level=level)
            r, low, high = out["r"], out["low"], out["high"]
            bound = largest_correlation(x, y, clusters, rng, alpha=1.0 - level, kind=kind, n_boot=n_boot)
            test = scipy_stats.pearsonr(x, y) if kind == "pearson" else scipy_stats.spearmanr(x, y)
            p = float(test.pvalue)
        records.append({"item": item, "n": len(rows), "n_tasks": int(pd.Series(clusters).nunique()), "r": r,
                        "r_low": low, "r_high": high, "largest_abs_r": bound, "p": p})
    table = pd.DataFrame.from_records(records, columns=list(REWARD_JUDGEMENT_COLUMNS[:-2]))
    return adjust_table(table, ["p"])


def overrating(
    pairs: pd.DataFrame,
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    n_perm: int = 1000,
    level: float = 0.95,
    by: Sequence[str] | None = None,
) -> pd.DataFrame:
    """:func:`feedback.mean_differences` (over-rating per simulator and item, its
    interval clustered by task) with Holm and BH adjusted ``wilcoxon_p`` and
    ``sign_flip_p``: every (simulator, item) row is one family per test, or one
    family per group of ``by`` (e.g. ``["label"]``: the 8 items of a simulator)."""
    table = feedback.mean_differences(pairs, rng, n_boot=n_boot, n_perm=n_perm, level=level)
    return adjust_table(table, ["wilcoxon_p", "sign_flip_p"], by=by)


# --- Arena ratings per family. ---------------------------------------------------------------------
def arena_family_correlations(
    usi_by_name: Mapping[str, float],
    arena: pd.DataFrame | None = None,
    *,
    level: float = 0.95,
    families: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Pearson r of USI with the Arena rating within each model family.

    ``usi_by_name``: USI per simulator, keyed by any label or name that
    :func:`published.resolve_name` knows (e.g. ``board.set_index("name")["usi"]``,
    or the published values); ``arena``: :func:`published.arena_elo` (rows are
    matched by their ``model`` name the same way). Fisher-z interval
    (:func:`feedback.fisher_interval`, needs 4 points). Rows per family (all
    families with a rating, or ``families``), with ``paper_r`` from
    :data:`published.PUBLISHED_ARENA_R` (NaN where the paper gives none).
    Columns: ``family``, ``n``, ``models``, ``r``, ``low``, ``high``, ``paper_r``.
    """
    _check_level(level)
    arena = published.arena_elo() if arena is None else arena
    usi_values = {}
    for name, value in usi_by_name.items():
        resolved = published.resolve_name(str(name))
        if resolved is not None and value is not None and not (isinstance(value, float) and math.isnan(value)):
            usi_values[resolved] = float(value)
    points = arena.assign(resolved=[published.resolve_name(str(m)) for m in arena["model"]])
    points = points.assign(usi=points["resolved"].map(usi_values)).dropna(subset=["usi", "elo"])
    records = []
    for family in families if families is not None else list(dict.fromkeys(arena["family"])):
        rows = points[points["family"] == family]
        n = len(rows)
        r = math.nan
        if n >= 3 and np.ptp(rows["elo"]) > 0 and np.ptp(rows["usi"]) > 0:
            r = float(scipy_stats.pearsonr(rows["elo"].astype(float), rows["usi"]).statistic)
        low, high = feedback.fisher_interval(r, n, level)
        records.append({"family": family, "n": n, "models": ", ".join(rows["resolved"]), "r": r, "low": low,
                        "high": high, "paper_r": published.PUBLISHED_ARENA_R.get(family, math.nan)})
    return pd.DataFrame.from_records(records, columns=["family", "n", "models", "r", "low", "high", "paper_r"])
