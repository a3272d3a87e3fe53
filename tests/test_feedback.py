"""Tests of usersim_utils.feedback: every statistic on hand-made data with a known answer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from usersim_utils import data, feedback, stats, survey, usi
from usersim_utils.errors import DataError
from usersim_utils.features import features_table

BEST = {item: list(options)[-1] for item, options in survey.SURVEY_OPTIONS.items()}
WORST = {item: list(options)[0] for item, options in survey.SURVEY_OPTIONS.items()}
BEST["question_amount_preference"] = "About right"  # the only value-2 option


def _survey(answers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item: {"question": survey.SURVEY_QUESTIONS.get(item, item), "answer": a} for item, a in answers.items()}


def _record(answers: dict[str, Any], *, keep: bool = True, reward: float = 1.0) -> dict[str, Any]:
    return {"survey": _survey(answers), "keep": keep, "reward": reward, "conversation": []}


def _long(records: dict[str, dict], label: str) -> pd.DataFrame:
    return data.surveys_table(records, label=label)


# --- Generic statistics ------------------------------------------------------------------------


def test_wilson_interval_matches_the_formula_on_known_numbers():
    lo, hi = stats.wilson_interval(5, 10)
    assert lo == pytest.approx(0.236593, abs=1e-5) and hi == pytest.approx(0.763407, abs=1e-5)
    lo, hi = stats.wilson_interval(0, 10)
    assert lo == pytest.approx(0.0) and hi == pytest.approx(0.277533, abs=1e-5)  # z²/(n + z²)
    lo, hi = stats.wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(1 - 0.277533, abs=1e-5)
    z = scipy_stats.norm.ppf(0.95)  # a 90% interval uses z = 1.645
    p, n = 30 / 40, 40
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert stats.wilson_interval(30, 40, 0.90) == pytest.approx((centre - half, centre + half))
    assert all(math.isnan(v) for v in stats.wilson_interval(0, 0))
    with pytest.raises(ValueError):
        stats.wilson_interval(11, 10)


def test_fisher_interval_is_tanh_of_atanh_plus_minus_z_over_sqrt_n_minus_3():
    r, n = 0.5, 28
    half = 1.959964 / 5.0
    expected = (math.tanh(math.atanh(0.5) - half), math.tanh(math.atanh(0.5) + half))
    assert stats.fisher_interval(r, n) == pytest.approx(expected, abs=1e-6)
    assert stats.fisher_interval(1.0, 10) == (1.0, 1.0)
    assert all(math.isnan(v) for v in stats.fisher_interval(0.3, 3))


def test_bootstrap_interval_of_a_constant_is_degenerate():
    rng = np.random.default_rng(0)
    assert stats.bootstrap_mean_interval([0.25] * 12, rng, n_boot=200) == (0.25, 0.25, 0.25)
    clusters = ["a", "a", "b", "c", "c", "c"]
    assert stats.bootstrap_mean_interval([1.0] * 6, rng, clusters=clusters, n_boot=200) == (1.0, 1.0, 1.0)
    assert all(math.isnan(v) for v in stats.bootstrap_mean_interval([], rng))


def test_cluster_bootstrap_resamples_whole_clusters():
    # Two clusters of constant value: every resample mean is a pooled mean of 0 and 1
    # weighted by the cluster sizes (1 value vs 3 values), so only 0, 0.75 (mixed 1+1
    # draws: 3/4) and 1 can occur.
    rng = np.random.default_rng(1)
    mean, lo, hi = stats.bootstrap_mean_interval([0.0, 1.0, 1.0, 1.0], rng, clusters=["x", "y", "y", "y"],
                                                    n_boot=500, level=0.5)
    assert mean == 0.75
    assert {lo, hi} <= {0.0, 0.75, 1.0}


def test_bootstrap_is_reproducible_with_the_same_seed():
    values = np.arange(20, dtype=float)
    a = stats.bootstrap_mean_interval(values, np.random.default_rng(7), n_boot=300)
    b = stats.bootstrap_mean_interval(values, np.random.default_rng(7), n_boot=300)
    assert a == b and a[1] < a[0] < a[2]


def test_sign_flip_test_exact_and_monte_carlo():
    rng = np.random.default_rng(0)
    # 3 positive differences: only the all-plus and all-minus of 8 sign vectors reach |mean| = 1.
    assert stats.sign_flip_test([1.0, 1.0, 1.0], rng, n_perm=1000) == pytest.approx(2 / 8)
    # [1, -1]: the observed |mean| is 0, which every sign vector reaches.
    assert stats.sign_flip_test([1.0, -1.0], rng, n_perm=1000) == 1.0
    assert stats.sign_flip_test([0.0, 0.0], rng) == 1.0
    assert math.isnan(stats.sign_flip_test([], rng))
    # 20 equal differences: exact p = 2 / 2**20; Monte Carlo gives the floor 1 / (1 + n_perm).
    p = stats.sign_flip_test([0.5] * 20, np.random.default_rng(0), n_perm=999)
    assert p == pytest.approx(1 / 1000, abs=2 / 1000)


def test_wilcoxon_p_uses_scipy_and_handles_all_zero():
    d = [0.5, 0.25, 0.75, 1.0, -0.25, 0.5, 0.25, 0.75]
    assert stats.wilcoxon_p(d) == pytest.approx(scipy_stats.wilcoxon(d).pvalue)
    assert stats.wilcoxon_p([0.0, 0.0, 0.0]) == 1.0
    assert math.isnan(stats.wilcoxon_p([]))


def test_weighted_kappa_identical_ratings_is_one():
    ratings = [1, 2, 3, 3, 2, 1, 1]
    assert stats.weighted_kappa(ratings, ratings, [1, 2, 3]) == pytest.approx(1.0)
    assert stats.weighted_kappa(ratings, ratings, [1, 2, 3], weights="linear") == pytest.approx(1.0)


def test_weighted_kappa_hand_computed_3x3():
    # Pairs (1,1) (1,2) (2,2) (2,3) (3,3) (3,3), n = 6.
    # Observed disagreement: two cells one step apart, weight ((1)/2)² = 1/4 each -> (2 · 1/4) / 6 = 1/12.
    # Margins: rater a (1/3, 1/3, 1/3); rater b (1/6, 2/6, 3/6).
    # Expected: 1/3 · [(1/4·2 + 1·3) + (1/4·1 + 1/4·3) + (1·1 + 1/4·2)] / 6 = 1/3 · (3.5 + 1 + 1.5) / 6 = 1/3.
    # kappa = 1 − (1/12) / (1/3) = 0.75.
    a = [1, 1, 2, 2, 3, 3]
    b = [1, 2, 2, 3, 3, 3]
    assert stats.weighted_kappa(a, b, [1, 2, 3]) == pytest.approx(0.75)
    # Linear weights: observed 2·(1/2)/6 = 1/6;
    # expected 1/3·[(1/2·2 + 3) + (1/2·1 + 1/2·3) + (1 + 1/2·2)]/6 = 1/3·8/6 = 4/9.
    assert stats.weighted_kappa(a, b, [1, 2, 3], weights="linear") == pytest.approx(1 - (1 / 6) / (4 / 9))


def test_weighted_kappa_edge_cases():
    assert stats.weighted_kappa([2, 1], [1, 2], [1, 2]) == pytest.approx(-1.0)  # complete disagreement
    assert math.isnan(stats.weighted_kappa([2, 2], [2, 2], [1, 2]))  # no variation: undefined
    assert math.isnan(stats.weighted_kappa([], [], [1, 2]))
    with pytest.raises(DataError, match="rating 7"):
        stats.weighted_kappa([1, 7], [1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        stats.weighted_kappa([1], [1], [1, 2], weights="cubic")


def test_bootstrap_spearman_interval_is_degenerate_for_a_perfect_monotone_relation():
    rng = np.random.default_rng(0)
    x = np.arange(10.0)
    lo, hi = stats.bootstrap_spearman_interval(x, x**3, rng, n_boot=200)
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)
    assert all(math.isnan(v) for v in stats.bootstrap_spearman_interval([1, 2], [1, 2], rng))


# --- Per-item comparison ---------------------------------------------------------------------------


@pytest.fixture()
def study_pair() -> tuple[dict, dict, dict]:
    """4 human sessions (one not kept) over 3 tasks and 2 batches, a simulator that
    always answers BEST, and one that answers WORST but leaves human_like blank."""
    humans = {
        "airline_0": _record(WORST),
        "airline_0_ann2": _record({**WORST, "human_like": "Partially"}),
        "retail_1": _record(BEST, reward=0.0),
        "retail_2": _record(WORST, keep=False),
    }
    best = {key: {"survey": _survey(BEST)} for key in ("airline_0", "airline_0_ann2", "retail_1", "retail_2")}
    worst = {key: {"survey": _survey({**WORST, "human_like": None})} for key in ("airline_0", "retail_1")}
    return humans, best, worst


def test_pair_surveys_matches_kept_sessions_by_key(study_pair):
    humans, best, worst = study_pair
    sims = pd.concat([_long(best, "best"), _long(worst, "worst")], ignore_index=True)
    pairs = feedback.pair_surveys(_long(humans, "human"), sims)
    assert list(pairs.columns) == list(feedback.PAIR_COLUMNS)
    assert set(pairs["instance_id"]) == {"airline_0", "airline_0_ann2", "retail_1"}  # retail_2 not kept
    assert len(pairs[pairs["label"] == "best"]) == 3 * 8
    assert len(pairs[pairs["label"] == "worst"]) == 2 * 8
    blank = pairs[(pairs["label"] == "worst") & (pairs["item"] == "human_like")]
    assert blank["sim_value"].isna().all()


def test_mean_differences_known_values(study_pair):
    humans, best, _ = study_pair
    pairs = feedback.pair_surveys(_long(humans, "human"), _long(best, "best"))
    out = feedback.mean_differences(pairs, np.random.default_rng(0), n_boot=200, n_perm=200).set_index("item")
    # overall_score: humans 0, 0, 1 (normalized); simulator 1, 1, 1 -> differences 1, 1, 0, mean 2/3.
    row = out.loc["overall_score"]
    assert row["mean_diff"] == pytest.approx(2 / 3)
    assert (row["n_pairs"], row["n_tasks"]) == (3, 2)
    assert (row["human_mean"], row["sim_mean"]) == (pytest.approx(1 / 3), 1.0)
    # Cluster bootstrap over 2 tasks (airline_0: 1, 1; retail_1: 0): resample means in {0, 2/3 ... 1}.
    assert 0.0 <= row["ci_low"] <= row["mean_diff"] <= row["ci_high"] <= 1.0
    # Paired tests on per-task differences [1, 0]: all 4 sign vectors give |mean| = 0.5, so p = 1.
    assert row["sign_flip_p"] == pytest.approx(1.0)
    # human_like: humans 0 (batch 1) and 0.5 (batch 2) on airline_0 -> mean over batches 0.75 for that task.
    per_task = feedback.per_task_differences(pairs).set_index(["item", "task_key"])
    assert per_task.loc[("human_like", "airline_0"), "difference"] == pytest.approx(0.75)
    assert per_task.loc[("human_like", "airline_0"), "n_pairs"] == 2


def test_mean_differences_of_a_constant_gap_has_a_degenerate_interval():
    humans = {f"retail_{i}": _record(WORST) for i in range(6)}
    sim = {f"retail_{i}": {"survey": _survey(BEST)} for i in range(6)}
    pairs = feedback.pair_surveys(_long(humans, "human"), _long(sim, "sim"))
    out = feedback.mean_differences(pairs, np.random.default_rng(3), n_boot=100, n_perm=100)
    assert (out["mean_diff"] == 1.0).all() and (out["ci_low"] == 1.0).all() and (out["ci_high"] == 1.0).all()
    # Six positive per-task differences: exact sign flip p = 2 / 64; Wilcoxon is scipy's.
    assert out["sign_flip_p"].iloc[0] == pytest.approx(2 / 64)
    assert out["wilcoxon_p"].iloc[0] == pytest.approx(scipy_stats.wilcoxon([1.0] * 6).pvalue)


def test_answer_distribution_uses_the_sessions_common_to_every_simulator(study_pair):
    humans, best, worst = study_pair
    sims = pd.concat([_long(best, "best"), _long(worst, "worst")], ignore_index=True)
    dist = feedback.paired_answer_distribution(feedback.pair_surveys(_long(humans, "human"), sims))
    overall = dist[dist["item"] == "overall_score"].set_index(["rater", "answer"])
    # Common sessions: airline_0 (human 1) and retail_1 (human 5).
    assert overall.loc[("human", "1 (Very poor)"), "n"] == 1 and overall.loc[("human", "5 (Excellent)"), "n"] == 1
    assert overall.loc[("best", "5 (Excellent)"), "share"] == 1.0
    assert overall.loc[("worst", "1 (Very poor)"), "share"] == 1.0
    human_like = dist[(dist["item"] == "human_like") & (dist["rater"] == "worst")]
    assert (human_like["n_missing"] == 2).all() and (human_like["n_valid"] == 0).all()
    assert human_like["share"].isna().all()
    shares = dist[dist["n_valid"] > 0].groupby(["rater", "item"])["share"].sum()
    assert np.allclose(shares, 1.0)
    qap = dist[(dist["rater"] == "human") & (dist["item"] == "question_amount_preference")]
    assert list(qap["answer"]) == ["Too many", "About right", "Too few"]  # option order, both value 1 kept apart


def test_beside_published_matches_labels_and_items():
    differences = pd.DataFrame({"label": ["gpt_5_1", "gpt_5_1", "other"], "item": ["human_like", "reuse", "human_like"],
                                "mean_diff": [0.5, 0.1, 0.3]})
    out = feedback.beside_published(differences)
    assert out.to_dict("records") == [{"label": "gpt_5_1", "published_name": "GPT-5.1", "item": "human_like",
                                       "mean_diff": 0.5, "published": 0.55, "difference": pytest.approx(-0.05)}]


# --- Agreement -------------------------------------------------------------------------------------


def _random_panel(seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    humans, sims = {}, {}
    for domain, n in (("airline", 5), ("retail", 7)):
        for i in range(n):
            for suffix in ("", "_ann2", "_ann3"):
                key = f"{domain}_{i}{suffix}"
                answers = {item: str(rng.choice(list(opts))) for item, opts in survey.SURVEY_OPTIONS.items()}
                if rng.random() < 0.2:
                    answers["efficiency"] = None  # the human skipped an item
                humans[key] = _record(answers, keep=bool(rng.random() > 0.1))
                sim_answers = {item: str(rng.choice(list(opts))) for item, opts in survey.SURVEY_OPTIONS.items()}
                for item in survey.SURVEY_ITEMS:
                    if rng.random() < 0.15:
                        sim_answers[item] = rng.choice(["", "maybe?", None])  # missing or invalid: drawn
                if rng.random() > 0.1:
                    sims[key] = {"survey": _survey(sim_answers)}
    return humans, sims


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_item_walk_reproduces_the_index_eval_exactly(seed):
    humans, sims = _random_panel(seed)
    items = feedback.eval_item_agreements(humans, sims)
    assert items["imputed"].any()
    reference = usi.eval_agreements(humans, sims)
    rebuilt = feedback.task_agreements_from_items(items)
    assert list(rebuilt["task_key"]) == list(reference["task_key"])
    assert list(rebuilt["batch"]) == list(reference["batch"])
    assert rebuilt["agreement"].tolist() == reference["agreement"].tolist()  # exact, same draws
    assert feedback.eval_overall(humans, sims) == usi.eval_cell(reference)


def test_eval_by_item_known_values_and_consistency_with_overall(study_pair):
    humans, _, worst = study_pair
    items = feedback.eval_item_agreements(humans, worst)
    per_item = feedback.eval_by_item(items).set_index("item")
    # overall_score: batch 1 has airline_0 (human 1 vs sim 1: 100) and retail_1 (5 vs 1: 0) -> 50.
    assert per_item.loc["overall_score", "eval_mean"] == pytest.approx(50.0)
    assert per_item.loc["overall_score", "eval_std"] == 0.0
    assert per_item.loc["human_like", "n_imputed"] == 2
    # Every human answered every item: the mean of the per-item Evals is the overall Eval.
    overall = feedback.eval_overall(humans, worst)
    assert per_item["eval_mean"].mean() == pytest.approx(overall[0])


def test_agreement_views_kappa_and_spearman(study_pair):
    humans, best, worst = study_pair
    identical = {key: {"survey": rec["survey"]} for key, rec in humans.items()}
    sims = pd.concat([_long(identical, "copy"), _long(worst, "worst")], ignore_index=True)
    views = feedback.agreement_views(feedback.pair_surveys(_long(humans, "human"), sims)).set_index(["label", "item"])
    assert views.loc[("copy", "overall_score"), "kappa"] == pytest.approx(1.0)
    assert views.loc[("copy", "overall_score"), "spearman"] == pytest.approx(1.0)
    assert ("worst", "human_like") not in views.index  # no valid simulator answer
    assert math.isnan(views.loc[("worst", "overall_score"), "spearman"])  # a constant simulator


# --- Reward versus human judgement -----------------------------------------------------------------


@pytest.fixture()
def reward_panel() -> tuple[pd.DataFrame, pd.DataFrame]:
    answers = [
        ("airline_0", 1.0, "Yes - Task completed", "4 (Good)"),
        ("airline_1", 1.0, "No - Task failed", "2 (Poor)"),  # reward 1, human: not done
        ("airline_2", 0.0, "No - Task failed", "1 (Very poor)"),
        ("retail_0", 0.0, "Fully - Exceeded expectations", "5 (Excellent)"),  # reward 0, human: done
        ("retail_1", 1.0, "Fully - Exceeded expectations", "5 (Excellent)"),
        ("retail_2", 0.0, "No - Due to a policy issue, which the agent clearly explained", "3 (Acceptable)"),
        ("retail_3", 1.0, None, "4 (Good)"),
        ("retail_4", 0.0, "Yes - Task completed", "1 (Very poor)"),  # kept False: ignored
    ]
    records = {}
    for key, reward, success, overall in answers:
        records[key] = {**_record({**BEST, "task_success": success, "overall_score": overall}, reward=reward),
                        "keep": key != "retail_4", "conversation": [{"role": "user", "content": "hi"}]}
    return data.sessions_table(records), data.surveys_table(records, label="human")


def test_reward_cross_table_counts(reward_panel):
    sessions, surveys = reward_panel
    table = feedback.reward_by_reported_success(feedback.reward_with_answers(sessions, surveys))
    assert list(table.index) == [0, 1]
    assert list(table.columns) == [*survey.SURVEY_OPTIONS["task_success"], feedback.NO_ANSWER]
    assert table.loc[1, "No - Task failed"] == 1 and table.loc[0, "No - Task failed"] == 1
    assert table.loc[1, "Yes - Task completed"] == 1 and table.loc[0, "Yes - Task completed"] == 0
    assert table.loc[0, "Fully - Exceeded expectations"] == 1 and table.loc[1, "Fully - Exceeded expectations"] == 1
    assert table.loc[0, "No - Due to a policy issue, which the agent clearly explained"] == 1
    assert table.loc[1, feedback.NO_ANSWER] == 1
    assert table.to_numpy().sum() == 7  # retail_4 is not kept


def test_reward_disagreements(reward_panel):
    sessions, surveys = reward_panel
    out = feedback.reward_disagreements(feedback.reward_with_answers(sessions, surveys))
    assert list(out["instance_id"]) == ["retail_0", "airline_1"]
    assert list(out["kind"]) == ["reward 0, human: done", "reward 1, human: not done"]
    assert out.loc[1, "overall_score"] == "2 (Poor)"


def test_reward_correlations_point_biserial_is_pearson_on_zero_one(reward_panel):
    sessions, surveys = reward_panel
    paired = feedback.reward_with_answers(sessions, surveys)
    out = feedback.reward_correlations(paired, np.random.default_rng(0), n_boot=200).set_index("item")
    rows = paired[(paired["item"] == "overall_score") & paired["value_norm"].notna()]
    x, y = rows["success"].to_numpy(float), rows["value_norm"].to_numpy()
    expected = scipy_stats.pearsonr(x, y).statistic
    # Point-biserial from its own formula: (M1 − M0) / s · sqrt(p q), s the population std of y.
    p = x.mean()
    by_hand = (y[x == 1].mean() - y[x == 0].mean()) / y.std() * math.sqrt(p * (1 - p))
    row = out.loc["overall_score"]
    assert row["point_biserial"] == pytest.approx(expected) == pytest.approx(by_hand)
    assert (row["pb_low"], row["pb_high"]) == pytest.approx(stats.fisher_interval(expected, 7))
    assert row["spearman"] == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    assert row["sp_low"] <= row["spearman"] <= row["sp_high"] or math.isnan(row["sp_low"])
    assert row["n"] == 7 and out.loc["task_success", "n"] == 6
    assert math.isnan(out.loc["reuse", "point_biserial"])  # every human answered BEST: constant


# --- Easy mode -------------------------------------------------------------------------------------


def _outcomes(label: str, rows: list[tuple[str, int]], keep: bool = True) -> pd.DataFrame:
    return pd.DataFrame({"label": label, "key": [k for k, _ in rows], "task_key": [k for k, _ in rows],
                         "keep": keep, "success": [s for _, s in rows]})


def test_outcomes_table_equals_the_features_table_columns():
    records = {
        "retail_3_1": {"reward": 1.0, "conversation": [{"role": "user", "content": "hi"}]},
        "retail_3_2": {"reward": None, "keep": False, "conversation": []},
        "airline_0_ann2": {"reward": 0.0, "keep": True, "conversation": []},
    }
    columns = ["label", "key", "task_key", "keep", "success"]
    expected = features_table(records, source="llm", label="x")[columns]
    pd.testing.assert_frame_equal(feedback.outcomes_table(records, label="x"), expected)


def test_success_rates_per_domain_and_bin_with_wilson_intervals():
    human = _outcomes("human", [("airline_0", 0), ("airline_1", 1), ("retail_0", 0), ("retail_1", 0)])
    sim = _outcomes("sim", [("airline_0", 1), ("airline_1", 1), ("retail_0", 1), ("retail_1", 0)])
    dropped = _outcomes("sim", [("retail_1", 1)], keep=False)
    difficulty = {"airline_0": 0.1, "airline_1": 0.9, "retail_0": 0.5}  # retail_1 has no difficulty
    table = feedback.outcomes_with_difficulty(pd.concat([human, sim, dropped]), difficulty)
    assert len(table) == 8
    assert table.loc[table["task_key"] == "retail_1", "difficulty_bin"].isna().all()
    by_domain = feedback.success_rates(table, ["label", "domain"]).set_index(["label", "domain"])
    assert by_domain.loc[("sim", "airline"), ["n", "successes", "rate"]].tolist() == [2, 2, 1.0]
    assert by_domain.loc[("human", "retail"), "rate"] == 0.0
    lo, hi = stats.wilson_interval(1, 2)
    assert (by_domain.loc[("human", "airline"), "ci_low"], by_domain.loc[("human", "airline"), "ci_high"]) == (lo, hi)
    by_bin = feedback.success_rates(table, ["label", "difficulty_bin"])
    assert by_bin["n"].sum() == 6  # retail_1 left out
    assert sorted(by_bin["difficulty_bin"].unique()) == [0, 2, 4]


def test_success_gap_paired_over_shared_tasks():
    human = _outcomes("human", [("airline_0", 0), ("airline_0", 1), ("airline_1", 1), ("retail_5", 0)])
    sim = _outcomes("sim", [("airline_0", 1), ("airline_1", 1), ("retail_9", 1)])
    table = feedback.outcomes_with_difficulty(pd.concat([human, sim]), {})
    gap = feedback.success_gap(table, np.random.default_rng(0), n_boot=100).set_index("label")
    # Shared tasks airline_0 (sim 1 vs human 0.5) and airline_1 (1 vs 1): gap 0.25.
    assert gap.loc["sim", "n_tasks"] == 2
    assert gap.loc["sim", "gap"] == pytest.approx(0.25)
    assert (gap.loc["sim", "human_rate"], gap.loc["sim", "sim_rate"]) == (0.75, 1.0)
    assert {gap.loc["sim", "ci_low"], gap.loc["sim", "ci_high"]} <= {0.0, 0.25, 0.5}
    with pytest.raises(DataError):
        feedback.success_gap(table[table["label"] == "sim"], np.random.default_rng(0))


# --- Free text -------------------------------------------------------------------------------------


def test_themes_match_stems_and_whole_words():
    assert feedback.themes_of("It was QUICK and clear, but it asked too many questions") == {
        "speed": True, "clarity": True, "politeness": False, "errors": False, "human_like": False, "questions": True,
    }
    assert feedback.themes_of("felt robotic; made a mistake")["human_like"]
    assert feedback.themes_of("felt robotic; made a mistake")["errors"]
    assert not feedback.themes_of("kindly longer")["politeness"]  # "kind" is a whole word, "long" too
    assert not feedback.themes_of("kindly longer")["speed"]


def test_free_text_lengths_and_theme_shares():
    records = {
        "airline_0": _record({**BEST, "specific_examples": "very fast and polite", "improvement_suggestions": ""}),
        "airline_1": _record({**BEST, "specific_examples": "  it was wrong  ", "improvement_suggestions": None}),
        "airline_2": _record({**BEST, "specific_examples": "fine", "improvement_suggestions": "be faster"}),
    }
    surveys = _long(records, "human")
    answers = feedback.free_text_answers(surveys)
    assert len(answers) == 4
    assert answers.loc[answers["instance_id"] == "airline_1", "text"].item() == "it was wrong"
    summary = feedback.free_text_summary(answers, surveys).set_index("item")
    assert summary.loc["specific_examples", ["n_records", "n_answers"]].tolist() == [3, 3]
    assert summary.loc["specific_examples", "mean_words"] == pytest.approx((4 + 3 + 1) / 3)
    assert summary.loc["improvement_suggestions", "answer_rate"] == pytest.approx(1 / 3)
    shares = feedback.theme_shares(answers).set_index(["item", "theme"])
    assert shares.loc[("specific_examples", "speed"), ["n_mentions", "n_answers"]].tolist() == [1, 3]
    assert shares.loc[("specific_examples", "errors"), "share"] == pytest.approx(1 / 3)
    assert shares.loc[("improvement_suggestions", "speed"), "share"] == 1.0  # "faster": the stem "fast*"


def test_free_text_of_a_rater_who_leaves_it_blank():
    records = {"retail_0": _record({**BEST, "specific_examples": "   ", "improvement_suggestions": None})}
    surveys = _long(records, "sim")
    answers = feedback.free_text_answers(surveys)
    assert answers.empty
    summary = feedback.free_text_summary(answers, surveys)
    assert summary["n_answers"].tolist() == [0, 0] and summary["answer_rate"].tolist() == [0.0, 0.0]
    assert feedback.theme_shares(answers).empty
