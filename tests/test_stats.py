"""Tests of usersim_utils.stats (and of the analyses that moved out of it: feedback's
reward_judgement and overrating, arena): adjusted p-values equal statsmodels', weighted
correlations equal scipy's on the expanded sample, task-clustered intervals cover the
truth where session-level intervals do not, and the equivalence bound behaves."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from usersim_utils import arena as arena_module
from usersim_utils import feedback, published, stats
from usersim_utils.survey import SURVEY_ITEMS


# --- Multiplicity. ------------------------------------------------------------------------------
def test_holm_and_bh_by_hand():
    p = [0.01, 0.04, 0.03]
    # Holm: sorted 0.01*3, 0.03*2, 0.04*1 -> running max 0.03, 0.06, 0.06
    assert stats.adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06])
    # BH: 0.04*3/3, 0.03*3/2 = 0.045 -> min from the top: 0.04, 0.04; 0.01*3 = 0.03
    assert stats.adjust_pvalues(p, "bh") == pytest.approx([0.03, 0.04, 0.04])


@pytest.mark.parametrize("method, library", [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjusted_p_values_equal_the_librarys(method, library):
    rng = np.random.default_rng(11)
    p = np.concatenate([rng.uniform(0, 1, 40), rng.uniform(0, 0.01, 8)])
    assert np.array_equal(stats.adjust_pvalues(p, method), multipletests(p, method=library)[1])


def test_nan_p_values_stay_nan_and_are_not_counted():
    p = np.array([0.01, np.nan, 0.02, np.nan])
    out = stats.adjust_pvalues(p, "holm")
    assert np.isnan(out[[1, 3]]).all()
    assert out[[0, 2]] == pytest.approx(multipletests([0.01, 0.02], method="holm")[1])
    assert np.isnan(stats.adjust_pvalues([np.nan, np.nan])).all()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="method"):
        stats.adjust_pvalues([0.1], "bonferroni-ish")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.adjust_pvalues([1.2])
    with pytest.raises(ValueError, match="no column"):
        stats.adjust_table(pd.DataFrame({"p": [0.1]}), ["q"])


def test_adjust_table_per_family():
    table = pd.DataFrame({"label": ["a", "a", "a", "b", "b"], "p": [0.01, 0.02, 0.5, 0.03, np.nan]})
    whole = stats.adjust_table(table, ["p"])
    assert whole["p_holm"].to_numpy()[:4] == pytest.approx(multipletests([0.01, 0.02, 0.5, 0.03], method="holm")[1])
    by_label = stats.adjust_table(table, ["p"], by=["label"])
    assert by_label["p_holm"].to_numpy()[:3] == pytest.approx(multipletests([0.01, 0.02, 0.5], method="holm")[1])
    assert by_label["p_bh"].iloc[3] == pytest.approx(0.03) and math.isnan(by_label["p_bh"].iloc[4])
    assert list(by_label.columns) == ["label", "p", "p_holm", "p_bh"]
    pd.testing.assert_frame_equal(by_label[["label", "p"]], table)


# --- Weighted correlations and the cluster bootstrap. ----------------------------------------------------
@pytest.mark.parametrize("kind", ["pearson", "spearman"])
def test_integer_weights_give_the_correlation_of_the_expanded_sample(kind):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, 60).astype(float)  # ties, as survey answers have
    y = x + rng.normal(0, 2, 60)
    weights = rng.integers(0, 3, (5, 60)).astype(float)
    ours = stats.weighted_correlation(x, y, weights, kind)
    for k in range(5):
        counts = weights[k].astype(int)
        xe, ye = np.repeat(x, counts), np.repeat(y, counts)
        expected = scipy_stats.pearsonr(xe, ye) if kind == "pearson" else scipy_stats.spearmanr(xe, ye)
        assert ours[k] == pytest.approx(expected.statistic, abs=1e-12)


def test_weighted_correlation_of_a_constant_side_is_nan():
    x, y = np.ones(5), np.arange(5.0)
    assert np.isnan(stats.weighted_correlation(x, y, np.ones((1, 5)))).all()
    with pytest.raises(ValueError, match="kind"):
        stats.weighted_correlation(x, y, np.ones((1, 5)), "kendall")


def test_cluster_weights_draw_whole_clusters():
    clusters = ["a", "a", "b", "c", "c", "c"]
    weights = stats.cluster_weights(clusters, 200, np.random.default_rng(0))
    assert weights.shape == (200, 6)
    assert (weights[:, 0] == weights[:, 1]).all() and (weights[:, 3] == weights[:, 5]).all()
    drawn = weights[:, 0] + weights[:, 2] + weights[:, 3]  # one observation per cluster
    assert (drawn == 3).all()
    assert len({tuple(w) for w in weights}) > 5


def clustered_sample(rng: np.random.Generator, n_clusters: int, size: int, icc: float = 0.8):
    """x and y with correlation 0.5 at both the cluster and the observation level, so the
    population correlation is 0.5; most of the variance is shared within a cluster."""
    cov = np.array([[1.0, 0.5], [0.5, 1.0]])
    shared = rng.multivariate_normal([0, 0], cov, n_clusters) * math.sqrt(icc)
    own = rng.multivariate_normal([0, 0], cov, n_clusters * size) * math.sqrt(1 - icc)
    values = np.repeat(shared, size, axis=0) + own
    return values[:, 0], values[:, 1], np.repeat(np.arange(n_clusters), size)


def test_clustered_interval_covers_the_truth_where_the_session_level_one_does_not():
    rng = np.random.default_rng(2024)
    covered = {"clustered": 0, "fisher": 0}
    n_studies = 150
    for _ in range(n_studies):
        x, y, clusters = clustered_sample(rng, 40, 5)
        out = stats.clustered_correlation(x, y, clusters, rng, n_boot=300, level=0.9)
        covered["clustered"] += out["low"] <= 0.5 <= out["high"]
        low, high = stats.fisher_interval(out["r"], len(x), 0.9)
        covered["fisher"] += low <= 0.5 <= high
        assert out["n"] == 200 and out["n_clusters"] == 40
    assert covered["clustered"] / n_studies >= 0.8
    assert covered["fisher"] / n_studies <= 0.7


def test_clustered_mean_is_the_mean_with_a_cluster_interval():
    rng = np.random.default_rng(8)
    values = np.array([0.1, 0.3, 0.2, 0.6, 0.5])
    mean, low, high = stats.clustered_mean(values, ["t1", "t1", "t2", "t3", "t3"], rng, n_boot=500)
    assert mean == pytest.approx(values.mean())
    assert 0.1 <= low <= mean <= high <= 0.6
    assert stats.clustered_mean(np.full(4, 0.25), list("abcd"), rng) == pytest.approx((0.25, 0.25, 0.25))
    assert all(math.isnan(v) for v in stats.clustered_mean([], [], rng))


def test_the_equivalence_bound_is_the_larger_end_of_the_two_sided_interval_at_twice_alpha():
    x, y, clusters = clustered_sample(np.random.default_rng(1), 60, 3, icc=0.3)
    out = stats.clustered_correlation(x, y, clusters, np.random.default_rng(5), n_boot=400, equivalence_alpha=0.05)
    at_90 = stats.clustered_correlation(x, y, clusters, np.random.default_rng(5), n_boot=400, level=0.9)
    assert (out["bound_low"], out["bound_high"]) == (at_90["low"], at_90["high"])  # the same resamples
    assert out["bound"] == max(abs(at_90["low"]), abs(at_90["high"])) >= abs(out["r"])
    assert out["low"] <= out["bound_low"] and out["bound_high"] <= out["high"]  # 90% inside 95%


def test_the_equivalence_bound_shrinks_with_more_tasks_when_there_is_no_relation():
    rng = np.random.default_rng(12)
    bounds = []
    for n_clusters in (30, 300):
        x = rng.normal(size=3 * n_clusters)
        y = rng.normal(size=3 * n_clusters)
        bounds.append(stats.clustered_correlation(x, y, np.repeat(np.arange(n_clusters), 3), rng, n_boot=400,
                                                  equivalence_alpha=0.05)["bound"])
    assert bounds[1] < bounds[0] and bounds[1] < 0.15
    with pytest.raises(ValueError, match="alpha"):
        stats.clustered_correlation(x, y, np.repeat(np.arange(300), 3), rng, equivalence_alpha=0.6)
    assert math.isnan(stats.clustered_correlation([1.0, 2.0], [1.0, 3.0], ["a", "b"], rng,
                                                  equivalence_alpha=0.05)["bound"])


# --- Drop-in tables. -----------------------------------------------------------------------------------------
def reward_answers_table(rng: np.random.Generator, n_tasks: int = 80) -> pd.DataFrame:
    """Kept sessions (3 per task): reward and a value per item; ``task_success`` follows the
    reward, ``efficiency`` is unrelated, ``reuse`` is never answered."""
    records = []
    for t in range(n_tasks):
        p = rng.uniform(0.1, 0.9)
        for batch in (1, 2, 3):
            success = int(rng.random() < p)
            for item in SURVEY_ITEMS:
                if item == "reuse":
                    value = np.nan
                elif item == "task_success":
                    value = float(np.clip(0.7 * success + rng.normal(0.15, 0.2), 0, 1))
                else:
                    value = float(rng.random())
                records.append({"instance_id": f"retail_{t}_{batch}", "task_key": f"retail_{t}", "batch": batch,
                                "success": success, "item": item, "answer": None, "value": value,
                                "value_norm": value})
    return pd.DataFrame(records)


def test_reward_judgement_reports_interval_bound_and_adjusted_p():
    answers = reward_answers_table(np.random.default_rng(4))
    table = feedback.reward_judgement(answers, np.random.default_rng(0), n_boot=300)
    assert list(table.columns) == list(feedback.REWARD_JUDGEMENT_COLUMNS)
    assert list(table["item"]) == list(SURVEY_ITEMS)
    rows = table.set_index("item")
    assert rows.loc["task_success", "r_low"] > 0.5
    assert rows.loc["efficiency", "largest_abs_r"] < 0.3  # no relation: a small bound
    assert (rows["largest_abs_r"].dropna() >= rows["r"].dropna().abs()).all()
    assert rows.loc["task_success", "n"] == 240 and rows.loc["task_success", "n_tasks"] == 80
    assert math.isnan(rows.loc["reuse", "r"]) and rows.loc["reuse", "n"] == 0
    assert rows.loc["task_success", "p"] == pytest.approx(2 / 301)  # every resample above 0: the smallest p
    assert rows["p"].dropna().between(0, 1).all()
    success = answers[answers["item"] == "task_success"]
    naive = scipy_stats.pearsonr(success["success"], success["value_norm"]).pvalue
    assert rows.loc["task_success", "p_if_independent"] == pytest.approx(naive)
    defined = table["p"].notna()
    assert np.array_equal(table.loc[defined, "p_holm"], multipletests(table.loc[defined, "p"], method="holm")[1])
    assert np.array_equal(table.loc[defined, "p_bh"], multipletests(table.loc[defined, "p"], method="fdr_bh")[1])
    x = answers[answers["item"] == "task_success"]
    assert rows.loc["task_success", "r"] == pytest.approx(scipy_stats.pearsonr(x["success"], x["value_norm"]).statistic)



def test_reward_judgement_bound_is_the_equivalence_test_at_the_interval_level():
    # level 0.95: TOST at alpha 0.05, the 90% interval's larger end (it was the 95% interval's),
    # from the resamples of the 95% interval itself
    answers = reward_answers_table(np.random.default_rng(4), n_tasks=30)
    table = feedback.reward_judgement(answers, np.random.default_rng(3), n_boot=200, level=0.95)
    rows = answers[answers["item"] == SURVEY_ITEMS[0]]
    x, y, clusters = rows["success"].to_numpy(float), rows["value_norm"].to_numpy(float), rows["task_key"].to_numpy()
    out = stats.clustered_correlation(x, y, clusters, np.random.default_rng(3), n_boot=200, level=0.95,
                                      equivalence_alpha=0.05)
    assert table.loc[0, "largest_abs_r"] == out["bound"]
    assert (table.loc[0, "r_low"], table.loc[0, "r_high"]) == (out["low"], out["high"])
    with pytest.raises(ValueError, match="0.5"):
        feedback.reward_judgement(answers, np.random.default_rng(3), level=0.5)


def test_each_printed_bound_stands_beside_the_interval_it_ends():
    """Before: notebook 05 printed "r = 0.57 [0.42, 0.70]" beside "|r| above 0.69 is
    ruled out at 5%": a bound inside the only interval shown, which came from other resamples.
    The bound is the larger end of its own (2·level − 1) interval, drawn from the resamples of
    the level interval and so inside it, and the line prints each beside its own interval."""
    answers = reward_answers_table(np.random.default_rng(4), n_tasks=30)
    table = feedback.reward_judgement(answers, np.random.default_rng(0), n_boot=300, level=0.95).dropna(subset=["r"])
    assert ((table["r_low"] <= table["bound_low"]) & (table["bound_high"] <= table["r_high"])).all()
    assert (table["largest_abs_r"] == table[["bound_low", "bound_high"]].abs().max(axis=1)).all()
    for _, row in table.iterrows():
        line = feedback.judgement_line(row, 0.95)
        intervals = [tuple(map(float, pair)) for pair in re.findall(r"\[(-?[\d.]+), (-?[\d.]+)\]", line)]
        bound = float(re.search(r"above (-?[\d.]+) ruled out at 5%", line).group(1))
        assert "95% interval" in line and "90% interval" in line and len(intervals) == 2
        assert bound == max(abs(v) for v in intervals[1])  # the end of the interval printed beside it

def test_overrating_adds_adjusted_p_values_to_the_feedback_table():
    rng = np.random.default_rng(9)
    records = []
    for label, shift in (("sim-a", 0.3), ("sim-b", 0.0)):
        for t in range(20):
            for batch in (1, 2, 3):
                for item in SURVEY_ITEMS:
                    human = float(rng.random())
                    records.append({"label": label, "instance_id": f"retail_{t}", "task_key": f"retail_{t}",
                                    "batch": batch, "item": item, "human_answer": "", "sim_answer": "",
                                    "human_value": 1.0, "sim_value": 1.0, "human_norm": human,
                                    "sim_norm": float(np.clip(human + shift + rng.normal(0, 0.1), 0, 1))})
    pairs = pd.DataFrame(records)
    table = feedback.overrating(pairs, np.random.default_rng(1), n_boot=100, n_perm=200)
    plain = feedback.mean_differences(pairs, np.random.default_rng(1), n_boot=100, n_perm=200)
    pd.testing.assert_frame_equal(table[plain.columns], plain)
    for column in ("wilcoxon_p", "sign_flip_p"):
        assert np.array_equal(table[f"{column}_holm"], multipletests(table[column], method="holm")[1])
    per_label = feedback.overrating(pairs, np.random.default_rng(1), n_boot=100, n_perm=200, by=["label"])
    a = per_label["label"] == "sim-a"
    assert np.array_equal(per_label.loc[a, "wilcoxon_p_bh"],
                          multipletests(per_label.loc[a, "wilcoxon_p"], method="fdr_bh")[1])


# --- Arena per family. ---------------------------------------------------------------------------------------
def test_arena_family_correlations_count_points_and_sit_beside_the_paper():
    arena = pd.DataFrame({
        "model": ["GPT-5", "GPT-5.1", "gpt-4o", "GPT-4o-mini", "Claude-3-Haiku", "claude-opus-4-20250514-v1_0",
                  "Claude-Sonnet-4", "Gemini-2.0-Flash", "Gemini-2.5-Flash"],
        "family": ["GPT"] * 4 + ["Claude"] * 3 + ["Gemini"] * 2,
        "arena_name": "", "elo": [1440, 1450, 1340, 1315, 1260, 1410, 1385, 1360, 1410],
        "source": "test", "retrieved": "2026-01-01",
    })
    usi_values = {"gpt-5": 70.6, "gpt-5.1": 70.9, "gpt-4o": 69.3, "gpt-4o-mini": 66.0, "claude-3-haiku-20240307": 60.0,
                  "claude-opus-4-20250514-v1_0": 65.0, "Claude-Sonnet-4": 64.0, "gemini-2.0-flash": 73.3,
                  "gemini-2.5-flash": float("nan"), "human": 92.9}
    table = arena_module.arena_family_correlations(usi_values, arena).set_index("family")
    assert table.loc["GPT", "n"] == 4 and table.loc["Claude", "n"] == 3 and table.loc["Gemini", "n"] == 1
    expected = scipy_stats.pearsonr([1440, 1450, 1340, 1315], [70.6, 70.9, 69.3, 66.0]).statistic
    assert table.loc["GPT", "r"] == pytest.approx(expected)
    assert table.loc["GPT", "low"] < expected < table.loc["GPT", "high"]
    assert not math.isnan(table.loc["Claude", "r"]) and math.isnan(table.loc["Claude", "low"])  # Fisher needs 4
    assert math.isnan(table.loc["Gemini", "r"])
    assert table["paper_r"].to_dict() == published.PUBLISHED_ARENA_R


def test_arena_file_gives_a_row_per_family_with_the_published_usi():
    published_usi = published.published_table().set_index("name")["usi"].dropna()
    table = arena_module.arena_family_correlations(published_usi.to_dict(), families=["GPT", "Claude", "Gemini"])
    assert list(table["family"]) == ["GPT", "Claude", "Gemini"]
    arena = published.arena_elo()
    for row in table.itertuples():
        rated = {published.resolve_name(m) for m in arena.loc[arena["family"] == row.family, "model"]}
        assert row.n == len(rated & set(published_usi.index)), row.family
    assert table.set_index("family").loc["GPT", "models"] == "GPT-5, GPT-4o"


def _clustered_null(rng: np.random.Generator, n_tasks: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reward and rating with no relation, each shared strongly by a task's three sessions."""
    tasks = np.repeat(np.arange(n_tasks), 3)
    success = (rng.random(3 * n_tasks) < rng.beta(0.5, 0.5, n_tasks)[tasks]).astype(float)
    rating = rng.normal(0.0, 1.0, n_tasks)[tasks] + 0.5 * rng.normal(0.0, 1.0, 3 * n_tasks)
    return success, rating, tasks


def test_the_clustered_p_value_holds_its_level_where_the_independent_one_does_not():
    """A known answer (no relation) with within-task correlation: over 300 data sets the
    independent-sessions test rejects at 5 % far too often, the cluster-bootstrap p-value
    about 5 % of the time (Monte Carlo standard error 1.3 %)."""
    rng = np.random.default_rng(12)
    clustered, independent = [], []
    for _ in range(300):
        x, y, tasks = _clustered_null(rng)
        clustered.append(stats.clustered_correlation(x, y, tasks, rng, n_boot=200)["p"] < 0.05)
        independent.append(scipy_stats.pearsonr(x, y).pvalue < 0.05)
    error = math.sqrt(0.05 * 0.95 / 300)
    assert np.mean(clustered) <= 0.05 + 2.5 * error, np.mean(clustered)
    assert np.mean(independent) > 0.05 + 2.5 * error, np.mean(independent)


def test_the_bootstrap_p_value_inverts_the_percentile_interval():
    replicates = np.linspace(-1.0, 3.0, 999)  # 0 sits at the 25th percentile
    assert stats.bootstrap_p_value(replicates) == pytest.approx(2 * 251 / 1000)
    assert stats.bootstrap_p_value(replicates + 10) == pytest.approx(2 / 1000)  # never 0
    assert stats.bootstrap_p_value(np.array([np.nan, np.nan])) != stats.bootstrap_p_value(np.array([np.nan, np.nan]))
    assert stats.bootstrap_p_value(np.zeros(5)) == 1.0
