"""How long does the diversity command take on a study of the paper's size?

31 simulators x 3 runs x 165 tasks against 495 human sessions (about 16,000
conversations): the full-size panel of ``bench_scoring.py`` (demo conversations re-keyed,
every user turn made unique) written to files by ``bench_baselines.write_study``, then
``python -m usersim_utils.diversity`` timed in-process from files to JSON: loading and
validation, tokens, MATTR, MTLD and HD-D of every conversation, the equal-size subsamples,
TF-IDF and 1,000 paired task resamples of every simulator. With ``--one-run`` every
simulator keeps its first run only (the humans are then subsampled to one session per task,
the costlier layout). The issue's bound: under 60 s on 2 cores.

    .venv/bin/python benchmarks/bench_diversity.py [--simulators 31] [--n-boot 1000] [--one-run]

The last line printed is JSON (read by tests/test_diversity.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_baselines import write_study  # noqa: E402  (sibling scripts, not a package)

from usersim_utils import diversity  # noqa: E402

from bench_scoring import full_size_panel  # noqa: E402


def first_runs(panel: dict) -> dict:
    """The panel with each simulator's run 1 only."""
    sims = {label: {k: r for k, r in records.items() if k.endswith("_1")} for label, records in panel["sims"].items()}
    return {**panel, "sims": sims}


def time_command(n_simulators: int, n_boot: int, *, one_run: bool = False, seed: int = 0) -> dict[str, float]:
    """Seconds of ``python -m usersim_utils.diversity`` on files of the full study size."""
    rng = np.random.default_rng(seed)
    panel = full_size_panel(rng, n_simulators)
    panel = first_runs(panel) if one_run else panel
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "study"
        files = write_study(panel, root, rng)
        out = Path(tmp) / "diversity.json"
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = diversity.main(["--human", str(root), "--eval-results", *map(str, files), "--json", str(out),
                                   "--n-boot", str(n_boot), "--seed", str(seed)])
        total = time.perf_counter() - start
        if code != 0:
            raise SystemExit(f"the command failed with exit code {code}")
        rows = json.loads(out.read_text())
    n = len(panel["human"]) + sum(len(v) for v in panel["sims"].values())
    return {"conversations": n, "simulators": n_simulators, "n_boot": n_boot, "rows": len(rows), "total_s": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulators", type=int, default=31)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--one-run", action="store_true", help="keep each simulator's first run only")
    args = parser.parse_args()
    result = time_command(args.simulators, args.n_boot, one_run=args.one_run)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
