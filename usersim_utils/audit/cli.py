"""The audit's files and command line (``usersim-audit``, ``python -m usersim_utils.audit``):
read the study and the rollouts, audit every kept conversation of the study's tasks, write
the findings, rates, simulator-minus-human differences and reward gaps."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import command_line, data, demo, feedback, ids, schema, scoring, usi
from ..atomic import write_output
from ..distinguish import load_records
from ..rollout.comparability import protocol_cards
from .rates import flag_rates, rate_differences, reward_gaps
from .rules import FLAGS, audit_records


@dataclass(frozen=True)
class AuditResult:
    """Findings, per-conversation flags, rates, simulator-minus-human differences and reward
    gaps of an audit, and ``notes`` for the reader (records left out, a difficulty map other
    than the one asked for)."""

    findings: pd.DataFrame
    conversations: pd.DataFrame
    rates: pd.DataFrame
    differences: pd.DataFrame
    gaps: pd.DataFrame
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"findings", "rates", "differences", "reward_gaps"}`` as the command line writes
        them (NaN -> null)."""
        def records(table: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                    for row in json.loads(table.to_json(orient="records"))]

        return {"findings": records(self.findings), "rates": records(self.rates),
                "differences": records(self.differences), "reward_gaps": records(self.gaps)}


def in_study(key: str) -> bool:
    """True when ``key``'s task is one of the study's 165 tau-bench test tasks."""
    task = ids.task_key(key)
    if not ids.is_valid_key(task):
        return False
    domain, index = task.split("_")
    return int(index) < ids.N_TASKS[domain]


def split_auditable(records: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Mapping[str, Any]], list[str]]:
    """``(records of the study's tasks, keys of the others)``: only the study's tasks have
    an instruction and gold actions to audit against (tau-trait adds tasks past them)."""
    kept = {k: r for k, r in records.items() if in_study(k)}
    return kept, [k for k in records if k not in kept]


def run(eval_results: Sequence[str | os.PathLike[str]], *, human_path: str | os.PathLike[str] | None = None,
        show_excerpts: bool = False, difficulty: str = "all", domain: str | None = None, seed: int = 0,
        level: float = 0.95) -> AuditResult:
    """Audit files as the command line does. Excerpts are kept when ``show_excerpts`` or
    every input is proven SYNTHETIC demo data (:func:`usersim_utils.demo.is_demo_data`).
    ``difficulty``: a mode of :func:`scoring.resolve_difficulty` (``all`` pools the simulator
    files given). The task resamples come from ``numpy.random.default_rng(seed)``, one child
    each for the rates, the differences and the reward gaps."""
    usi.parse_difficulty_mode(difficulty)  # a bad mode fails before the files are read
    inputs = [*eval_results, *([human_path] if human_path is not None else [])]
    show = show_excerpts or all(demo.is_demo_data(p) for p in inputs)
    human_records, simulators = load_records(human_path, eval_results, domain=domain)
    named = ([(schema.HUMAN_LABEL, "human", human_records)] if human_path is not None else []) + \
        [(label, "llm", records) for label, records in simulators.items()]
    parts, notes = [], []
    for name, source, records in named:
        auditable, skipped = split_auditable(records)
        if skipped:
            notes.append(f"{name}: {len(skipped)} record(s) outside the study's 165 tau-bench tasks not audited "
                         f"(e.g. {skipped[0]})")
        parts.append(audit_records(auditable, source=source, name=name, show_excerpts=show))
    findings = pd.concat([f for f, _ in parts], ignore_index=True)
    conversations = pd.concat([c for _, c in parts], ignore_index=True)
    outcomes = {label: feedback.outcomes_table(records, label=label) for label, records in simulators.items()}
    choice = scoring.resolve_difficulty(difficulty, outcomes, domain=domain)
    if choice.note:
        notes.append(f"reward gaps by difficulty: {choice.note}")
    rng_rates, rng_differences, rng_gaps = np.random.default_rng(seed).spawn(3)
    return AuditResult(findings, conversations, flag_rates(conversations, rng_rates, level=level),
                       rate_differences(conversations, rng_differences, level=level),
                       reward_gaps(conversations, choice.map, rng_gaps, level=level), tuple(notes))


def format_rates(rates: pd.DataFrame) -> str:
    """A plain table: one row per name, one column per flag, ``rate% (count)``."""
    cells = rates.assign(cell=[f"{100 * r:5.1f}% ({c})" for r, c in zip(rates["rate"], rates["count"])])
    wide = cells.pivot(index="name", columns="flag", values="cell").reindex(columns=list(FLAGS))
    wide = wide.reindex(list(dict.fromkeys(rates["name"])))
    return wide.to_string()


def format_differences(differences: pd.DataFrame, level: float = 0.95) -> str:
    """One line per direction: the flags a simulator raises resolved more (less) often than
    people, i.e. whose paired interval excludes 0, with that interval in points; empty
    without people."""
    if differences.empty:
        return ""
    lines = []
    for column, words in (("more_often", "more often"), ("less_often", "less often")):
        found = differences[differences[column]]
        cells = [f"{r.name} {r.flag} {100 * r.diff:+.1f} [{100 * r.low:+.1f}, {100 * r.high:+.1f}]"
                 for r in found.itertuples()]
        lines.append(f"raised {words} than people (simulator minus people, points, paired {level:.0%} interval "
                     f"over tasks): {'; '.join(cells) or 'none'}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``usersim-audit``."""
    panel = command_line.DEMO_PANEL
    p = command_line.command_parser(
        "usersim-audit",
        "Rule-based audit of user-simulator misbehaviour. Also run as python -m usersim_utils.audit.",
        f"usersim-audit --eval-results {panel}/eval_results/*.json --human {panel} --json audit.json",
    )
    data.add_eval_results_argument(p)
    data.add_human_argument(p, required=False, also=" (its rates are shown beside)")
    data.add_json_argument(p, what="the findings, rates, differences and reward gaps")
    p.add_argument("--show-excerpts", action="store_true",
                   help="write the flagged text even for real data (never commit it for the study's human data)")
    data.add_difficulty_argument(p)
    data.add_seed_argument(p, of="the task resamples behind every interval")
    data.add_domain_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        json_out = data.check_output_path(args.json_out) if args.json_out is not None else None
        mode, default_note = scoring.difficulty_mode(args.difficulty, protocol_cards(args.eval_results))
        result = run(args.eval_results, human_path=args.human, show_excerpts=args.show_excerpts,
                     difficulty=mode, domain=args.domain, seed=args.seed)
        if json_out is not None:
            write_output(json_out, json.dumps(result.to_json(), indent=2) + "\n")
    except data.BAD_INPUT as err:
        return data.report_bad_input(err)
    print(format_rates(result.rates), flush=True)
    verdicts = format_differences(result.differences)
    if verdicts:
        print(verdicts, flush=True)
    for note in (default_note, *result.notes):
        if note:
            print(f"note: {note}", file=sys.stderr)
    return 0
