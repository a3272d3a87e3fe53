"""Tests of usersim_utils.uncertainty: the resampled index equals the reference
index at unit weights, intervals cover known truths, tests and rankings behave."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from usersim_utils import ids, paths, stats, usi
from usersim_utils import uncertainty as unc
from usersim_utils.demo.feature_tables import SYNTHETIC_HUMAN_MEANS, synthetic_table, synthetic_tables
from usersim_utils.errors import DataError
from usersim_utils.features import UNSCALED_FEATURES

TASKS = ids.parse_task_spec("airline:0-9,retail:0-13")


def make_agreements(rng: np.random.Generator, human: pd.DataFrame, share: float = 0.8) -> pd.DataFrame:
    """Per-task agreements (as usi.eval_agreements returns) for a random share of kept human sessions."""
    kept = human.loc[human["keep"]]
    chosen = kept.loc[rng.random(len(kept)) < share]
    return pd.DataFrame({
        "batch": chosen["batch"].to_numpy(),
        "task_key": chosen["task_key"].to_numpy(),
        "agreement": rng.uniform(40, 100, len(chosen)),
    })


@pytest.fixture(scope="module")
def small() -> dict:
    """Three 2-run simulators (scored with the suffix split), one 1-run simulator
    covering part of the tasks, Eval agreements for two of them, a re-rating ceiling."""
    rng = np.random.default_rng(7)
    human, sims = synthetic_tables(rng, n_simulators=3, n_runs=2, tasks=TASKS)
    partial_keys = TASKS[:15]
    sims["one-run"] = synthetic_table(
        rng, "one-run", partial_keys, SYNTHETIC_HUMAN_MEANS, {t: 0.5 for t in partial_keys}, drop_rate=0.1
    )
    agreements = {"sim-00": make_agreements(rng, human), "one-run": make_agreements(rng, human, 0.5)}
    batch1 = human.loc[human["keep"] & (human["batch"] == 1)]
    ceiling = pd.DataFrame({"task_key": batch1["task_key"].to_numpy()[:12], "agreement": rng.uniform(60, 100, 12)})
    difficulty = usi.pooled_difficulty(sims.values(), min_samples=3)
    difficulty.pop(TASKS[0], None)  # a task without difficulty must be left out of ECE
    panel = unc.build_task_arrays(human, sims, agreements=agreements, ceiling_agreements=ceiling, run_split="suffix")
    return {"human": human, "sims": sims, "agreements": agreements, "ceiling": ceiling,
            "difficulty": difficulty, "panel": panel}


def reference_cells(human, sims, difficulty, agreements, ceiling, run_split="suffix") -> dict[str, dict]:
    evals = {label: usi.eval_cell(a) for label, a in agreements.items()}
    scores = usi.score_all(human, sims, difficulty, evals=evals,
                           ceiling_eval=usi.ceiling_eval_cell(ceiling), run_split=run_split)
    return {s.name: s.cells for s in scores}


def assert_cells_equal(values: np.ndarray, cells: dict, metrics=usi.METRICS) -> None:
    for metric, value in zip(metrics, values):
        cell = cells[metric]
        if cell is None:
            assert np.isnan(value), metric
        else:
            assert value == pytest.approx(cell[0], abs=1e-9), metric


# --- The point estimate is the reference value. ----------------------------------------
def test_point_estimate_equals_usi_score_simulator(small):
    ref = reference_cells(small["human"], small["sims"], small["difficulty"], small["agreements"], small["ceiling"])
    result = unc.bootstrap(small["panel"], small["difficulty"], np.random.default_rng(0), n_boot=20)
    assert result.labels == ("human", "sim-00", "sim-01", "sim-02", "one-run")
    assert result.metrics == usi.METRICS
    for s, label in enumerate(result.labels):
        assert_cells_equal(result.estimate[s], ref[label])
    assert ref["sim-00"]["eval_agree"] is not None and ref["sim-01"]["eval_agree"] is None


def test_point_estimate_equals_usi_with_reference_run_split_at_full_size():
    rng = np.random.default_rng(3)
    human, sims = synthetic_tables(rng, n_simulators=2)
    difficulty = usi.pooled_difficulty(sims.values())
    panel = unc.build_task_arrays(human, sims)
    points = unc.point_scores(panel, difficulty)
    for label, table in sims.items():
        cells = usi.score_simulator(label, human, table, difficulty).cells
        assert len(usi.row_runs(table)) == 3
        assert_cells_equal(points.loc[label].to_numpy(), cells)


def test_zero_one_weights_equal_usi_on_the_task_subset(small):
    """A resample's weights mean what they say: 0/1 weights = the index on those tasks only."""
    panel, difficulty = small["panel"], small["difficulty"]
    rng = np.random.default_rng(11)
    chosen = rng.random(len(panel.tasks)) < 0.6
    subset = {t for t, c in zip(panel.tasks, chosen) if c}

    def only(table):
        return table.loc[table["task_key"].isin(subset)]

    ref = reference_cells(
        only(small["human"]), {k: only(v) for k, v in small["sims"].items()}, difficulty,
        {k: only(v) for k, v in small["agreements"].items()}, only(small["ceiling"]),
    )
    weights = chosen.astype(float)[None, :]
    scored = unc.score_weights(panel, weights, difficulty)[0]
    for s, label in enumerate(panel.labels):
        assert_cells_equal(scored[s], ref[label])
    assert_cells_equal(unc.ceiling_weights(panel, weights, difficulty)[0, -1], ref["human"])


def with_copies(table: pd.DataFrame, copies: dict[str, str]) -> pd.DataFrame:
    """``table`` plus a copy of every row of task ``old`` renamed to task ``new`` (keys too)."""
    extra = []
    for old, new in copies.items():
        rows = table.loc[table["task_key"] == old].copy()
        if "key" in rows:
            rows["key"] = [new + key[len(old):] for key in rows["key"]]
        rows["task_key"] = new
        extra.append(rows)
    return pd.concat([table, *extra], ignore_index=True)


def test_a_task_drawn_twice_counts_like_a_copy_of_it(small):
    """Resample counts mean what they say: count 2 = the reference index on tables
    where the task's conversations, successes and surveys appear under a second task key."""
    panel, difficulty = small["panel"], small["difficulty"]
    counts = np.random.default_rng(12).integers(0, 3, len(panel.tasks))
    kept = {t for t, c in zip(panel.tasks, counts) if c > 0}
    copies = {t: f"retail_{500 + i}" for i, (t, c) in enumerate(zip(panel.tasks, counts)) if c == 2}

    def resampled(table):
        return with_copies(table.loc[table["task_key"].isin(kept)], copies)

    ref = reference_cells(
        resampled(small["human"]), {k: resampled(v) for k, v in small["sims"].items()},
        {**difficulty, **{new: difficulty[old] for old, new in copies.items() if old in difficulty}},
        {k: resampled(v) for k, v in small["agreements"].items()}, resampled(small["ceiling"]),
    )
    scored = unc.score_weights(panel, counts[None, :].astype(float), difficulty)[0]
    for s, label in enumerate(panel.labels):
        assert_cells_equal(scored[s], ref[label])
    assert_cells_equal(unc.ceiling_weights(panel, counts[None, :], difficulty)[0, -1], ref["human"])


def test_doubling_every_task_changes_nothing(small):
    panel, difficulty = small["panel"], small["difficulty"]
    n = len(panel.tasks)
    once, twice = unc.score_weights(panel, np.vstack([np.ones(n), np.full(n, 2.0)]), difficulty)
    np.testing.assert_allclose(once, twice, rtol=1e-12, equal_nan=True)


def test_ceiling_pairs_equal_usi_human_ceiling_batches(small):
    panel, difficulty = small["panel"], small["difficulty"]
    ceiling_eval = usi.ceiling_eval_cell(small["ceiling"])
    reference = usi.human_ceiling(small["human"], difficulty, eval_c=ceiling_eval)
    ours = unc.ceiling_weights(panel, np.ones((1, len(panel.tasks))), difficulty)[0]
    for p, batch in enumerate(reference.batches):
        assert batch.batch == usi.HUMAN_PAIRS[p]
        for d, name in enumerate(usi.DIMENSION_NAMES):
            assert ours[p, d] == pytest.approx(batch.dimensions[name], abs=1e-9)
        assert ours[p, -2] == pytest.approx(batch.ece, abs=1e-12)
        assert ours[p, -1] == pytest.approx(batch.usi, abs=1e-9)
    identity = np.zeros((1, len(panel.tasks)), dtype=int)
    relabelled = unc.ceiling_weights(panel, np.ones((1, len(panel.tasks))), difficulty, relabelling=identity)
    np.testing.assert_allclose(relabelled[0], ours, equal_nan=True)


def test_different_bin_edges_follow_usi_ece(small):
    """The ``edges`` hook gives usi.ece with the same edges (usi.score_simulator has no such parameter)."""
    panel, difficulty = small["panel"], small["difficulty"]
    edges = (0.5,)
    human, sim = small["human"], small["sims"]["sim-01"]
    ece_maps = usi.ece_runs(sim)
    per_batch = []
    for batch in usi.BATCHES:
        rows = human.loc[human["keep"] & (human["batch"] == batch)]
        success = dict(zip(rows["task_key"], rows["success"].astype(int)))
        per_batch.append(np.mean([usi.ece(m, success, difficulty, edges) for m in ece_maps.values()]))
    scored = unc.score_weights(panel, np.ones((1, len(panel.tasks))), difficulty, labels=["sim-01"], edges=edges)
    assert scored[0, 0, usi.METRICS.index("ece")] == pytest.approx(np.mean(per_batch), abs=1e-12)


# --- Reproducibility. ----------------------------------------------------------------------
def test_same_seed_same_numbers_other_seed_other_numbers(small):
    panel, difficulty = small["panel"], small["difficulty"]
    a = unc.bootstrap(panel, difficulty, np.random.default_rng(5), n_boot=50)
    b = unc.bootstrap(panel, difficulty, np.random.default_rng(5), n_boot=50)
    c = unc.bootstrap(panel, difficulty, np.random.default_rng(6), n_boot=50)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert not np.allclose(a.replicates, c.replicates, equal_nan=True)
    np.testing.assert_array_equal(a.estimate, c.estimate)


def test_a_simulator_replicates_do_not_depend_on_the_others(small):
    panel, difficulty = small["panel"], small["difficulty"]
    both = unc.bootstrap(panel, difficulty, np.random.default_rng(5), n_boot=30)
    alone = unc.bootstrap(panel, difficulty, np.random.default_rng(5), n_boot=30, labels=["sim-02"],
                          include_ceiling=False)
    np.testing.assert_array_equal(both.values("sim-02")[1], alone.values("sim-02")[1])


# --- Intervals with known answers. -----------------------------------------------------------
@pytest.mark.parametrize("method", stats.METHODS)
def test_intervals_cover_the_mean_of_a_normal_at_the_nominal_rate(method):
    rng = np.random.default_rng(2024)
    truth, n, reps = 1.5, 40, 200
    covered = 0
    for _ in range(reps):
        x = rng.normal(truth, 2.0, n)
        interval = stats.bootstrap_interval(lambda w, x=x: w @ x / w.sum(axis=1), n, rng, n_boot=400,
                                          level=0.9, method=method)
        assert interval.estimate == pytest.approx(x.mean())
        covered += interval.low <= truth <= interval.high
    assert abs(covered / reps - 0.9) <= 0.06


NEAR_HUMAN_MEANS = {f: v * 1.05 if f in UNSCALED_FEATURES else min(v * 1.05, 0.95)
                    for f, v in SYNTHETIC_HUMAN_MEANS.items()}


def simulated_study(rng: np.random.Generator, n_tasks: int = 30) -> tuple[unc.TaskArrays, dict[str, float]]:
    """One draw of a study from a fixed population: new tasks, new sessions, one
    near-human simulator with three runs (suffix split), difficulty = the true rates."""
    tasks = [f"retail_{i}" for i in range(n_tasks)]
    success = dict(zip(tasks, rng.beta(2.0, 2.0, n_tasks)))
    human_keys = [f"{t}{s}" for s in ("", "_ann2", "_ann3") for t in tasks]
    human = synthetic_table(rng, "human", human_keys, SYNTHETIC_HUMAN_MEANS, success, source="human")
    sim_keys = [f"{t}_{r}" for r in (1, 2, 3) for t in tasks]
    sim = synthetic_table(rng, "near", sim_keys, NEAR_HUMAN_MEANS, success)
    return unc.build_task_arrays(human, {"near": sim}, run_split="suffix"), success


def test_centred_interval_covers_the_expected_usi_of_a_simulated_study():
    """The truth: the mean USI over many independent studies of the same design.
    A near-human simulator is where Dice and ECE are most biased: the centred
    interval covers the truth at about its nominal rate, the percentile one rarely."""
    rng = np.random.default_rng(31)
    truth = np.mean([unc.point_scores(*simulated_study(rng))["usi"].item() for _ in range(150)])
    covered = {"centred": 0, "percentile": 0}
    n_studies = 60
    for _ in range(n_studies):
        panel, difficulty = simulated_study(rng)
        result = unc.bootstrap(panel, difficulty, rng, n_boot=200, include_ceiling=False)
        estimate, reps, _ = result.values("near")
        for method in covered:
            low, high = stats.confidence_interval(estimate, reps, level=0.9, method=method)
            covered[method] += low <= truth <= high
    assert covered["centred"] / n_studies >= 0.8
    assert covered["percentile"] / n_studies <= 0.5


def test_centred_interval_is_the_percentile_interval_moved_onto_the_estimate():
    replicates = np.linspace(-1.0, 1.0, 201) - 3.0  # mean -3: the bootstrap bias is -3 around an estimate of 0
    low, high = stats.centred_interval(replicates, 0.0, 0.9)
    p_low, p_high = stats.percentile_interval(replicates, 0.9)
    assert (low, high) == pytest.approx((p_low + 3.0, p_high + 3.0))
    assert low == pytest.approx(-high)


def test_bca_equals_percentile_without_bias_or_skew():
    """A symmetric bootstrap centred on the estimate with a symmetric jackknife gives z0 = a = 0."""
    replicates = np.concatenate([np.linspace(-1, 1, 1001)])
    jackknife = np.array([-1.0, 1.0, -2.0, 2.0])
    low, high = stats.bca_interval(replicates, 0.0, jackknife, 0.9)
    assert (low, high) == pytest.approx(stats.percentile_interval(replicates, 0.9))


def test_interval_edge_cases():
    assert stats.bca_interval(np.full(10, 3.0), 3.0, np.ones(4)) == (3.0, 3.0)
    assert all(np.isnan(stats.percentile_interval(np.full(5, np.nan))))
    with pytest.raises(ValueError, match="method"):
        stats.bootstrap_interval(lambda w: w.sum(axis=1), 5, np.random.default_rng(0), method="basic")
    with pytest.raises(ValueError, match="method"):
        stats.confidence_interval(1.0, np.ones(3), method="basic")
    with pytest.raises(ValueError, match="jackknife"):
        stats.confidence_interval(1.0, np.ones(3), method="bca")


def test_resample_counts_draw_every_task_count_with_replacement():
    counts = stats.resample_counts(165, 300, np.random.default_rng(1))
    assert counts.shape == (300, 165)
    assert np.all(counts.sum(axis=1) == 165)
    assert 0.6 < np.mean(counts > 0) < 0.66  # about 1 - 1/e distinct tasks per resample


# --- Comparisons and rankings. -----------------------------------------------------------------
def test_centred_replicates_have_the_estimate_as_mean(small):
    result = unc.bootstrap(small["panel"], small["difficulty"], np.random.default_rng(1), n_boot=100)
    defined = ~np.isnan(result.estimate)  # cells such as Eval without surveys stay NaN
    centred = result.centred_replicates()[:, defined]
    np.testing.assert_allclose(np.nanmean(centred, axis=0), result.estimate[defined], atol=1e-9)
    np.testing.assert_allclose(np.nanstd(centred, axis=0), np.nanstd(result.replicates[:, defined], axis=0), atol=1e-9)


@pytest.mark.parametrize("centred", [True, False])
def test_rank_summary_probabilities_sum_to_one_and_ranks_are_bounded(small, centred):
    result = unc.bootstrap(small["panel"], small["difficulty"], np.random.default_rng(1), n_boot=200)
    ranks = unc.rank_summary(result, centred=centred)
    assert "human" not in set(ranks["name"])
    assert ranks["p_best"].sum() == pytest.approx(1.0)
    assert list(ranks["rank"]) == sorted(ranks["rank"])
    assert ranks["rank_low"].between(1, len(ranks)).all() and ranks["rank_high"].between(1, len(ranks)).all()
    assert (ranks["rank_low"] <= ranks["rank_high"]).all()


def test_intervals_table_and_paired_difference(small):
    result = unc.bootstrap(small["panel"], small["difficulty"], np.random.default_rng(1), n_boot=200)
    for method in stats.METHODS:
        table = unc.intervals(result, method=method)
        assert len(table) == len(result.labels) * len(result.metrics)
        for metric, rows in table.groupby("metric"):
            low, high = unc.metric_range(metric)
            assert rows["low"].dropna().between(low, high).all() and rows["high"].dropna().between(low, high).all()
        usi_rows = table.loc[table["metric"] == "usi"].set_index("name")
        assert usi_rows.loc["sim-00", "estimate"] == result.values("sim-00")[0]
        assert (usi_rows["low"] <= usi_rows["high"]).all()
    diff = unc.paired_difference(result, "sim-00", "sim-01")
    assert diff.estimate == pytest.approx(result.values("sim-00")[0] - result.values("sim-01")[0])
    assert diff.low <= diff.high and 0.0 <= diff.p_a_better <= 1.0
    same = unc.paired_difference(result, "sim-00", "sim-00")
    assert (same.estimate, same.low, same.high, same.p_a_better) == (0.0, 0.0, 0.0, 0.0)
    assert same.method == "centred"


def null_pair_panel(rng: np.random.Generator, shift: float = 1.0) -> unc.TaskArrays:
    """Human sessions and two one-run simulators over 20 tasks; ``b``'s feature
    means are ``shift`` times ``a``'s (1.0: both drawn from one distribution)."""
    tasks = TASKS[:20]
    success = dict(zip(tasks, rng.uniform(0.2, 0.8, len(tasks))))
    keys = [f"{t}{s}" for s in ("", "_ann2", "_ann3") for t in tasks]
    human = synthetic_table(rng, "human", keys, SYNTHETIC_HUMAN_MEANS, success, source="human")
    means_a = {f: v * 1.3 for f, v in SYNTHETIC_HUMAN_MEANS.items()}
    means_b = {f: min(v * shift, 0.95) if v < 1 else v * shift for f, v in means_a.items()}
    sims = {"a": synthetic_table(rng, "a", tasks, means_a, success),
            "b": synthetic_table(rng, "b", tasks, means_b, success)}
    return unc.build_task_arrays(human, sims)


def test_permutation_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(99)
    p_values = []
    for _ in range(40):
        panel = null_pair_panel(rng)
        difficulty = {t: 0.5 for t in panel.tasks}
        p_values.append(unc.permutation_test(panel, difficulty, "a", "b", rng, n_perm=99).p_value)
    p_values = np.array(p_values)
    assert 0.35 < p_values.mean() < 0.65
    assert np.mean(p_values <= 0.1) <= 0.25


def test_permutation_p_value_is_small_for_a_clear_difference():
    rng = np.random.default_rng(5)
    panel = null_pair_panel(rng, shift=3.0)
    difficulty = {t: 0.5 for t in panel.tasks}
    result = unc.permutation_test(panel, difficulty, "a", "b", rng, n_perm=199)
    assert result.observed > 0
    assert result.p_value == pytest.approx(1 / 200)
    assert result.null.shape == (199,)


def test_permutation_refuses_simulators_with_different_runs(small):
    with pytest.raises(ValueError, match="different runs"):
        unc.permutation_test(small["panel"], small["difficulty"], "sim-00", "one-run", np.random.default_rng(0))
    with pytest.raises(ValueError, match="surveys"):
        unc.permutation_test(small["panel"], small["difficulty"], "sim-00", "sim-01", np.random.default_rng(0))


# --- Human ceiling with intervals. ---------------------------------------------------------------
def test_human_ceiling_intervals_rows_and_reference_estimate(small):
    table = unc.human_ceiling_intervals(small["panel"], small["difficulty"], np.random.default_rng(0), n_boot=100)
    assert list(dict.fromkeys(table["pair"])) == [*unc.PAIR_NAMES, "mean of pairs", "relabelled"]
    ref = usi.human_ceiling(small["human"], small["difficulty"], eval_c=usi.ceiling_eval_cell(small["ceiling"]))
    mean_usi = table.loc[(table["pair"] == "mean of pairs") & (table["metric"] == "usi"), "estimate"].item()
    assert mean_usi == pytest.approx(ref.cells["usi"][0], abs=1e-9)
    relabelled = table.loc[table["pair"] == "relabelled"].set_index("metric")
    assert relabelled.loc["eval_agree", "estimate"] == pytest.approx(ref.cells["eval_agree"][0])
    assert (relabelled["low"] <= relabelled["high"]).all()


# --- Input checks. ---------------------------------------------------------------------------------
def test_agreement_for_an_unknown_task_is_a_data_error(small):
    bad = pd.DataFrame({"batch": [1], "task_key": ["retail_99"], "agreement": [50.0]})
    with pytest.raises(DataError, match="retail_99"):
        unc.build_task_arrays(small["human"], {"sim-00": small["sims"]["sim-00"]}, agreements={"sim-00": bad})


def test_rank_summary_without_any_defined_value_is_all_nan(small):
    result = unc.bootstrap(small["panel"], {}, np.random.default_rng(1), n_boot=20)  # no difficulty: no ECE, no USI
    ranks = unc.rank_summary(result)
    assert ranks["estimate"].isna().all() and ranks["p_best"].isna().all()


def test_weights_of_the_wrong_width_are_refused(small):
    with pytest.raises(ValueError, match="tasks"):
        unc.score_weights(small["panel"], np.ones((1, 3)), small["difficulty"])


# --- Speed (benchmarks/bench_bootstrap.py). ------------------------------------------------------
BENCH = paths.REPO_ROOT / "benchmarks" / "bench_bootstrap.py"


def run_benchmark(n_simulators: int, n_boot: int) -> dict:
    out = subprocess.run([sys.executable, str(BENCH), "--simulators", str(n_simulators), "--n-boot", str(n_boot)],
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_bootstrap_benchmark_runs_on_a_small_leaderboard():
    result = run_benchmark(3, 100)
    assert result["conversations"] == 495 + 3 * 3 * 165
    assert 0 < result["panel_s"] < result["total_s"] < 20.0


@pytest.mark.slow
def test_bootstrap_of_the_full_leaderboard_takes_under_60_seconds():
    """31 simulators x 3 runs x 165 tasks against 495 human sessions, 1,000 resamples."""
    result = run_benchmark(31, 1000)
    assert result["conversations"] == 495 + 31 * 3 * 165
    assert result["total_s"] < 60.0, result
