"""The scoring benchmark runs, and meets its bound at the study's size (issue: < 10 s)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from usersim_utils import paths

BENCH = paths.REPO_ROOT / "benchmarks" / "bench_scoring.py"


def _bench(n_simulators: int) -> dict:
    out = subprocess.run([sys.executable, str(BENCH), "--simulators", str(n_simulators)],
                         capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_benchmark_runs_on_a_small_leaderboard() -> None:
    result = _bench(2)
    assert result["conversations"] == 495 + 2 * 3 * 165
    assert 0 < result["features_s"] < result["total_s"]


@pytest.mark.slow
@pytest.mark.bench
def test_full_leaderboard_scores_in_under_ten_seconds() -> None:
    result = _bench(31)
    assert result["conversations"] == 495 + 31 * 3 * 165
    assert result["total_s"] < 10.0, result
