"""The statistics of the two-sample test's verdicts (usersim_utils.distinguish.two_sample) and
the batched logistic fits of its permutations, against known answers and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from usersim_utils.distinguish import crossval, two_sample


def test_permutations_stay_within_tasks_and_the_same_seed_gives_the_same_ones() -> None:
    tasks = np.array(["b", "a", "b", "c", "a", "b", "c", "c", "a"])
    perms = two_sample.within_task_permutations(tasks, 200, np.random.default_rng(0))
    assert perms.shape == (200, len(tasks))
    for perm in perms:
        assert sorted(perm) == list(range(len(tasks)))
        assert (tasks[perm] == tasks).all()
    assert len({tuple(p) for p in perms}) > 100  # 3!^3 = 216 possible: they do vary
    again = two_sample.within_task_permutations(tasks, 200, np.random.default_rng(0))
    assert (perms == again).all()


def test_the_p_value_counts_the_permutations_at_least_as_extreme() -> None:
    null = np.array([0.40, 0.50, 0.55, 0.60, 0.70])
    assert two_sample.permutation_p_value(0.60, null) == pytest.approx(3 / 6)  # 0.60 and 0.70, plus one
    assert two_sample.permutation_p_value(0.99, null) == pytest.approx(1 / 6)  # the smallest possible
    assert math.isnan(two_sample.permutation_p_value(math.nan, null))
    assert math.isnan(two_sample.permutation_p_value(0.6, np.zeros(0)))


def test_the_permutation_test_has_its_size_for_exchangeable_labels() -> None:
    """Mean differences with labels shuffled within tasks, 400 null datasets: rejections at
    0.05 within Monte Carlo error of 5% (exactness, not luck: at most 5% + 2 SE)."""
    rejections = 0
    for rng in np.random.default_rng(5).spawn(400):
        tasks = np.repeat(np.arange(10), 6)
        x = rng.normal(size=60) + tasks * 0.5  # task effects, shared by both labels
        y = np.tile([0, 1], 30)

        def stat(labels: np.ndarray, x: np.ndarray = x) -> float:
            return float(x[labels == 1].mean() - x[labels == 0].mean())

        null = np.array([stat(y[p]) for p in two_sample.within_task_permutations(tasks, 39, rng)])
        rejections += two_sample.permutation_p_value(stat(y), null) < 0.05
    assert rejections / 400 <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 400), rejections


def test_hanley_mcneil_variance_is_the_mann_whitney_null_variance_at_one_half() -> None:
    for n_pos, n_neg in ((50, 50), (30, 90)):
        null = (n_pos + n_neg + 1) / (12 * n_pos * n_neg)
        assert two_sample.hanley_mcneil_variance(0.5, n_pos, n_neg) == pytest.approx(null)
    assert two_sample.hanley_mcneil_variance(1.0, 40, 40) == pytest.approx(0.0)


def test_the_score_interval_is_the_normal_one_at_one_half_and_keeps_width_at_the_boundary() -> None:
    n_pos, n_neg, effect = 400, 500, 2.0
    low, high = two_sample.score_interval(0.5, effect, n_pos, n_neg)
    assert (low + high) / 2 == pytest.approx(0.5, abs=1e-3)
    half = stats.norm.ppf(0.975) * math.sqrt(effect * two_sample.hanley_mcneil_variance(0.5, n_pos, n_neg))
    assert high - low == pytest.approx(2 * half, rel=0.01)
    top_low, top_high = two_sample.score_interval(1.0, effect, n_pos, n_neg)
    assert top_high == 1.0 and 0.95 < top_low < 1.0
    assert two_sample.score_interval(1.0, 4 * effect, n_pos, n_neg)[0] < top_low  # more clustering: wider
    bottom_low, bottom_high = two_sample.score_interval(0.0, effect, n_pos, n_neg)
    assert bottom_low == 0.0 and bottom_high > 0.0
    assert all(math.isnan(v) for v in two_sample.score_interval(0.6, math.nan, n_pos, n_neg))


def test_the_design_effect_is_undefined_only_without_a_variance() -> None:
    base = two_sample.hanley_mcneil_variance(0.6, 100, 100)
    assert two_sample.design_effect(3 * base, 0.6, 100, 100) == pytest.approx(3.0)
    assert math.isnan(two_sample.design_effect(0.0, 1.0, 100, 100))
    assert math.isnan(two_sample.design_effect(0.01, 1.0, 100, 100))


def test_equivalence_needs_the_whole_interval_inside_the_margin() -> None:
    margin = two_sample.EQUIVALENCE_MARGIN
    assert two_sample.equivalent(0.5 - margin / 2, 0.5 + margin / 2)
    assert not two_sample.equivalent(0.5 - margin / 2, 0.5 + 1.5 * margin)
    assert not two_sample.equivalent(0.5 - 1.5 * margin, 0.5)
    assert not two_sample.equivalent(math.nan, math.nan)


def test_the_indistinguishability_interval_follows_the_auc_interval() -> None:
    assert two_sample.indistinguishability_interval(0.45, 0.58) == pytest.approx((84.0, 100.0))
    assert two_sample.indistinguishability_interval(0.70, 0.80) == pytest.approx((40.0, 60.0))
    assert two_sample.indistinguishability_interval(0.20, 0.30) == pytest.approx((40.0, 60.0))
    assert all(math.isnan(v) for v in two_sample.indistinguishability_interval(math.nan, 0.6))


def test_batched_logistic_fits_are_scikit_learns() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 6)) * [1, 2, 3, 1, 5, 0.1] + 4
    X[:, 5] = 0.0  # a constant column, as a feature that never fires
    labels = np.c_[(X[:, 0] + rng.normal(size=300) > 4).astype(int), rng.integers(0, 2, (300, 3))]
    test = rng.normal(size=(50, 6)) + 4
    got = crossval.logistic_decisions(X, labels, test)
    scaler = StandardScaler().fit(X)
    for j in range(labels.shape[1]):
        fitted = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(scaler.transform(X), labels[:, j])
        assert np.allclose(got[:, j], fitted.decision_function(scaler.transform(test)), atol=1e-6)
        assert roc_auc_score(labels[:, j], crossval.logistic_decisions(X, labels[:, [j]], X)[:, 0]) == pytest.approx(
            roc_auc_score(labels[:, j], fitted.decision_function(scaler.transform(X))))
