"""Tests of usersim_utils.power: the normal-approximation formulas, and on simulated studies
with a known process that the spread of a paired difference estimated from one study matches
the spread of that difference across independent studies, in the released layouts (1 and 3
runs, 0-15 % of human sessions not kept, rows with many zeros, a frozen and a pooled
difficulty map), for the study's own design and for designs drawn from it."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from usersim_utils import demo, power, usi
from usersim_utils import uncertainty as unc
from usersim_utils.demo.known_answer import human_process_study, survey
from usersim_utils.matched_comparison import feature_dice
from usersim_utils.matched_design import build_matched_arrays, pair_eval_agreements
from usersim_utils.survey import SURVEY_OPTIONS

LABELS = ("a", "b", "c", "d")
#: "b" is 5 % off on every feature: its pairs have a true difference, the others none.
SHIFTS = {"b": 0.05}


def test_detectable_difference_is_2_8_standard_deviations_at_80_percent_power():
    assert power.detectable_difference(1.0) == pytest.approx(1.959964 + 0.841621, abs=1e-6)
    assert power.power_at(power.detectable_difference(0.7), 0.7) == pytest.approx(0.80, abs=0.002)
    assert power.power_at(0.0, 1.0) == pytest.approx(0.05, abs=1e-9)  # no difference: the test's level
    assert math.isnan(power.power_at(1.0, 0.0))


def test_tasks_needed_scales_with_the_square_of_the_ratio():
    sd = power.detectable_difference(1.0) ** -1  # an mde of exactly 1 at 100 tasks
    assert power.tasks_needed(1.0, sd, 100) == 100
    assert power.tasks_needed(0.5, sd, 100) == 400
    assert power.tasks_needed(1.0, math.nan, 100) == -1


def _panel(study) -> unc.TaskArrays:
    return unc.build_task_arrays(study.human, study.simulators, agreements=study.agreements,
                                 ceiling_agreements=usi.ceiling_agreements(study.records, study.rerating),
                                 run_split="suffix")


def _difficulty(study, pool: str) -> dict[str, float]:
    return study.difficulty if pool == "frozen" else usi.pooled_difficulty(study.simulators.values())


def _observed(panel: unc.TaskArrays, difficulty) -> np.ndarray:
    """(P, M) point differences of every pair."""
    scores = unc.score_weights(panel, np.ones((1, len(panel.tasks))), difficulty)
    return power.pair_differences(scores)[0]


#: (study tasks, runs in the study, design tasks, design runs, drop rate, zero share, pool)
LAYOUTS = {
    "3 runs, 15% dropped, zeros, pooled map": (80, 3, 80, 3, 0.15, 0.5, "pooled"),
    "1 run, 5% dropped, frozen map": (80, 1, 80, 1, 0.05, 0.0, "frozen"),
    "40 of 120 tasks, 1 of 3 runs": (120, 3, 40, 1, 0.0, 0.0, "frozen"),
}
N_STUDIES = 30


@pytest.fixture(scope="module", params=list(LAYOUTS))
def spreads(request) -> dict:
    """Per layout: the sd estimated by :func:`power.pair_spreads` from each of ``N_STUDIES``
    studies, and the differences observed in as many independent studies of the design."""
    n_tasks, n_runs, tasks, runs, drop, zeros, pool = LAYOUTS[request.param]
    rng = np.random.default_rng(sum(map(ord, request.param)))
    estimated, observed = [], []
    for _ in range(N_STUDIES):
        study = human_process_study(rng, n_tasks, dict.fromkeys(LABELS, n_runs), drop_rate=drop, shifts=SHIFTS,
                                    zero_share=zeros)
        cut = power.with_runs(_panel(study), runs)
        estimated.append(power.pair_spreads(cut, _difficulty(study, pool), tasks, rng, n_draws=100)[0])
        # an independent study of the design itself
        design = human_process_study(rng, tasks, dict.fromkeys(LABELS, runs), drop_rate=drop, shifts=SHIFTS,
                                     zero_share=zeros)
        observed.append(_observed(_panel(design), _difficulty(design, pool)))
    return {"estimated": np.array(estimated), "observed": np.array(observed)}  # (N, P, M) each


@pytest.mark.parametrize("metric", ["usi", "D2_info", "ece"])
def test_the_estimated_spread_matches_the_spread_across_independent_studies(spreads, metric):
    """The ratio of the spread across studies to the mean estimate is 1 within its Monte Carlo
    error (a standard deviation of N draws has relative error 1/sqrt(2(N-1)), pooled over pairs)."""
    m = unc.metric_names().index(metric)
    across = np.nanstd(spreads["observed"][:, :, m], axis=0, ddof=1)  # (P,)
    estimate = np.nanmean(spreads["estimated"][:, :, m], axis=0)
    ratio = float(np.mean(across / estimate))
    relative_error = 1.0 / math.sqrt(2 * (N_STUDIES - 1) * across.size) * math.sqrt(across.size)  # pairs share draws
    assert abs(ratio - 1.0) <= 2.5 * relative_error, (ratio, relative_error)


def test_a_test_at_the_estimated_spread_holds_its_level(spreads):
    """Pairs without a true difference (a, c, d) reject at about 5 % with |d| > 1.96 sd."""
    pairs = list(zip(*np.triu_indices(len(LABELS), k=1)))
    null = [p for p, (i, j) in enumerate(pairs) if "b" not in (LABELS[i], LABELS[j])]
    m = unc.metric_names().index("usi")
    z = spreads["observed"][:, null, m] / np.nanmean(spreads["estimated"][:, null, m], axis=0)
    rejected = np.abs(z) > 1.959964
    share, error = rejected.mean(), math.sqrt(0.05 * 0.95 / rejected.size)
    assert share <= 0.05 + 2.5 * error, share


def test_the_shifted_simulator_differs_more_than_the_twins(spreads):
    """A known answer: pairs with "b" have a true USI difference, so larger observed ones."""
    pairs = list(zip(*np.triu_indices(len(LABELS), k=1)))
    with_b = [p for p, (i, j) in enumerate(pairs) if "b" in (LABELS[i], LABELS[j])]
    twins = [p for p in range(len(pairs)) if p not in with_b]
    m = unc.metric_names().index("usi")
    size = np.abs(spreads["observed"][:, :, m])
    assert size[:, with_b].mean() > size[:, twins].mean()


@pytest.fixture(scope="module")
def one_study():
    rng = np.random.default_rng(3)
    study = human_process_study(rng, 60, {"a": 3, "b": 3, "one": 1}, shifts=SHIFTS, drop_rate=0.1)
    return study, _panel(study)


def test_the_table_always_holds_the_studys_own_design(one_study):
    study, panel = one_study
    table = power.power_table(panel, study.difficulty, np.random.default_rng(0), tasks=[20], runs=[1], n_draws=50)
    assert list(table.columns) == list(power.ROW_KEYS)
    designs = set(zip(table["tasks"], table["runs"]))
    assert designs == {(20, 1), (20, 3), (60, 1), (60, 3)}
    own = table[table["study_design"]]
    assert set(zip(own["tasks"], own["runs"])) == {(60, 3)} and len(own) == len(unc.metric_names())
    # one run: every simulator takes part (3 pairs); three runs: the 1-run simulator cannot
    assert set(table.loc[table["runs"] == 1, "pairs"]) == {3} and set(table.loc[table["runs"] == 3, "pairs"]) == {1}
    usi_rows = table[table["metric"] == "usi"].set_index(["tasks", "runs"])
    assert usi_rows.loc[(20, 1), "sd"] > usi_rows.loc[(60, 1), "sd"]  # fewer tasks, more spread
    assert (np.isclose(usi_rows["mde"], power.detectable_difference(1.0) * usi_rows["sd"])).all()


def test_the_same_seed_gives_the_same_rows(one_study):
    study, panel = one_study
    first, second = (power.power_table(panel, study.difficulty, np.random.default_rng(9), n_draws=30)
                     for _ in range(2))
    pd.testing.assert_frame_equal(first, second)


def test_one_simulator_is_refused(one_study):
    study, panel = one_study
    alone = dataclasses.replace(panel, simulators={"a": panel.simulators["a"]})
    with pytest.raises(ValueError, match="at least two"):
        power.power_table(alone, study.difficulty, np.random.default_rng(0))


# --- The command. ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_study() -> Path:
    return demo.ensure_demo_panel()


def test_command_writes_rows(demo_study: Path, tmp_path: Path, capsys):
    out = tmp_path / "power.json"
    files = sorted((demo_study / "eval_results").glob("*.json"))
    code = power.main(["--human", str(demo_study), "--eval-results", *map(str, files), "--difficulty", "published",
                       "--survey-dir", str(demo_study / "survey_data"), "--json", str(out), "--tasks", "10",
                       "--n-boot", "20"])
    assert code == 0, capsys.readouterr().err
    rows = json.loads(out.read_text())
    assert rows and set(rows[0]) == set(power.ROW_KEYS)
    assert any(r["study_design"] for r in rows) and {r["tasks"] for r in rows} >= {10}
    assert "(the study)" in capsys.readouterr().out


def _argv(study: Path, out: Path, **flags: list[str]) -> list[str]:
    files = [str(f) for f in sorted((study / "eval_results").glob("*.json"))]
    base = {"--human": [str(study)], "--eval-results": files, "--difficulty": ["published"], "--json": [str(out)],
            **{f"--{k.replace('_', '-')}": v for k, v in flags.items()}}
    return [part for flag, values in base.items() for part in (flag, *values)]


@pytest.mark.parametrize("flags, message", [
    ({"difference": ["-1"]}, "error: --difference must be positive"),
    ({"eval_results": ["missing.json"]}, "missing.json"),
    ({"n_boot": ["1"]}, "error: --n-boot must be at least 2"),
])
def test_command_bad_input_is_one_line_exit_2(demo_study: Path, tmp_path: Path, capsys, flags, message):
    assert power.main(_argv(demo_study, tmp_path / "out.json", **flags)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err
    assert not (tmp_path / "out.json").exists()


def test_command_refuses_a_task_count_below_one(demo_study: Path, tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_:
        power.main(_argv(demo_study, tmp_path / "out.json", tasks=["0"]))
    assert exit_.value.code == 2 and "expected positive integers" in capsys.readouterr().err


def test_neighbour_differences_mark_what_a_spread_resolves():
    board = pd.DataFrame({"name": ["x", "y", "z", "w"], "usi": [76.0, 73.9, 73.3, float("nan")]})
    table = power.neighbour_differences(board, sd=0.7)  # mde 1.96; a test rejects above 1.37
    assert list(zip(table["a"], table["b"])) == [("x", "y"), ("y", "z")]
    assert np.allclose(table["difference"], [2.1, 0.6])
    assert table["resolved"].tolist() == [True, False] and table["detectable"].tolist() == [True, False]


# --- Features and Eval: what the study can measure. --------------------------------------------------
@pytest.fixture(scope="module")
def matched_study():
    rng = np.random.default_rng(21)
    study = human_process_study(rng, 165, {"same-3": 3, "same-1": 1}, drop_rate=0.05)
    matched = build_matched_arrays(study.human, study.simulators, agreements=study.agreements,
                                   pair_agreements=pair_eval_agreements(study.records), run_split="suffix")
    return study, matched, power.feature_dice_intervals(matched, rng, n_boot=100)


def test_feature_dice_intervals_start_with_the_ceiling_and_match_the_point_table(matched_study):
    _, matched, table = matched_study
    assert list(table.columns) == list(power.FEATURE_DICE_COLUMNS)
    assert table.iloc[0]["name"] == "human" and (table.loc[table["name"] == "human", "runs"] == 0).all()
    point = feature_dice(matched).set_index(["name", "feature"])["dice"]
    np.testing.assert_allclose(table.set_index(["name", "feature"])["dice"].loc[point.index], point, atol=1e-9)
    assert ((table["low"] <= table["dice"] + 1e-9) & (table["dice"] <= table["high"] + 1e-9)).all()


def test_rare_flags_are_the_least_reliable_features(matched_study):
    """A 0/1 flag that fires in a few conversations is noisy: two batches of the same people
    agree on it less than on a rate measured in every conversation."""
    ceiling = matched_study[2].set_index("name").loc["human"].set_index("feature")["dice"]
    flags = ceiling.loc[["repeat_rate", "id_confuse_rate"]]
    assert flags.max() < ceiling.drop(flags.index).median()


def test_a_simulator_of_the_human_process_is_within_the_noise_of_people_feature_by_feature(matched_study):
    table = matched_study[2]
    ceiling = table[table["name"] == "human"].set_index("feature")["dice"]
    for name in ("same-3", "same-1"):
        rows = table[table["name"] == name].set_index("feature")
        covered = (rows["low"] <= ceiling) & (ceiling <= rows["high"])
        assert covered.mean() >= 0.8, (name, covered[~covered])


def test_eval_seed_spread_is_zero_without_missing_answers_and_brackets_the_reference():
    rng = np.random.default_rng(4)
    study = human_process_study(rng, 30, {"a": 1})
    surveys = {k: {"survey": survey(rng, 0.5)} for k in study.records}
    full = {k: {"survey": {item: {**answer, "answer": answer["answer"] or next(iter(SURVEY_OPTIONS[item]))}
                           for item, answer in v["survey"].items()}} for k, v in surveys.items()}
    assert power.eval_seed_spread(study.records, full, seeds=range(5))["sd"] == 0.0
    spread = power.eval_seed_spread(study.records, surveys, seeds=range(20))
    assert spread["sd"] > 0 and spread["low"] <= spread["reference"] <= spread["high"]


def test_command_refuses_a_folder_as_output_before_any_work(demo_study: Path, tmp_path: Path, capsys):
    """One line, no numpy warning around it: the output is checked before the designs are drawn."""
    assert power.main(_argv(demo_study, tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "folder" in err[0], err
