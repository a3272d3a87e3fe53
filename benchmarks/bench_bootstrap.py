"""How long do 1,000 bootstrap resamples of the full leaderboard take?

The study's size: 31 simulators x 3 runs x 165 tasks against 495 human sessions
(about 16,000 conversations), each simulator with Eval agreements. The features
tables are generated with random feature values (:func:`usersim_utils.demo.feature_tables.synthetic_tables`;
no regex features: resampling never recomputes them), then timed from tables to
intervals: per-task arrays, 1,000 resamples + the jackknife of every cell of every
simulator and of the human ceiling, the three interval tables and the ranking.
The issue's bound: under 60 s on 2 cores.

    .venv/bin/python benchmarks/bench_bootstrap.py [--simulators 31] [--n-boot 1000]

The last line printed is JSON (read by tests/test_uncertainty.py).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd

from usersim_utils import stats, usi
from usersim_utils import uncertainty as unc
from usersim_utils.demo.feature_tables import synthetic_tables


def synthetic_agreements(rng: np.random.Generator, human: pd.DataFrame) -> pd.DataFrame:
    """Per-task agreements (as :func:`usi.eval_agreements` returns) for every kept human session."""
    kept = human.loc[human["keep"]]
    return pd.DataFrame({"batch": kept["batch"].to_numpy(), "task_key": kept["task_key"].to_numpy(),
                         "agreement": rng.uniform(40.0, 100.0, len(kept))})


def time_bootstrap(n_simulators: int, n_boot: int, seed: int = 0) -> dict[str, float]:
    """Seconds of each step, from features tables in memory to intervals and ranks."""
    rng = np.random.default_rng(seed)
    human, sims = synthetic_tables(rng, n_simulators=n_simulators)
    agreements = {label: synthetic_agreements(rng, human) for label in sims}
    times: dict[str, float] = {}
    start = time.perf_counter()
    # Small pools (a quick run) keep a difficulty for every task: 3 runs per simulator.
    difficulty = usi.pooled_difficulty(sims.values(), min_samples=min(usi.MIN_DIFFICULTY_SAMPLES, 3 * n_simulators))
    panel = unc.build_task_arrays(human, sims, agreements=agreements)
    times["panel_s"] = time.perf_counter() - start
    result = unc.bootstrap(panel, difficulty, np.random.default_rng(seed), n_boot=n_boot)
    times["resamples_s"] = time.perf_counter() - start - times["panel_s"]
    for method in stats.METHODS:
        unc.intervals(result, method=method)
    unc.rank_summary(result)
    times["total_s"] = time.perf_counter() - start
    times["conversations"] = len(human) + sum(len(t) for t in sims.values())
    times["simulators"] = n_simulators
    times["n_boot"] = n_boot
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulators", type=int, default=31)
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args()
    result = time_bootstrap(args.simulators, args.n_boot)
    print(f"{result['n_boot']} resamples of {result['simulators']} simulators + the human ceiling "
          f"({result['conversations']} conversations) on {os.cpu_count()} cores: "
          f"{result['total_s']:.1f} s (panel {result['panel_s']:.2f} s, resamples {result['resamples_s']:.1f} s)")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
