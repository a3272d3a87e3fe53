"""``usersim-calibrate``: calibrate a simulator card toward people, proven on held-out tasks.

    usersim-calibrate --card CARD --human PATH [--survey-dir DIR] --out DIR --budget-usd X
        [--rounds N] [--candidates K] [--tune-fraction 0.5] [--proposer rules|MODEL]
        [--seed S] [--runs R] [--tasks SPEC] [--n-boot B] [--dry-run]

Writes into ``--out``: ``split.json`` (before anything is played), ``targets.json``,
``search.json`` (after every rung), ``rollouts/`` (every conversation and the model-call
cache: the same command resumes a killed search), ``chosen/<label>.toml`` with its prompt
and lineage, and ``report.json`` / ``report.txt`` (held-out tasks, read only now).
``--dry-run`` writes nothing and calls no model: the plan, calls, tokens and a low-high
cost, refusing (exit 2) a search whose low estimate is above the budget. Bad input (a bad
card, a budget too small, a failing proposer, an unreadable study) is one ``error:`` line
and exit status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import command_line, data, ids, published
from ..errors import DataError
from ..rollout import card as card_mod
from ..rollout.cache import write_json_atomic
from ..rollout.errors import RolloutError, describe
from ..rollout.runner import MAX_RUNS
from . import budget, cards, report, search, split, targets
from .play import play, rollout_config
from .proposer import ProposerError

REPORT_JSON, REPORT_TEXT, TARGETS_FILE = "report.json", "report.txt", "targets.json"
DEFAULT_ROUNDS, DEFAULT_CANDIDATES = 3, 4


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``usersim-calibrate``."""
    demo = command_line.DEMO_PANEL
    p = command_line.command_parser(
        "usersim-calibrate",
        "Calibrate a simulator card toward people; prove the gain on held-out tasks. Also run as python -m "
        "usersim_utils.calibrate.",
        f"usersim-calibrate --card cards/scripted-polite-verbose.toml --human {demo} --out calibration "
        "--budget-usd 1 --dry-run",
    )
    p.add_argument("--card", type=Path, required=True, help="the starting simulator card (TOML)")
    data.add_human_argument(p)
    p.add_argument("--survey-dir", type=Path, default=None, help="accepted for symmetry with usersim-baselines; "
                   "the people's surveys are read from the human sessions")
    p.add_argument("--out", type=Path, required=True, help="output folder (a rerun resumes there)")
    p.add_argument("--budget-usd", type=float, required=True, help="most the whole search may cost")
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="rounds")
    p.add_argument("--candidates", type=int, default=DEFAULT_CANDIDATES, help="candidates per round")
    p.add_argument("--tune-fraction", type=float, default=0.5, help="share of tasks that tune")
    p.add_argument("--proposer", default="rules", help="rules (deterministic) or a litellm model string")
    data.add_seed_argument(p, of="the split, the personas and the intervals")
    p.add_argument("--runs", type=int, default=MAX_RUNS, help=f"runs per task, 1..{MAX_RUNS}")
    p.add_argument("--tasks", default=None, metavar="SPEC",
                   help="only these study tasks, e.g. 'retail:0-9,airline:0-4' (default: every task people played)")
    p.add_argument("--n-boot", type=int, default=1000, help="task resamples of the final report")
    p.add_argument("--dry-run", action="store_true", help="call no model, write nothing: print the plan and cost")
    return p


def check_args(args: argparse.Namespace) -> None:
    """``ValueError`` (one line) for an argument out of range."""
    if not (math.isfinite(args.budget_usd) and args.budget_usd >= 0):
        raise ValueError(f"--budget-usd must be a number of dollars >= 0, not {args.budget_usd}")
    for name in ("rounds", "candidates", "n_boot"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}")
    if not 1 <= args.runs <= MAX_RUNS:
        raise ValueError(f"--runs must be 1..{MAX_RUNS}, not {args.runs}")


def check_batches(records: dict) -> None:
    """``ValueError`` when people have fewer than two batches: the matched comparison scores a
    run against one batch as one batch against another, so it needs two."""
    batches = {ids.split_batch(k)[1] for k, r in records.items() if r.get("keep", True) is not False}
    if len(batches) < 2:
        raise ValueError(f"the human sessions hold {len(batches)} batch(es); the matched comparison that scores "
                         "candidates needs at least two (a run is scored against one batch as one batch is "
                         "against another)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        check_args(args)
        start = cards.starting_candidate(card_mod.read_card(args.card))
        rollout_config(start, ["retail_0"], 1, Path("."))  # the card must make a valid rollout
        records = data.load_human_sessions(data.human_file(args.human))
        if args.survey_dir is not None:
            data.check_survey_dir(args.survey_dir)
        difficulty = published.published_difficulty()
        tasks = split.human_tasks(records)
        check_batches(records)
        if args.tasks:
            wanted = set(ids.parse_task_spec(args.tasks))
            tasks = [t for t in tasks if t in wanted]
        the_split = split.stratified_split(tasks, difficulty, np.random.default_rng(args.seed), seed=args.seed,
                                           tune_fraction=args.tune_fraction)
        plan = budget.plan(len(the_split.tuning), len(the_split.held_out), rounds=args.rounds,
                           candidates=args.candidates, runs=args.runs)
        one = budget.per_conversation(start, the_split.tuning)
        total = one.scaled(plan.total)
        if args.dry_run:
            for line in budget.dry_run_lines(plan, one, args.budget_usd, rounds=args.rounds,
                                             candidates=args.candidates, runs=args.runs,
                                             n_tuning=len(the_split.tuning), n_held_out=len(the_split.held_out)):
                print(line)
        if not budget.fits(total, args.budget_usd):
            raise ValueError(f"--budget-usd {args.budget_usd:.2f} is too small: the search is estimated at "
                             f"{total.low_usd:.2f}-{total.high_usd:.2f} USD (fewer --rounds, --candidates, --runs "
                             "or --tasks make it smaller)")
        if args.dry_run:
            return 0
        return calibrate(args, start, records, the_split, difficulty, one, plan)
    except ProposerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RolloutError as exc:
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 2
    except (*data.BAD_INPUT, OSError) as exc:
        return data.report_bad_input(exc)


def calibrate(args: argparse.Namespace, start: cards.Candidate, records: dict, the_split: split.Split,
              difficulty: dict, one: budget.Cost, plan: budget.Plan) -> int:
    """The search and the final report (the split is saved first)."""
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot use --out: {exc.strerror or exc}", file=out) from None
    the_split = split.resume_or_save(the_split, out)
    tuning_records, held_out = split.partition(records, the_split)
    rng = np.random.default_rng(args.seed)
    tuning_targets = targets.human_targets(tuning_records, rng)
    write_json_atomic(out / TARGETS_FILE, tuning_targets.to_json())
    reserve = one.low_usd * plan.report
    result = search.run_search(start, tuning_records, tuning_targets, the_split.tuning, difficulty, out, rng,
                               rounds=args.rounds, candidates=args.candidates, runs=args.runs,
                               budget_usd=args.budget_usd, one_conversation=one, report_reserve_usd=reserve,
                               proposer_model=args.proposer, seed=args.seed,
                               progress=lambda line: print(line, file=sys.stderr))
    # the search is over: only now are the held-out tasks opened, played and scored
    held_records = held_out.open()
    played_start = play(result.start, held_out.tasks, args.runs, out, difficulty, seed=args.seed)
    played_chosen = (played_start if result.chosen.label == result.start.label
                     else play(result.chosen, held_out.tasks, args.runs, out, difficulty, seed=args.seed))
    final = report.held_out_report(held_records, played_start, played_chosen, difficulty, rng,
                                   tuning_usi=result.tuning_usi, search_cost_usd=result.spent_usd,
                                   n_boot=args.n_boot)
    final["stopped"] = result.stopped
    card_path = cards.write_card(out / "chosen", result.chosen, lineage(args, result, final))
    final["chosen_card"] = str(card_path)
    write_json_atomic(out / REPORT_JSON, final)
    lines = report.summary_lines(final)
    (out / REPORT_TEXT).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"chosen card: {card_path}")
    return 0


def lineage(args: argparse.Namespace, result: search.SearchResult, final: dict) -> dict:
    """Where the chosen card comes from (written beside it)."""
    card_text = Path(args.card).read_bytes()
    chain, label = [], result.chosen.label
    while label is not None:
        c = result.candidates[label]
        chain.append({"label": c.label, "round": c.round, "origin": c.origin, "values": dict(c.values),
                      "prompt_sha256": c.prompt_sha256, "tuning_usi": result.tuning_usi.get(c.label)})
        label = c.parent
    return {
        "parent_card": str(Path(args.card).resolve()),
        "parent_card_sha256": hashlib.sha256(card_text).hexdigest(),
        "prompt_sha256": result.chosen.prompt_sha256,
        "directives": dict(result.chosen.values),
        "chain": chain,
        "split": {"file": str((Path(args.out) / split.SPLIT_FILE).resolve()), "seed": args.seed,
                  "tune_fraction": args.tune_fraction},
        "scores": {"tuning_usi": result.tuning_usi, "held_out": {k: v["usi"] for k, v in final["cards"].items()},
                   "held_out_gain": final["held_out_gain"], "optimism": final["optimism"]},
        "proposer": args.proposer,
        "rounds": args.rounds, "candidates": args.candidates, "runs": args.runs,
    }

