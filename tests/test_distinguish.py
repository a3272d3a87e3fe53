"""The classifier two-sample test: known answers on simulated studies, its parts, its command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from usersim_utils import distinguish, features, ids, paths
from usersim_utils.demo.feature_tables import SYNTHETIC_HUMAN_MEANS, synthetic_table
from usersim_utils.demo.resampled_rows import resampled_tables
from usersim_utils.distinguish import two_sample

from seeded_study import make_study as make_panel

SHARED_TAU_BENCH = paths.REPO_ROOT.parent / "shared" / "data" / "tau-bench" / "gpt-4o-airline.json"
BENCH = paths.REPO_ROOT / "benchmarks" / "bench_distinguish.py"
TASKS = ids.parse_task_spec("retail:0-39,airline:0-19")  # 60 tasks


def _human(rng: np.random.Generator, tasks=TASKS) -> pd.DataFrame:
    keys = [f"{t}{suffix}" for suffix in ("", "_ann2", "_ann3") for t in tasks]
    success = {t: 0.5 for t in tasks}
    return synthetic_table(rng, "human", keys, SYNTHETIC_HUMAN_MEANS, success,
                                       source="human", drop_rate=0.03)


def _simulator(rng: np.random.Generator, means: dict[str, float], label: str = "sim", tasks=TASKS) -> pd.DataFrame:
    keys = [f"{t}_{run}" for run in (1, 2, 3) for t in tasks]
    return synthetic_table(rng, label, keys, means, {t: 0.5 for t in tasks})


UNLIKE = {**SYNTHETIC_HUMAN_MEANS, "user_words_per_turn": 33.0, "politeness_rate": 0.6,
          "short_msg_rate": 0.02}


# --- The parts. ---------------------------------------------------------------------------------
def test_weighted_auc_equals_sklearn_with_ties_and_weights() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, 200).astype(float)  # many ties
    labels = rng.integers(0, 2, 200)
    weights = rng.integers(0, 4, (5, 200)).astype(float)
    got = distinguish.weighted_auc(scores, labels, weights)
    want = [roc_auc_score(labels, scores, sample_weight=w) for w in weights]
    assert np.allclose(got, want, atol=1e-12)
    no_positive = distinguish.weighted_auc(scores, labels, np.where(labels == 1, 0.0, 1.0)[None, :])
    assert np.isnan(no_positive[0])


def test_indistinguishability_is_100_at_chance_and_0_when_told_apart() -> None:
    assert distinguish.indistinguishability(0.5) == 100.0
    assert distinguish.indistinguishability(1.0) == 0.0
    assert distinguish.indistinguishability(0.0) == 0.0
    assert distinguish.indistinguishability(0.75) == pytest.approx(50.0)


def test_folds_never_put_a_task_on_both_sides() -> None:
    tasks = np.array([t for t in TASKS for _ in range(4)])
    folds = distinguish.task_folds(tasks)
    assert len(folds) == distinguish.N_SPLITS
    for train, test in folds:
        assert not set(tasks[train]) & set(tasks[test])
    assert sorted(np.concatenate([test for _, test in folds])) == list(range(len(tasks)))
    assert len(distinguish.task_folds(np.array(["a", "a", "b", "b"]))) == 2
    with pytest.raises(ValueError, match="at least 2 tasks"):
        distinguish.task_folds(np.array(["a", "a"]))


def test_only_shared_tasks_and_usable_rows_enter_a_comparison() -> None:
    rng = np.random.default_rng(0)
    human = _human(rng)
    sim = _simulator(rng, SYNTHETIC_HUMAN_MEANS, tasks=[*TASKS[:10], "retail_100", "retail_101"])
    problem = distinguish.simulator_problem(human, sim)
    assert set(problem.tasks) == set(TASKS[:10])
    h, s = distinguish.shared_rows(human, sim)
    assert len(problem.y) == len(h) + len(s) and problem.y.sum() == len(s)
    assert h["keep"].all() and h["has_features"].all() and s["has_features"].all()
    assert problem.X.shape == (len(problem.y), len(features.FEATURES))


# --- Known answers. -------------------------------------------------------------------------------
def test_a_simulator_drawn_from_the_human_process_is_at_chance() -> None:
    rng = np.random.default_rng(11)
    human = _human(rng)
    row = distinguish.c2st_simulator(human, _simulator(rng, SYNTHETIC_HUMAN_MEANS), "twin",
                                     np.random.default_rng(1))
    assert row.low <= 0.5 <= row.high, row
    assert row.indistinguishability > 80
    assert row.n_tasks == len(TASKS) and row.n_simulator > 0 and row.n_human > 0


def test_a_clearly_unlike_simulator_is_told_apart_by_what_differs() -> None:
    rng = np.random.default_rng(12)
    row = distinguish.c2st_simulator(_human(rng), _simulator(rng, UNLIKE), "unlike", np.random.default_rng(2))
    assert row.auc > 0.9 and row.low > 0.85
    assert row.indistinguishability < 20
    top = {f for f, _ in row.giveaways[:3]}
    assert top & {"user_words_per_turn", "politeness_rate", "short_msg_rate"}
    assert all(v > 0 for _, v in row.giveaways)


def test_humans_against_humans_are_at_chance() -> None:
    row = distinguish.c2st_human(_human(np.random.default_rng(13)), np.random.default_rng(3))
    assert row.name == "human" and row.low <= 0.5 <= row.high, row
    assert row.n_simulator == 0 and row.n_tasks == len(TASKS)


@pytest.mark.slow
def test_the_interval_covers_chance_for_twins_and_for_humans() -> None:
    """Coverage over draws, not one lucky draw: 40 small studies (30 tasks, half with task
    effects) with a simulator drawn from the human process, and 20 human references; 90% is
    asked of each kind (about 95% expected). The old interval (tasks resampled, classifiers
    held fixed) covered 32 of these 40 twins. One label permutation each: the interval does not
    use them (the p-value's size has its own test). At the study's size:
    ``benchmarks/bench_distinguish.py --coverage N``."""
    twins, humans = [], []
    for i, rng in enumerate(np.random.default_rng(31).spawn(60)):
        human, sim = distinguish.known_answer_tables(rng, TASKS[:30], SYNTHETIC_HUMAN_MEANS,
                                                     task_effect=0.5 * (i % 2))
        if i < 40:
            twins.append(distinguish.c2st_simulator(human, sim, "twin", rng, n_boot=200, n_refit=15, n_permutations=1))
        else:
            humans.append(distinguish.c2st_human(human, rng, n_boot=200, n_refit=15, n_permutations=1))
    covered_twins = sum(r.low <= 0.5 <= r.high for r in twins)
    covered_humans = sum(r.low <= 0.5 <= r.high for r in humans)
    assert covered_twins >= 36 and covered_humans >= 18, (covered_twins, covered_humans)


def test_fold_auc_is_the_size_weighted_mean_of_each_folds_auc() -> None:
    rng = np.random.default_rng(6)
    tasks = np.array([t for t in TASKS[:20] for _ in range(6)])
    labels, scores = np.tile([0, 1], len(tasks) // 2), rng.random(len(tasks))
    folds = distinguish.task_folds(tasks)
    want = sum(roc_auc_score(labels[te], scores[te]) * len(te) for _, te in folds) / len(tasks)
    assert distinguish.fold_auc(scores, labels, folds, np.ones(len(tasks)))[0] == pytest.approx(want, abs=1e-12)
    unfitted = scores.copy()
    unfitted[folds[0][1]] = np.nan  # a fold that could not be fitted is left out
    rest = sum(roc_auc_score(labels[te], scores[te]) * len(te) for _, te in folds[1:]) / (len(tasks) - len(folds[0][1]))
    assert distinguish.fold_auc(unfitted, labels, folds, np.ones(len(tasks)))[0] == pytest.approx(rest, abs=1e-12)


def test_a_refit_on_the_tasks_as_they_are_is_the_cross_validation_itself() -> None:
    rng = np.random.default_rng(7)
    human, sim = distinguish.known_answer_tables(rng, TASKS[:30], UNLIKE)
    problem = distinguish.simulator_problem(human, sim)
    ones = np.ones((2, len(problem.y)), dtype=int)
    oof = distinguish.behavioural_out_of_fold(problem, rng, n_repeats=1, refit_counts=ones)
    cross_validated = distinguish.fold_auc(oof.scores, problem.y, oof.folds, np.ones(len(problem.y)))[0]
    assert np.allclose(oof.refit, cross_validated, atol=1e-12)
    one_task = np.isin(problem.tasks, problem.tasks[:1]).astype(int)[None, :]  # one class left: nothing fitted
    assert np.isnan(distinguish.refit_fold_auc(lambda tr, te: np.zeros(len(te)), problem.y, oof.folds, one_task)[0])


def test_the_interval_takes_the_larger_design_effect_of_resampling_and_permutations() -> None:
    rng = np.random.default_rng(8)
    fixed, refit, null = rng.normal(0.6, 0.02, 1000), rng.normal(0.6, 0.04, 30), rng.normal(0.5, 0.02, 99)
    got = distinguish.auc_interval(0.6, fixed, refit, null, 400, 500)
    resampled = (np.var(fixed, ddof=1) + np.var(refit, ddof=1)) / 2
    effect = resampled / two_sample.hanley_mcneil_variance(0.6, 400, 500)
    assert got.effect == pytest.approx(effect) and got.effect > two_sample.design_effect(np.var(null, ddof=1), 0.5,
                                                                                         400, 500)
    assert (got.low, got.high) == pytest.approx(two_sample.score_interval(0.6, effect, 400, 500))
    assert got.low < got.tost_low < 0.6 < got.tost_high < got.high  # the (1 - 2 alpha) interval of the TOST
    wide_null = distinguish.auc_interval(0.6, fixed, refit, null * 5 - 2, 400, 500)  # permutations spread wider
    assert wide_null.effect > got.effect and wide_null.high - wide_null.low > got.high - got.low
    assert np.isnan(distinguish.auc_interval(0.6, fixed, refit[:1], null, 400, 500).low)  # one refit: no interval


def test_an_auc_of_one_keeps_an_interval_below_one() -> None:
    """Old code: every resample at 1 gave [1.000, 1.000]."""
    rng = np.random.default_rng(21)
    human, sim = resampled_tables(rng, TASKS[:30], scale={"user_words_per_turn": 60.0, "opening_words": 60.0})
    row = distinguish.c2st_simulator(human, sim, "far", np.random.default_rng(5), n_boot=200, n_refit=5,
                                     n_permutations=19)
    assert row.auc == 1.0 and row.high == 1.0
    assert 0.9 < row.low < 1.0, row
    assert row.p_value == pytest.approx(1 / 20) and not row.equivalent
    assert row.indistinguishability_interval[0] == 0.0 < row.indistinguishability_interval[1]


def test_on_resampled_realistic_rows_the_p_value_keeps_its_size_and_give_aways_need_it() -> None:
    """24 small studies resampled from realistic rows (half zeros, correlated, tasks shared)
    with a simulator from the human process: p < 0.05 in at most 4 (1.2 expected; 4 or fewer
    has probability 0.97 for an exact test), the interval covers 0.5 in at least 21, and only
    a simulator told apart (p < 0.05) has give-aways. Old rows had neither p-value nor
    verdict, and gave every twin give-aways. At the study's size:
    ``benchmarks/bench_distinguish.py --coverage N``."""
    rows = []
    for rng in np.random.default_rng(41).spawn(24):
        human, sim = resampled_tables(rng, TASKS[:20])
        rows.append(distinguish.c2st_simulator(human, sim, "twin", rng, n_boot=200, n_refit=10, n_permutations=39))
    rejected = [r for r in rows if r.p_value < 0.05]
    assert len(rejected) <= 4, [r.p_value for r in rows]
    assert sum(r.low <= 0.5 <= r.high for r in rows) >= 21
    assert all(r.giveaways == () for r in rows if r.p_value >= 0.05)
    assert all(0 < r.p_value <= 1 for r in rows)


def test_rows_carry_the_p_value_the_equivalence_verdict_and_the_indistinguishability_interval() -> None:
    rng = np.random.default_rng(12)
    unlike = distinguish.c2st_simulator(_human(rng), _simulator(rng, UNLIKE), "unlike", np.random.default_rng(2),
                                        n_boot=200)
    assert unlike.p_value == pytest.approx(1 / (1 + distinguish.N_PERMUTATIONS)) and not unlike.equivalent
    row = unlike.to_json()
    assert row["p_value"] == unlike.p_value and row["equivalent"] is False
    low, high = row["indistinguishability_low"], row["indistinguishability_high"]
    assert low <= row["indistinguishability"] <= high
    assert (low, high) == pytest.approx(two_sample.indistinguishability_interval(unlike.low, unlike.high))
    assert f"{unlike.p_value:6.3f}     no" in distinguish.format_rows([unlike]).splitlines()[1]


def test_boosting_also_tells_the_unlike_simulator_apart() -> None:
    rng = np.random.default_rng(14)
    row = distinguish.c2st_simulator(_human(rng), _simulator(rng, UNLIKE), "unlike", np.random.default_rng(4),
                                     model="boosting", n_boot=200, n_refit=3, n_permutations=3)
    assert row.auc > 0.9


def test_same_seed_same_rows_and_rows_are_in_order() -> None:
    rng = np.random.default_rng(15)
    human = _human(rng)
    sims = {"twin": _simulator(rng, SYNTHETIC_HUMAN_MEANS, "twin"),
            "unlike": _simulator(rng, UNLIKE, "unlike")}
    a = distinguish.distinguish_all(human, sims, np.random.default_rng(7), n_boot=200)
    b = distinguish.distinguish_all(human, sims, np.random.default_rng(7), n_boot=200)
    assert [r.name for r in a] == ["human", "twin", "unlike"]
    assert a == b
    assert a[2].to_json()["indistinguishability"] == pytest.approx(a[2].indistinguishability)


def test_a_simulator_sharing_one_task_is_refused() -> None:
    rng = np.random.default_rng(0)
    sim = _simulator(rng, SYNTHETIC_HUMAN_MEANS, tasks=TASKS[:1])
    with pytest.raises(ValueError, match="shares 1 task"):
        distinguish.c2st_simulator(_human(rng), sim, "tiny", rng)


def test_a_comparison_that_cannot_be_made_is_a_row_saying_why_unless_strict() -> None:
    rng = np.random.default_rng(9)
    one_batch = _human(rng).query("batch == 1")
    sims = {"tiny": _simulator(rng, SYNTHETIC_HUMAN_MEANS, tasks=TASKS[:1]),
            "twin": _simulator(rng, SYNTHETIC_HUMAN_MEANS)}
    with pytest.raises(ValueError, match="at least 2 batches"):
        distinguish.distinguish_all(one_batch, sims, np.random.default_rng(1), n_boot=50, n_refit=3)
    rows = distinguish.distinguish_all(one_batch, sims, np.random.default_rng(1), n_boot=50, n_refit=3, strict=False)
    assert [r.name for r in rows] == ["human", "tiny", "twin"]
    assert np.isnan(rows[0].auc) and "at least 2 batches" in rows[0].note
    assert np.isnan(rows[1].low) and "shares 1 task" in rows[1].note and rows[1].to_json()["auc"] is None
    assert rows[2].note == "" and rows[2].low <= rows[2].auc <= rows[2].high and "note" not in rows[2].to_json()


# --- The text test. ---------------------------------------------------------------------------------
HUMAN_WORDS = "yes ok sure my order id is please cancel it thanks i need to change the flight no wait".split()
FORMAL_WORDS = "Certainly I would greatly appreciate your assistance regarding my reservation kindly".split()


def _texts(rng: np.random.Generator, label: str, keys: list[str], words: list[str], source: str) -> pd.DataFrame:
    records = {k: {"conversation": [{"role": "user", "content": " ".join(rng.choice(words, rng.integers(3, 12)))}
                                    for _ in range(3)]} for k in keys}
    return distinguish.user_texts(records, source=source, label=label)


def test_text_test_is_at_chance_for_a_twin_and_tells_a_formal_simulator_apart() -> None:
    rng = np.random.default_rng(16)
    tasks = TASKS[:40]
    human = _texts(rng, "human", [f"{t}{s}" for s in ("", "_ann2", "_ann3") for t in tasks], HUMAN_WORDS, "human")
    sim_keys = [f"{t}_{r}" for r in (1, 2, 3) for t in tasks]
    sims = {"twin": _texts(rng, "twin", sim_keys, HUMAN_WORDS, "llm"),
            "formal": _texts(rng, "formal", sim_keys, FORMAL_WORDS, "llm")}
    rows = distinguish.text_distinguish_all(human, sims, np.random.default_rng(8), n_boot=300, n_permutations=29)
    by_name = {r.name: r for r in rows}
    assert by_name["human"].low <= 0.5 <= by_name["human"].high
    assert by_name["twin"].low <= 0.5 <= by_name["twin"].high
    assert by_name["formal"].auc > 0.99 and by_name["formal"].p_value == pytest.approx(1 / 30)
    assert by_name["formal"].giveaways and all(isinstance(g, str) for g, _ in by_name["formal"].giveaways)


def test_user_texts_keep_only_user_turns_without_meta_or_markup() -> None:
    records = {"retail_1": {"conversation": [
        {"role": "user", "content": "\\tau task_index:retail-1 model:gpt-5.2"},
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": "cancel <|think|>x<|/think|>my order"},
        {"role": "user", "content": "/stop"}]}}
    table = distinguish.user_texts(records, source="human", label="human")
    assert list(table.columns) == list(distinguish.TEXT_COLUMNS)
    assert table.loc[0, "text"] == "cancel my order" and table.loc[0, "batch"] == 1 and table.loc[0, "has_features"]


# --- The command line. ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study")
    panel = make_panel()
    (root / "data").mkdir()
    (root / "data" / "tau_bench_tasks_unified.json").write_text(json.dumps(panel["human"]))
    for label in ("big_a", "single"):
        (root / f"eval_results_{label}.json").write_text(json.dumps(panel["sims"][label]))
    return root


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = distinguish.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_command_writes_rows_with_a_human_row(study: Path, tmp_path: Path, capsys) -> None:
    out_json, text_json = tmp_path / "c2st.json", tmp_path / "text.json"
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", str(study / "eval_results_big_a.json"),
                          str(study / "eval_results_single.json"), "--json", str(out_json),
                          "--text-json", str(text_json), "--seed", "3", "--n-text-permutations", "9")
    assert code == 0, err
    rows = json.loads(out_json.read_text())
    assert [r["name"] for r in rows] == ["human", "big_a", "single"]
    assert set(rows[0]) >= {"name", "auc", "low", "high", "indistinguishability", "giveaways", "p_value", "equivalent",
                            "indistinguishability_low", "indistinguishability_high"}
    for r in rows:
        assert 0 <= r["low"] <= r["high"] <= 1 and 0 <= r["auc"] <= 1
        assert r["indistinguishability"] == pytest.approx(100 * (1 - abs(2 * r["auc"] - 1)))
        assert 0 < r["p_value"] <= 1 and isinstance(r["equivalent"], bool)
        assert r["giveaways"] == [] or r["p_value"] < 0.05
    assert [r["name"] for r in json.loads(text_json.read_text())] == ["human", "big_a", "single"]
    assert out.splitlines()[1].startswith("human")
    code, _, _ = _run(capsys, "--human", str(study), "--eval-results", str(study / "eval_results_big_a.json"),
                      "--json", str(tmp_path / "again.json"), "--seed", "3")
    assert json.loads((tmp_path / "again.json").read_text())[:2] == rows[:2]


@pytest.mark.parametrize("case", ["missing", "human_as_rollouts", "bad_json", "no_shared_task", "output_is_a_folder",
                                  "one_refit", "no_permutation"])
def test_command_bad_input_is_one_line_exit_2(study: Path, tmp_path: Path, capsys, case: str) -> None:
    human, out_json, extra = str(study), tmp_path / "o.json", []
    if case == "missing":
        files = [str(tmp_path / "eval_results_nope.json")]
    elif case == "human_as_rollouts":
        files = [str(study / "data" / "tau_bench_tasks_unified.json")]
    elif case == "output_is_a_folder":
        files, out_json = [str(study / "eval_results_single.json")], tmp_path
    elif case == "one_refit":
        files, extra = [str(study / "eval_results_single.json")], ["--n-refit", "1"]
    elif case == "no_permutation":
        files, extra = [str(study / "eval_results_single.json")], ["--n-permutations", "0"]
    elif case == "bad_json":
        (tmp_path / "eval_results_bad.json").write_text("{not json")
        files = [str(tmp_path / "eval_results_bad.json")]
    else:
        (tmp_path / "eval_results_far.json").write_text(json.dumps(
            {"retail_110": {"conversation": [{"role": "user", "content": "hi"}], "reward": 1.0}}))
        files = [str(tmp_path / "eval_results_far.json")]
    code, out, err = _run(capsys, "--human", human, "--eval-results", *files, "--json", str(out_json), *extra)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "o.json").exists()
    assert ("folder" in err) == (case == "output_is_a_folder")


@pytest.mark.skipif(not SHARED_TAU_BENCH.exists(), reason="../shared/data is absent")
def test_command_accepts_tau_bench_trajectories(study: Path, tmp_path: Path, capsys) -> None:
    out_json = tmp_path / "c2st.json"
    code, _, err = _run(capsys, "--human", str(study), "--eval-results", str(SHARED_TAU_BENCH),
                        "--json", str(out_json))
    assert code == 0, err
    rows = json.loads(out_json.read_text())
    assert rows[1]["name"] == "gpt-4o-airline"
    assert rows[1]["n_tasks"] == 8  # the test panel's airline tasks 0-7 (20-39 are not in its human file)
    assert rows[1]["n_simulator"] == 8 * 4  # four trials each


def _bench(n_simulators: int) -> dict:
    out = subprocess.run([sys.executable, str(BENCH), "--simulators", str(n_simulators)],
                         capture_output=True, text=True, check=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_benchmark_runs_on_a_small_study() -> None:
    result = _bench(2)
    assert result["conversations"] == 495 + 2 * 3 * 165
    assert result["rows"] == 3


@pytest.mark.slow
@pytest.mark.bench
def test_whole_study_is_told_apart_in_under_a_minute() -> None:
    result = _bench(31)
    assert result["conversations"] == 495 + 31 * 3 * 165 and result["rows"] == 32
    assert result["total_s"] < 60.0, result
