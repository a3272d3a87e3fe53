"""Invalid survey answers are warnings, not errors (a few bad answers must not stop a study):
a study with such answers in every kind of file loads, is counted, validates with warnings,
and scores equal to the oracle (tests/oracle_usi.py), which scores them as missing as spec
usi.md §6 says."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from usersim_utils import data, paths, schema, scoring, trajectories
from usersim_utils.data import cli
from usersim_utils.errors import DataError, DataWarning

import oracle_usi as oracle
from spoiled_study import TAU_BENCH_LABEL, write_spoiled_study

TOL = 1e-9
ORACLE_NAMES = {"D1": "D1_conv", "D2": "D2_info", "D3": "D3_clarif", "D4": "D4_react", "eval": "eval_agree",
                "ece": "ece", "usi": "usi"}


@pytest.fixture(scope="module")
def spoiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Counter]]:
    root = tmp_path_factory.mktemp("spoiled") / "tau-usi"
    return root, write_spoiled_study(root)


def _rollout_files(root: Path) -> list[Path]:
    return sorted((root / "eval_results").glob("*.json"))


def _load(path: Path, warnings: list[DataWarning]) -> dict[str, dict]:
    kind = data.detect_kind(data.read_json(path), path)
    if kind == "human":
        return data.load_human_sessions(path, warnings=warnings)
    if kind == "survey":
        return data.load_survey_records(path, warnings=warnings)
    return data.load_eval_results(path, warnings=warnings)


def test_every_kind_of_file_has_invalid_answers_and_keeps_every_record(spoiled) -> None:
    root, expected = spoiled
    kinds_with_invalid = set()
    for path in [root / paths.HUMAN_FILE, *_rollout_files(root), *sorted((root / "survey_data").glob("*.json"))]:
        found: list[DataWarning] = []
        records = _load(path, found)
        raw = json.loads(path.read_text())
        assert len(records) == len(raw), path.name  # nothing dropped
        got = Counter(w.field for w in found)
        assert got == expected[path.name], path.name
        assert all(w.file == str(path) and w.record in records for w in found)
        if found:
            kinds_with_invalid.add(data.detect_kind(raw, path))
    assert kinds_with_invalid == {"human", "eval_results", "survey", "tau_bench"}
    assert sum(expected["survey_comparable_human-eval-100.json"].values()) > 0


def test_strict_turns_the_first_invalid_answer_into_an_error(spoiled) -> None:
    root, _ = spoiled
    human = root / paths.HUMAN_FILE
    found: list[DataWarning] = []
    data.load_human_sessions(human, warnings=found)
    with pytest.raises(DataError) as info:
        data.load_human_sessions(human, strict=True)
    assert str(info.value) == str(found[0])
    tau_bench = root / "eval_results" / f"{TAU_BENCH_LABEL}.json"
    with pytest.raises(DataError, match="is not one of the options"):
        data.load_eval_results(tau_bench, strict=True)


def test_spoiled_study_scores_equal_to_the_oracle(spoiled) -> None:
    root, _ = spoiled
    files = _rollout_files(root)
    scores = scoring.score_files(root, files, survey_dir=root / "survey_data")

    # The oracle reads the raw JSON itself (the tau-bench file through the converter).
    def raw(path: Path) -> dict:
        obj = json.loads(path.read_text())
        return trajectories.from_tau_bench(obj, file=path) if isinstance(obj, list) else obj

    human = raw(root / paths.HUMAN_FILE)
    sims = {schema.label_of(f): raw(f) for f in files}
    surveys = {label: raw(root / "survey_data" / f"survey_comparable_{label}.json") for label in sims
               if (root / "survey_data" / f"survey_comparable_{label}.json").exists()}
    difficulty = oracle.difficulty(sims.values())
    rerating = raw(root / "survey_data" / "survey_comparable_human-eval-100.json")
    expected = {"human": oracle.score_human(human, difficulty, oracle.ceiling_eval(human, rerating))}
    for label, sim in sims.items():
        expected[label] = oracle.score_sim(human, sim, difficulty, oracle.sim_eval(human, surveys.get(label)))

    assert sorted(s.name for s in scores) == sorted(expected)
    assert expected[TAU_BENCH_LABEL]["eval"] is not None and expected["human"]["eval"] is not None
    for score in scores:
        for key, metric in ORACLE_NAMES.items():
            ours, theirs = score.cells[metric], expected[score.name][key]
            if theirs is None:
                assert ours is None, (score.name, metric)
            else:
                assert ours is not None and all(
                    math.isclose(a, b, rel_tol=0, abs_tol=TOL) for a, b in zip(ours, theirs)
                ), (score.name, metric, ours, theirs)


def test_study_counts_invalid_answers_by_file_and_field(spoiled) -> None:
    root, expected = spoiled
    study = data.load_study(root)
    table = study.invalid_answers
    assert list(table.columns) == list(data.WARNING_COUNT_COLUMNS)
    read = [paths.HUMAN_FILE.name, *(p.name for p in sorted((root / "survey_data").glob("*.json")))]
    want = {(file, field): n for file in read for field, n in expected[file].items()}
    assert {(r.file, r.field): r.n for r in table.itertuples()} == want
    # the human file comes first (read first); the rollout files are not read by the study
    assert table["file"].iloc[0] == paths.HUMAN_FILE.name
    assert not table["file"].str.startswith("eval_results").any()
    assert len(study.warnings) == sum(want.values())
    assert f"invalid survey answers (kept, scored as missing): {len(study.warnings)}" in cli.describe_study(study)


def test_cli_validate_lists_warnings_caps_them_and_exits_0(spoiled, capsys: pytest.CaptureFixture[str]) -> None:
    root, expected = spoiled
    human = root / paths.HUMAN_FILE
    n = sum(expected[human.name].values())
    assert n > cli.MAX_WARNING_LINES
    assert cli.main(["validate", str(human)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{human}: valid human-study file\n")
    assert f"({n - 1} of them not an option, skipped by the index)" in out  # the free-text one is not ordinal
    lines = err.splitlines()
    assert len(lines) == cli.MAX_WARNING_LINES + 1
    assert all(line.startswith(f"warning: {human}: record '") and "field 'survey." in line for line in lines[:-1])
    assert lines[-1] == f"warning: ... and {n - cli.MAX_WARNING_LINES} more warnings"

    assert cli.main(["validate", "--strict", str(human)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err == lines[0].replace("warning: ", "error: ", 1) + "\n"


@pytest.mark.parametrize("name", ["survey_comparable_human-eval-100.json", f"{TAU_BENCH_LABEL}.json"])
def test_cli_validate_warns_for_other_kinds(spoiled, capsys: pytest.CaptureFixture[str], name: str) -> None:
    root, expected = spoiled
    path = next(root.rglob(name))
    assert cli.main(["validate", str(path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == min(sum(expected[name].values()), cli.MAX_WARNING_LINES + 1)
    assert err[0].startswith(f"warning: {path}: record '") and "is not one of the options" in err[0]
