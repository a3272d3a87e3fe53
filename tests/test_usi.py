"""The index against an independent plain reading of the spec, and its pieces by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from usersim_utils import data, ids, schema, scoring, usi
from usersim_utils import features as F
from usersim_utils.survey import ITEM_VALUES, agreement

import oracle_usi as oracle

GOLDEN = Path(__file__).parent / "golden" / "usi_fixed_panel.json"
TOL = 1e-9


@pytest.fixture(scope="module")
def scored(seeded_study: dict) -> list[usi.Score]:
    human = F.features_table(seeded_study["human"], source="human", label="human")
    sims = {k: F.features_table(v, source="llm", label=k) for k, v in seeded_study["sims"].items()}
    difficulty = usi.pooled_difficulty(sims.values())
    evals = {k: usi.eval_cell(usi.eval_agreements(seeded_study["human"], seeded_study["surveys"][k]))
             if k in seeded_study["surveys"] else None for k in sims}
    ceiling = usi.ceiling_eval_cell(usi.ceiling_agreements(seeded_study["human"], seeded_study["rerating"]))
    return usi.score_all(human, sims, difficulty, evals=evals, ceiling_eval=ceiling)


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return all(math.isclose(x, y, rel_tol=0, abs_tol=TOL) for x, y in zip(a, b))


def test_features_equal_the_oracle_on_every_conversation(seeded_study: dict) -> None:
    for source, files in (("human", [seeded_study["human"]]), ("llm", seeded_study["sims"].values())):
        for records in files:
            for key, rec in records.items():
                ours = F.conversation_features(rec["conversation"], source)
                theirs = oracle.features(rec["conversation"], source)
                if theirs is None:
                    assert ours is None, key
                    continue
                for name, value in theirs.items():
                    assert math.isclose(ours[name], value, abs_tol=TOL), (key, name)


def test_index_equals_the_oracle(seeded_study: dict, scored: list[usi.Score]) -> None:
    difficulty = oracle.difficulty(seeded_study["sims"].values())
    ceiling = oracle.ceiling_eval(seeded_study["human"], seeded_study["rerating"])
    expected = {"human": oracle.score_human(seeded_study["human"], difficulty, ceiling)}
    for label, sim in seeded_study["sims"].items():
        ev = oracle.sim_eval(seeded_study["human"], seeded_study["surveys"].get(label))
        expected[label] = oracle.score_sim(seeded_study["human"], sim, difficulty, ev)
    names = {"D1": "D1_conv", "D2": "D2_info", "D3": "D3_clarif", "D4": "D4_react", "eval": "eval_agree",
             "ece": "ece", "usi": "usi"}
    for score in scored:
        for key, metric in names.items():
            assert _close(score.cells[metric], expected[score.name][key]), (score.name, metric)


def test_quirks_show_in_the_seeded_study(scored: list[usi.Score]) -> None:
    by_name = {s.name: s for s in scored}
    assert by_name["small3"].cells["usi"] is None  # <=170 entries with run suffixes: no overlap
    assert by_name["small3"].batches == ()
    for name in ("big_a", "big_b", "big_c", "single", "human"):
        assert by_name[name].cells["usi"] is not None, name
        assert len(by_name[name].batches) == 3, name
    assert by_name["big_c"].cells["eval_agree"] is None  # no survey file: USI over 5 terms


def test_golden_numbers(scored: list[usi.Score]) -> None:
    golden = json.loads(GOLDEN.read_text())
    ours = [s.to_json() for s in scored]
    assert [r["name"] for r in ours] == [r["name"] for r in golden]
    for mine, gold in zip(ours, golden):
        for metric in usi.METRICS:
            assert _close(mine[metric], gold[metric]), (mine["name"], metric)


def test_suffix_split_scores_small_multi_run_files(seeded_study: dict) -> None:
    human = F.features_table(seeded_study["human"], source="human", label="human")
    sim = F.features_table(seeded_study["sims"]["small3"], source="llm", label="small3")
    difficulty = {t: 0.5 for t in sim["task_key"]}
    score = usi.score_simulator("small3", human, sim, difficulty, run_split="suffix")
    assert score.cells["usi"] is not None
    assert len(score.batches) == 3


# --- pieces by hand ------------------------------------------------------------------------
def test_dice() -> None:
    assert usi.dice(0, 0) == 1.0
    assert usi.dice(10, 10) == 1.0
    assert usi.dice(10, 30) == pytest.approx(0.5)
    assert usi.dice(-10, 30) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, 0), (0.1999, 0), (0.2, 1), (0.3999, 1), (0.4, 2), (0.6, 3), (0.7999, 3), (0.8, 4), (1.0, 4)],
)
def test_difficulty_bins_at_the_cutoffs(value: float, expected: int) -> None:
    assert usi.difficulty_bin(value) == expected


def test_ece_by_hand() -> None:
    difficulty = {"a": 0.1, "b": 0.15, "c": 0.9, "d": 0.5}
    sim = {"a": 1, "b": 0, "c": 1, "x": 1}
    hum = {"a": 0, "b": 0, "c": 0}
    # bin 0: {a, b}: |0.5 - 0| * 2/3 ; bin 4: {c}: |1 - 0| * 1/3
    assert usi.ece(sim, hum, difficulty) == pytest.approx(2 / 3 * 0.5 + 1 / 3)
    assert usi.ece({"x": 1}, hum, difficulty) is None


def test_pooled_difficulty_needs_ten_samples() -> None:
    t = pd.DataFrame({"task_key": ["a"] * 10 + ["b"] * 9, "success": [1] * 5 + [0] * 5 + [1] * 9,
                      "keep": [True] * 19})
    assert usi.pooled_difficulty([t]) == {"a": 0.5}
    t.loc[0, "keep"] = False
    assert usi.pooled_difficulty([t]) == {}


def test_reference_run_split_at_170_entries() -> None:
    keys = [f"retail_{i}_{r}" for i in range(57) for r in (1, 2, 3)]  # 171 entries
    runs = ids.reference_run_split(keys)
    assert set(runs) == {"1", "2", "3"} and runs["2"]["retail_5"] == "retail_5_2"
    assert set(ids.reference_run_split(keys[:170])) == {"1"}
    odd = ids.reference_run_split(keys + ["retail_99_4", "retail_100"])
    assert odd["0"] == {"retail_99_4": "retail_99_4", "retail_100": "retail_100"}


def test_ece_run_index() -> None:
    assert ids.ece_run_index("airline_3_2") == "2"
    assert ids.ece_run_index("airline_3") == "1"
    assert ids.ece_run_index("airline_3_ann2") == "1"


def test_eval_walks_batches_then_sorted_ids_with_one_generator() -> None:
    def survey(answer_idx: int | None) -> dict:
        from usersim_utils.survey import SURVEY_OPTIONS
        return {item: {"answer": None if answer_idx is None else list(opts)[min(answer_idx, len(opts) - 1)]}
                for item, opts in SURVEY_OPTIONS.items()}

    human = {"retail_10": {"survey": survey(0)}, "retail_9": {"survey": survey(1)},
             "retail_9_ann2": {"survey": survey(2)}, "retail_2": {"survey": survey(0), "keep": False}}
    sim = {"retail_10": {"survey": survey(None)}, "retail_9": {"survey": survey(None)},
           "retail_9_ann2": {"survey": survey(None)}, "retail_2": {"survey": survey(0)}}
    table = usi.eval_agreements(human, sim)
    # string order: retail_10 before retail_9; batch 1 before batch 2; retail_2 is not kept
    assert list(zip(table["batch"], table["task_key"])) == [(1, "retail_10"), (1, "retail_9"), (2, "retail_9")]
    rng = np.random.default_rng(42)
    keys = ("retail_10", "retail_9", "retail_9_ann2")
    expected = [agreement(human[k]["survey"], sim[k]["survey"], rng) for k in keys]
    assert table["agreement"].tolist() == pytest.approx(expected, abs=TOL)
    # one draw per missing item, from the sorted distinct values
    rng = np.random.default_rng(42)
    draws = [rng.choice(ITEM_VALUES[i]) for i in ITEM_VALUES]
    assert ITEM_VALUES["question_amount_preference"] == [1, 2] and len(draws) == 8
    cell = usi.eval_cell(table)
    batch_means = [np.mean(expected[:2]), expected[2]]
    assert cell == pytest.approx((np.mean(batch_means), np.std(batch_means)))


def test_agreement_skips_items_the_human_left_blank() -> None:
    rng = np.random.default_rng(0)
    assert agreement({}, {"human_like": {"answer": "Yes"}}, rng) is None
    h = {"human_like": {"answer": "Yes"}, "reuse": {"answer": "bogus"}}
    assert agreement(h, {"human_like": {"answer": "No"}}, rng) == 0.0
    assert agreement(h, {"human_like": "Partially"}, rng) == 50.0


def test_usi_value() -> None:
    dims = {"D1_conv": 50.0, "D2_info": 80.0, "D3_clarif": 70.0, "D4_react": 90.0}
    assert usi.usi_value(dims, 0.1, 60.0) == pytest.approx((50 + 80 + 70 + 90 + 60 + 90) / 6)
    assert usi.usi_value(dims, 0.1, None) == pytest.approx((50 + 80 + 70 + 90 + 90) / 5)
    assert usi.usi_value(dims, None, 60.0) is None


def test_frozen_difficulty_formats() -> None:
    assert usi.difficulty_map_from_json({"difficulty": {"retail_1": 0.5}}) == {"retail_1": 0.5}
    assert usi.difficulty_map_from_json({"airline_2": 1}) == {"airline_2": 1.0}
    with pytest.raises(ValueError, match="retail_x"):
        usi.difficulty_map_from_json({"retail_x": 0.5})
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        usi.difficulty_map_from_json({"retail_1": 2})


def test_dimensions_and_bins_are_options_for_sensitivity(seeded_study: dict, scored: list[usi.Score]) -> None:
    human = F.features_table(seeded_study["human"], source="human", label="human")
    sims = {k: F.features_table(v, source="llm", label=k) for k, v in seeded_study["sims"].items()}
    difficulty = usi.pooled_difficulty(sims.values())
    three = {k: v for k, v in F.DIMENSIONS.items() if k != "D4_react"}
    fewer = usi.score_all(human, sims, difficulty, dimensions=three, edges=(0.5,))
    reference = {s.name: s for s in scored}
    for score in fewer:
        assert "D4_react" not in score.cells
        for dim in three:  # behaviour rows do not depend on the bins
            assert _close(score.cells[dim], reference[score.name].cells[dim])
    big_a = next(s for s in fewer if s.name == "big_a")
    human_b1 = human[(human["batch"] == 1) & human["keep"]]
    runs = usi.ece_runs(sims["big_a"])
    expected = np.mean([usi.ece(m, usi.success_by_task(human_b1), difficulty, (0.5,)) for m in runs.values()])
    assert big_a.batches[0].ece == pytest.approx(expected, abs=TOL)


def test_index_equals_the_oracle_on_the_demo_study(demo_study: data.Study) -> None:
    """A second, independently generated study (usersim_utils.demo) through the file path."""
    study = demo_study
    files = list(study.eval_results.values())
    scores = scoring.score_files(study.root, files, survey_dir=study.root / "survey_data")
    sims = {schema.label_of(f): data.load_eval_results(f) for f in files}
    difficulty = oracle.difficulty(sims.values())
    rerating = data.load_survey_records(study.rerating_path)
    expected = {"human": oracle.score_human(study.records, difficulty, oracle.ceiling_eval(study.records, rerating))}
    for label, sim in sims.items():
        surveys = data.load_survey_records(study.simulator_surveys[label])
        expected[label] = oracle.score_sim(study.records, sim, difficulty, oracle.sim_eval(study.records, surveys))
    names = {"D1": "D1_conv", "D2": "D2_info", "D3": "D3_clarif", "D4": "D4_react", "eval": "eval_agree",
             "ece": "ece", "usi": "usi"}
    assert len(scores) == 5
    for score in scores:
        assert score.cells["usi"] is not None
        for key, metric in names.items():
            assert _close(score.cells[metric], expected[score.name][key]), (score.name, metric)
