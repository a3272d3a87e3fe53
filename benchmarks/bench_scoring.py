"""How long does ``usersim-usi`` take on a full-size study, against a naive reading of the spec?

The study's size: 31 simulators x 3 runs x 165 tasks against 495 human sessions
(about 16,000 conversations, with surveys and the human re-ratings), written as FILES
in the released layout into a temporary folder. Conversations are drawn, with
replacement, from the SYNTHETIC demo panel and re-keyed to the full task set, so the
text is realistic for the lexicons. Each user turn gets a unique suffix so that no
per-turn cache can flatter the figure (real files rarely repeat a turn).

Timed in the same run, one process (one core):

* ``naive``: ``benchmarks/naive_usi.py`` (json.load and plain loops over the records);
* ``cold``: the command (``scoring.main``: reading, validation, features, Eval, index),
  its features cache empty (the entries are written on the way);
* ``warm``: the command again, cache filled, once per rescoring the calibration loop does:
  the same files with another ``--difficulty`` and a subset of the simulators.

The numbers of cold and warm must equal the naive reading's to 1e-9 (checked). Prints
one JSON line: seconds and the ratios to naive.

    .venv/bin/python benchmarks/bench_scoring.py [--simulators 31]
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

import naive_usi
import numpy as np

from usersim_utils import data, demo, features, ids, schema, scoring

#: Leaderboard cells compared with the naive reading: package metric -> naive name.
CELLS = {"D1_conv": "D1", "D2_info": "D2", "D3_clarif": "D3", "D4_react": "D4", "eval_agree": "eval",
         "ece": "ece", "usi": "usi"}


def _unique_turns(record: dict, tag: str) -> dict:
    conversation = [
        {**m, "content": f"{m['content']} {tag}"} if m.get("role") == "user" else m
        for m in record["conversation"]
    ]
    return {**record, "conversation": conversation}


def full_size_files(rng: np.random.Generator, n_simulators: int = 31) -> dict[str, object]:
    """``{relative path: JSON object}`` of a study of the full size, in the released layout."""
    study = data.resolve_study(demo.ensure_demo_panel())
    human_pool = list(study.records.values())
    sim_pool = [r for p in study.eval_results.values() for r in data.load_eval_results(p).values()]
    survey_pool = [r for p in study.simulator_surveys.values() for r in data.load_survey_records(p).values()]
    tasks = ids.parse_task_spec("all")
    human = {}
    for suffix in schema.BATCH_SUFFIX.values():
        for t in tasks:
            human[t + suffix] = _unique_turns(human_pool[int(rng.integers(len(human_pool)))], f"h{len(human)}")
    files: dict[str, object] = {schema.HUMAN_FILE.as_posix(): human}
    rerating = data.load_survey_records(study.rerating_path)
    files[f"{schema.SURVEY_SUBDIR}/{schema.survey_name(schema.RERATING_LABEL)}"] = {
        t: list(rerating.values())[int(rng.integers(len(rerating)))] for t in tasks[:100]}
    for s in range(n_simulators):
        label = f"sim{s:02d}"
        files[f"{schema.EVAL_RESULTS_SUBDIR}/{schema.eval_results_name(label)}"] = {
            f"{t}_{run}": {**_unique_turns(sim_pool[int(rng.integers(len(sim_pool)))], f"s{s}r{run}{t}"),
                           "reward": float(rng.random() < 0.5)}
            for run in (1, 2, 3) for t in tasks
        }
        files[f"{schema.SURVEY_SUBDIR}/{schema.survey_name(label)}"] = {
            t + suffix: survey_pool[int(rng.integers(len(survey_pool)))]
            for suffix in schema.BATCH_SUFFIX.values() for t in tasks}
    return files


def full_size_panel(rng: np.random.Generator, n_simulators: int = 31) -> dict[str, dict]:
    """The study of :func:`full_size_files` as records, which the other benchmarks take:
    ``{"human": records, "sims": {label: records}, "surveys": {label: records}}``."""
    files = full_size_files(rng, n_simulators)
    labels = [f"sim{s:02d}" for s in range(n_simulators)]
    eval_file = {label: f"{schema.EVAL_RESULTS_SUBDIR}/{schema.eval_results_name(label)}" for label in labels}
    return {"human": files[schema.HUMAN_FILE.as_posix()],
            "sims": {label: files[eval_file[label]] for label in labels},
            "surveys": {label: files[f"{schema.SURVEY_SUBDIR}/{schema.survey_name(label)}"] for label in labels}}


def write_study(files: dict[str, object], root: Path) -> int:
    """Write ``files`` under ``root`` as the study's JSON (like the demo writer); returns the bytes."""
    total = 0
    for rel, obj in files.items():
        payload = (json.dumps(obj, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(payload)
        total += len(payload)
    return total


def _command(root: Path, eval_files: list[Path], out: Path, *extra: str) -> tuple[float, dict[str, dict]]:
    """Seconds of one ``usersim-usi`` run (output swallowed), and its rows by name."""
    argv = ["--human", str(root), "--eval-results", *map(str, eval_files),
            "--survey-dir", str(root / schema.SURVEY_SUBDIR), "--json", str(out), *extra]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = scoring.main(argv)
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"usersim-usi failed with exit code {code}")
    return seconds, {row["name"]: row for row in json.loads(out.read_text())}


def largest_difference(rows: dict[str, dict], naive: dict[str, dict]) -> float:
    """The largest |package - naive| over every cell (mean and std) of every row shared."""
    worst = 0.0
    for name, row in rows.items():
        for metric, theirs in CELLS.items():
            mine, ref = row[metric], naive[name][theirs]
            if (mine is None) != (ref is None):
                return math.inf
            if mine is not None:
                worst = max(worst, *(abs(a - b) for a, b in zip(mine, ref)))
    return worst


def run(n_simulators: int, folder: Path) -> dict[str, float]:
    """Write the study under ``folder``, then time naive, cold and warm scoring of it."""
    n_bytes = write_study(full_size_files(np.random.default_rng(0), n_simulators), folder)
    eval_files = sorted((folder / schema.EVAL_RESULTS_SUBDIR).glob(schema.EVAL_RESULTS_GLOB))
    cache = folder / "cache"
    start = time.perf_counter()
    naive = naive_usi.score_study(folder / schema.HUMAN_FILE, eval_files, folder / schema.SURVEY_SUBDIR)
    naive_s = time.perf_counter() - start
    features._turn_flags.cache_clear()  # a fresh process would start without it
    cold_s, cold = _command(folder, eval_files, folder / "cold.json", "--cache-dir", str(cache))
    warm_all_s, warm = _command(folder, eval_files, folder / "warm.json", "--cache-dir", str(cache))
    warm_published_s, _ = _command(folder, eval_files, folder / "published.json", "--cache-dir", str(cache),
                                   "--difficulty", "published")
    warm_subset_s, _ = _command(folder, eval_files[: max(1, len(eval_files) // 3)], folder / "subset.json",
                                "--cache-dir", str(cache), "--difficulty", "published")
    warm_s = max(warm_all_s, warm_published_s, warm_subset_s)
    return {
        "conversations": 495 + n_simulators * 3 * 165,
        "megabytes": n_bytes / 1e6,
        "naive_s": naive_s, "cold_s": cold_s, "warm_s": warm_s,
        "warm_same_s": warm_all_s, "warm_published_s": warm_published_s, "warm_subset_s": warm_subset_s,
        "cold_ratio": cold_s / naive_s, "warm_ratio": warm_s / naive_s,
        "cold_vs_naive_max_diff": largest_difference(cold, naive),
        "warm_vs_naive_max_diff": largest_difference(warm, naive),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulators", type=int, default=31)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp:
        result = run(args.simulators, Path(tmp))
    print(json.dumps({k: round(v, 4) for k, v in result.items()}))
    if max(result["cold_vs_naive_max_diff"], result["warm_vs_naive_max_diff"]) > 1e-9:
        sys.exit("the package's numbers differ from the naive reading's by more than 1e-9")


if __name__ == "__main__":
    main()
