"""Statistics shared by every analysis: intervals, tests, agreement and rank
correlation, multiple testing and clustered data. Generic: nothing here knows the
study; the analyses (``feedback``, ``uncertainty``, ``fidelity``, ``baselines``,
``arena``, ...) call these.

* **Intervals.** Of a proportion (:func:`wilson_interval`), of a correlation
  (:func:`fisher_interval`), and from bootstrap replicates: percentile, centred
  (shifted by the bootstrap bias) and BCa (:func:`confidence_interval`), with the
  resampling weights (:func:`resample_counts`, :func:`jackknife_weights`) and
  ready-made bootstraps of a mean (:func:`bootstrap_mean_interval`), of Spearman's
  rho (:func:`bootstrap_spearman_interval`) and of any weighted statistic
  (:func:`bootstrap_interval`).
* **Tests and agreement.** Paired sign-flip permutation test and Wilcoxon
  signed-rank p-value; weighted Cohen's kappa; Kendall's τ-b of two rankings.
* **Multiplicity.** Eight survey items x every simulator x several tests is a large
  family: :func:`adjust_pvalues` and :func:`adjust_table` add Holm (family-wise
  error) and Benjamini-Hochberg (false discovery rate) adjusted p-values, from
  statsmodels' maintained ``multipletests``.
* **Clustering.** The three sessions of a task share the task (its difficulty,
  its scenario), so they are not independent. :func:`cluster_weights` resamples
  whole tasks; :func:`clustered_correlation` and :func:`clustered_mean` give
  percentile intervals over task resamples.
* **"No relation" needs a bound, not a p-value.** A large p-value says the data
  cannot tell, not that the correlation is small. :func:`equivalence_bound` (given by
  :func:`clustered_correlation` with ``equivalence_alpha``, from the interval's own
  resamples) is the largest |correlation| the data still allow: the equivalence margin
  that two one-sided tests at level α would just reject, i.e. max(|low|, |high|) of the
  clustered (1 − 2α) interval.

Every resampling function takes an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from .errors import DataError

Correction = Literal["holm", "bh"]
Kind = Literal["pearson", "spearman"]
#: Our names of the corrections -> statsmodels' ``method``.
CORRECTIONS: dict[str, str] = {"holm": "holm", "bh": "fdr_bh"}
Method = Literal["centred", "percentile", "bca"]
#: The bootstrap interval methods of :func:`confidence_interval`.
METHODS: tuple[str, ...] = ("centred", "percentile", "bca")


# --- Levels, proportions and correlations. -----------------------------------------------------
def check_level(level: float) -> None:
    """``ValueError`` unless the confidence ``level`` lies in (0, 1)."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be in (0, 1), not {level!r}")


def normal_quantile(level: float) -> float:
    """Two-sided standard-normal quantile of a confidence ``level`` (0.95 -> 1.96)."""
    check_level(level)
    return float(scipy_stats.norm.ppf(0.5 + level / 2))


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / n``.

    ``(nan, nan)`` when ``n`` is 0. With z the two-sided normal quantile:
    centre = (p + z²/2n) / (1 + z²/n), half-width = z/(1 + z²/n)·sqrt(p(1−p)/n + z²/4n²).
    """
    if n == 0:
        return math.nan, math.nan
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], not {successes}")
    z = normal_quantile(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def fisher_interval(r: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of a Pearson correlation ``r`` on ``n`` pairs by Fisher's
    z-transform: tanh(atanh(r) ± z/sqrt(n − 3)). ``(nan, nan)`` when ``n < 4`` or ``r``
    is NaN; ``(r, r)`` when ``|r| = 1``."""
    if n < 4 or math.isnan(r):
        return math.nan, math.nan
    if abs(r) >= 1:
        return r, r
    half = normal_quantile(level) / math.sqrt(n - 3)
    centre = math.atanh(r)
    return math.tanh(centre - half), math.tanh(centre + half)


# --- Bootstrap intervals. -------------------------------------------------------------------
def without_nan(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The values that are not NaN, as a float array (the replicates a statistic defines)."""
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def resample_counts(n_tasks: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_tasks) integer counts: each row draws ``n_tasks`` tasks with replacement."""
    return rng.multinomial(n_tasks, np.full(n_tasks, 1.0 / n_tasks), size=n_boot).astype(float)


def jackknife_weights(n_tasks: int) -> np.ndarray:
    """(n_tasks, n_tasks) weights leaving out one task per row (for BCa's acceleration)."""
    return 1.0 - np.eye(n_tasks)


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the defined replicates; NaN when none is defined."""
    values = without_nan(replicates)
    if values.size == 0:
        return np.nan, np.nan
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def centred_interval(replicates: np.ndarray, estimate: float, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval shifted by the bootstrap bias (mean replicate −
    ``estimate``), so that it is centred like the replicates around ``estimate``:
    an interval for the expected value of the statistic at the study's size."""
    values = without_nan(replicates)
    if values.size == 0 or np.isnan(estimate):
        return np.nan, np.nan
    bias = values.mean() - estimate
    low, high = percentile_interval(values, level)
    return float(low - bias), float(high - bias)


def bca_interval(
    replicates: np.ndarray, estimate: float, jackknife: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """Bias-corrected and accelerated interval (Efron 1987).

    Bias correction z0 = Φ⁻¹(share of replicates below the estimate, ties counted
    half); acceleration from the leave-one-task-out values ``jackknife``:
    a = Σ(m − θ_i)³ / (6 (Σ(m − θ_i)²)^1.5), m their mean. NaN replicates and
    jackknife values are left out; all replicates equal -> (that value, that value).
    When nearly every replicate lies on one side of the estimate, z0 is large and
    the interval shrinks onto the extreme replicates (see :mod:`usersim_utils.uncertainty`).
    """
    values = without_nan(replicates)
    if values.size == 0 or np.isnan(estimate):
        return np.nan, np.nan
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    share = (np.sum(values < estimate) + 0.5 * np.sum(values == estimate)) / values.size
    share = float(np.clip(share, 0.5 / values.size, 1.0 - 0.5 / values.size))
    z0 = scipy_stats.norm.ppf(share)
    jack = without_nan(jackknife)
    spread = jack.mean() - jack if jack.size else np.zeros(1)
    denom = 6.0 * np.sum(spread**2) ** 1.5
    accel = float(np.sum(spread**3) / denom) if denom > 0 else 0.0
    alpha = (1.0 - level) / 2.0
    quantiles = []
    for z in (scipy_stats.norm.ppf(alpha), scipy_stats.norm.ppf(1.0 - alpha)):
        quantiles.append(scipy_stats.norm.cdf(z0 + (z0 + z) / (1.0 - accel * (z0 + z))))
    low, high = np.quantile(values, quantiles)
    return float(low), float(high)


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")


def confidence_interval(
    estimate: float,
    replicates: np.ndarray,
    jackknife: np.ndarray | None = None,
    level: float = 0.95,
    method: Method = "centred",
) -> tuple[float, float]:
    """``(low, high)`` of one statistic from its bootstrap ``replicates`` by
    ``method``; ``jackknife`` (leave-one-out values) is needed for ``"bca"`` only."""
    check_method(method)
    if method == "bca" and jackknife is None:
        raise ValueError("the bca interval needs the jackknife values")
    if method == "centred":
        return centred_interval(replicates, estimate, level)
    if method == "percentile":
        return percentile_interval(replicates, level)
    return bca_interval(replicates, estimate, jackknife, level)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval."""

    estimate: float
    low: float
    high: float


def bootstrap_interval(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    method: Method = "percentile",
) -> Interval:
    """Bootstrap interval of any statistic written over observation weights.

    ``statistic`` maps (K, n) weights to (K,) values, e.g. a mean
    ``lambda w: w @ x / w.sum(axis=1)``; weights of ones give the estimate.
    """
    check_method(method)
    estimate = float(statistic(np.ones((1, n)))[0])
    replicates = statistic(resample_counts(n, n_boot, rng))
    jackknife = statistic(jackknife_weights(n)) if method == "bca" else np.empty(0)
    return Interval(estimate, *confidence_interval(estimate, replicates, jackknife, level, method))


def bootstrap_mean_interval(
    values: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    *,
    clusters: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` with a percentile bootstrap interval.

    With ``clusters`` (one label per value, e.g. the task key) whole clusters are
    resampled with replacement and the statistic is the pooled mean of the values
    they hold (a cluster bootstrap: the batches of one task are not independent).
    Without, every value is its own cluster. One ``rng.integers`` call of shape
    ``(n_boot, n_clusters)``. ``(nan, nan, nan)`` for no values.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan, math.nan, math.nan
    if clusters is None:
        sums, counts = values, np.ones_like(values)
    else:
        codes, _ = pd.factorize(pd.Series(list(clusters)), sort=True)
        if len(codes) != values.size:
            raise ValueError("clusters must have one label per value")
        sums = np.bincount(codes, weights=values)
        counts = np.bincount(codes).astype(float)
    draws = rng.integers(0, sums.size, size=(n_boot, sums.size))
    boot = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    lo, hi = percentile_interval(boot, level)
    return float(values.mean()), lo, hi


def bootstrap_spearman_interval(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's rho, resampling pairs (one
    ``rng.integers`` call). Resamples where a side is constant are skipped.
    ``(nan, nan)`` for fewer than 3 pairs."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3:
        return math.nan, math.nan
    draws = rng.integers(0, x.size, size=(n_boot, x.size))
    rx = scipy_stats.rankdata(x[draws], axis=1)
    ry = scipy_stats.rankdata(y[draws], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(denom > 0, (rx * ry).sum(axis=1) / denom, np.nan)
    return percentile_interval(rho, level)


# --- Paired tests. ------------------------------------------------------------------------------
def sign_flip_test(
    differences: Sequence[float] | np.ndarray, rng: np.random.Generator, *, n_perm: int = 1000
) -> float:
    """Two-sided paired permutation p-value of "mean difference = 0".

    Under the null each difference is as likely to have either sign; the statistic
    is |mean|. When 2**n <= ``n_perm`` every sign vector is enumerated (exact,
    ``rng`` unused); otherwise ``n_perm`` random sign vectors are drawn (one
    ``rng.choice`` call) and p = (1 + #{|mean*| >= |mean|}) / (1 + n_perm).
    1.0 when every difference is 0; NaN for no differences.
    """
    d = np.asarray(differences, dtype=float)
    n = d.size
    if n == 0:
        return math.nan
    observed = abs(d.mean())
    if np.all(d == 0):
        return 1.0
    tolerance = 1e-12 * max(1.0, observed)  # float sums of permuted signs must still count as ties
    if 2**n <= n_perm:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        permuted = np.abs((signs * d).mean(axis=1))
        return float(np.mean(permuted >= observed - tolerance))
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_perm, n))
    permuted = np.abs((signs * d).mean(axis=1))
    return float((1 + np.sum(permuted >= observed - tolerance)) / (1 + n_perm))


def wilcoxon_p(differences: Sequence[float] | np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value (scipy, zero differences dropped);
    1.0 when every difference is 0, NaN for no differences."""
    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        return math.nan
    if np.all(d == 0):
        return 1.0
    return float(scipy_stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


# --- Agreement and rank correlation. ------------------------------------------------------------
def weighted_kappa(
    rater_a: Sequence[Any], rater_b: Sequence[Any], categories: Sequence[Any], *, weights: str = "quadratic"
) -> float:
    """Weighted Cohen's kappa of two raters over ordered ``categories``.

    From the confusion matrix O (proportions, rows = ``rater_a``) and the product of
    its margins E: kappa = 1 − Σ W·O / Σ W·E with W_ij = ((i − j)/(k − 1))²
    (``"quadratic"``) or |i − j|/(k − 1) (``"linear"``). NaN when there are no
    ratings or Σ W·E = 0 (both raters always give the same single category).
    Raises :class:`DataError` for a rating outside ``categories``.
    """
    if len(rater_a) != len(rater_b):
        raise ValueError("the two raters must rate the same number of items")
    k = len(categories)
    if k < 2 or len(rater_a) == 0:
        return math.nan
    index = {c: i for i, c in enumerate(categories)}
    observed = np.zeros((k, k))
    for a, b in zip(rater_a, rater_b):
        for rating in (a, b):
            if rating not in index:
                raise DataError(f"rating {rating!r} is not one of the categories {list(categories)!r}")
        observed[index[a], index[b]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((k, k))
    if weights == "quadratic":
        w = ((i - j) / (k - 1)) ** 2
    elif weights == "linear":
        w = np.abs(i - j) / (k - 1)
    else:
        raise ValueError(f"weights must be 'quadratic' or 'linear', not {weights!r}")
    chance = float((w * expected).sum())
    if chance == 0:
        return math.nan
    return 1.0 - float((w * observed).sum()) / chance


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Kendall's τ-b (and its p-value) between two score vectors over the entries
    defined in both; NaN with fewer than two such entries."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = ~np.isnan(x) & ~np.isnan(y)
    if both.sum() < 2:
        return np.nan, np.nan
    result = scipy_stats.kendalltau(x[both], y[both])
    return float(result.statistic), float(result.pvalue)


def pearson_spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """``(pearson r, its p, spearman rho, its p)`` of two samples (scipy); NaN when a side is constant or n < 3."""
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, math.nan, math.nan
    pearson = scipy_stats.pearsonr(x, y)
    spearman = scipy_stats.spearmanr(x, y)
    return float(pearson.statistic), float(pearson.pvalue), float(spearman.statistic), float(spearman.pvalue)


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


def cluster_replicates(
    statistic: Callable[[np.ndarray], np.ndarray],
    clusters: Sequence[Any] | np.ndarray,
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
) -> tuple[float, np.ndarray]:
    """``(estimate, replicates (n_boot,))`` of a statistic written over observation weights
    ((K, n) -> (K,)), the replicates over cluster resamples (:func:`cluster_weights`)."""
    estimate = float(statistic(np.ones((1, len(clusters))))[0])
    return estimate, np.asarray(statistic(cluster_weights(clusters, n_boot, rng)), dtype=float)


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
    check_level(level)
    estimate, replicates = cluster_replicates(statistic, clusters, rng, n_boot=n_boot)
    return (estimate, *percentile_interval(replicates, level))


def bootstrap_p_value(replicates: np.ndarray, null: float = 0.0) -> float:
    """Two-sided p-value of "the statistic equals ``null``" that inverts the percentile
    interval: twice the smaller share of the defined replicates on either side of ``null``
    (each share counted as (1 + count) / (1 + B), so never 0), capped at 1. The level-α
    test rejects exactly when the (1 − α) percentile interval excludes ``null``, up to the
    resolution 2 / (1 + B). NaN without a defined replicate."""
    values = without_nan(np.asarray(replicates, dtype=float))
    if values.size == 0:
        return math.nan
    below = (1 + np.sum(values <= null)) / (1 + values.size)
    above = (1 + np.sum(values >= null)) / (1 + values.size)
    return float(min(1.0, 2.0 * min(below, above)))


def clustered_correlation(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    clusters: Sequence[Any] | np.ndarray,
    rng: np.random.Generator,
    *,
    kind: Kind = "pearson",
    n_boot: int = 1000,
    level: float = 0.95,
    equivalence_alpha: float | None = None,
) -> dict[str, float]:
    """A correlation with a task-clustered percentile bootstrap interval and the p-value
    of "no correlation" from the same resamples (:func:`bootstrap_p_value`).

    ``clusters``: one label per observation (the task key). Resamples where a side
    is constant are left out. Returns ``{"r", "low", "high", "p", "n", "n_clusters"}``;
    NaN values for fewer than 3 observations. With ``equivalence_alpha`` (α in (0, 0.5)),
    also the largest |correlation| the data still allow, from the same resamples
    (:func:`equivalence_bound`): ``"bound"`` and the (1 − 2α) interval it ends,
    ``"bound_low"``, ``"bound_high"``.
    """
    check_level(level)
    if equivalence_alpha is not None and not 0 < equivalence_alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), not {equivalence_alpha!r}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not len(x) == len(y) == len(clusters):
        raise ValueError("x, y and clusters must have one entry per observation")
    n_clusters = int(pd.Series(list(clusters)).nunique())
    bound_keys = ("bound", "bound_low", "bound_high") if equivalence_alpha is not None else ()
    if len(x) < 3:
        return {"r": math.nan, "low": math.nan, "high": math.nan, "p": math.nan, "n": len(x),
                "n_clusters": n_clusters, **dict.fromkeys(bound_keys, math.nan)}
    r, replicates = cluster_replicates(lambda w: weighted_correlation(x, y, w, kind), clusters, rng, n_boot=n_boot)
    low, high = percentile_interval(replicates, level)
    out = {"r": r, "low": low, "high": high, "p": bootstrap_p_value(replicates), "n": len(x),
           "n_clusters": n_clusters}
    if equivalence_alpha is not None:
        out.update(zip(bound_keys, equivalence_bound(replicates, equivalence_alpha)))
    return out


def equivalence_bound(replicates: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """``(bound, low, high)``: the (1 − 2·alpha) percentile interval of a statistic's bootstrap
    ``replicates`` and the larger |end| of it, the smallest margin d for which two one-sided
    tests at level ``alpha`` reject "|statistic| >= d" (each one-sided test's level is alpha, so
    the interval is narrower than a two-sided (1 − alpha) one and the bound may lie inside that).
    Any value beyond the bound is rejected at ``alpha``. It is an upper bound only: a weaker
    correlation is not thereby compatible with the data (the interval may exclude it, 0 included)."""
    low, high = percentile_interval(replicates, 1.0 - 2.0 * alpha)
    return (max(abs(low), abs(high)) if not math.isnan(low) else math.nan), low, high


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


