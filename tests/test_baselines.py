"""Tests of the design-matched comparison (usersim_utils.matched_design, .matched_comparison
and the command, .baselines): it equals the reference index run by run, and on simulated
studies whose simulator *is* the human process the matched gap is about 0 (inside its
interval) while the reference gap on D1-D4 is positive."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from usersim_utils import baselines, data, demo, ids, paths, scoring, usi
from usersim_utils.demo import feature_tables, known_answer
from usersim_utils.demo.known_answer import survey
from usersim_utils.errors import DataError
from usersim_utils.matched_comparison import ROW_KEYS, compare, eval_baselines, feature_dice, weakest_features
from usersim_utils.matched_design import (
    build_matched_arrays,
    leave_own_runs_out,
    matched_ceiling,
    matched_weights,
    pair_eval_agreements,
    pair_eval_cell,
)
from usersim_utils.survey import SURVEY_OPTIONS, agreement

TOL = 1e-9
DIMS = list(usi.DIMENSION_NAMES)
BENCH = paths.REPO_ROOT / "benchmarks" / "bench_baselines.py"


# --- A study drawn from one process: people and "simulators" alike. -------------------------------------
def human_process_study(rng, n_tasks: int, runs: dict[str, int], *, drop_rate: float = 0.0) -> dict:
    """:func:`known_answer.human_process_study` with its matched arrays (runs split by suffix)."""
    s = known_answer.human_process_study(rng, n_tasks, runs, drop_rate=drop_rate)
    matched = build_matched_arrays(s.human, s.simulators, agreements=s.agreements,
                                   ceiling_agreements=usi.ceiling_agreements(s.records, s.rerating),
                                   pair_agreements=pair_eval_agreements(s.records), run_split="suffix")
    return {"matched": matched, "difficulty": s.difficulty, "human": s.human, "sims": s.simulators,
            "records": s.records, "rerating": s.rerating, "agreements": s.agreements}


N_STUDIES = 16
NULL_RUNS = {"three-a": 3, "three-b": 3, "three-c": 3, "one-a": 1, "one-b": 1}


@pytest.fixture(scope="module")
def null_studies() -> pd.DataFrame:
    """The matched comparison of every simulator in ``N_STUDIES`` independent studies."""
    rng = np.random.default_rng(2026)
    tables = []
    for study in range(N_STUDIES):
        s = human_process_study(rng, 100, NULL_RUNS)
        tables.append(compare(s["matched"], s["difficulty"], rng, n_boot=200).assign(study=study))
    return pd.concat(tables, ignore_index=True)


def _per_study(table: pd.DataFrame, column: str, runs: int, metrics) -> pd.Series:
    rows = table[(table["runs"] == runs) & table["metric"].isin(metrics)]
    return rows.groupby("study")[column].mean()


@pytest.mark.parametrize("runs", [1, 3])
@pytest.mark.parametrize("metric", [*DIMS, "eval_agree", "ece", "usi"])
def test_matched_gap_of_a_simulator_drawn_from_the_human_process_is_about_zero(null_studies, runs, metric):
    per_study = _per_study(null_studies, "gap", runs, [metric])
    scale = 0.01 if metric == "ece" else 1.0
    standard_error = per_study.std(ddof=1) / math.sqrt(len(per_study))
    assert abs(per_study.mean()) <= 3.0 * standard_error + 0.1 * scale, (per_study.mean(), standard_error)


def test_matched_intervals_cover_zero_at_about_the_nominal_rate(null_studies):
    defined = null_studies.dropna(subset=["low", "high"])
    assert len(defined) == N_STUDIES * len(NULL_RUNS) * 7
    covered = (defined["low"] <= 0) & (0 <= defined["high"])
    assert covered.mean() >= 0.88, covered.groupby(defined["metric"]).mean()


# --- The released study's layouts: sessions people dropped, a pool that holds the run. -------------------
#: Studies per layout: the Monte Carlo standard error of a mean USI gap is then about 0.17.
N_LAYOUT_STUDIES = 32
SCORED_METRICS = [*DIMS, "usi"]


@pytest.fixture(scope="module", params=[0.0, 0.05, 0.15], ids=lambda d: f"{d:.0%} dropped")
def dropped_studies(request) -> pd.DataFrame:
    """The matched comparison of a 3-run and a 1-run simulator drawn from the human process in
    ``N_LAYOUT_STUDIES`` studies of 165 tasks, with that share of the human sessions not kept."""
    rng = np.random.default_rng(int(1000 * request.param) + 7)
    tables = []
    for study in range(N_LAYOUT_STUDIES):
        s = human_process_study(rng, 165, {"three": 3, "one": 1}, drop_rate=request.param)
        tables.append(compare(s["matched"], s["difficulty"], rng, n_boot=100).assign(study=study))
    return pd.concat(tables, ignore_index=True)


@pytest.mark.parametrize("runs", [1, 3])
@pytest.mark.parametrize("metric", ["D1_conv", "usi"])
def test_dropped_sessions_leave_the_matched_gap_of_a_human_process_simulator_at_zero(dropped_studies, runs,
                                                                                      metric):
    """Before the (b, a) design, 15 % dropped gave a USI gap of +0.52 (1 run) and +0.59 (3 runs)."""
    gaps = dropped_studies.loc[(dropped_studies["runs"] == runs) & (dropped_studies["metric"] == metric), "gap"]
    standard_error = gaps.std(ddof=1) / math.sqrt(len(gaps))
    assert abs(gaps.mean()) <= 2.0 * standard_error, (gaps.mean(), standard_error)


def test_with_dropped_sessions_the_matched_intervals_cover_zero(dropped_studies):
    rows = dropped_studies[dropped_studies["metric"].isin(SCORED_METRICS)].dropna(subset=["low", "high"])
    assert len(rows) == N_LAYOUT_STUDIES * 2 * len(SCORED_METRICS)
    covered = (rows["low"] <= 0) & (0 <= rows["high"])
    assert covered.mean() >= 0.93, covered.groupby(rows["metric"]).mean()


def test_a_pool_without_the_runs_scored_leaves_the_matched_ece_gap_at_zero():
    """The ``all`` pool holds the run scored: its own successes move tasks across bin edges and
    its matched ECE gap grows (+0.011 ± 0.002 over 80 such studies); the pool without its runs
    does not (+0.0006 ± 0.0015; a frozen map: -0.0005 ± 0.0018)."""
    rng = np.random.default_rng(41)
    shared, own = [], []
    for study in range(40):
        # five simulators: without any one of them, every task keeps the 10 pooled entries it needs
        s = human_process_study(rng, 165, {"a": 3, "b": 3, "c": 3, "d": 3, "one": 1}, drop_rate=0.05)
        pool = usi.pooled_difficulty(s["sims"].values())
        by_label = {label: choice.map for label, choice in leave_own_runs_out("all", s["sims"]).items()}
        assert all(set(by_label[label]) == set(pool) and by_label[label] != pool for label in s["sims"])
        for out, kwargs in ((shared, {}), (own, {"difficulty_by_label": by_label})):
            table = compare(s["matched"], pool, np.random.default_rng(study), n_boot=1, **kwargs)  # point gaps
            out.append(table.loc[table["metric"] == "ece", "gap"].mean())  # the simulators share the people
    shared_gaps, own_gaps = np.array(shared), np.array(own)  # one mean gap per study
    own_error = own_gaps.std(ddof=1) / math.sqrt(len(own_gaps))
    assert abs(own_gaps.mean()) <= 2.0 * own_error, (own_gaps.mean(), own_error)
    assert shared_gaps.mean() > own_gaps.mean() + 4.0 * own_error  # the bias the shared pool has


def test_leave_own_runs_out_keeps_maps_that_do_not_hold_the_run(small):
    frozen = leave_own_runs_out("published", small["sims"])
    assert all(c is frozen["sim-00"] for c in frozen.values())
    study = leave_own_runs_out("study", small["sims"], study_labels=["sim-00", "sim-01"])
    # not in the pool: the pool's own map (here the published one: 6 entries a task are too few)
    assert study["one-run"].map == scoring.resolve_difficulty("study", small["sims"],
                                                              study_labels=["sim-00", "sim-01"]).map
    # one 3-run simulator left: no task has 10 pooled entries, so the published map, said in a note
    assert study["sim-00"].fell_back and study["sim-00"].note


def test_unmatched_gap_on_d1_d4_is_positive_for_three_runs_only(null_studies):
    """Pooling three runs before Dice flatters the simulator: the reference gap on D1-D4
    is positive; scored run by run the same simulators sit at the ceiling."""
    three = _per_study(null_studies, "reference_gap", 3, DIMS)
    assert three.mean() > 0.3 and three.mean() > 3.0 * three.std(ddof=1) / math.sqrt(len(three))
    advantage = null_studies[(null_studies["runs"] == 3) & null_studies["metric"].isin(DIMS)]
    # the advantage is the pooling itself: the reference simulator cell minus the matched one
    assert (advantage["reference_simulator"] - advantage["simulator"]).groupby(advantage["study"]).mean().gt(0).all()
    one = null_studies[(null_studies["runs"] == 1) & null_studies["metric"].isin(DIMS)]
    assert np.allclose(one["reference_gap"], one["gap"], atol=TOL)


def test_eval_against_the_rerating_ceiling_is_unmatched(null_studies):
    """A simulator drawn from the human process agrees with people as people agree with
    each other across conversations, less than two ratings of the same conversation do."""
    rows = null_studies[null_studies["metric"] == "eval_agree"]
    assert rows.groupby("study")["reference_gap"].mean().lt(0).all()
    assert (rows["reference_ceiling"] > rows["ceiling"]).all()


# --- The matched values by the reference scorer, run by run. -----------------------------------------------
@pytest.fixture(scope="module")
def small() -> dict:
    """60 tasks (3 runs x 60 = 180 entries: the reference run split applies), some
    sessions not kept, a 1-run simulator over part of the tasks, surveys for two."""
    rng = np.random.default_rng(5)
    tasks = ids.parse_task_spec("retail:0-39,airline:0-19")
    human, sims = feature_tables.synthetic_tables(rng, n_simulators=2, n_runs=3, tasks=tasks)
    human.loc[rng.random(len(human)) < 0.05, "keep"] = False
    sims["sim-00"].loc[rng.random(len(sims["sim-00"])) < 0.05, "keep"] = False
    sims["one-run"] = feature_tables.synthetic_table(rng, "one-run", tasks[:40], feature_tables.SYNTHETIC_HUMAN_MEANS,
                                          {t: 0.5 for t in tasks})
    records = {k: {"survey": survey(rng, 0.5), "keep": bool(keep)} for k, keep in zip(human["key"], human["keep"])}
    rerating = {k: {"survey": survey(rng, 0.5)} for k in list(records)[:30]}
    surveys = {label: {k: {"survey": survey(rng, 0.7)} for k in records} for label in ("sim-00", "one-run")}
    agreements = {label: usi.eval_agreements(records, s) for label, s in surveys.items()}
    difficulty = usi.pooled_difficulty(sims.values(), min_samples=3)
    difficulty.pop(tasks[0])
    matched = build_matched_arrays(human, sims, agreements=agreements,
                                   ceiling_agreements=usi.ceiling_agreements(records, rerating),
                                   pair_agreements=pair_eval_agreements(records))
    return {"human": human, "sims": sims, "records": records, "rerating": rerating, "agreements": agreements,
            "difficulty": difficulty, "matched": matched}


def _single_runs(sim: pd.DataFrame) -> list[pd.DataFrame]:
    """Each run of a simulator (its kept rows) as its own one-run file, keyed by the human
    ids it matches: ``retail_3`` is then run "1" for ECE too."""
    return [table.reset_index().assign(key=lambda t: t["id"]).drop(columns="id")
            for table in usi.row_runs(sim).values()]


def _runs_by_reference(small: dict, label: str, human: pd.DataFrame | None = None) -> dict[str, float]:
    """Matched cells by the reference scorer, in the ceiling's design: for each ordered pair of
    human batches (b, a), every run scored as a one-run simulator (usi.score_simulator) against
    batch b on the tasks batch a kept; averaged over runs within a pair, then over the six pairs.
    USI is given for one-run simulators (it is the per-pair USI then)."""
    human = small["human"] if human is None else human
    sim = small["sims"][label]
    eval_c = usi.eval_cell(small["agreements"][label]) if label in small["agreements"] else None
    per_pair: dict[tuple[int, int], list] = {}
    for a in usi.BATCHES:
        kept_in_a = set(human.loc[(human["batch"] == a) & human["keep"], "task_key"])
        restricted = human[human["task_key"].isin(kept_in_a)]
        for run_table in _single_runs(sim):
            score = usi.score_simulator(label, restricted, run_table, small["difficulty"], eval_c=eval_c)
            for b in score.batches:
                if b.batch != a:
                    per_pair.setdefault((b.batch, a), []).append(b)
    assert len(per_pair) == 6
    cells = {metric: np.mean([np.mean([b.dimensions[metric] for b in bs]) for bs in per_pair.values()])
             for metric in DIMS}
    cells["ece"] = np.mean([np.mean([b.ece for b in bs]) for bs in per_pair.values()])
    if len(_single_runs(sim)) == 1:
        cells["usi"] = np.mean([bs[0].usi for bs in per_pair.values()])
    return cells


def test_matched_dimensions_and_ece_are_the_reference_scorer_in_the_ceilings_design(small):
    ones = np.ones((1, len(small["matched"].task_arrays.tasks)))
    sims, _ = matched_weights(small["matched"], ones, small["difficulty"])
    for s, label in enumerate(small["matched"].labels):
        expected = _runs_by_reference(small, label)
        for m, metric in enumerate([*DIMS, "eval_agree", "ece"]):
            if metric != "eval_agree":
                assert sims[0, s, m] == pytest.approx(expected[metric], abs=TOL), (label, metric)


def test_without_dropped_sessions_matched_ece_is_the_reference_cell(small):
    """Every batch keeps every task: the (b, a) design changes nothing, so ECE is the index's cell."""
    human = small["human"].assign(keep=True)
    records = {k: {**r, "keep": True} for k, r in small["records"].items()}
    matched = build_matched_arrays(human, small["sims"], agreements=small["agreements"],
                                   pair_agreements=pair_eval_agreements(records))
    ones = np.ones((1, len(matched.task_arrays.tasks)))
    sims, _ = matched_weights(matched, ones, small["difficulty"])
    for s, label in enumerate(matched.labels):
        score = usi.score_simulator(label, human, small["sims"][label], small["difficulty"])
        assert sims[0, s, 5] == pytest.approx(score.cells["ece"][0], abs=TOL), label


def test_matched_eval_is_the_reference_cell(small):
    ones = np.ones((1, len(small["matched"].task_arrays.tasks)))
    sims, _ = matched_weights(small["matched"], ones, small["difficulty"])
    evals = {label: usi.eval_cell(a) for label, a in small["agreements"].items()}
    for s, label in enumerate(small["matched"].labels):
        if label in evals:
            assert sims[0, s, 4] == pytest.approx(evals[label][0], abs=TOL)
            assert not math.isnan(sims[0, s, 6])
        else:
            assert math.isnan(sims[0, s, 4])


def test_matched_usi_averages_the_per_pair_usi_of_matched_terms(small):
    """A 1-run simulator: matched = the reference scorer on each (b, a) design, USI included."""
    ones = np.ones((1, len(small["matched"].task_arrays.tasks)))
    sims, _ = matched_weights(small["matched"], ones, small["difficulty"], labels=["one-run"])
    expected = _runs_by_reference(small, "one-run")
    for m, metric in enumerate(usi.METRICS):
        if metric != "eval_agree":
            assert sims[0, 0, m] == pytest.approx(expected[metric], abs=TOL), metric


def test_matched_ceiling_is_the_reference_ceiling_with_the_batch_pair_eval(small):
    ones = np.ones((1, len(small["matched"].task_arrays.tasks)))
    with_eval, without_eval = matched_ceiling(small["matched"], ones, small["difficulty"])
    reference = usi.human_ceiling(small["human"], small["difficulty"])
    pair_eval = pair_eval_cell(pair_eval_agreements(small["records"]))[0]
    for m, metric in enumerate(DIMS):
        assert with_eval[0, m] == pytest.approx(reference.cells[metric][0], abs=TOL)
    assert with_eval[0, 4] == pytest.approx(pair_eval, abs=TOL)
    assert with_eval[0, 5] == pytest.approx(reference.cells["ece"][0], abs=TOL)
    by_pair_with = [(sum(b.dimensions.values()) + pair_eval + 100 * (1 - b.ece)) / 6 for b in reference.batches]
    by_pair_without = [(sum(b.dimensions.values()) + 100 * (1 - b.ece)) / 5 for b in reference.batches]
    assert with_eval[0, 6] == pytest.approx(np.mean(by_pair_with), abs=TOL)
    assert without_eval[0, 6] == pytest.approx(np.mean(by_pair_without), abs=TOL)


def test_ceiling_counts_eval_only_for_simulators_with_surveys(small):
    table = compare(small["matched"], small["difficulty"], np.random.default_rng(0), n_boot=50)
    usi_rows = table[table["metric"] == "usi"].set_index("name")
    ones = np.ones((1, len(small["matched"].task_arrays.tasks)))
    with_eval, without_eval = matched_ceiling(small["matched"], ones, small["difficulty"])
    assert usi_rows.loc["sim-00", "ceiling"] == pytest.approx(with_eval[0, 6], abs=TOL)
    assert usi_rows.loc["sim-01", "ceiling"] == pytest.approx(without_eval[0, 6], abs=TOL)


def test_compare_rows_reference_columns_and_determinism(small):
    table = compare(small["matched"], small["difficulty"], np.random.default_rng(3), n_boot=100)
    again = compare(small["matched"], small["difficulty"], np.random.default_rng(3), n_boot=100)
    pd.testing.assert_frame_equal(table, again)
    assert list(table.columns[:8]) == list(ROW_KEYS)
    assert len(table) == 3 * 7 and set(table["runs"]) == {1, 3}
    assert np.allclose(table["gap"], table["simulator"] - table["ceiling"], equal_nan=True)
    evals = {label: usi.eval_cell(a) for label, a in small["agreements"].items()}
    scores = {s.name: s for s in usi.score_all(small["human"], small["sims"], small["difficulty"], evals=evals,
                                               ceiling_eval=usi.ceiling_eval_cell(
                                                   usi.ceiling_agreements(small["records"], small["rerating"])))}
    for row in table.itertuples():
        cell = scores[row.name].cells[row.metric]
        assert (cell is None and math.isnan(row.reference_simulator)) or \
            row.reference_simulator == pytest.approx(cell[0], abs=TOL)
        assert row.reference_ceiling == pytest.approx(scores["human"].cells[row.metric][0], abs=TOL)
    defined = table.dropna(subset=["gap"])
    assert ((defined["low"] <= defined["gap"]) & (defined["gap"] <= defined["high"])).all()
    bca = compare(small["matched"], small["difficulty"], np.random.default_rng(3), n_boot=100, method="bca")
    assert np.allclose(bca["gap"], table["gap"], equal_nan=True)


def test_feature_dice_averages_to_the_dimension_cells(small):
    table = feature_dice(small["matched"])
    compared = compare(small["matched"], small["difficulty"], np.random.default_rng(0), n_boot=20)
    by_dimension = table.groupby(["name", "dimension"])["dice"].mean()
    for row in compared[compared["metric"].isin(DIMS)].itertuples():
        assert by_dimension[(row.name, row.metric)] == pytest.approx(row.simulator, abs=TOL)
        assert by_dimension[("human", row.metric)] == pytest.approx(row.ceiling, abs=TOL)
    assert np.allclose(table["gap"], table["dice"] - table["ceiling_dice"])
    weakest = weakest_features(table, n=1)
    assert len(weakest) == 4 * 4
    for row in weakest.itertuples():
        same = table[(table["name"] == row.name) & (table["dimension"] == row.dimension)]
        assert row.dice == same["dice"].min()


# --- Eval baselines. -----------------------------------------------------------------------------------------
def _answers(**answers) -> dict:
    return {item: {"question": item, "answer": answer} for item, answer in answers.items()}


def test_pair_eval_agreements_compare_batches_of_the_same_task():
    same = _answers(task_success="Yes - Task completed", efficiency="About right")
    other = _answers(task_success="No - Task failed", efficiency="About right")
    records = {
        "retail_1": {"survey": same}, "retail_1_ann2": {"survey": same}, "retail_1_ann3": {"survey": other},
        "retail_2": {"survey": same}, "retail_2_ann2": {"survey": other, "keep": False},
        "retail_2_ann3": {"survey": _answers(task_success="Yes - Task completed")},  # efficiency missing
    }
    table = pair_eval_agreements(records)
    assert list(table.itertuples(index=False, name=None))[:2] == [("1-2", "retail_1", 100.0),
                                                                  ("1-3", "retail_1", 100.0 * (1 - 0.75 / 2))]
    # batch 1 of retail_2 plays the simulator against batch 3: its efficiency counts; a
    # missing answer of batch a would be drawn, batch b's missing item is skipped
    rng = np.random.default_rng(42)
    expected_13 = agreement(records["retail_2_ann3"]["survey"], same, rng)
    assert table.set_index(["pair", "task_key"]).loc[("1-3", "retail_2"), "agreement"] == expected_13 == 100.0
    assert ("1-2", "retail_2") not in set(zip(table["pair"], table["task_key"]))  # batch 2 not kept
    cell = pair_eval_cell(table)
    per_pair = table.groupby("pair")["agreement"].mean()
    assert cell == pytest.approx((per_pair.mean(), np.std(per_pair)))


def test_pair_eval_draws_missing_answers_of_the_batch_in_the_simulators_place():
    full = _answers(**{item: list(options)[0] for item, options in SURVEY_OPTIONS.items()})
    records = {"airline_0": {"survey": _answers()}, "airline_0_ann2": {"survey": full}}
    value = pair_eval_agreements(records, seed=7)["agreement"].item()
    assert value == agreement(full, _answers(), np.random.default_rng(7))


def test_eval_baselines_say_what_each_ceiling_means(small):
    table = eval_baselines(small["records"], small["rerating"])
    assert list(table["baseline"]) == ["same conversation, re-rated", "same task, another batch"]
    reference = usi.ceiling_eval_cell(usi.ceiling_agreements(small["records"], small["rerating"]))
    assert table.loc[0, "mean"] == pytest.approx(reference[0]) and table.loc[0, "std"] == pytest.approx(reference[1])
    assert table["meaning"].str.len().gt(40).all()
    assert list(eval_baselines(small["records"])["baseline"]) == ["same task, another batch"]


def test_agreement_of_an_unknown_task_is_a_data_error(small):
    bad = pd.DataFrame({"pair": ["1-2"], "task_key": ["airline_49"], "agreement": [50.0]})
    with pytest.raises(DataError, match="airline_49"):
        build_matched_arrays(small["human"], small["sims"], pair_agreements=bad)


# --- The command line. ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_study() -> data.Study:
    return data.resolve_study(demo.ensure_demo_panel())


def test_command_writes_one_row_per_simulator_and_metric(demo_study, tmp_path, capsys):
    out = tmp_path / "baselines.json"
    files = [str(p) for p in demo_study.eval_results.values()]
    code = baselines.main(["--human", str(demo_study.root), "--eval-results", *files, "--survey-dir",
                    str(demo_study.root / paths.SURVEY_SUBDIR), "--difficulty", "all", "--json", str(out),
                    "--n-boot", "50", "--seed", "1"])
    assert code == 0
    rows = json.loads(out.read_text())
    assert len(rows) == len(files) * 7
    assert all(list(row) == list(ROW_KEYS) for row in rows)
    assert all(row["runs"] == 3 for row in rows)
    printed = capsys.readouterr().out
    assert "same task, another batch" in printed and "same conversation, re-rated" in printed
    # the reference (unmatched) values in the table are the scoring command's
    scores = {s.name: s for s in scoring.score_files(demo_study.root, files,
                                                     survey_dir=demo_study.root / paths.SURVEY_SUBDIR)}
    inputs = baselines.load(demo_study.root, files, survey_dir=demo_study.root / paths.SURVEY_SUBDIR)
    table = compare(inputs.matched, scoring.difficulty_for("all", inputs.simulators), np.random.default_rng(1),
                       n_boot=50, difficulty_by_label={k: c.map for k, c in
                                                       leave_own_runs_out("all", inputs.simulators).items()})
    for row in table.itertuples():
        assert row.reference_simulator == pytest.approx(scores[row.name].cells[row.metric][0], abs=TOL)
    assert baselines.rows_json(table) == rows


@pytest.mark.parametrize("problem", ["missing human", "bad difficulty", "bad n-boot", "no survey dir"])
def test_command_bad_input_is_one_error_line_and_exit_2(demo_study, tmp_path, capsys, problem):
    files = [str(p) for p in demo_study.eval_results.values()][:1]
    args = ["--human", str(demo_study.root), "--eval-results", *files, "--difficulty", "all",
            "--json", str(tmp_path / "out.json")]
    if problem == "missing human":
        args[1] = str(tmp_path / "nope.json")
    elif problem == "bad difficulty":
        args[args.index("all")] = "sometimes"
    elif problem == "bad n-boot":
        args += ["--n-boot", "0"]
    else:
        args += ["--survey-dir", str(tmp_path / "no-surveys")]
    assert baselines.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "out.json").exists()


def test_module_runs_as_a_command(demo_study, tmp_path):
    files = [str(p) for p in demo_study.eval_results.values()][:2]
    out = tmp_path / "rows.json"
    done = subprocess.run([sys.executable, "-m", "usersim_utils.baselines", "--human", str(demo_study.root),
                           "--eval-results", *files, "--difficulty", "all", "--json", str(out), "--n-boot", "20"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text())) == 2 * 7


# --- Speed. --------------------------------------------------------------------------------------------------
def run_benchmark(n_simulators: int, n_boot: int) -> dict:
    out = subprocess.run([sys.executable, str(BENCH), "--simulators", str(n_simulators), "--n-boot", str(n_boot)],
                         capture_output=True, text=True, check=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_baselines_benchmark_runs_on_a_small_study():
    result = run_benchmark(2, 100)
    assert result["conversations"] == 495 + 2 * 3 * 165
    assert result["rows"] == 2 * 7
    assert 0 < result["total_s"] < 60.0


@pytest.mark.slow
def test_baselines_command_on_the_full_study_size_takes_under_60_seconds():
    """31 simulators x 3 runs x 165 tasks against 495 human sessions, from files, 1,000 resamples."""
    result = run_benchmark(31, 1000)
    assert result["conversations"] == 495 + 31 * 3 * 165
    assert result["rows"] == 31 * 7
    assert result["total_s"] < 60.0, result
