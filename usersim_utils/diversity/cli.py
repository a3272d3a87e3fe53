"""Files and the command line of the diversity comparison: ``python -m usersim_utils.diversity``
(``usersim-diversity``)."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import command_line, schema
from ..atomic import write_output
from ..data.inputs import (
    BAD_INPUT,
    add_domain_argument,
    add_eval_results_argument,
    add_human_argument,
    add_json_argument,
    add_seed_argument,
    check_output_path,
    human_file,
    report_bad_input,
)
from ..distinguish import load_records, usable_rows, user_texts
from ..errors import DataError
from .paired import N_BOOT, compare_with_humans


def run(human_path: str | os.PathLike[str], eval_results: Sequence[str | os.PathLike[str]], *, seed: int = 0,
        n_boot: int = N_BOOT, level: float = 0.95, domain: str | None = None) -> pd.DataFrame:
    """:func:`~usersim_utils.diversity.paired.compare_with_humans` of files, as the command line
    computes it (``numpy.random.default_rng(seed)``). Raises :class:`DataError` naming the
    file when the humans have no usable conversation or a simulator no task in common with them."""
    human_records, sim_records = load_records(human_path, eval_results, domain=domain)
    human = user_texts(human_records, source="human", label=schema.HUMAN_LABEL)
    human_tasks = set(usable_rows(human)["task_key"])
    if not human_tasks:
        raise DataError("no kept conversation with a user turn to compare with", file=human_file(human_path))
    tables = [human]
    for file, (label, records) in zip(eval_results, sim_records.items()):
        table = user_texts(records, source="llm", label=label)
        if not human_tasks & set(usable_rows(table)["task_key"]):
            raise DataError("no task in common with the human sessions (kept conversations with a user turn)",
                            file=file)
        tables.append(table)
    return compare_with_humans(pd.concat(tables, ignore_index=True), np.random.default_rng(seed),
                               n_boot=n_boot, level=level)


def rows_json(table: pd.DataFrame) -> str:
    """The rows as the command line writes them: a JSON list, NaN as null."""
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in json.loads(table.to_json(orient="records"))]
    return json.dumps(rows, indent=2) + "\n"


def format_rows(table: pd.DataFrame) -> str:
    """A plain-text table: simulator, metric, both values, the difference [interval], verdict."""
    lines = [f"{'name':<28} {'metric':<18} {'simulator':>9} {'human':>9} {'diff':>9} {'95% interval':>21}  verdict"]
    for r in table.itertuples():
        verdict = "more varied" if r.more_varied else "less varied" if r.less_varied else "cannot tell"
        lines.append(f"{r.name:<28} {r.metric:<18} {r.simulator:9.3f} {r.human:9.3f} {r.diff:+9.3f} "
                     f"[{r.low:+9.3f}, {r.high:+9.3f}]  {verdict}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``usersim-diversity``."""
    demo = command_line.DEMO_PANEL
    p = command_line.command_parser(
        "usersim-diversity",
        "Is each simulator as varied as people? Simulator-minus-human differences of lexical diversity with "
        "paired task-resampled intervals. Also run as python -m usersim_utils.diversity.",
        f"usersim-diversity --human {demo} --eval-results {demo}/eval_results/*.json --json diversity.json",
    )
    add_human_argument(p)
    add_eval_results_argument(p)
    add_json_argument(p)
    add_seed_argument(p, of="the numpy Generator")
    p.add_argument("--n-boot", type=int, default=N_BOOT, metavar="B", help="task resamples")
    add_domain_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        json_out = check_output_path(args.json_out) if args.json_out is not None else None
        table = run(args.human, args.eval_results, seed=args.seed, n_boot=args.n_boot, domain=args.domain)
        if json_out is not None:
            write_output(json_out, rows_json(table))
    except BAD_INPUT as err:
        return report_bad_input(err)
    print(format_rows(table))
    return 0
