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

With ``--coverage N`` it times nothing and checks the verdicts instead, on N simulated
studies of the study's size with a known answer: ``--rows resampled`` (default) resamples
realistic rows (:func:`usersim_utils.demo.resampled_rows.resampled_tables`: half the rate
values 0, correlated features, task effects shared, a row on both sides), ``--rows
independent`` draws them independently (:func:`usersim_utils.distinguish.known_answer_tables`,
``--task-effect``). ``--kind twin`` (a simulator drawn from the human process: the interval
should cover 0.5 and the p-value fall below 0.05 in at most 5% of studies), ``human`` (the
human reference: likewise) or ``mild`` (a simulator a little more verbose and polite than
people: the interval should cover the mean AUC over the draws). Prints one JSON line:
draws, coverage and rejection rate (p < 0.05) with Monte Carlo standard errors, the share
declared equivalent, the AUCs' mean and standard deviation, the intervals' mean half-width.

    .venv/bin/python benchmarks/bench_distinguish.py --coverage 100 --kind twin [--rows independent --task-effect 0.5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from usersim_utils import audit, distinguish, ids
from usersim_utils.demo.feature_tables import SYNTHETIC_HUMAN_MEANS
from usersim_utils.demo.resampled_rows import resampled_tables

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


#: A simulator a little more verbose and polite than people (AUC about 0.57 at the study's size).
MILD = {**SYNTHETIC_HUMAN_MEANS, "user_words_per_turn": 13.0, "politeness_rate": 0.19}
#: The same difference for resampled rows: its values of the two features scaled.
MILD_SCALE = {"user_words_per_turn": 13.0 / 11.0, "politeness_rate": 0.19 / 0.15}


def _share(hits: list[bool]) -> tuple[float, float]:
    """A share and its Monte Carlo standard error."""
    p = float(np.mean(hits))
    return p, float(np.sqrt(p * (1.0 - p) / len(hits)))


def coverage(n_draws: int, kind: str, rows_kind: str, task_effect: float, seed: int = 0) -> dict:
    """Coverage of the AUC's interval and size of the p-value over ``n_draws`` simulated studies (165 tasks)."""
    tasks = ids.parse_task_spec("all")
    rows = []
    for rng in np.random.default_rng(seed).spawn(n_draws):
        if rows_kind == "resampled":
            human, sim = resampled_tables(rng, tasks, scale=MILD_SCALE if kind == "mild" else None)
        else:
            human, sim = distinguish.known_answer_tables(rng, tasks, MILD if kind == "mild" else
                                                         SYNTHETIC_HUMAN_MEANS, task_effect=task_effect)
        rows.append(distinguish.c2st_human(human, rng) if kind == "human" else
                    distinguish.c2st_simulator(human, sim, kind, rng))
    aucs = np.array([r.auc for r in rows])
    target = float(aucs.mean()) if kind == "mild" else 0.5
    covered, covered_se = _share([r.low <= target <= r.high for r in rows])
    rejected, rejected_se = _share([r.p_value < 0.05 for r in rows])
    return {"kind": kind, "rows": rows_kind, "task_effect": task_effect, "draws": n_draws, "target": target,
            "coverage": covered, "coverage_se": covered_se, "rejection": rejected, "rejection_se": rejected_se,
            "equivalent": float(np.mean([r.equivalent for r in rows])),
            "auc_mean": float(aucs.mean()), "auc_sd": float(aucs.std(ddof=1)),
            "half_width": float(np.mean([(r.high - r.low) / 2 for r in rows])),
            "indistinguishability_mean": float(np.mean([r.indistinguishability for r in rows]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulators", type=int, default=31)
    parser.add_argument("--text", action="store_true", help="also time the text test")
    parser.add_argument("--audit", action="store_true", help="also time the audit command")
    parser.add_argument("--coverage", type=int, metavar="N", help="check the interval on N simulated studies instead")
    parser.add_argument("--kind", choices=("twin", "human", "mild"), default="twin", help="with --coverage")
    parser.add_argument("--rows", choices=("resampled", "independent"), default="resampled",
                        help="with --coverage: how the studies' rows are drawn")
    parser.add_argument("--task-effect", type=float, default=0.0,
                        help="with --coverage --rows independent: task effects' size")
    args = parser.parse_args()
    if args.coverage:
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                          for k, v in coverage(args.coverage, args.kind, args.rows, args.task_effect).items()}))
        return
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
