"""How long does the matched-baselines command take on a study of the paper's size?

31 simulators x 3 runs x 165 tasks against 495 human sessions (about 16,000
conversations), every simulator with a survey file, plus the human re-ratings:
the full-size panel of ``bench_scoring.py`` (demo conversations re-keyed, every user
turn made unique) written to files, then ``python -m usersim_utils.baselines`` timed
in-process from files to JSON: loading and validation, features, every Eval
agreement, the per-task arrays and 1,000 task resamples of every simulator and the
ceiling. The issue's bound: under 60 s on 2 cores.

    .venv/bin/python benchmarks/bench_baselines.py [--simulators 31] [--n-boot 1000]

The last line printed is JSON (read by tests/test_baselines.py).
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
from usersim_utils import baselines, features, paths, schema  # noqa: E402

from bench_scoring import full_size_panel  # noqa: E402  (a sibling script, not a package)


def write_study(panel: dict, root: Path, rng: np.random.Generator) -> list[Path]:
    """The panel as the dataset's files under ``root``; returns the eval_results files."""
    human_file = root / paths.HUMAN_FILE
    human_file.parent.mkdir(parents=True)
    human_file.write_text(json.dumps(panel["human"]))
    (root / paths.EVAL_RESULTS_SUBDIR).mkdir()
    (root / paths.SURVEY_SUBDIR).mkdir()
    files = []
    for label, records in panel["sims"].items():
        file = root / paths.EVAL_RESULTS_SUBDIR / schema.eval_results_name(label)
        file.write_text(json.dumps(records))
        files.append(file)
        (root / paths.SURVEY_SUBDIR / schema.survey_name(label)).write_text(json.dumps(panel["surveys"][label]))
    batch1 = [k for k in panel["human"] if not k.endswith(schema.BATCH_SUFFIXES)]
    surveys = list(panel["surveys"].values())[0]
    rerating = {k: surveys[str(rng.choice(list(surveys)))] for k in batch1[:100]}
    (root / paths.SURVEY_SUBDIR / schema.survey_name(schema.RERATING_LABEL)).write_text(json.dumps(rerating))
    return files


def time_command(n_simulators: int, n_boot: int, seed: int = 0) -> dict[str, float]:
    """Seconds of ``python -m usersim_utils.baselines`` on files of the full study size."""
    rng = np.random.default_rng(seed)
    panel = full_size_panel(rng, n_simulators)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "study"
        files = write_study(panel, root, rng)
        out = Path(tmp) / "baselines.json"
        features._turn_flags.cache_clear()
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = baselines.main(["--human", str(root), "--eval-results", *map(str, files),
                                   "--survey-dir", str(root / paths.SURVEY_SUBDIR), "--difficulty", "all",
                                   "--json", str(out), "--n-boot", str(n_boot), "--seed", str(seed)])
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
    args = parser.parse_args()
    result = time_command(args.simulators, args.n_boot)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
