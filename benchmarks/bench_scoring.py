"""How long does scoring a full leaderboard take?

The study's size: 31 simulators x 3 runs x 165 tasks against 495 human sessions
(about 16,000 conversations). Conversations are drawn, with replacement, from the
SYNTHETIC demo panel and re-keyed to the full task set, so the text is realistic for
the lexicons. Each user turn gets a unique suffix so that the per-turn cache of
:mod:`usersim_utils.features` cannot flatter the figure (real files rarely repeat a
turn). Single process (one core).

    .venv/bin/python benchmarks/bench_scoring.py [--simulators 31]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from usersim_utils import data, demo, features, ids, schema, usi


def _unique_turns(record: dict, tag: str) -> dict:
    conversation = [
        {**m, "content": f"{m['content']} {tag}"} if m.get("role") == "user" else m
        for m in record["conversation"]
    ]
    return {**record, "conversation": conversation}


def full_size_panel(rng: np.random.Generator, n_simulators: int = 31) -> dict:
    """``{"human": records, "sims": {label: records}, "surveys": {label: records}}`` at full size."""
    study = data.resolve_study(demo.ensure_demo_panel())
    human_pool = list(study.records.values())
    sim_pool = [r for p in study.eval_results.values() for r in data.load_eval_results(p).values()]
    survey_pool = [r for p in study.simulator_surveys.values() for r in data.load_survey_records(p).values()]
    tasks = ids.parse_task_spec("all")
    human = {}
    for suffix in schema.BATCH_SUFFIX.values():
        for t in tasks:
            human[t + suffix] = _unique_turns(human_pool[int(rng.integers(len(human_pool)))], f"h{len(human)}")
    sims, surveys = {}, {}
    for s in range(n_simulators):
        label = f"sim{s:02d}"
        sims[label] = {
            f"{t}_{run}": {**_unique_turns(sim_pool[int(rng.integers(len(sim_pool)))], f"s{s}r{run}{t}"),
                           "reward": float(rng.random() < 0.5)}
            for run in (1, 2, 3) for t in tasks
        }
        surveys[label] = {t + suffix: survey_pool[int(rng.integers(len(survey_pool)))]
                          for suffix in schema.BATCH_SUFFIX.values() for t in tasks}
    return {"human": human, "sims": sims, "surveys": surveys}


def time_scoring(panel: dict) -> dict[str, float]:
    """Seconds for features, Eval and the index, from records in memory."""
    features._turn_flags.cache_clear()
    start = time.perf_counter()
    human = features.features_table(panel["human"], source="human", label="human")
    sims = {k: features.features_table(v, source="llm", label=k) for k, v in panel["sims"].items()}
    t_features = time.perf_counter()
    evals = {k: usi.eval_cell(usi.eval_agreements(panel["human"], panel["surveys"][k])) for k in sims}
    # small pools (a quick run with few simulators) lower the 10-sample floor so ECE exists
    difficulty = usi.pooled_difficulty(sims.values(), min_samples=min(10, 3 * len(sims)))
    scores = usi.score_all(human, sims, difficulty, evals=evals)
    end = time.perf_counter()
    assert all(s.cells["usi"] is not None for s in scores)
    n = len(human) + sum(len(t) for t in sims.values())
    return {"conversations": n, "features_s": t_features - start, "index_s": end - t_features, "total_s": end - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulators", type=int, default=31)
    args = parser.parse_args()
    panel = full_size_panel(np.random.default_rng(0), args.simulators)
    print(json.dumps({k: round(v, 2) for k, v in time_scoring(panel).items()}))


if __name__ == "__main__":
    main()
