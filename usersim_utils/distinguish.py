"""Could anyone tell a simulator's conversations from human ones? A classifier two-sample test.

For each simulator, a classifier learns to tell its conversations (label 1) from the
human sessions (label 0) on the tasks both have (kept conversations with features);
if it cannot beat chance on conversations it never saw, the two are, for that
classifier and those features, indistinguishable (Lopez-Paz & Oquab 2017, "Revisiting
classifier two-sample tests").

* **Features.** The 19 behavioural features of :mod:`usersim_utils.features`. User-side
  text (character n-grams of the user's turns) is a separate test, reported
  separately: it can pick up artefacts of data collection (typing on a platform,
  copy-pasted suggestions, the simulator's formatting) that say little about behaviour.
* **Classifier.** Logistic regression on standardised features (default): 19 features
  and about a thousand conversations per simulator call for a stable, low-variance
  model; its log-odds are linear in each feature, so a give-away is a shift of a
  feature's distribution, which is what the index measures too; and it fits in
  milliseconds, which keeps the whole study under a minute. ``model="boosting"``
  (histogram gradient boosting) is a second opinion that also sees interactions and
  thresholds, at about five times the cost (1.6 s against 0.3 s of CPU per simulator
  at the study's size).
* **No task in both train and test.** Cross-validation is grouped by task
  (``GroupKFold``, :data:`N_SPLITS` folds): every prediction is out-of-fold and a
  classifier never sees the task it is tested on, so it cannot win by recognising
  tasks.
* **AUC.** Each fold's AUC of its own out-of-fold scores, averaged over folds weighted by
  fold size (:func:`fold_auc`). Indistinguishability = 100·(1 − |2·AUC − 1|): 100 at
  chance, 0 when perfectly told apart. Pooling the five folds' scores into one AUC would
  compare scores of different classifiers, which pulls a classifier with no signal a
  little below 0.5 (Airola et al. 2011 compare the two); a fold's classifier never saw
  its test fold, so with no signal each fold's AUC, hence their mean, has expectation
  exactly 0.5.
* **Its interval: resample tasks, and refit.** A cross-validated AUC varies for two
  reasons: which conversations land in each test fold, and which classifiers the other
  folds produce. Resampling tasks with replacement while holding the fitted classifiers
  fixed (``n_boot`` resamples, cheap) sees only the first, and the second is as large:
  fold j's classifier is learnt from the other folds, so the chance difference between
  the classes in fold k (a direction s_k in feature space) shapes it, and fold j's AUC
  carries ⟨s_k, s_j⟩ just as fold k's carries ⟨s_j, s_k⟩; the folds' AUCs are positively
  correlated. In a linear model of small signals (AUC_j − ½ ∝ ⟨S_j, s_j⟩ / ‖S_j‖ with
  S_j = Σ_{l≠j} s_l, the s_l independent with variance v per direction) the mean of K
  folds has variance 2v/K, where the fixed resampling gives v/K. Refitting every fold on
  a resample (the first ``n_refit`` of them, :func:`refit_fold_auc`; a task drawn k times
  gives its rows k times) overshoots: the observed s_l become the resampled world's true
  differences and resampling adds δ_l to each, so the cross terms carry ⟨s_l, δ_j⟩ twice
  and ⟨δ_l, δ_j⟩ once, over a direction √2 longer: 3v/K. A simulator's interval takes
  the mean of the two variances (:data:`REFIT_WEIGHT` ½), 2v/K in that model
  (:func:`auc_interval`), with a Student t quantile of Satterthwaite's degrees of
  freedom (the refit part rests on ``n_refit`` resamples), clipped to [0, 1]. The human
  reference averages three problems whose labels are complementary, which that model
  does not cover, and the mean there was too narrow in simulation (89% coverage), so its
  interval takes the refitted variance alone (:data:`REFERENCE_REFIT_WEIGHT` 1).
* **Give-aways.** Permutation importance (scikit-learn's ``permutation_importance``,
  scoring by AUC) on each held-out fold, averaged over folds weighted by fold size:
  how much the held-out AUC drops when one feature is shuffled.
* **The human reference.** Each human batch against the other two, with the same
  folds over tasks; the reported AUC is the mean of the three, and the task resample
  is shared by the three.

Caveats. An AUC near 0.5 on a few dozen conversations is weak evidence: read the
interval, not the point. A classifier that cannot tell them apart says nothing about
a better one; a simulator told apart on text alone may differ only in how text was
collected. The interval is checked by simulation, not derived exactly (no unbiased
estimator of a cross-validation's variance exists, Bengio & Grandvalet 2004). On
simulated studies of the study's size (165 tasks, 3 human batches, 3 runs;
``benchmarks/bench_distinguish.py --coverage``) the 95% interval covered 0.5 for a
simulator drawn from the human process in 96.5% of 200 draws (AUC 0.500 ± 0.025,
half-width 0.052) and in 97% of 100 with task effects shared by both sides, 0.5 for the
human reference in 97% of 100 (± 0.031, half-width 0.068), and the mean AUC (0.57) of
a mildly different simulator in 97% of 100. Resampling with the classifiers fixed had
covered 82-87% in such draws; refitting alone covers 98-100% for a simulator, with
intervals 1.2-1.3 times too wide. ``tests/test_distinguish.py`` repeats a smaller check.
Each refit costs one cross-validation: about 15 ms with the logistic model at the
study's size (the whole study's behavioural test took 35 s instead of 19 s), 1.6 s with
boosting, about 0.2 s for the text test (190 s for the whole study's): lower ``n_refit``
for those.

Randomness: one ``numpy.random.Generator``; :func:`distinguish_all` spawns one child
generator per comparison, in the order human reference, then simulators in the order
given, so a seed gives the same numbers every time.

Command line::

    python -m usersim_utils.distinguish --human PATH --eval-results FILE [FILE ...] --json OUT
        [--text-json OUT] [--seed S] [--model logistic|boosting] [--n-refit R] [--domain airline|retail]

``--json`` gets the behavioural rows ``{name, auc, low, high, indistinguishability,
giveaways, n_human, n_simulator, n_tasks}`` (one row named ``human``); ``--text-json``
the same rows from the text test. Bad input: one ``error:`` line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import sklearn
from scipy.stats import t as student_t
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from . import data, features, ids, schema, scoring, stats
from .atomic import write_output
from .errors import DataError

Model = Literal["logistic", "boosting"]
MODELS: tuple[str, ...] = ("logistic", "boosting")
#: Folds of the task-grouped cross-validation (fewer when fewer tasks are shared).
N_SPLITS = 5
N_BOOT = 1000
#: Task resamples on which the classifiers are refitted (the first ones of the N_BOOT).
N_REFIT = 30
#: Share of the interval's variance taken from the refitted resamples (the rest from the fixed
#: ones): one half for a simulator, all of it for the human reference (module docstring).
REFIT_WEIGHT = 0.5
REFERENCE_REFIT_WEIGHT = 1.0
#: Shuffles per feature and fold for the permutation importance.
N_REPEATS = 5
#: Give-aways reported per row: the most important features with a positive importance.
N_GIVEAWAYS = 5
#: Character n-grams of the text test (within word boundaries, case kept: casing is a
#: give-away too), and the least number of conversations an n-gram must occur in.
TEXT_NGRAMS = (2, 4)
TEXT_MIN_DF = 2


# --- Small statistics. --------------------------------------------------------------------------
def indistinguishability(auc: float) -> float:
    """100·(1 − |2·AUC − 1|): 100 when the classifier is at chance, 0 when it is perfect."""
    return 100.0 * (1.0 - abs(2.0 * auc - 1.0))


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
    importance of each feature (p,), and ``refit`` (R,): the AUC (:func:`fold_auc`) of
    classifiers refitted on each of R task resamples (empty when none was asked for)."""

    folds: list[tuple[np.ndarray, np.ndarray]]
    scores: np.ndarray
    importance: np.ndarray
    refit: np.ndarray


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


def _no_refit(n: int) -> np.ndarray:
    return np.zeros((0, n))


def behavioural_out_of_fold(problem: Problem, rng: np.random.Generator, *, model: Model = "logistic",
                            n_repeats: int = N_REPEATS, refit_counts: np.ndarray | None = None) -> OutOfFold:
    """Out-of-fold probabilities of the simulator class, permutation importances, and the
    AUC of classifiers refitted on resampled tasks.

    ``problem.X`` (n, p) floats. Each fold of :func:`task_folds` fits a fresh
    :func:`make_model`; the held-out fold is scored, then each feature is shuffled
    ``n_repeats`` times on it (``permutation_importance`` scored by :func:`auc_scorer`);
    importances are averaged over folds weighted by fold size. ``refit_counts`` (R, n):
    row multiplicities of R task resamples, for :func:`refit_fold_auc` (none by default).
    One ``rng.integers`` draw per fold seeds the shuffles (and boosting), then one for
    the refits. Raises ``ValueError`` on a non-finite feature.
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

        counts = _no_refit(len(y)) if refit_counts is None else refit_counts
        refit = refit_fold_auc(fit_predict, y, folds, counts)
    return OutOfFold(folds, scores, importance, refit)


def text_pipeline() -> Pipeline:
    """TF-IDF (sublinear counts) then logistic regression: the text classifier, fitted per fold."""
    return make_pipeline(TfidfTransformer(sublinear_tf=True), LogisticRegression(C=1.0, max_iter=1000))


def text_out_of_fold(problem: Problem, *, refit_counts: np.ndarray | None = None) -> tuple[OutOfFold, list[str]]:
    """Out-of-fold scores of the text classifier, and its n-grams with their mean
    logistic coefficient over folds (positive: the n-gram says "simulator").

    ``problem.X``: n texts. The vocabulary (character n-grams within word boundaries,
    :data:`TEXT_NGRAMS`, seen in at least :data:`TEXT_MIN_DF` texts) is built once on all
    texts, without labels; the TF-IDF weights and the classifier are fitted per fold
    on the training rows only (and refitted per resample, ``refit_counts`` (R, n) as in
    :func:`behavioural_out_of_fold`). Deterministic. Returns ``(OutOfFold, n-grams)``
    with ``importance`` (vocabulary size,) aligned with the n-grams.
    """
    vectoriser = CountVectorizer(analyzer="char_wb", ngram_range=TEXT_NGRAMS, lowercase=False,
                                 min_df=min(TEXT_MIN_DF, len(problem.y)))
    counts = vectoriser.fit_transform(problem.X).tocsr()
    y = problem.y
    scores = np.full(len(y), np.nan)
    coefficients = np.zeros(counts.shape[1])
    folds = task_folds(problem.tasks)

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        return text_pipeline().fit(counts[train], y[train]).predict_proba(counts[test])[:, 1]

    with threadpool_limits(1):
        for train, test in folds:
            fitted = text_pipeline().fit(counts[train], y[train])
            scores[test] = fitted.predict_proba(counts[test])[:, 1]
            coefficients += fitted[-1].coef_[0] / len(folds)
        refit = refit_fold_auc(fit_predict, y, folds, _no_refit(len(y)) if refit_counts is None else refit_counts)
    return OutOfFold(folds, scores, coefficients, refit), list(vectoriser.get_feature_names_out())


# --- The interval over tasks. -----------------------------------------------------------------------
@dataclass(frozen=True)
class AucInterval:
    """The AUC (mean over the problems) and its interval; ``se_fixed`` and ``se_refit`` are
    the standard deviations of the fixed-classifier and refitted replicates."""

    auc: float
    low: float
    high: float
    se_fixed: float
    se_refit: float


def auc_interval(estimate: float, fixed: np.ndarray, refit: np.ndarray, level: float = 0.95, *,
                 refit_weight: float = REFIT_WEIGHT) -> AucInterval:
    """The interval of the cross-validated AUC ``estimate`` from its task-resampled replicates:
    ``fixed`` (B,) with the classifiers held fixed, ``refit`` (R,) with them refitted.

    Variance (1 − w)·var(fixed) + w·var(refit) with w = ``refit_weight`` (the module
    docstring says why), Student t quantile with the Satterthwaite degrees of freedom of
    that mix, clipped to [0, 1]. NaN replicates are ignored; with fewer than 2 defined of
    either kind the interval is NaN."""
    fixed, refit = fixed[~np.isnan(fixed)], refit[~np.isnan(refit)]
    if len(fixed) < 2 or len(refit) < 2 or np.isnan(estimate):
        return AucInterval(estimate, math.nan, math.nan, math.nan, math.nan)
    var_fixed, var_refit = float(np.var(fixed, ddof=1)), float(np.var(refit, ddof=1))
    from_fixed, from_refit = (1.0 - refit_weight) * var_fixed, refit_weight * var_refit
    variance = from_fixed + from_refit
    parts = from_fixed**2 / (len(fixed) - 1) + from_refit**2 / (len(refit) - 1)
    dof = variance**2 / parts if parts > 0 else math.inf
    half = float(student_t.ppf(0.5 + level / 2.0, dof)) * math.sqrt(variance)
    return AucInterval(estimate, max(0.0, estimate - half), min(1.0, estimate + half),
                       math.sqrt(var_fixed), math.sqrt(var_refit))


# --- Rows. ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class C2STRow:
    """One row of the test: ``giveaways`` = ``((feature, importance), ...)``, most important first;
    ``note`` says why a row is undefined (its numbers NaN), empty otherwise."""

    name: str
    auc: float
    low: float
    high: float
    giveaways: tuple[tuple[str, float], ...]
    n_human: int
    n_simulator: int
    n_tasks: int
    note: str = ""

    @classmethod
    def undefined(cls, name: str, note: str) -> C2STRow:
        """A row that could not be computed, saying why."""
        return cls(name, math.nan, math.nan, math.nan, (), 0, 0, 0, note)

    @property
    def indistinguishability(self) -> float:
        """100·(1 − |2·AUC − 1|)."""
        return indistinguishability(self.auc)

    def to_json(self) -> dict[str, Any]:
        """The row as written by the command line (NaN -> null; ``note`` only when there is one)."""
        def num(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        return {"name": self.name, "auc": num(self.auc), "low": num(self.low), "high": num(self.high),
                "indistinguishability": num(self.indistinguishability),
                "giveaways": [{"feature": f, "importance": float(v)} for f, v in self.giveaways],
                "n_human": self.n_human, "n_simulator": self.n_simulator, "n_tasks": self.n_tasks,
                **({"note": self.note} if self.note else {})}


def top_giveaways(names: Sequence[str], importance: np.ndarray, n: int = N_GIVEAWAYS) -> tuple[tuple[str, float], ...]:
    """The ``n`` names of largest positive ``importance`` (same length as ``names``), largest first."""
    order = np.argsort(-importance, kind="stable")[:n]
    return tuple((names[i], float(importance[i])) for i in order if importance[i] > 0)


def usable_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Kept rows with features of a features table (:func:`features.features_table`)."""
    return table.loc[table["keep"] & table["has_features"]]


def shared_rows(human: pd.DataFrame, sim: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Usable rows of both tables restricted to the tasks both have."""
    human, sim = usable_rows(human), usable_rows(sim)
    shared = set(human["task_key"]) & set(sim["task_key"])
    return human[human["task_key"].isin(shared)], sim[sim["task_key"].isin(shared)]


def simulator_problem(human: pd.DataFrame, sim: pd.DataFrame, columns: Sequence[str] = features.FEATURES) -> Problem:
    """The problem "simulator (1) or human (0)" on the shared tasks; ``X`` (n, len(columns))."""
    h, s = shared_rows(human, sim)
    both = pd.concat([h, s], ignore_index=True)
    y = np.r_[np.zeros(len(h), dtype=int), np.ones(len(s), dtype=int)]
    return Problem(both[list(columns)].to_numpy(dtype=float), y, both["task_key"].to_numpy())


def batch_problems(human: pd.DataFrame, columns: Sequence[str] = features.FEATURES) -> list[Problem]:
    """One problem per human batch present: "this batch (1) or another batch (0)"."""
    rows = usable_rows(human)
    X, tasks = rows[list(columns)].to_numpy(dtype=float), rows["task_key"].to_numpy()
    batches = rows["batch"].to_numpy()
    return [Problem(X, (batches == b).astype(int), tasks) for b in sorted(set(batches))]


def task_resamples(problems: Sequence[Problem], rng: np.random.Generator, n_boot: int,
                   n_refit: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(counts (n_boot, T), [row codes (n,) per problem])``: one draw of task resamples
    (:func:`usersim_utils.stats.resample_counts`) over the T tasks of ``problems``, shared by all of
    them, and each row's task index; ``counts[:, codes]`` are row weights. Raises
    ``ValueError`` unless 2 <= ``n_refit`` <= ``n_boot``."""
    if not 2 <= n_refit <= n_boot:
        raise ValueError(f"need 2 <= n_refit <= n_boot, got n_refit={n_refit}, n_boot={n_boot}")
    all_tasks = np.unique(np.concatenate([p.tasks for p in problems]))
    counts = stats.resample_counts(len(all_tasks), n_boot, rng)
    return counts, [np.searchsorted(all_tasks, p.tasks) for p in problems]


def _row(name: str, parts: Sequence[tuple[Problem, OutOfFold]], counts: np.ndarray, codes: Sequence[np.ndarray],
         giveaways: tuple[tuple[str, float], ...], level: float) -> C2STRow:
    """A row from the cross-validations of one problem (a simulator) or several (the human
    batches, which share their rows: only the labels differ; every value is their mean)."""
    estimate = float(np.mean([fold_auc(oof.scores, p.y, oof.folds, np.ones(len(p.y)))[0] for p, oof in parts]))
    fixed = np.mean([fold_auc(oof.scores, p.y, oof.folds, counts[:, c]) for (p, oof), c in zip(parts, codes)], axis=0)
    is_human = name == schema.HUMAN_LABEL
    interval = auc_interval(estimate, fixed, np.mean([oof.refit for _, oof in parts], axis=0), level,
                            refit_weight=REFERENCE_REFIT_WEIGHT if is_human else REFIT_WEIGHT)
    first = parts[0][0]
    n_positive = int(first.y.sum())
    return C2STRow(name, interval.auc, interval.low, interval.high, giveaways,
                   n_human=len(first.y) if is_human else len(first.y) - n_positive,
                   n_simulator=0 if is_human else n_positive, n_tasks=len(np.unique(first.tasks)))


def _behavioural_row(name: str, problems: Sequence[Problem], rng: np.random.Generator, model: Model,
                     n_boot: int, n_refit: int, level: float) -> C2STRow:
    counts, codes = task_resamples(problems, rng, n_boot, n_refit)
    parts = [(p, behavioural_out_of_fold(p, rng, model=model, refit_counts=counts[:n_refit, c]))
             for p, c in zip(problems, codes)]
    importance = np.mean([oof.importance for _, oof in parts], axis=0)
    return _row(name, parts, counts, codes, top_giveaways(features.FEATURES, importance), level)


def _check_shared(name: str, problem: Problem) -> Problem:
    n_tasks = len(np.unique(problem.tasks))
    if n_tasks < 2:
        raise ValueError(f"{name}: shares {n_tasks} task(s) with the human sessions; "
                         "task-grouped cross-validation needs at least 2")
    return problem


def _check_batches(problems: list[Problem]) -> list[Problem]:
    if len(problems) < 2:
        raise ValueError("the human reference needs sessions of at least 2 batches")
    return problems


def c2st_simulator(human: pd.DataFrame, sim: pd.DataFrame, name: str, rng: np.random.Generator, *,
                   model: Model = "logistic", n_boot: int = N_BOOT, n_refit: int = N_REFIT,
                   level: float = 0.95) -> C2STRow:
    """The behavioural test of one simulator (features tables of :func:`features.features_table`).

    Raises ``ValueError`` when the two share fewer than 2 tasks."""
    problem = _check_shared(name, simulator_problem(human, sim))
    return _behavioural_row(name, [problem], rng, model, n_boot, n_refit, level)


def c2st_human(human: pd.DataFrame, rng: np.random.Generator, *, model: Model = "logistic",
               n_boot: int = N_BOOT, n_refit: int = N_REFIT, level: float = 0.95) -> C2STRow:
    """The human reference: each batch against the others (mean AUC), named ``human``.

    Raises ``ValueError`` with fewer than 2 batches or 2 tasks."""
    return _behavioural_row(schema.HUMAN_LABEL, _check_batches(batch_problems(human)), rng, model, n_boot,
                            n_refit, level)


def _or_note(name: str, strict: bool, compute: Callable[..., C2STRow], *args: Any, **kwargs: Any) -> C2STRow:
    """``compute(*args, **kwargs)``, or with ``strict`` False an undefined row naming the
    ``ValueError`` it raised."""
    try:
        return compute(*args, **kwargs)
    except ValueError as err:
        if strict:
            raise
        return C2STRow.undefined(name, str(err))


def distinguish_all(human: pd.DataFrame, simulators: Mapping[str, pd.DataFrame], rng: np.random.Generator, *,
                    model: Model = "logistic", n_boot: int = N_BOOT, n_refit: int = N_REFIT,
                    level: float = 0.95, strict: bool = True) -> list[C2STRow]:
    """The human reference, then one row per simulator (in the order given).

    Each comparison gets its own child of ``rng`` (``rng.spawn``), in that order. A comparison
    that cannot be made (fewer than 2 shared tasks or human batches) raises ``ValueError``,
    or with ``strict`` False gives :meth:`C2STRow.undefined` with the reason."""
    children = rng.spawn(1 + len(simulators))
    settings = {"model": model, "n_boot": n_boot, "n_refit": n_refit, "level": level}
    rows = [_or_note(schema.HUMAN_LABEL, strict, c2st_human, human, children[0], **settings)]
    for child, (name, sim) in zip(children[1:], simulators.items()):
        rows.append(_or_note(name, strict, c2st_simulator, human, sim, name, child, **settings))
    return rows


# --- Studies with a known answer (tests and benchmarks). -------------------------------------------
def known_answer_tables(rng: np.random.Generator, tasks: Sequence[str], sim_means: Mapping[str, float], *,
                        task_effect: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(human, simulator)`` synthetic features tables
    (:func:`usersim_utils.demo.feature_tables.synthetic_table`): three human batches around
    :data:`~usersim_utils.demo.feature_tables.SYNTHETIC_HUMAN_MEANS` (3 % not kept) and
    three simulator runs around ``sim_means``, on ``tasks``. ``task_effect`` > 0 adds to
    every feature of every conversation of a task the same normal shift (standard deviation
    ``task_effect`` times the feature's), on both sides: tasks then differ, as real ones do.
    Pass ``SYNTHETIC_HUMAN_MEANS`` for a simulator drawn from the human process."""
    from .demo import feature_tables  # tests and benchmarks only: the analysis never loads the generator

    human = feature_tables.synthetic_table(
        rng, schema.HUMAN_LABEL, [f"{t}{s}" for s in schema.BATCH_SUFFIX.values() for t in tasks],
        feature_tables.SYNTHETIC_HUMAN_MEANS, dict.fromkeys(tasks, 0.5), source="human", drop_rate=0.03)
    sim = feature_tables.synthetic_table(rng, "simulator", [f"{t}_{run}" for run in (1, 2, 3) for t in tasks],
                                      sim_means, dict.fromkeys(tasks, 0.5))
    if task_effect > 0:
        shifts = pd.DataFrame(rng.normal(0.0, task_effect, (len(tasks), len(features.FEATURES))),
                              index=list(tasks), columns=list(features.FEATURES))
        scale = pd.concat([human, sim])[list(features.FEATURES)].std()
        for table in (human, sim):
            table[list(features.FEATURES)] += shifts.loc[table["task_key"]].to_numpy() * scale.to_numpy()
    return human, sim


# --- The text test. --------------------------------------------------------------------------------
TEXT_COLUMNS: tuple[str, ...] = ("label", "key", "task_key", "batch", "keep", "has_features", "text")


def user_texts(records: Mapping[str, Mapping[str, Any]], *, source: features.Source, label: str) -> pd.DataFrame:
    """The user side of every conversation as one text: columns :data:`TEXT_COLUMNS`, one row
    per record (file order). ``text`` = the cleaned user turns
    (:func:`features.clean_conversation`) joined by new lines; ``has_features`` is False
    when there is no user turn; ``batch`` and ``keep`` as in :func:`features.features_table`."""
    rows = []
    for key, record in records.items():
        turns, _ = features.clean_conversation(record.get("conversation") or [], source)
        rows.append((label, key, ids.task_key(key), ids.split_batch(key)[1] if source == "human" else 0,
                     record.get("keep", True) is not False, bool(turns), "\n".join(turns)))
    return pd.DataFrame(rows, columns=list(TEXT_COLUMNS))


def text_simulator_problem(human: pd.DataFrame, sim: pd.DataFrame) -> Problem:
    """"Simulator (1) or human (0)" on the shared tasks, from :func:`user_texts` tables; ``X``: texts."""
    h, s = shared_rows(human, sim)
    texts = [*h["text"], *s["text"]]
    y = np.r_[np.zeros(len(h), dtype=int), np.ones(len(s), dtype=int)]
    return Problem(texts, y, np.r_[h["task_key"].to_numpy(), s["task_key"].to_numpy()])


def text_batch_problems(human: pd.DataFrame) -> list[Problem]:
    """One text problem per human batch present: "this batch (1) or another (0)"."""
    rows = usable_rows(human)
    texts, tasks, batches = list(rows["text"]), rows["task_key"].to_numpy(), rows["batch"].to_numpy()
    return [Problem(texts, (batches == b).astype(int), tasks) for b in sorted(set(batches))]


def top_ngrams(ngrams: Sequence[str], coefficients: np.ndarray, n: int = N_GIVEAWAYS) -> tuple[tuple[str, float], ...]:
    """The ``n`` n-grams of largest |coefficient| with their signed coefficient (positive:
    says "simulator", or "this batch"), largest first."""
    order = np.argsort(-np.abs(coefficients), kind="stable")[:n]
    return tuple((ngrams[i], float(coefficients[i])) for i in order if coefficients[i] != 0)


def _text_row(name: str, problems: Sequence[Problem], rng: np.random.Generator, n_boot: int, n_refit: int,
              level: float) -> C2STRow:
    """A text row; its give-aways are those of the first problem (for the human reference:
    batch 1 against the others), see :func:`top_ngrams`."""
    counts, codes = task_resamples(problems, rng, n_boot, n_refit)
    parts, ngrams = [], []
    for problem, code in zip(problems, codes):
        oof, vocabulary = text_out_of_fold(problem, refit_counts=counts[:n_refit, code])
        parts.append((problem, oof))
        ngrams.append(vocabulary)
    return _row(name, parts, counts, codes, top_ngrams(ngrams[0], parts[0][1].importance), level)


def _text_human_row(human: pd.DataFrame, rng: np.random.Generator, n_boot: int, n_refit: int,
                    level: float) -> C2STRow:
    return _text_row(schema.HUMAN_LABEL, _check_batches(text_batch_problems(human)), rng, n_boot, n_refit, level)


def _text_simulator_row(human: pd.DataFrame, sim: pd.DataFrame, name: str, rng: np.random.Generator, n_boot: int,
                        n_refit: int, level: float) -> C2STRow:
    return _text_row(name, [_check_shared(name, text_simulator_problem(human, sim))], rng, n_boot, n_refit, level)


def text_distinguish_all(human: pd.DataFrame, simulators: Mapping[str, pd.DataFrame], rng: np.random.Generator,
                         *, n_boot: int = N_BOOT, n_refit: int = N_REFIT, level: float = 0.95,
                         strict: bool = True) -> list[C2STRow]:
    """The text test (tables of :func:`user_texts`): the human reference, then each simulator.

    Same rows, folds, interval and ``strict`` as :func:`distinguish_all`; children of ``rng``
    in the same order."""
    children = rng.spawn(1 + len(simulators))
    settings = (n_boot, n_refit, level)
    rows = [_or_note(schema.HUMAN_LABEL, strict, _text_human_row, human, children[0], *settings)]
    for child, (name, sim) in zip(children[1:], simulators.items()):
        rows.append(_or_note(name, strict, _text_simulator_row, human, sim, name, child, *settings))
    return rows


# --- Files and the command line. ----------------------------------------------------------------------
def load_records(human_path: str | os.PathLike[str] | None, eval_results: Sequence[str | os.PathLike[str]], *,
                 domain: str | None = None) -> tuple[dict[str, dict], dict[str, dict[str, dict]]]:
    """``(human records, {label: simulator records})`` read and validated as the scoring
    command reads them (:func:`scoring.human_file`, :func:`scoring.load_simulator_file`:
    tau-bench trajectory files are converted). ``human_path`` None -> no human records.
    Raises :class:`DataError` (two files with one label included)."""
    human = data.load_human_sessions(scoring.human_file(human_path)) if human_path is not None else {}
    simulators: dict[str, dict[str, dict]] = {}
    for file in eval_results:
        label = schema.label_of(file)
        if label in simulators or label == schema.HUMAN_LABEL:
            raise DataError(f"two inputs have the label {label!r}", file=file)
        simulators[label] = scoring.load_simulator_file(file, domain=domain)
    return human, simulators


def rows_json(rows: Sequence[C2STRow]) -> str:
    """The rows as the command line writes them: a JSON list."""
    return json.dumps([row.to_json() for row in rows], indent=2) + "\n"


def run(human_path: str | os.PathLike[str], eval_results: Sequence[str | os.PathLike[str]], *, seed: int = 0,
        model: Model = "logistic", text: bool = False, domain: str | None = None,
        n_boot: int = N_BOOT, n_refit: int = N_REFIT) -> tuple[list[C2STRow], list[C2STRow] | None]:
    """``(behavioural rows, text rows or None)`` of files, as the command line computes them:
    ``numpy.random.default_rng(seed)``, whose first child drives the behavioural test and
    second the text test."""
    human_records, sim_records = load_records(human_path, eval_results, domain=domain)
    behaviour_rng, text_rng = np.random.default_rng(seed).spawn(2)
    human = features.features_table(human_records, source="human", label=schema.HUMAN_LABEL)
    sims = {label: features.features_table(r, source="llm", label=label) for label, r in sim_records.items()}
    rows = distinguish_all(human, sims, behaviour_rng, model=model, n_boot=n_boot, n_refit=n_refit)
    if not text:
        return rows, None
    human_text = user_texts(human_records, source="human", label=schema.HUMAN_LABEL)
    sim_text = {label: user_texts(r, source="llm", label=label) for label, r in sim_records.items()}
    return rows, text_distinguish_all(human_text, sim_text, text_rng, n_boot=n_boot, n_refit=n_refit)


def format_rows(rows: Sequence[C2STRow]) -> str:
    """A plain-text table: name, AUC [interval], indistinguishability, top give-aways."""
    lines = [f"{'name':<40} {'AUC':>6} {'95% interval':>15} {'indist.':>8}  give-aways"]
    for r in rows:
        gives = ", ".join(f for f, _ in r.giveaways[:3])
        lines.append(f"{r.name:<40} {r.auc:6.3f} [{r.low:5.3f}, {r.high:5.3f}] {r.indistinguishability:8.1f}  {gives}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m usersim_utils.distinguish",
                                description="Tell simulated conversations from human ones "
                                            "(classifier two-sample test).")
    p.add_argument("--human", required=True, help="human sessions file, or a study folder")
    p.add_argument("--eval-results", required=True, nargs="+", metavar="FILE",
                   help="eval_results_<label>.json or tau-bench trajectory files")
    p.add_argument("--json", dest="json_out", required=True, metavar="OUT", help="write the behavioural rows here")
    p.add_argument("--text-json", metavar="OUT", help="also run the text test and write its rows here")
    p.add_argument("--seed", type=int, default=0, help="seed of the numpy Generator (default 0)")
    p.add_argument("--model", choices=MODELS, default="logistic", help="behavioural classifier (default logistic)")
    p.add_argument("--n-refit", type=int, default=N_REFIT, metavar="R",
                   help=f"task resamples with the classifiers refitted, for the interval (default {N_REFIT}; "
                        "each costs one cross-validation)")
    p.add_argument("--domain", choices=list(ids.DOMAINS), help="domain of tau-bench trajectory files")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        json_out = scoring.check_output_path(args.json_out)
        text_out = scoring.check_output_path(args.text_json) if args.text_json is not None else None
        rows, text_rows = run(args.human, args.eval_results, seed=args.seed, model=args.model,
                              text=text_out is not None, domain=args.domain, n_refit=args.n_refit)
        write_output(json_out, rows_json(rows))
        if text_rows is not None and text_out is not None:
            write_output(text_out, rows_json(text_rows))
    except (DataError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_rows(rows))
    if text_rows is not None:
        print("\ntext (character n-grams of the user turns; may reflect how the text was collected):")
        print(format_rows(text_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
