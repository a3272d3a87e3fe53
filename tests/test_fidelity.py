"""Tests of usersim_utils.fidelity: distances with known answers, the distributional
index, and the sensitivity of the ranking (Kendall's tau)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from usersim_utils import fidelity as fid
from usersim_utils import ids, usi
from usersim_utils import uncertainty as unc
from usersim_utils.demo import feature_tables
from usersim_utils.features import DIMENSIONS, FEATURE_LEXICON, FEATURES, ID_COLUMNS

TASKS = ids.parse_task_spec("airline:0-7,retail:0-7")


def table_with(values: dict[str, list[float]], *, source: str = "llm", label: str = "x") -> pd.DataFrame:
    """A features table, one conversation per value; features not given are 0.2."""
    n = len(next(iter(values.values())))
    keys = [TASKS[i % len(TASKS)] for i in range(n)]
    frame = pd.DataFrame({
        "label": label, "source": source, "key": keys, "task_key": keys, "batch": 1 if source == "human" else 0,
        "keep": True, "success": 1, "has_features": True,
    })
    for f in FEATURES:
        frame[f] = values.get(f, [0.2] * n)
    frame["n_turns"] = 4.0
    return frame[[*ID_COLUMNS, *FEATURES, "n_turns"]]


@pytest.fixture(scope="module")
def panel_data():
    rng = np.random.default_rng(4)
    human, sims = feature_tables.synthetic_tables(rng, n_simulators=6, n_runs=1)
    difficulty = usi.pooled_difficulty(sims.values(), min_samples=3)
    return human, sims, difficulty, unc.build_task_arrays(human, sims)


# --- Distances. --------------------------------------------------------------------------
def test_identical_distributions_have_distance_zero(panel_data):
    human = panel_data[0]
    table = fid.feature_fidelity(human, human)
    assert (table["wasserstein"] == 0).all()
    assert (table["ks_statistic"] == 0).all()
    assert (table["ks_similarity"] == 100).all() and (table["w_similarity"] == 100).all()
    assert table["dice"].to_numpy() == pytest.approx(np.full(len(table), 100.0))
    index = fid.distributional_index(table.assign(name="self"))
    assert index.loc["self", "index"] == 100.0


def test_same_mean_different_spread_scores_100_on_dice_but_not_on_distribution():
    """Humans half never polite, half always; the simulator polite in half its turns, always."""
    human = table_with({"politeness_rate": [0.0, 1.0] * 8}, source="human", label="human")
    sim = table_with({"politeness_rate": [0.5] * 16})
    row = fid.feature_fidelity(human, sim).set_index("feature").loc["politeness_rate"]
    assert row["dice"] == pytest.approx(100.0)
    assert row["ks_statistic"] == pytest.approx(0.5)
    assert row["wasserstein"] == pytest.approx(50.0)  # rates are x100, every conversation moves 50
    assert row["human_std"] == pytest.approx(50.0)
    assert row["w_similarity"] == pytest.approx(50.0)


def test_disjoint_distributions_have_ks_one():
    human = table_with({"opening_words": [1.0, 2.0, 3.0] * 4}, source="human")
    sim = table_with({"opening_words": [10.0, 11.0] * 6})
    row = fid.feature_fidelity(human, sim).set_index("feature").loc["opening_words"]
    assert row["ks_statistic"] == 1.0 and row["ks_similarity"] == 0.0
    assert row["wasserstein"] == pytest.approx(10.5 - 2.0)


def test_human_pairs_of_identical_batches_score_100():
    base = table_with({"opening_words": [1.0, 2.0, 3.0, 4.0] * 4}, source="human")
    human = pd.concat([base.assign(batch=b) for b in (1, 2, 3)], ignore_index=True)
    pairs = fid.human_pairs_fidelity(human)
    assert list(dict.fromkeys(pairs["name"])) == ["human 1-2", "human 1-3", "human 2-3"]
    assert (pairs["ks_statistic"] == 0).all() and (pairs["n_human"] == 16).all()
    assert (fid.distributional_index(pairs)["index"] == 100.0).all()


def test_wasserstein_similarity_edges():
    assert fid.wasserstein_similarity(0.0, 0.0) == 100.0
    assert fid.wasserstein_similarity(1.0, 0.0) == 0.0
    assert fid.wasserstein_similarity(2.0, 2.0) == 50.0


def test_common_tasks_restricts_both_sides():
    human = table_with({"opening_words": [1.0] * 16}, source="human")
    sim = table_with({"opening_words": [5.0] * 4})  # only the first 4 tasks
    table = fid.feature_fidelity(human, sim).set_index("feature")
    assert table.loc["opening_words", "n_human"] == 4
    everything = fid.feature_fidelity(human, sim, common_tasks=False).set_index("feature")
    assert everything.loc["opening_words", "n_human"] == 16


def test_distributional_index_averages_features_then_dimensions():
    rows = [{"name": "s", "feature": f, "ks_similarity": 100.0 if f in DIMENSIONS["D1_conv"] else 0.0}
            for f in FEATURES]
    index = fid.distributional_index(pd.DataFrame(rows)).loc["s"]
    assert index["D1_conv"] == 100.0 and index["D2_info"] == 0.0
    assert index["index"] == 25.0


def test_fidelity_table_has_a_row_per_simulator_and_feature(panel_data):
    human, sims = panel_data[0], panel_data[1]
    table = fid.fidelity_table(human, sims)
    assert len(table) == len(sims) * len(FEATURES)
    assert table.columns[0] == "name"
    assert table["ks_statistic"].between(0, 1).all()


# --- Sensitivity. ------------------------------------------------------------------------------
def test_equal_width_edges():
    assert fid.equal_width_edges(5) == usi.BIN_EDGES
    assert fid.equal_width_edges(2) == (0.5,)
    assert fid.equal_width_edges(1) == ()
    with pytest.raises(ValueError):
        fid.equal_width_edges(0)


def test_dropping_a_lexicon_drops_exactly_its_features():
    assert fid.lexicon_features("POLITE") == ("politeness_rate",)
    dims = fid.without_features(DIMENSIONS, fid.lexicon_features("EMOTION"))
    assert dims["D4_react"] == ("accusation_rate", "pivot_rate")
    assert sum(len(v) for v in dims.values()) == len(FEATURES) - 1
    assert "D4_react" not in fid.without_features(DIMENSIONS, DIMENSIONS["D4_react"])
    with pytest.raises(ValueError):
        fid.lexicon_features("NOPE")


def test_kendall_tau_of_identical_rankings_is_one():
    assert fid.kendall_tau([3.0, 1.0, 2.0], [30.0, 10.0, 20.0])[0] == pytest.approx(1.0)
    assert fid.kendall_tau([3.0, 1.0, 2.0], [1.0, 3.0, 2.0])[0] == pytest.approx(-1.0)
    assert np.isnan(fid.kendall_tau([1.0, np.nan], [1.0, 2.0])[0])


def test_sensitivity_table(panel_data):
    _, sims, difficulty, panel = panel_data
    shifted = {t: min(v + 0.1, 1.0) for t, v in difficulty.items()}
    variants = fid.sensitivity_variants({"self": difficulty, "shifted": shifted})
    n_lexicons = len(set(FEATURE_LEXICON.values()))
    assert len(variants) == 1 + 2 + 3 + len(DIMENSIONS) + n_lexicons
    scores = fid.usi_by_variant(panel, variants)
    reference = unc.point_scores(panel, difficulty)["usi"]
    np.testing.assert_allclose(scores.loc[("reference", "reference")].to_numpy(), reference.to_numpy())
    np.testing.assert_array_equal(scores.loc[("bins", "5 bins")], scores.loc[("reference", "reference")])
    # Dropping D1 = the USI without its term: (D2 + D3 + D4 + 100(1 - ECE)) / 4.
    cells = unc.point_scores(panel, difficulty)
    by_hand = (cells[["D2_info", "D3_clarif", "D4_react"]].sum(axis=1) + 100 * (1 - cells["ece"])) / 4
    np.testing.assert_allclose(scores.loc[("drop dimension", "D1_conv")].to_numpy(), by_hand.to_numpy())
    taus = fid.sensitivity_table(panel, variants, np.random.default_rng(0), n_boot=50)
    assert list(taus.columns) == list(fid.SENSITIVITY_COLUMNS) and "p_value" not in taus
    by_name = taus.set_index("variant")
    assert by_name.loc["reference", "kendall_tau"] == pytest.approx(1.0)
    assert by_name.loc["self", "kendall_tau"] == pytest.approx(1.0)
    assert by_name.loc["reference", "swaps"] == 0 and not by_name.loc["reference", "best_changed"]
    assert taus["kendall_tau"].between(-1, 1).all()
    assert (taus["n_simulators"] == len(sims)).all()
    assert (taus["swaps_resolved"] <= taus["swaps"]).all()
    # the same resamples for every row: one resampling tau, inside its interval
    assert taus["resampling_tau"].nunique() == 1
    assert (taus["resampling_tau_low"] <= taus["resampling_tau"]).all()
    assert (taus["resampling_tau"] <= taus["resampling_tau_high"]).all()


def test_rank_swaps_count_pairs_ordered_the_other_way():
    a = np.array([3.0, 2.0, 1.0])
    assert fid.discordant_pairs(a, a).sum() == 0
    assert np.triu(fid.discordant_pairs(a, -a), k=1).sum() == 3
    assert np.triu(fid.discordant_pairs(a, np.array([3.0, 1.0, 2.0])), k=1).sum() == 1
    assert fid.discordant_pairs(a, np.array([3.0, 3.0, 1.0])).sum() == 0  # a tie is not a swap


def test_resolved_pairs_are_pairs_whose_paired_interval_excludes_zero():
    rng = np.random.default_rng(1)
    estimate = np.array([10.0, 9.9, 5.0])
    replicates = estimate + rng.normal(0.0, 0.5, (400, 3))  # independent noise of sd 0.5 per simulator
    resolved = fid.resolved_pairs(estimate, replicates)
    assert not resolved[0, 1] and resolved[0, 2] and resolved[1, 2]
    assert (resolved == resolved.T).all() and not resolved.diagonal().any()
