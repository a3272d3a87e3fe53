"""Tests of usersim_utils.inflation on known answers: outcome agreement task by task, the
forecast of inflation by fidelity across simulators, and population coverage, which is 1
for a simulator drawn from the human process and above 1 for one that covers only part of
the population."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from usersim_utils import inflation
from usersim_utils.demo.known_answer import human_process_study


def _outcomes(successes: dict[str, list[int]]) -> pd.DataFrame:
    rows = [(task, s) for task, values in successes.items() for s in values]
    return pd.DataFrame({"task_key": [t for t, _ in rows], "success": [s for _, s in rows], "keep": True})


def test_majority_outcomes_leave_ties_out():
    majority = inflation.majority_outcomes(_outcomes({"a": [1, 1, 0], "b": [0, 0, 1], "c": [1, 0]}))
    assert majority.to_dict() == {"a": 1, "b": 0}


def test_outcome_agreement_is_perfect_for_the_same_outcomes_and_negative_for_the_opposite():
    people = _outcomes({"a": [1, 1, 0], "b": [0, 0, 0], "c": [1, 1, 1], "d": [0, 1, 0]})
    same = inflation.outcome_agreement(people, _outcomes({"a": [1], "b": [0], "c": [1], "d": [0]}))
    assert same["kappa"] == pytest.approx(1.0) and same["f1"] == pytest.approx(1.0) and same["n_tasks"] == 4
    opposite = inflation.outcome_agreement(people, _outcomes({"a": [0], "b": [1], "c": [0], "d": [1]}))
    assert opposite["kappa"] == pytest.approx(-1.0) and opposite["f1"] == 0.0
    always = inflation.outcome_agreement(people, _outcomes({t: [1] for t in "abcd"}))
    assert math.isnan(always["kappa"]) and always["sim_success_share"] == 1.0  # an inflating simulator


def test_a_score_that_orders_inflation_forecasts_it_and_noise_does_not():
    rng = np.random.default_rng(2)
    names = [f"sim-{i}" for i in range(20)]
    gap = dict(zip(names, np.linspace(0.0, 0.3, 20)))
    scores = pd.DataFrame({"usi": 80 - 100 * np.array(list(gap.values())), "noise": rng.normal(size=20)},
                          index=names)
    table = inflation.fidelity_forecast(scores, gap, rng, n_boot=400).set_index("score")
    assert table.loc["usi", "spearman"] == pytest.approx(-1.0) and table.loc["usi", "high"] <= -0.99
    assert table.loc["noise", "low"] < 0 < table.loc["noise", "high"]
    assert (table["n_simulators"] == 20).all()


@pytest.fixture(scope="module")
def coverage() -> pd.DataFrame:
    """Coverage of a 3-run and a 1-run simulator of the human process, a 3-run one 30 % off on
    every feature, and a 3-run one whose every conversation sits at its task's mean (no spread),
    in 8 studies of 80 tasks with 10 % of sessions dropped."""
    rng = np.random.default_rng(8)
    tables = []
    for study in range(8):
        s = human_process_study(rng, 80, {"same-3": 3, "same-1": 1, "off": 3, "narrow": 3}, drop_rate=0.1,
                                shifts={"off": 0.3})
        narrow = s.simulators["narrow"].copy()
        features = [c for c in narrow.columns if c in inflation.FEATURES]
        narrow[features] = narrow.groupby("task_key")[features].transform("mean")
        sims = {**s.simulators, "narrow": narrow}
        tables.append(inflation.coverage_table(s.human, sims, rng, n_boot=100).assign(study=study))
    return pd.concat(tables)


def test_a_simulator_drawn_from_the_human_process_covers_people_as_people_do(coverage):
    same = coverage.loc[["same-3", "same-1"]]
    assert abs(same["relative"].mean() - 1.0) <= 0.05, same["relative"]
    assert ((same["low"] <= 1.0) & (1.0 <= same["high"])).mean() >= 0.8


def test_a_simulator_off_the_population_is_farther_than_people_are(coverage):
    off = coverage.loc["off"]
    assert (off["low"] > 1.0).all(), off[["relative", "low", "high"]]


def test_a_simulator_collapsed_on_each_tasks_mean_is_not_caught_by_chamfer(coverage):
    """The documented blind spot: in 19 dimensions a task's mean is nearer to its conversations
    than they are to each other, so a simulator without people's spread scores below 1.
    Coverage must be read beside diversity, never as "below 1 is better than people"."""
    narrow = coverage.loc["narrow"]
    assert (narrow["relative"] < 1.0).all(), narrow["relative"]


def test_coverage_needs_two_human_batches():
    rng = np.random.default_rng(0)
    s = human_process_study(rng, 10, {"a": 1})
    one_batch = s.human.loc[s.human["batch"] == 1]
    row = inflation.population_coverage(one_batch, s.simulators["a"], rng, n_boot=10)
    assert math.isnan(row["relative"]) and row["n_human"] > 0


def test_a_simulator_on_two_tasks_gets_an_interval_without_a_warning():
    """Notebook 02's rollouts cover 2 tasks: many resamples give them no weight. Those
    replicates are undefined and left out, silently; the estimate and interval stay defined."""
    rng = np.random.default_rng(4)
    s = human_process_study(rng, 40, {"a": 1})
    two_tasks = s.simulators["a"].loc[s.simulators["a"]["task_key"].isin(sorted(set(s.human["task_key"]))[:2])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = inflation.population_coverage(s.human, two_tasks, rng, n_boot=200)
    assert not math.isnan(row["relative"]) and row["low"] <= row["high"]
