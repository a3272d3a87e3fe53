"""The scoring command line (usersim_utils.scoring): files in, the table and JSON out,
one-line errors."""

from __future__ import annotations

import errno
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from usersim_utils import atomic, data, handover, ids, paths, schema, scoring, usi
from usersim_utils.features import FEATURES, features_table
from usersim_utils.rollout import comparability

TAU_BENCH_AIRLINE = "data/tau-bench/gpt-4o-airline.json"  # under ../shared


@pytest.fixture(scope="module")
def study(seeded_study_dir: Path) -> Path:
    """The seeded study written in the study's layout."""
    return seeded_study_dir


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = scoring.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_command_prints_the_table_and_writes_json(study: Path, tmp_path: Path, capsys) -> None:
    files = sorted(str(p) for p in (study / "eval_results").glob("*.json"))
    out_json = tmp_path / "usi.json"
    code, out, _ = _run(capsys, "--human", str(study), "--eval-results", *files,
                        "--survey-dir", str(study / "survey_data"), "--difficulty", "all", "--json", str(out_json))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["name", "D1_conv"] and lines[1].startswith("human")
    rows = json.loads(out_json.read_text())
    assert rows[0]["name"] == "human"
    assert set(rows[0]) == {"name", "D1_conv", "D2_info", "D3_clarif", "D4_react", "eval_agree", "ece", "usi",
                            "index", "terms", "rank"}
    # which index each USI is: six terms with the survey's Eval, five without, none without a USI
    assert all(r["index"] == ("USI6" if r["eval_agree"] else "USI5") for r in rows if r["usi"])
    assert all(r["index"] is None for r in rows if not r["usi"])
    for index in usi.INDEX_VARIANTS:  # each index ranked on its own, best first
        usis = [r["usi"][0] for r in rows[1:] if r["index"] == index]
        assert usis == sorted(usis, reverse=True)
        assert [r["rank"] for r in rows[1:] if r["index"] == index] == list(range(1, len(usis) + 1))
    assert [r["index"] for r in rows if r["usi"]] == sorted((r["index"] for r in rows if r["usi"]), reverse=True)
    assert rows[-1]["name"] == "small3" and rows[-1]["usi"] is None
    # the same numbers as the golden test (the index through files equals the index in memory)
    golden = {r["name"]: r for r in json.loads((Path(__file__).parent / "golden" / "usi_fixed_panel.json").read_text())}
    for row in rows:
        for metric in usi.METRICS:
            if row[metric] is None:
                assert golden[row["name"]][metric] is None
            else:
                assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(row[metric], golden[row["name"]][metric]))


def test_frozen_and_baseline_difficulty(study: Path, tmp_path: Path, capsys) -> None:
    big = str(study / "eval_results" / "eval_results_big_a.json")
    pool = data.load_inputs(study, sorted((study / "eval_results").glob("*.json"))).simulators
    difficulty = usi.pooled_difficulty(pool.values())
    frozen = tmp_path / "difficulty.json"
    frozen.write_text(json.dumps({"difficulty": difficulty}))
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps(difficulty))
    results = []
    for spec in (f"frozen:{frozen}", f"frozen:{flat}", f"baselines:{study / 'eval_results'}"):
        out_json = tmp_path / "out.json"
        code, _, _ = _run(capsys, "--human", str(study), "--eval-results", big, "--difficulty", spec,
                          "--json", str(out_json))
        assert code == 0
        results.append(json.loads(out_json.read_text())[1]["ece"])
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ('{"retail_1": 5}', "retail_1")],
)
def test_bad_input_gives_one_line(study: Path, tmp_path: Path, capsys, content: str, message: str) -> None:
    bad = tmp_path / "eval_results_bad.json"
    bad.write_text(content)
    code, _, err = _run(capsys, "--human", str(study), "--eval-results", str(bad))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and str(bad) in err
    assert "Traceback" not in err


def test_bad_difficulty_spec(study: Path, capsys) -> None:
    big = str(study / "eval_results" / "eval_results_big_a.json")
    code, _, err = _run(capsys, "--human", str(study), "--eval-results", big, "--difficulty", "frozen")
    assert code == 2 and "--difficulty" in err


def test_small_multi_run_files_get_a_hint(study: Path, capsys) -> None:
    small = str(study / "eval_results" / "eval_results_small3.json")
    code, _, err = _run(capsys, "--human", str(study), "--eval-results", small)
    assert code == 0 and "--run-split suffix" in err
    code, out, _ = _run(capsys, "--human", str(study), "--eval-results", small, "--run-split", "suffix")
    assert code == 0 and "small3" in out


def test_tau_bench_trajectories_are_scored_on_the_fly(study: Path, tmp_path: Path, capsys, shared_file) -> None:
    traj = str(shared_file(TAU_BENCH_AIRLINE))
    out_json = tmp_path / "o.json"
    code, out, _ = _run(capsys, "--human", str(study), "--eval-results", traj, "--run-split", "suffix",
                        "--json", str(out_json))
    assert code == 0
    row = json.loads(out_json.read_text())[1]
    assert row["name"] == "gpt-4o-airline" and row["D1_conv"] is not None


def test_label_of() -> None:
    assert schema.label_of("x/eval_results_gpt-5.1.json") == "gpt-5.1"
    assert schema.label_of("gpt-4o-airline.json") == "gpt-4o-airline"


def test_feature_tables_round_trip(tmp_path: Path, seeded_study: dict) -> None:
    tables = {"human": features_table(seeded_study["human"], source="human", label="human"),
              "single": features_table(seeded_study["sims"]["single"], source="llm", label="single")}
    handover.write_feature_tables(tables, tmp_path)
    (tmp_path / "stale.parquet").write_bytes(b"")
    handover.write_feature_tables(tables, tmp_path)
    assert not (tmp_path / "stale.parquet").exists()
    human, sims = handover.read_feature_tables(tmp_path)
    assert human.equals(tables["human"]) and sims["single"].equals(tables["single"])
    with pytest.raises(Exception, match="run notebooks/03"):
        handover.read_feature_tables(tmp_path / "missing")


# --- Small studies: every defined term, and one line saying what is not. ----------------------
def _one_sim(study: Path, label: str = "single") -> str:
    return str(study / "eval_results" / f"eval_results_{label}.json")


def test_one_simulator_with_all_gets_the_published_bins(study: Path, tmp_path: Path, capsys) -> None:
    out_json = tmp_path / "o.json"
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study),
                          "--difficulty", "all", "--json", str(out_json))
    assert code == 0
    notes = err.splitlines()
    assert len(notes) == 1 and notes[0].startswith("note: ") and "published difficulty map" in notes[0]
    row = json.loads(out_json.read_text())[1]
    assert row["name"] == "single" and row["ece"] is not None and row["usi"] is not None
    expected = scoring.score_files(study, [_one_sim(study)], difficulty="published")
    assert row["usi"] == list(expected[1].cells["usi"])


def test_published_difficulty_on_the_command_line(study: Path, tmp_path: Path, capsys) -> None:
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study), "--difficulty", "published")
    assert code == 0 and err == "" and "single" in out


def test_an_empty_frozen_map_shows_every_defined_term_and_says_why(study: Path, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    out_json = tmp_path / "o.json"
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study),
                          "--survey-dir", str(study / "survey_data"), "--difficulty", f"frozen:{empty}",
                          "--json", str(out_json))
    assert code == 0
    assert err.count("\n") == 1 and err.startswith("note: ")
    assert "ECE, hence USI, is undefined" in err and "--difficulty published" in err
    row = json.loads(out_json.read_text())[1]
    assert all(row[m] is not None for m in ("D1_conv", "D2_info", "D3_clarif", "D4_react", "eval_agree"))
    assert row["ece"] is None and row["usi"] is None
    single_line = next(line for line in out.splitlines() if line.startswith("single"))
    assert single_line.split()[-3:] == ["-", "-", "-"] and single_line.count("±") == 5  # ECE, USI, index


def test_a_map_missing_the_simulators_tasks_is_explained(study: Path, tmp_path: Path, capsys) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"retail_100": 0.5}))
    code, _, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study),
                        "--difficulty", f"frozen:{other}")
    assert code == 0 and err.count("\n") == 1
    assert "ECE, hence USI, is undefined for human, single" in err and str(other) in err


def test_the_command_line_refuses_the_study_mode(study: Path, capsys) -> None:
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study), "--difficulty", "study")
    assert code == 2 and out == "" and err.startswith("error: --difficulty study")


# --- Bad output paths: one line, nothing printed before it. -----------------------------------
def _assert_one_error(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in err


def test_json_into_a_folder(study: Path, tmp_path: Path, capsys) -> None:
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study), "--json", str(tmp_path))
    _assert_one_error(code, out, err, str(tmp_path), "is a folder")


def test_json_under_a_regular_file(study: Path, tmp_path: Path, capsys) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    target = plain / "sub" / "usi.json"
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study), "--json", str(target))
    _assert_one_error(code, out, err, str(target), "it is a file, not a folder")
    assert plain.read_text() == "x"


def test_json_in_an_unwritable_folder(study: Path, tmp_path: Path, capsys) -> None:
    if os.geteuid() == 0:  # root writes anywhere a mode allows nothing; sysfs refuses new files
        folder = Path("/sys")
        if not folder.is_dir() or os.access(folder, os.W_OK) and _can_create_in(folder):
            pytest.skip("no unwritable folder for root here")
    else:
        folder = tmp_path / "locked"
        folder.mkdir(mode=0o500)
    target = folder / "usi.json"
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study), "--json", str(target))
    _assert_one_error(code, out, err, str(target), "cannot write in")
    assert not target.exists()


def _can_create_in(folder: Path) -> bool:
    try:
        fd, name = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def test_json_empty_path(study: Path, capsys) -> None:
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study), "--json", "")
    _assert_one_error(code, out, err, "empty path")


def test_json_write_failure_is_one_line(study: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "write", disk_full)  # the one output writer's write (tests/test_output_writes.py)
    target = tmp_path / "usi.json"
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study), "--json", str(target))
    _assert_one_error(code, out, err, str(target), "No space left on device")


# --- Inputs that used to give silently different numbers. -------------------------------------
@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_survey_dir_must_be_a_folder(study: Path, tmp_path: Path, capsys, kind: str) -> None:
    survey_dir = {"missing": str(tmp_path / "nope"), "file": _one_sim(study), "empty": ""}[kind]
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", _one_sim(study),
                          "--survey-dir", survey_dir)
    expected = {"missing": "no such folder", "file": "not a folder", "empty": "empty path"}[kind]
    _assert_one_error(code, out, err, expected)


def _trajectory(task_id: int, policy: str) -> dict:
    return {"task_id": task_id, "trial": 0, "reward": 1.0, "info": {},
            "traj": [{"role": "system", "content": f"# {policy} Agent Policy\n..."},
                     {"role": "user", "content": "hi, i need help with my booking"},
                     {"role": "assistant", "content": "Sure."},
                     {"role": "user", "content": "thanks ###STOP###"}]}


def test_domain_is_checked_against_the_trajectories(study: Path, tmp_path: Path, capsys) -> None:
    traj = tmp_path / "run.json"
    traj.write_text(json.dumps([_trajectory(1, "Airline"), _trajectory(2, "Airline")]))
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", str(traj), "--domain", "retail")
    _assert_one_error(code, out, err, str(traj), "record 'item 0'", "the domain given is retail",
                      "this trajectory is airline")
    code, out, _ = _run(capsys, "--human", str(study), "--eval-results", str(traj), "--domain", "airline")
    assert code == 0 and "run" in out


def test_domain_is_checked_on_real_trajectories(study: Path, capsys, shared_file) -> None:
    traj = str(shared_file(TAU_BENCH_AIRLINE))
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", traj, "--domain", "retail")
    _assert_one_error(code, out, err, "this trajectory is airline")


@pytest.mark.parametrize("name", ["tau_bench_tasks_unified.json", "sessions.json"])
def test_a_human_file_is_not_a_simulator(study: Path, tmp_path: Path, capsys, name: str) -> None:
    copy = tmp_path / name
    copy.write_bytes((study / "data" / "tau_bench_tasks_unified.json").read_bytes())
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", str(copy))
    _assert_one_error(code, out, err, str(copy), "human-sessions file", "--human")


def test_a_survey_file_is_not_a_simulator(study: Path, capsys) -> None:
    surveys = str(study / "survey_data" / "survey_comparable_single.json")
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", surveys)
    _assert_one_error(code, out, err, surveys, "survey file", "--survey-dir")


def test_empty_conversations_are_not_a_run_split_problem(study: Path, tmp_path: Path, capsys) -> None:
    greeting = [{"role": "assistant", "content": "Hi! How can I help you today?"}]
    silent = tmp_path / "eval_results_silent.json"
    silent.write_text(json.dumps({f"retail_{i}_{run}": {"conversation": greeting, "reward": 0.0}
                                  for i in range(5) for run in (1, 2)}))
    code, _, err = _run(capsys, "--human", str(study), "--eval-results", str(silent))
    assert code == 0
    assert "--run-split" not in err
    assert "silent: no row" in err and "no kept conversation has a user turn" in err


def test_a_closed_pipe_is_no_traceback(study: Path) -> None:
    """`python -m usersim_utils.scoring ... | head -0`: the reader is gone before the table."""
    command = [sys.executable, "-m", "usersim_utils.scoring", "--human", str(study), "--eval-results", _one_sim(study)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_console_scripts_name_existing_functions() -> None:
    scripts = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["usersim-usi"] == "usersim_utils.scoring:main"
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), name


def _with_card(study: Path, folder: Path, label: str, agent: str) -> str:
    """A copy of a seeded simulator's results as a new rollout: ``card_<label>.json`` beside it."""
    from usersim_utils.rollout import card

    target = folder / f"eval_results_{label}.json"
    target.write_bytes(Path(_one_sim(study)).read_bytes())
    resolved = {"name": label, "agent": {"model": agent, "harness": "study", "reasoning_effort": "low"},
                "protocol": {"max_user_turns": 80, "max_agent_rounds": 64, "tasks": "all",
                             "survey_prompt_sha256": card.STUDY_PROTOCOL["survey_prompt_sha256"]}}
    (folder / card.card_name(label)).write_text(json.dumps(resolved))
    return str(target)


def test_results_of_two_agents_warn_unless_allowed(study: Path, tmp_path: Path, capsys) -> None:
    files = [_with_card(study, tmp_path, "sim-a", "gpt-5.2"), _with_card(study, tmp_path, "sim-b", "gpt-4o")]
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", *files, "--difficulty", "published")
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert code == 0 and "sim-a" in out and "sim-b" in out
    assert len(warnings) == 1 and "agent_model: gpt-5.2 (sim-a) vs gpt-4o (sim-b)" in warnings[0]
    code, _, err = _run(capsys, "--human", str(study), "--eval-results", *files, "--difficulty", "published",
                        "--allow-mixed-protocols")
    assert code == 0 and "warning:" not in err


def test_a_published_file_beside_a_new_rollout_differs_in_protocol(study: Path, tmp_path: Path, capsys) -> None:
    new = _with_card(study, tmp_path, "sim-new", "gpt-4o")
    out_json = tmp_path / "rows.json"
    code, _, err = _run(capsys, "--human", str(study), "--eval-results", new, _one_sim(study), "--json", str(out_json))
    assert code == 0
    assert "gpt-4o (sim-new) vs gpt-5.2 (single)" in err  # no card: the study's protocol, GPT-5.2
    protocols = {row["name"]: row.get("protocol") for row in json.loads(out_json.read_text())}
    assert protocols == {"human": None, "sim-new": "agent gpt-4o (study)",
                         "single": "study protocol (published): agent gpt-5.2 (study)"}


def test_new_rollouts_default_to_the_published_difficulty_map(study: Path, tmp_path: Path, capsys) -> None:
    out_json = tmp_path / "o.json"
    new = _with_card(study, tmp_path, "sim-new", "gpt-5.2")
    code, _, err = _run(capsys, "--human", str(study), "--eval-results", new, "--json", str(out_json))
    assert code == 0 and "published difficulty map" in err
    expected = scoring.score_files(study, [new], difficulty="published")
    rows = json.loads(out_json.read_text())
    assert rows[1]["usi"] == list(expected[1].cells["usi"])
    assert rows[1]["protocol"] == "agent gpt-5.2 (study)" and "protocol" not in rows[0]  # rows[0]: the human ceiling


def test_a_bad_card_is_one_line(study: Path, tmp_path: Path, capsys) -> None:
    new = _with_card(study, tmp_path, "sim-new", "gpt-5.2")
    (tmp_path / "card_sim-new.json").write_text("[1, 2")
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", new)
    assert code == 2 and out == "" and err.count("\n") == 1 and "card" in err


def test_the_notebooks_protocol_table_marks_published_files_and_names_differences(study: Path, tmp_path: Path) -> None:
    new = _with_card(study, tmp_path, "sim-new", "gpt-4o")
    cards = comparability.protocol_cards([new, _one_sim(study)])
    table = comparability.protocol_table(cards).set_index("name")
    assert list(table.columns) == ["protocol", *comparability.PROTOCOL_COLUMNS]
    assert table.loc["single", "protocol"] == "study protocol (published): agent gpt-5.2 (study)"
    assert table.loc["sim-new", "protocol"] == "agent gpt-4o (study)"
    assert table.loc["single", "agent_model"] == "gpt-5.2" and len(table.loc["single", "survey_prompt_sha256"]) == 12
    note = comparability.mixed_protocols_note(cards)
    assert note.startswith("warning:") and "\n" not in note and "--allow-mixed-protocols" not in note
    assert "agent_model: gpt-4o (sim-new) vs gpt-5.2 (single)" in note
    assert comparability.mixed_protocols_note({"single": None, "other": None}) is None


def test_a_degenerate_human_ceiling_gets_a_note() -> None:
    """Before: human turns all empty gave a ceiling of 100.0 ± 0.0 with no word, a perfect score
    that was a broken file."""
    from usersim_utils.demo import feature_tables

    rng = np.random.default_rng(3)
    human, sims = feature_tables.synthetic_tables(rng, n_simulators=2, tasks=ids.parse_task_spec("retail:0-29"))
    choice = scoring.resolve_difficulty("all", sims)
    normal = usi.score_all(human, sims, choice.map)
    assert not [n for n in scoring.score_notes(normal, choice, sims, human) if "human ceiling" in n]
    empty = human.copy()
    empty[list(FEATURES)] = 0.0  # what a study whose human turns are all empty gives
    notes = scoring.score_notes(usi.score_all(empty, sims, choice.map), choice, sims, empty)
    degenerate = [n for n in notes if "human ceiling is 100.0" in n]
    assert len(degenerate) == 1 and "D1_conv" in degenerate[0] and "check the human file" in degenerate[0]


# --- Rows of another kind: a five-term USI, a protocol unknown (never ranked as if comparable). --------
def _score(name: str, usi_value: float | None, *, survey: bool) -> usi.Score:
    cells: dict[str, usi.Cell | None] = {d: (60.0, 1.0) for d in usi.DIMENSION_NAMES}
    cells.update(eval_agree=(70.0, 1.0) if survey else None, ece=(0.1, 0.01),
                 usi=(usi_value, 1.0) if usi_value is not None else None)
    return usi.Score(name, cells)


def test_five_term_rows_are_ranked_apart_from_six_term_rows_unless_asked() -> None:
    scores = [_score("human", 90.0, survey=True), _score("six-low", 50.0, survey=True),
              _score("five-high", 80.0, survey=False), _score("six-high", 70.0, survey=True),
              _score("no-usi", None, survey=True)]
    board = usi.leaderboard(scores)
    assert list(board["name"]) == ["human", "six-high", "six-low", "five-high", "no-usi"]
    assert list(board["index"][:4]) == ["USI6", "USI6", "USI6", "USI5"] and pd.isna(board["index"][4])
    assert board["rank"].tolist() == [pd.NA, 1, 2, 1, pd.NA]  # each index ranked on its own
    together = usi.leaderboard(scores, rank_together=True)
    assert list(together["name"]) == ["human", "five-high", "six-high", "six-low", "no-usi"]
    assert together["rank"].tolist() == [pd.NA, 1, 2, 3, pd.NA]
    table = usi.format_leaderboard(scores).splitlines()
    assert table[0].split()[-2:] == ["USI", "index"]
    assert [line.split()[-1] for line in table[1:]] == ["USI6", "USI6", "USI6", "USI5", "-"]
    assert usi.index_terms(scores[2].cells) == ("D1_conv", "D2_info", "D3_clarif", "D4_react", "ece")
    assert usi.index_terms(scores[4].cells) == ()


def test_a_tau_bench_trajectory_file_is_a_labelled_five_term_row_of_unknown_protocol(
    study: Path, tmp_path: Path, capsys, shared_file
) -> None:
    """The real gpt-4o-airline trajectories beside a simulator with surveys: the USI5 row says
    so in a note, in the table and in its JSON row, whose protocol is unknown, not the study's."""
    from usersim_utils.rollout import card

    traj = str(shared_file(TAU_BENCH_AIRLINE))
    out_json = tmp_path / "rows.json"
    code, out, err = _run(capsys, "--human", str(study), "--eval-results", traj, _one_sim(study),
                          "--survey-dir", str(study / "survey_data"), "--run-split", "suffix",
                          "--json", str(out_json))
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out_json.read_text())}
    trajectory, published_file = rows["gpt-4o-airline"], rows["single"]
    assert trajectory["index"] == "USI5" and trajectory["eval_agree"] is None
    assert trajectory["terms"] == ["D1_conv", "D2_info", "D3_clarif", "D4_react", "ece"]
    assert trajectory["protocol"] == card.UNKNOWN_PROTOCOL and "unknown" in trajectory["protocol"]
    assert published_file["index"] == "USI6"
    assert published_file["protocol"] == "study protocol (published): agent gpt-5.2 (study)"
    assert trajectory["rank"] == 1 and published_file["rank"] == 1  # two rankings, one per index
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("gpt-4o-airline")] == ["USI5"]
    notes = [line for line in err.splitlines() if line.startswith("note: gpt-4o-airline:")]
    assert len(notes) == 1
    assert "USI5, the mean of five terms" in notes[0] and "no Eval" in notes[0]
    assert "ranked apart" in notes[0] and "--rank-together" in notes[0] and "protocol unknown" in notes[0]
    assert "protocol: unknown (gpt-4o-airline) vs known (single)" in err  # the mixed-protocol warning
    code, _, err = _run(capsys, "--human", str(study), "--eval-results", traj, _one_sim(study),
                        "--survey-dir", str(study / "survey_data"), "--run-split", "suffix",
                        "--json", str(out_json), "--rank-together")
    ranks = sorted(row["rank"] for row in json.loads(out_json.read_text()) if row["rank"] is not None)
    assert code == 0 and ranks == [1, 2] and "ranked with the USI6 rows as asked" in err


def test_trajectory_files_are_told_from_rollouts_by_their_first_bytes(study: Path, tmp_path: Path) -> None:
    from usersim_utils import trajectories

    listed = tmp_path / "run.json"
    listed.write_bytes(b"\xef\xbb\xbf\n  [{\"task_id\": 0}]")
    assert trajectories.is_trajectory_file(listed)
    assert not trajectories.is_trajectory_file(_one_sim(study))  # an object keyed by instance id
    assert not trajectories.is_trajectory_file(tmp_path)  # a folder
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert not trajectories.is_trajectory_file(fifo)  # never opened: it would block
    cards = comparability.protocol_cards([listed, _one_sim(study)])
    assert comparability.protocol_table(cards).set_index("name").loc["run", "agent_model"] == "unknown"
