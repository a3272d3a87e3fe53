"""The scoring command line: files in, the table and JSON out, one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from usersim_utils import paths, scorer, usi
from usersim_utils.features import features_table

from panel import make_panel

SHARED = paths.REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The fixed test panel written in the study's layout."""
    root = tmp_path_factory.mktemp("study")
    panel = make_panel()
    (root / "data").mkdir()
    (root / "eval_results").mkdir()
    (root / "survey_data").mkdir()
    (root / "data" / "tau_bench_tasks_unified.json").write_text(json.dumps(panel["human"]))
    for label, records in panel["sims"].items():
        (root / "eval_results" / f"eval_results_{label}.json").write_text(json.dumps(records))
    for label, records in panel["surveys"].items():
        (root / "survey_data" / f"survey_comparable_{label}.json").write_text(json.dumps(records))
    (root / "survey_data" / "survey_comparable_human-eval-100.json").write_text(json.dumps(panel["rerating"]))
    return root


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = scorer.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_command_prints_the_table_and_writes_json(study: Path, tmp_path: Path, capsys) -> None:
    files = sorted(str(p) for p in (study / "eval_results").glob("*.json"))
    out_json = tmp_path / "usi.json"
    code, out, _ = _run(capsys, "--human", str(study), "--eval-results", *files,
                        "--survey-dir", str(study / "survey_data"), "--difficulty", "self", "--json", str(out_json))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["name", "D1_conv"] and lines[1].startswith("human")
    rows = json.loads(out_json.read_text())
    assert rows[0]["name"] == "human"
    assert set(rows[0]) == {"name", "D1_conv", "D2_info", "D3_clarif", "D4_react", "eval_agree", "ece", "usi"}
    usis = [r["usi"][0] for r in rows[1:] if r["usi"]]
    assert usis == sorted(usis, reverse=True)
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
    pool = scorer.load_inputs(study, sorted((study / "eval_results").glob("*.json"))).simulators
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


@pytest.mark.skipif(not (SHARED / "tau-bench").exists(), reason="../shared/data is not beside this checkout")
def test_tau_bench_trajectories_are_scored_on_the_fly(study: Path, tmp_path: Path, capsys) -> None:
    traj = str(SHARED / "tau-bench" / "gpt-4o-airline.json")
    out_json = tmp_path / "o.json"
    code, out, _ = _run(capsys, "--human", str(study), "--eval-results", traj, "--run-split", "suffix",
                        "--json", str(out_json))
    assert code == 0
    row = json.loads(out_json.read_text())[1]
    assert row["name"] == "gpt-4o-airline" and row["D1_conv"] is not None


def test_label_of() -> None:
    assert scorer.label_of("x/eval_results_gpt-5.1.json") == "gpt-5.1"
    assert scorer.label_of("gpt-4o-airline.json") == "gpt-4o-airline"


def test_feature_tables_round_trip(tmp_path: Path) -> None:
    panel = make_panel()
    tables = {"human": features_table(panel["human"], source="human", label="human"),
              "single": features_table(panel["sims"]["single"], source="llm", label="single")}
    scorer.write_feature_tables(tables, tmp_path)
    (tmp_path / "stale.parquet").write_bytes(b"")
    scorer.write_feature_tables(tables, tmp_path)
    assert not (tmp_path / "stale.parquet").exists()
    human, sims = scorer.read_feature_tables(tmp_path)
    assert human.equals(tables["human"]) and sims["single"].equals(tables["single"])
    with pytest.raises(Exception, match="run notebooks/03"):
        scorer.read_feature_tables(tmp_path / "missing")
