"""``usersim-baselines``: the design-matched comparison of a study's files, printed and
written as JSON.

    python -m usersim_utils.baselines --human PATH --eval-results FILE [FILE ...]
        [--survey-dir DIR] --difficulty MODE --json OUT [--n-boot N] [--seed S]

What it compares: :mod:`usersim_utils.matched_design`; the rows: :mod:`usersim_utils.matched_comparison`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import command_line, data, schema, scoring, usi
from .atomic import write_output
from .errors import DataError
from .matched_comparison import ROW_KEYS, compare, eval_baselines
from .matched_design import MatchedArrays, build_matched_arrays, leave_own_runs_out, pair_eval_agreements
from .rollout.comparability import protocol_cards


# --- Files. ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BaselineInputs:
    """What :func:`load` read: the matched arrays, the simulators' features tables
    (for a ``self`` difficulty pool) and the human records and re-ratings (Eval baselines)."""

    matched: MatchedArrays
    simulators: dict[str, pd.DataFrame]
    human_records: dict[str, dict]
    rerating: dict[str, dict] | None


def load(
    human_path: str | Path,
    eval_results: Sequence[str | Path],
    *,
    survey_dir: str | Path | None = None,
    run_split: usi.RunSplit = "reference",
    domain: str | None = None,
) -> BaselineInputs:
    """Read the files (:func:`data.load_inputs`), compute every Eval agreement once
    (simulators, re-ratings, human batch pairs) and build the matched arrays."""
    inputs = data.load_inputs(human_path, eval_results, domain=domain)
    agreements: dict[str, pd.DataFrame] = {}
    rerating = None
    if survey_dir is not None:
        folder = Path(survey_dir)
        if not folder.is_dir():
            raise DataError("no such survey folder", file=folder)
        for label in inputs.simulators:
            file = folder / schema.survey_name(label)
            if file.exists():
                agreements[label] = usi.eval_agreements(inputs.human_records, data.load_survey_records(file))
        rerating_file = folder / schema.survey_name(schema.RERATING_LABEL)
        if rerating_file.exists():
            rerating = data.load_survey_records(rerating_file)
    ceiling = usi.ceiling_agreements(inputs.human_records, rerating) if rerating is not None else None
    matched = build_matched_arrays(inputs.human, inputs.simulators, agreements=agreements,
                                   ceiling_agreements=ceiling,
                                   pair_agreements=pair_eval_agreements(inputs.human_records), run_split=run_split)
    return BaselineInputs(matched, inputs.simulators, inputs.human_records, rerating)


def rows_json(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The :data:`matched_comparison.ROW_KEYS` of each row of :func:`matched_comparison.compare`, NaN as ``None``."""
    out = []
    for record in table[list(ROW_KEYS)].to_dict(orient="records"):
        row = {}
        for key, value in record.items():
            if isinstance(value, (float, np.floating)):
                value = None if math.isnan(value) else float(value)
            elif isinstance(value, np.integer):
                value = int(value)
            row[key] = value
        out.append(row)
    return out


def format_table(table: pd.DataFrame, metrics: Sequence[str] = ("D1_conv", "D2_info", "D3_clarif", "D4_react",
                                                                  "usi")) -> str:
    """A plain-text view of :func:`matched_comparison.compare`: matched gap [interval] and the reference gap."""
    shown = table[table["metric"].isin(metrics)]
    lines = [f"{'name':<40} {'runs':>4} {'metric':<10} {'simulator':>9} {'ceiling':>8} "
             f"{'gap':>7} {'interval':>17} {'unmatched':>9}"]
    for r in shown.itertuples(index=False):
        interval = f"[{r.low:+.1f}, {r.high:+.1f}]" if not math.isnan(r.low) else "-"
        lines.append(f"{r.name:<40} {r.runs:>4} {r.metric:<10} {r.simulator:>9.1f} {r.ceiling:>8.1f} "
                     f"{r.gap:>+7.1f} {interval:>17} {r.reference_gap:>+9.1f}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``usersim-baselines``."""
    demo = command_line.DEMO_PANEL
    p = command_line.command_parser(
        "usersim-baselines",
        "Compare simulators with the human ceiling like for like (one run vs one human batch). "
        "Also run as python -m usersim_utils.baselines.",
        f"usersim-baselines --human {demo} --eval-results {demo}/eval_results/*.json --survey-dir "
        f"{demo}/survey_data --n-boot 200 --json baselines.json",
    )
    data.add_study_arguments(p)
    p.add_argument("--n-boot", type=int, default=1000, help="task resamples for the intervals")
    p.add_argument("--level", type=float, default=0.95, help="confidence level")
    data.add_run_split_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.n_boot < 1:
            raise ValueError(f"--n-boot must be at least 1, not {args.n_boot}")
        if not 0 < args.level < 1:
            raise ValueError(f"--level must be in (0, 1), not {args.level}")
        json_out = data.check_output_path(args.json_out) if args.json_out is not None else None
        mode, default_note = scoring.difficulty_mode(args.difficulty, protocol_cards(args.eval_results))
        inputs = load(args.human, args.eval_results, survey_dir=args.survey_dir, run_split=args.run_split,
                      domain=args.domain)
        difficulty = scoring.difficulty_for(mode, inputs.simulators)
        own_runs_out = leave_own_runs_out(mode, inputs.simulators, domain=args.domain)
        table = compare(inputs.matched, difficulty, np.random.default_rng(args.seed), n_boot=args.n_boot,
                        level=args.level, difficulty_by_label={k: c.map for k, c in own_runs_out.items()})
        if json_out is not None:
            write_output(json_out, json.dumps(rows_json(table), indent=2) + "\n")
    except (*data.BAD_INPUT, OSError) as err:
        return data.report_bad_input(err)
    if default_note:
        print(f"note: {default_note}", file=sys.stderr)
    fell_back = sorted(k for k, c in own_runs_out.items() if c.fell_back)
    if fell_back:
        print(f"note: without its own runs the {mode!r} pool is too small for {', '.join(fell_back)}; "
              "their matched rows use the published difficulty map", file=sys.stderr)
    print(format_table(table))
    print()
    print(eval_baselines(inputs.human_records, inputs.rerating).to_string(index=False))
    return 0


if __name__ == "__main__":  # python -m usersim_utils.baselines
    raise SystemExit(main())
