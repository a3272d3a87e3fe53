"""One cross-validated two-sample problem: task-grouped folds, out-of-fold scores, the
fold-weighted AUC and its refits on task resamples (the design: :mod:`usersim_utils.distinguish`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sklearn
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

Model = Literal["logistic", "boosting"]
MODELS: tuple[str, ...] = ("logistic", "boosting")
#: Folds of the task-grouped cross-validation (fewer when fewer tasks are shared).
N_SPLITS = 5
#: Shuffles per feature and fold for the permutation importance.
N_REPEATS = 5


def weighted_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of ``scores`` (n,) for ``labels`` (n,) 0/1 under each row of ``weights`` (B, n).

    The Mann-Whitney form: the weighted share of (positive, negative) pairs in which the
    positive scores higher, ties counted half; equals ``roc_auc_score(labels, scores,
    sample_weight=w)``. Returns (B,); NaN where a class has no weight.
    """
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    positive = labels[order].astype(bool)
    w = np.atleast_2d(weights)[:, order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    pos_w = np.add.reduceat(np.where(positive, w, 0.0), starts, axis=1)  # (B, tie groups)
    neg_w = np.add.reduceat(np.where(positive, 0.0, w), starts, axis=1)
    neg_below = np.cumsum(neg_w, axis=1) - neg_w
    pairs = pos_w.sum(axis=1) * neg_w.sum(axis=1)
    wins = (pos_w * (neg_below + 0.5 * neg_w)).sum(axis=1)
    return np.where(pairs > 0, wins / np.where(pairs > 0, pairs, 1.0), np.nan)


# --- One cross-validated problem. -----------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One two-sample problem: rows ``X`` (n, p) (an array, or a list of n texts), labels
    ``y`` (n,) 0/1 and the task of each row ``tasks`` (n,)."""

    X: Any
    y: np.ndarray
    tasks: np.ndarray


@dataclass(frozen=True)
class OutOfFold:
    """A problem's cross-validation: its ``folds``, the out-of-fold scores (n,), the
    importance of each feature (p,), ``refit`` (R,): the AUC (:func:`fold_auc`) of
    classifiers refitted on each of R task resamples, and ``null`` (P,): the AUC under each
    of P within-task label permutations, beside ``statistic``, the AUC of the labels as they
    are computed the same way (empty and NaN when none was asked for)."""

    folds: list[tuple[np.ndarray, np.ndarray]]
    scores: np.ndarray
    importance: np.ndarray
    refit: np.ndarray
    null: np.ndarray = field(default_factory=lambda: np.zeros(0))
    statistic: float = math.nan


#: ``fit_predict(train rows, test rows)``: fit a fresh classifier on the training rows (an
#: index array, repeats allowed) and return its class-1 probabilities on the test rows.
FitPredict = Callable[[np.ndarray, np.ndarray], np.ndarray]


def make_model(model: Model = "logistic", random_state: int | None = None) -> ClassifierMixin:
    """An unfitted behavioural classifier: standardised logistic regression, or
    histogram gradient boosting (``random_state`` used by boosting only)."""
    if model == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    if model == "boosting":
        return HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=15,
                                              random_state=random_state)
    raise ValueError(f"model must be one of {', '.join(MODELS)}, not {model!r}")


def task_folds(tasks: np.ndarray, n_splits: int = N_SPLITS) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(train rows, test rows)]`` with no task on both sides (``GroupKFold``, deterministic:
    folds balanced by size).

    ``tasks`` (n,); at most ``n_splits`` folds, fewer when fewer tasks. Raises
    ``ValueError`` when fewer than 2 tasks."""
    n_tasks = len(np.unique(tasks))
    if n_tasks < 2:
        raise ValueError(f"task-grouped cross-validation needs at least 2 tasks, got {n_tasks}")
    folds = GroupKFold(n_splits=min(n_splits, n_tasks))
    return list(folds.split(np.zeros(len(tasks)), groups=tasks))


def fold_auc(scores: np.ndarray, labels: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]],
             weights: np.ndarray) -> np.ndarray:
    """The cross-validated AUC: each fold's AUC of its own scores, averaged over folds
    weighted by the fold's weight, under each row of ``weights`` (B, n).

    ``scores``, ``labels`` (n,). A fold without both classes under a row of weights, or
    whose scores are NaN (not fitted), is left out of that row's mean. Returns (B,); NaN
    where no fold is left. Unlike the AUC of the scores pooled over folds, it never
    compares two folds' classifiers, so with no signal its expectation is exactly 0.5.
    """
    w = np.atleast_2d(weights)
    total, weight = np.zeros(len(w)), np.zeros(len(w))
    for _, test in folds:
        if np.isnan(scores[test]).any():
            continue
        auc = weighted_auc(scores[test], labels[test], w[:, test])
        size = np.where(np.isnan(auc), 0.0, w[:, test].sum(axis=1))
        total += np.where(np.isnan(auc), 0.0, auc) * size
        weight += size
    return np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)


def refit_fold_auc(fit_predict: FitPredict, labels: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]],
                   row_counts: np.ndarray) -> np.ndarray:
    """:func:`fold_auc` of classifiers refitted on resampled data, one value per row of
    ``row_counts`` (R, n): how often each row's task was drawn.

    The folds keep their tasks; each fold's classifier is fitted afresh on its training
    rows, a row repeated as often as its task was drawn, and scored on its test rows
    weighted the same way. A fold whose resampled training rows lack a class, or whose
    test rows all have weight 0, is skipped. Returns (R,)."""
    counts = np.asarray(row_counts, dtype=int)
    out = np.full(len(counts), np.nan)
    for r, count in enumerate(counts):
        scores = np.full(len(labels), np.nan)
        for train, test in folds:
            rows = np.repeat(train, count[train])
            if len(np.unique(labels[rows])) == 2 and count[test].any():
                scores[test] = fit_predict(rows, test)
        out[r] = fold_auc(scores, labels, folds, count[None, :])[0]
    return out


def auc_scorer(estimator: ClassifierMixin, X: np.ndarray, y: np.ndarray) -> float:
    """AUC of a fitted classifier on ``X`` (n, p), ``y`` (n,): :func:`weighted_auc` of its
    class-1 probabilities (the same value as scikit-learn's ``"roc_auc"``, a tenth of the cost)."""
    return float(weighted_auc(estimator.predict_proba(X)[:, 1], y, np.ones((1, len(y))))[0])


def no_refit(n: int) -> np.ndarray:
    return np.zeros((0, n))


#: ``fit_predict_labels(train rows, test rows, labels)``: like :data:`FitPredict`, fitted on
#: ``labels`` (n,) instead of the problem's own.
FitPredictLabels = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def permuted_fold_auc(fit_predict: FitPredictLabels, labels: np.ndarray,
                      folds: Sequence[tuple[np.ndarray, np.ndarray]], permutations: np.ndarray) -> np.ndarray:
    """:func:`fold_auc` after refitting every fold on the labels permuted by each row of
    ``permutations`` (P, n) (:func:`~usersim_utils.distinguish.two_sample.within_task_permutations`).
    Returns (P,)."""
    ones = np.ones((1, len(labels)))
    out = np.empty(len(permutations))
    for i, perm in enumerate(permutations):
        permuted, scores = labels[perm], np.empty(len(labels))
        for train, test in folds:
            scores[test] = fit_predict(train, test, permuted)
        out[i] = fold_auc(scores, permuted, folds, ones)[0]
    return out


def logistic_decisions(X_train: np.ndarray, labels: np.ndarray, X_test: np.ndarray, C: float = 1.0,
                       max_iter: int = 50, tol: float = 1e-10) -> np.ndarray:
    """Decision values on ``X_test`` (m, p) of :func:`make_model` ``"logistic"`` fitted on
    ``X_train`` (n, p) once per column of ``labels`` (n, L) 0/1: standardised as
    ``StandardScaler`` does, L2 penalty 1/(2C) on the weights (not the intercept), as
    ``LogisticRegression(C)``; solved exactly by Newton's method for all L label vectors at
    once (one BLAS call per step, where scikit-learn fits them one by one). Returns (m, L)."""
    mean, sd = X_train.mean(axis=0), X_train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    A = np.c_[(X_train - mean) / sd, np.ones(len(X_train))]  # (n, d) with the intercept last
    B = np.c_[(X_test - mean) / sd, np.ones(len(X_test))]
    n, d = A.shape
    Y = np.asarray(labels, dtype=float)
    penalty = np.r_[np.ones(d - 1), 0.0] / C
    beta = np.zeros((d, Y.shape[1]))
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(A @ beta)))
        gradient = A.T @ (p - Y) + penalty[:, None] * beta  # (d, L)
        weighted = (A[:, :, None] * (p * (1.0 - p))[:, None, :]).reshape(n, -1)  # (n, d·L)
        hessian = (A.T @ weighted).reshape(d, d, -1).transpose(2, 0, 1) + np.diag(penalty)  # (L, d, d)
        step = np.linalg.solve(hessian, gradient.T[:, :, None])[:, :, 0].T
        beta -= step
        if np.abs(step).max() < tol:
            break
    return B @ beta


def null_fold_auc(X: np.ndarray, labels: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]],
                  permutations: np.ndarray, model: Model, seed: int) -> tuple[float, np.ndarray]:
    """``(statistic, null (P,))``: :func:`fold_auc` of the labels as they are and under each
    row of ``permutations`` (P, n), every value computed by the same fits (the logistic
    model by :func:`logistic_decisions`, all permutations at once; boosting one by one with
    ``random_state`` ``seed``), as the permutation p-value's exactness needs."""
    if model == "logistic":
        labels_all = np.c_[labels, labels[permutations].T]  # (n, 1 + P): as they are, then permuted
        scores = np.empty(labels_all.shape)
        for train, test in folds:
            scores[test] = logistic_decisions(X[train], labels_all[train], X[test])
        ones = np.ones((1, len(labels)))
        aucs = np.array([fold_auc(scores[:, j], labels_all[:, j], folds, ones)[0] for j in range(scores.shape[1])])
        return float(aucs[0]), aucs[1:]

    def fit_predict(train: np.ndarray, test: np.ndarray, y: np.ndarray) -> np.ndarray:
        return make_model(model, seed).fit(X[train], y[train]).predict_proba(X[test])[:, 1]

    identity = np.arange(len(labels))[None, :]
    return float(permuted_fold_auc(fit_predict, labels, folds, identity)[0]), permuted_fold_auc(
        fit_predict, labels, folds, permutations)


def behavioural_out_of_fold(problem: Problem, rng: np.random.Generator, *, model: Model = "logistic",
                            n_repeats: int = N_REPEATS, refit_counts: np.ndarray | None = None,
                            permutations: np.ndarray | None = None) -> OutOfFold:
    """Out-of-fold probabilities of the simulator class, permutation importances, and the
    AUC of classifiers refitted on resampled tasks.

    ``problem.X`` (n, p) floats. Each fold of :func:`task_folds` fits a fresh
    :func:`make_model`; the held-out fold is scored, then each feature is shuffled
    ``n_repeats`` times on it (``permutation_importance`` scored by :func:`auc_scorer`);
    importances are averaged over folds weighted by fold size. ``refit_counts`` (R, n):
    row multiplicities of R task resamples, for :func:`refit_fold_auc` (none by default);
    ``permutations`` (P, n): within-task label permutations, for :func:`null_fold_auc` (none
    by default). One ``rng.integers`` draw per fold seeds the shuffles (and boosting), then
    one for the refits and permutations. Raises ``ValueError`` on a non-finite feature.
    """
    X, y = np.asarray(problem.X, dtype=float), problem.y
    if not np.isfinite(X).all():
        raise ValueError("features must be finite (use the rows that have features)")
    folds = task_folds(problem.tasks)
    scores = np.full(len(y), np.nan)
    importance = np.zeros(X.shape[1])
    # Inputs are checked above; sklearn's per-call checks would cost more than the fits, and
    # BLAS threads only contend on 19 columns (one thread halves the time on 2 cores).
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True), threadpool_limits(1):
        for train, test in folds:
            seed = int(rng.integers(2**31 - 1))
            fitted = make_model(model, seed).fit(X[train], y[train])
            scores[test] = fitted.predict_proba(X[test])[:, 1]
            result = permutation_importance(fitted, X[test], y[test], scoring=auc_scorer,
                                            n_repeats=n_repeats, random_state=seed)
            importance += result.importances_mean * len(test) / len(y)
        refit_seed = int(rng.integers(2**31 - 1))

        def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            return make_model(model, refit_seed).fit(X[train], y[train]).predict_proba(X[test])[:, 1]

        counts = no_refit(len(y)) if refit_counts is None else refit_counts
        refit = refit_fold_auc(fit_predict, y, folds, counts)
        if permutations is None or len(permutations) == 0:
            return OutOfFold(folds, scores, importance, refit)
        statistic, null = null_fold_auc(X, y, folds, permutations, model, refit_seed)
    return OutOfFold(folds, scores, importance, refit, null, statistic)

