"""How long does the classifier two-sample test take on the whole study?

The study's size: 31 simulators x 3 runs x 165 tasks against 495 human sessions
(about 16,000 conversations), built exactly as ``bench_scoring.py`` builds its panel
(conversations drawn from the SYNTHETIC demo panel, re-keyed to the 165 tasks, each
user turn made unique). The files are written to a temporary folder, then the command
``python -m usersim_utils.distinguish`` runs on them in this process, end to end:
reading and validating, the 19 features, and 32 cross-validated classifiers with their
permutation importances and task bootstraps. With ``--text`` the text test runs too
(timed separately; the bound is for the behavioural test the command runs by default);
with ``--audit`` the audit command (``python -m usersim_utils.audit``) runs on the same
files, humans included (timed separately too).

    .venv/bin/python benchmarks/bench_distinguish.py [--simulators 31] [--text] [--audit]

Prints one JSON line: conversations, rows, and seconds (wall and CPU).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from usersim_utils import audit, distinguish

from bench_scoring import full_size_panel  # same folder: the scoring benchmark's panel


def write_panel(panel: dict, folder: Path) -> tuple[Path, list[Path]]:
    """The panel as a human-sessions file and one eval_results file per simulator."""
    human = folder / "tau_bench_tasks_unified.json"
    human.write_text(json.dumps(panel["human"]))
    files = []
    for label, records in panel["sims"].items():
        files.append(folder / f"eval_results_{label}.json")
        files[-1].write_text(json.dumps(records))
    return human, files


def _timed(argv: list[str], command=distinguish.main) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    if command(argv) != 0:
        raise SystemExit("the command failed")
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulators", type=int, default=31)
    parser.add_argument("--text", action="store_true", help="also time the text test")
    parser.add_argument("--audit", action="store_true", help="also time the audit command")
    args = parser.parse_args()
    panel = full_size_panel(np.random.default_rng(0), args.simulators)
    with tempfile.TemporaryDirectory() as tmp:
        human, files = write_panel(panel, Path(tmp))
        base = ["--human", str(human), "--eval-results", *map(str, files), "--json", str(Path(tmp) / "rows.json")]
        total_s, cpu_s = _timed(base)
        rows = json.loads((Path(tmp) / "rows.json").read_text())
        result = {"conversations": len(panel["human"]) + sum(len(r) for r in panel["sims"].values()),
                  "rows": len(rows), "total_s": total_s, "cpu_s": cpu_s}
        if args.text:
            with_text_s, _ = _timed([*base, "--text-json", str(Path(tmp) / "text.json")])
            result["text_s"] = with_text_s - total_s
        if args.audit:
            result["audit_s"], _ = _timed(["--eval-results", *map(str, files), "--human", str(human),
                                           "--json", str(Path(tmp) / "audit.json")], audit.main)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
