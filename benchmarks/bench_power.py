"""The power command at the paper's size, and its validation by simulation.

Timing: 31 simulators x 3 runs x 165 tasks against 495 human sessions, with surveys
(the full-size files of ``bench_baselines.py``), ``python -m usersim_utils.power``
timed in-process from files to JSON with its default designs (40, 80 and 165 tasks x 1
and 3 runs, 200 task draws each). The issue's bound: under 60 s on 2 cores.

Validation (``--validate N``): in each layout of ``tests/test_power.py``, N studies
drawn from one known process; the ratio of the spread of a paired USI difference across
independent studies of the design to the mean spread estimated from one study (1 when
the estimate is right), with its Monte Carlo standard error, and the share of pairs
without a true difference that a level-5 % test at the estimated spread rejects.

    .venv/bin/python benchmarks/bench_power.py [--simulators 31] [--validate N]

The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_baselines import write_study  # noqa: E402  (a sibling script, not a package)

from usersim_utils import features, paths, power, usi  # noqa: E402
from usersim_utils import uncertainty as unc  # noqa: E402
from usersim_utils.demo.known_answer import human_process_study  # noqa: E402

from bench_scoring import full_size_panel  # noqa: E402

#: (study tasks, runs in the study, design tasks, design runs, drop rate, zero share, difficulty pool)
LAYOUTS = {
    "165 tasks, 3 runs, 15% dropped, zeros, pooled map": (165, 3, 165, 3, 0.15, 0.5, "pooled"),
    "165 tasks, 1 run, 5% dropped, frozen map": (165, 1, 165, 1, 0.05, 0.0, "frozen"),
    "40 of 165 tasks, 1 of 3 runs, frozen map": (165, 3, 40, 1, 0.0, 0.0, "frozen"),
}
LABELS = ("a", "b", "c", "d")
SHIFTS = {"b": 0.05}


def time_command(n_simulators: int, seed: int = 0) -> dict[str, float]:
    """Seconds of ``python -m usersim_utils.power`` on files of the full study size."""
    rng = np.random.default_rng(seed)
    panel = full_size_panel(rng, n_simulators)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "study"
        files = write_study(panel, root, rng)
        out = Path(tmp) / "power.json"
        features._turn_flags.cache_clear()
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = power.main(["--human", str(root), "--eval-results", *map(str, files),
                               "--survey-dir", str(root / paths.SURVEY_SUBDIR), "--difficulty", "all",
                               "--json", str(out), "--seed", str(seed)])
        total = time.perf_counter() - start
        if code != 0:
            raise SystemExit(f"the command failed with exit code {code}")
        rows = json.loads(out.read_text())
    return {"simulators": n_simulators, "rows": len(rows), "total_s": total}


def _panel(study) -> unc.TaskArrays:
    return unc.build_task_arrays(study.human, study.simulators, agreements=study.agreements,
                                 ceiling_agreements=usi.ceiling_agreements(study.records, study.rerating),
                                 run_split="suffix")


def _difficulty(study, pool: str) -> dict[str, float]:
    return study.difficulty if pool == "frozen" else usi.pooled_difficulty(study.simulators.values())


def validate(layout: str, n_studies: int, seed: int = 0) -> dict[str, float]:
    """Spread ratio (across / estimated) of the USI difference, its Monte Carlo standard
    error (over pairs, from ``n_studies`` studies), and the null pairs' rejection rate."""
    n_tasks, n_runs, tasks, runs, drop, zeros, pool = LAYOUTS[layout]
    rng = np.random.default_rng(seed)
    m = unc.metric_names().index("usi")
    estimated, observed = [], []
    for _ in range(n_studies):
        study = human_process_study(rng, n_tasks, dict.fromkeys(LABELS, n_runs), drop_rate=drop, shifts=SHIFTS,
                                    zero_share=zeros)
        cut = power.with_runs(_panel(study), runs)
        estimated.append(power.pair_spreads(cut, _difficulty(study, pool), tasks, rng)[0][:, m])
        design = human_process_study(rng, tasks, dict.fromkeys(LABELS, runs), drop_rate=drop, shifts=SHIFTS,
                                     zero_share=zeros)
        design_panel = _panel(design)
        scores = unc.score_weights(design_panel, np.ones((1, len(design_panel.tasks))), _difficulty(design, pool))
        observed.append(power.pair_differences(scores)[0, :, m])
    estimated, observed = np.array(estimated), np.array(observed)  # (N, P)
    ratios = np.nanstd(observed, axis=0, ddof=1) / np.nanmean(estimated, axis=0)
    pairs = list(zip(*np.triu_indices(len(LABELS), k=1)))
    null = [p for p, (i, j) in enumerate(pairs) if "b" not in (LABELS[i], LABELS[j])]
    rejected = np.abs(observed[:, null]) > 1.959964 * np.nanmean(estimated[:, null], axis=0)
    return {"layout": layout, "studies": n_studies, "ratio": float(ratios.mean()),
            "ratio_se": 1.0 / math.sqrt(2 * (n_studies - 1)),
            "null_rejection": float(rejected.mean()), "null_rejection_se": math.sqrt(0.05 * 0.95 / rejected.size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulators", type=int, default=31)
    parser.add_argument("--validate", type=int, default=0, metavar="N", help="studies per layout (0: timing only)")
    args = parser.parse_args()
    if args.validate:
        for layout in LAYOUTS:
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                              for k, v in validate(layout, args.validate).items()}))
    result = time_command(args.simulators)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
