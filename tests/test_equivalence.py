"""Tests of usersim_utils.equivalence: the TOST decision from an interval, and on simulated
studies with a known answer that a simulator drawn from the human process is found
equivalent within a stated margin in most studies, that one far from people never is, and
that a study too small to tell says so instead of "equivalent"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from usersim_utils import equivalence, usi
from usersim_utils.demo.known_answer import human_process_study
from usersim_utils.matched_design import build_matched_arrays, pair_eval_agreements

MARGIN = 3.0  # USI points


def test_tost_is_an_interval_strictly_inside_the_margin():
    low = np.array([-2.9, -3.0, -1.0, np.nan, 0.5])
    high = np.array([2.9, 1.0, 3.0, 1.0, 2.0])
    assert equivalence.tost_equivalent(low, high, 3.0).tolist() == [True, False, False, False, True]


def test_verdicts_name_each_pair_of_decisions():
    assert [equivalence.verdict(e, d) for e, d in [(True, False), (True, True), (False, True), (False, False)]] == [
        "equivalent", "equivalent, different", "different", "cannot tell"]


def _verdicts(rng: np.random.Generator, n_tasks: int, drop_rate: float) -> pd.DataFrame:
    study = human_process_study(rng, n_tasks, {"same-3": 3, "same-1": 1, "off": 3}, shifts={"off": 0.3},
                                drop_rate=drop_rate)
    matched = build_matched_arrays(
        study.human, study.simulators, agreements=study.agreements,
        ceiling_agreements=usi.ceiling_agreements(study.records, study.rerating),
        pair_agreements=pair_eval_agreements(study.records), run_split="suffix")
    return equivalence.matched_verdicts(matched, study.difficulty, rng, margin=MARGIN, n_boot=100)


@pytest.fixture(scope="module")
def verdicts() -> pd.DataFrame:
    """Verdicts in 12 studies of 165 tasks with 10 % of human sessions dropped, and 12 of 12 tasks."""
    rng = np.random.default_rng(18)
    return pd.concat([_verdicts(rng, n, 0.10).assign(tasks=n, study=i) for n in (165, 12) for i in range(12)],
                     ignore_index=True)


def test_a_simulator_drawn_from_the_human_process_is_equivalent_in_most_full_size_studies(verdicts):
    same = verdicts[(verdicts["tasks"] == 165) & verdicts["name"].str.startswith("same")]
    assert same["equivalent"].mean() >= 0.75, same[["name", "gap", "equivalence_low", "equivalence_high"]]
    assert same["different"].mean() <= 0.2


def test_a_simulator_far_from_people_is_never_equivalent(verdicts):
    off = verdicts[verdicts["name"] == "off"]
    assert not off["equivalent"].any()
    assert (off.loc[off["tasks"] == 165, "verdict"] == "different").all()


def test_a_tiny_study_cannot_call_the_human_process_equivalent(verdicts):
    """12 tasks: the 90 % interval is wider than the margin, so no verdict of equivalence."""
    tiny = verdicts[(verdicts["tasks"] == 12) & verdicts["name"].str.startswith("same")]
    assert tiny["equivalent"].mean() <= 0.1
    assert (tiny["equivalence_high"] - tiny["equivalence_low"]).median() > MARGIN


def test_the_equivalence_interval_is_the_narrower_one_on_the_same_resamples(verdicts):
    inside = (verdicts["low"] <= verdicts["equivalence_low"] + 1e-12) & (
        verdicts["equivalence_high"] <= verdicts["high"] + 1e-12)
    assert inside[verdicts["gap"].notna()].all()


def test_a_margin_must_be_positive():
    with pytest.raises(ValueError, match="margin must be positive"):
        equivalence.matched_verdicts(None, {}, np.random.default_rng(0), margin=0.0)
