"""The statistics of the two-sample test's verdicts: a within-task permutation p-value, an
AUC interval that keeps its width at 0 and 1, the equivalence test (TOST) and the
indistinguishability interval (why each: :mod:`usersim_utils.distinguish`).

Pure functions on arrays; randomness only through an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

#: Half-width of the equivalence region around 0.5: an AUC in [0.45, 0.55] is "indistinguishable".
EQUIVALENCE_MARGIN = 0.05


# --- Permutations within tasks. -------------------------------------------------------------------
def within_task_permutations(tasks: np.ndarray, n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_permutations, n)`` row indices: each row a random permutation of ``range(n)`` that
    maps every row to a row of the same task (``tasks`` (n,)). ``labels[perm]`` relabels the
    rows with each task's labels shuffled among its rows, so each task (hence each fold of a
    task-grouped cross-validation) keeps its number of rows of each class."""
    tasks = np.asarray(tasks)
    by_task = np.argsort(tasks, kind="stable")
    out = np.empty((n_permutations, len(tasks)), dtype=np.intp)
    for i in range(n_permutations):
        shuffled = np.lexsort((rng.random(len(tasks)), tasks))  # task order, random within a task
        out[i, by_task] = shuffled
    return out


def permutation_p_value(observed: float, null: np.ndarray) -> float:
    """One-sided Monte Carlo p-value ``(1 + #{null >= observed}) / (1 + P)`` of ``observed``
    against the statistic under P permutations ``null`` (P,). Exact (never below its level
    under the null) when labels are exchangeable and ``observed`` is computed exactly as the
    permuted values are (Phipson & Smyth 2010); its smallest value is 1 / (1 + P). NaN when
    ``observed`` is NaN or no permutation is given."""
    null = np.asarray(null, dtype=float)
    if math.isnan(observed) or len(null) == 0:
        return math.nan
    exceed = int(np.sum(null >= observed - 1e-12))  # ties count against the observation
    return (1.0 + exceed) / (1.0 + len(null))


# --- The AUC's interval. --------------------------------------------------------------------------
def hanley_mcneil_variance(auc: float | np.ndarray, n_positive: int, n_negative: int) -> float | np.ndarray:
    """Hanley & McNeil's (1982) variance of an AUC ``auc`` from ``n_positive`` and
    ``n_negative`` independent rows: 0 at an AUC of 0 or 1, largest near 0.5."""
    a = np.asarray(auc, dtype=float)
    q1, q2 = a / (2.0 - a), 2.0 * a**2 / (1.0 + a)
    return (a * (1 - a) + (n_positive - 1) * (q1 - a**2) + (n_negative - 1) * (q2 - a**2)) / (n_positive * n_negative)


def design_effect(variance: float, auc: float, n_positive: int, n_negative: int) -> float:
    """``variance`` of an AUC over :func:`hanley_mcneil_variance` at ``auc``: how much clustering by
    task and cross-validation inflate the variance of independent rows. NaN when either is
    undefined or zero (an AUC of 0 or 1 says nothing about it)."""
    base = float(hanley_mcneil_variance(auc, n_positive, n_negative))
    if not (variance > 0 and base > 0) or math.isnan(variance):
        return math.nan
    return variance / base


def score_interval(auc: float, effect: float, n_positive: int, n_negative: int,
                   level: float = 0.95) -> tuple[float, float]:
    """The AUC's interval, of the score (Wilson) kind: every θ with
    (AUC − θ)² ≤ z² · ``effect`` · V(θ), V = :func:`hanley_mcneil_variance` at θ, not at the
    AUC (Newcombe 2006), and ``effect`` a design effect (:func:`design_effect`).

    Near 0.5 it is the usual AUC ± z·se; towards 0 and 1 it narrows on the boundary's side
    but never collapses: an AUC of 1 on finitely many rows gets a lower end below 1 (the
    values of θ under which such a sample is not surprising). NaN when ``auc`` or
    ``effect`` is NaN."""
    if math.isnan(auc) or math.isnan(effect):
        return math.nan, math.nan
    z2 = float(norm.ppf(0.5 + level / 2.0)) ** 2

    def excess(theta: float) -> float:
        return (auc - theta) ** 2 - z2 * effect * float(hanley_mcneil_variance(theta, n_positive, n_negative))

    # Inside, excess < 0 at the AUC itself; at an AUC of 0 or 1 (V = 0 there) just beside it.
    inner = min(max(auc, 1e-9), 1.0 - 1e-9)
    low = 0.0 if excess(0.0) <= 0 else brentq(excess, 0.0, inner)
    high = 1.0 if excess(1.0) <= 0 else brentq(excess, inner, 1.0)
    return float(low), float(high)


# --- Verdicts. ------------------------------------------------------------------------------------
def equivalent(low: float, high: float, margin: float = EQUIVALENCE_MARGIN) -> bool:
    """The equivalence test (two one-sided tests, TOST, at level α) of "the AUC is within
    ``margin`` of 0.5": True when the (1 − 2α) interval [``low``, ``high``] lies inside
    (0.5 − margin, 0.5 + margin); False when it does not or is undefined."""
    return bool(0.5 - margin < low and high < 0.5 + margin)


def indistinguishability(auc: float) -> float:
    """100·(1 − |2·AUC − 1|): 100 when the classifier is at chance, 0 when it is perfect."""
    return 100.0 * (1.0 - abs(2.0 * auc - 1.0))


def indistinguishability_interval(low: float, high: float) -> tuple[float, float]:
    """The interval of :func:`indistinguishability` implied by the AUC's [``low``, ``high``]:
    up to 100 when it holds 0.5, else between the scores of its two ends. NaN when undefined."""
    if math.isnan(low) or math.isnan(high):
        return math.nan, math.nan
    ends = sorted((indistinguishability(low), indistinguishability(high)))
    return ends[0], 100.0 if low <= 0.5 <= high else ends[1]
