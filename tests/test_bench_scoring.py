"""The scoring benchmark runs and agrees with its naive reading; the features cache gives the
numbers of a cold run, and a changed file, lexicon or version, or a bad entry, is recomputed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from usersim_utils import data, features, paths, scoring, usi

BENCH = paths.REPO_ROOT / "benchmarks" / "bench_scoring.py"


def _bench(n_simulators: int) -> dict:
    out = subprocess.run([sys.executable, str(BENCH), "--simulators", str(n_simulators)],
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_benchmark_agrees_with_the_naive_reading_on_a_small_leaderboard() -> None:
    result = _bench(4)  # 4 x 3 runs: enough pooled entries for every task's difficulty
    assert result["conversations"] == 495 + 4 * 3 * 165
    assert result["cold_vs_naive_max_diff"] <= 1e-9 and result["warm_vs_naive_max_diff"] <= 1e-9
    assert 0 < result["warm_s"] < result["cold_s"]


@pytest.mark.slow
@pytest.mark.bench
def test_full_leaderboard_cold_and_warm_against_the_naive_reading() -> None:
    result = _bench(31)
    assert result["conversations"] == 495 + 31 * 3 * 165
    assert result["warm_ratio"] <= 0.05, result
    assert result["cold_ratio"] <= 0.25, result


# --- The cache (small files of the demo panel, a temporary cache folder). ----------------------------
@pytest.fixture()
def study(demo_study, tmp_path: Path) -> Path:
    """A copy of the demo panel's human file, two simulator files and their surveys."""
    root = tmp_path / "study"
    for rel in [data.human_file(demo_study.root).relative_to(demo_study.root),
                *(p.relative_to(demo_study.root) for p in list(demo_study.eval_results.values())[:2]),
                *(p.relative_to(demo_study.root) for p in list(demo_study.simulator_surveys.values())[:2])]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes((demo_study.root / rel).read_bytes())
    return root


def _score(root: Path, cache: data.ScoreCache | None) -> list[usi.Score]:
    inputs = data.load_inputs(root, sorted((root / "eval_results").glob("*.json")), survey_dir=root / "survey_data",
                              cache=cache)
    return usi.score_all(inputs.human, inputs.simulators, usi.pooled_difficulty(inputs.simulators.values(),
                                                                                min_samples=1),
                         evals=inputs.evals, ceiling_eval=inputs.ceiling_eval)


def _rows(scores: list[usi.Score]) -> list[dict]:
    return [s.to_json() for s in scores]


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_warm_scores_equal_cold_ones_and_read_no_file_again(study: Path, tmp_path: Path, monkeypatch) -> None:
    cache = data.ScoreCache(tmp_path / "cache")
    cold = _rows(_score(study, None))
    assert _rows(_score(study, cache)) == cold
    assert len([n for n in _entries(tmp_path / "cache") if n.endswith(".parquet")]) == 3  # human + 2 simulators
    monkeypatch.setattr(data.inputs, "features_table", lambda *a, **k: pytest.fail("features recomputed"))
    monkeypatch.setattr(usi, "eval_agreements", lambda *a, **k: pytest.fail("Eval recomputed"))
    assert _rows(_score(study, cache)) == cold


def test_cached_table_is_the_computed_table(study: Path, tmp_path: Path) -> None:
    files = sorted((study / "eval_results").glob("*.json"))
    fresh = data.load_inputs(study, files)
    data.load_inputs(study, files, cache=data.ScoreCache(tmp_path / "cache"))
    cached = data.load_inputs(study, files, cache=data.ScoreCache(tmp_path / "cache"))
    pd.testing.assert_frame_equal(cached.human, fresh.human)
    for label, table in fresh.simulators.items():
        pd.testing.assert_frame_equal(cached.simulators[label], table)
    assert cached.human_records == fresh.human_records


def _recomputed(study: Path, cache: data.ScoreCache, monkeypatch) -> int:
    """How many features tables a scoring with ``cache`` computes."""
    calls = []
    real = data.inputs.features_table
    monkeypatch.setattr(data.inputs, "features_table", lambda *a, **k: calls.append(1) or real(*a, **k))
    _score(study, cache)
    monkeypatch.setattr(data.inputs, "features_table", real)
    return len(calls)


def test_a_changed_file_is_recomputed(study: Path, tmp_path: Path, monkeypatch) -> None:
    cache = data.ScoreCache(tmp_path / "cache")
    _score(study, cache)
    sim = sorted((study / "eval_results").glob("*.json"))[0]
    records = json.loads(sim.read_text())
    first = next(iter(records.values()))
    first["conversation"].append({"role": "user", "content": "thank you, that is all"})
    sim.write_text(json.dumps(records))
    assert _recomputed(study, cache, monkeypatch) == 1
    assert _rows(_score(study, cache)) == _rows(_score(study, None))


def test_a_changed_lexicon_or_version_is_another_entry(study: Path, tmp_path: Path, monkeypatch) -> None:
    _score(study, data.ScoreCache(tmp_path / "cache"))
    assert _recomputed(study, data.ScoreCache(tmp_path / "cache"), monkeypatch) == 0
    assert _recomputed(study, data.ScoreCache(tmp_path / "cache", version="0.0.0-other"), monkeypatch) == 3
    monkeypatch.setitem(features.LEXICONS, "POLITE", features.POLITE + "|cheers")
    assert _recomputed(study, data.ScoreCache(tmp_path / "cache"), monkeypatch) == 3


@pytest.mark.parametrize("damage", ["truncate", "garble", "swap"])
def test_a_bad_entry_is_recomputed_not_trusted(study: Path, tmp_path: Path, monkeypatch, damage: str) -> None:
    folder = tmp_path / "cache"
    cold = _rows(_score(study, data.ScoreCache(folder)))
    tables = sorted(folder.glob("*.parquet"))
    cells = sorted(folder.glob("*.json"))
    if damage == "truncate":
        for path in [*tables, *cells]:
            path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif damage == "garble":
        for path in [*tables, *cells]:
            path.write_bytes(b"\x00not an entry" * 10)
    else:  # one entry's bytes under another's name: well-formed, but not that entry
        tables[0].write_bytes(tables[1].read_bytes())
        cells[0].write_bytes(cells[1].read_bytes())
    assert _recomputed(study, data.ScoreCache(folder), monkeypatch) >= 1
    assert _rows(_score(study, data.ScoreCache(folder))) == cold


def test_command_no_cache_writes_nothing_and_cache_dir_fills(study: Path, tmp_path: Path, capsys) -> None:
    files = [str(p) for p in sorted((study / "eval_results").glob("*.json"))]
    argv = ["--human", str(study), "--eval-results", *files, "--survey-dir", str(study / "survey_data"),
            "--difficulty", "published"]
    assert scoring.main([*argv, "--no-cache", "--cache-dir", str(tmp_path / "none")]) == 0
    cold = capsys.readouterr().out
    assert not (tmp_path / "none").exists()
    assert scoring.main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 0
    assert scoring.main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().out == cold * 2
    assert _entries(tmp_path / "cache")


def test_the_default_cache_is_git_ignored() -> None:
    assert data.DEFAULT_CACHE_DIR.is_relative_to(paths.REPO_ROOT / "data" / "processed") or \
        not data.DEFAULT_CACHE_DIR.is_relative_to(paths.REPO_ROOT)
    assert "data/processed/" in (paths.REPO_ROOT / ".gitignore").read_text().splitlines()
