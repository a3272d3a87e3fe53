"""Files and the command line of the two-sample test: ``python -m usersim_utils.distinguish``
(``usersim-distinguish``; the options: :mod:`usersim_utils.distinguish`)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

import numpy as np

from .. import command_line, features, schema
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
    load_simulator_file,
    report_bad_input,
)
from ..data.validate import load_human_sessions
from ..errors import DataError
from .c2st import N_BOOT, N_PERMUTATIONS, N_REFIT, C2STRow, distinguish_all
from .crossval import MODELS, Model
from .text import N_TEXT_PERMUTATIONS, text_distinguish_all, user_texts


# --- Files and the command line. ----------------------------------------------------------------------
def load_records(human_path: str | os.PathLike[str] | None, eval_results: Sequence[str | os.PathLike[str]], *,
                 domain: str | None = None) -> tuple[dict[str, dict], dict[str, dict[str, dict]]]:
    """``(human records, {label: simulator records})`` read and validated as the scoring
    command reads them (:func:`~usersim_utils.data.inputs.human_file`,
    :func:`~usersim_utils.data.inputs.load_simulator_file`: tau-bench trajectory files are converted).
    ``human_path`` None -> no human records.
    Raises :class:`DataError` (two files with one label included)."""
    human = load_human_sessions(human_file(human_path)) if human_path is not None else {}
    simulators: dict[str, dict[str, dict]] = {}
    for file in eval_results:
        label = schema.label_of(file)
        if label in simulators or label == schema.HUMAN_LABEL:
            raise DataError(f"two inputs have the label {label!r}", file=file)
        simulators[label] = load_simulator_file(file, domain=domain)
    return human, simulators


def rows_json(rows: Sequence[C2STRow]) -> str:
    """The rows as the command line writes them: a JSON list."""
    return json.dumps([row.to_json() for row in rows], indent=2) + "\n"


def run(human_path: str | os.PathLike[str], eval_results: Sequence[str | os.PathLike[str]], *, seed: int = 0,
        model: Model = "logistic", text: bool = False, domain: str | None = None,
        n_boot: int = N_BOOT, n_refit: int = N_REFIT, n_permutations: int = N_PERMUTATIONS,
        n_text_permutations: int = N_TEXT_PERMUTATIONS) -> tuple[list[C2STRow], list[C2STRow] | None]:
    """``(behavioural rows, text rows or None)`` of files, as the command line computes them:
    ``numpy.random.default_rng(seed)``, whose first child drives the behavioural test and
    second the text test."""
    human_records, sim_records = load_records(human_path, eval_results, domain=domain)
    behaviour_rng, text_rng = np.random.default_rng(seed).spawn(2)
    human = features.features_table(human_records, source="human", label=schema.HUMAN_LABEL)
    sims = {label: features.features_table(r, source="llm", label=label) for label, r in sim_records.items()}
    rows = distinguish_all(human, sims, behaviour_rng, model=model, n_boot=n_boot, n_refit=n_refit,
                           n_permutations=n_permutations)
    if not text:
        return rows, None
    human_text = user_texts(human_records, source="human", label=schema.HUMAN_LABEL)
    sim_text = {label: user_texts(r, source="llm", label=label) for label, r in sim_records.items()}
    return rows, text_distinguish_all(human_text, sim_text, text_rng, n_boot=n_boot, n_refit=n_refit,
                                      n_permutations=n_text_permutations)


def format_rows(rows: Sequence[C2STRow]) -> str:
    """A plain-text table: name, AUC [interval], permutation p-value, equivalence verdict,
    indistinguishability [interval], top give-aways (only for simulators told apart)."""
    lines = [f"{'name':<40} {'AUC':>6} {'95% interval':>15} {'p':>6} {'equiv.':>6} {'indist.':>6} {'interval':>13}"
             "  give-aways"]
    for r in rows:
        gives = ", ".join(f for f, _ in r.giveaways[:3])
        low, high = r.indistinguishability_interval
        lines.append(f"{r.name:<40} {r.auc:6.3f} [{r.low:5.3f}, {r.high:5.3f}] {r.p_value:6.3f} "
                     f"{'yes' if r.equivalent else 'no':>6} {r.indistinguishability:6.1f} [{low:5.1f}, {high:5.1f}]"
                     f"  {gives}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``usersim-distinguish``."""
    demo = command_line.DEMO_PANEL
    p = command_line.command_parser(
        "usersim-distinguish",
        "Tell simulated conversations from human ones (classifier two-sample test). "
        "Also run as python -m usersim_utils.distinguish.",
        f"usersim-distinguish --human {demo} --eval-results {demo}/eval_results/*.json --n-refit 20 "
        "--n-permutations 20 --json distinguish.json",
    )
    add_human_argument(p)
    add_eval_results_argument(p)
    add_json_argument(p, what="the behavioural rows")
    p.add_argument("--text-json", metavar="OUT", help="also run the text test and write its rows as JSON to OUT")
    add_seed_argument(p, of="the numpy Generator")
    p.add_argument("--model", choices=MODELS, default="logistic", help="behavioural classifier")
    p.add_argument("--n-refit", type=int, default=N_REFIT, metavar="R",
                   help="task resamples with the classifiers refitted, for the interval (each costs one "
                        "cross-validation)")
    p.add_argument("--n-permutations", type=int, default=N_PERMUTATIONS, metavar="P",
                   help="within-task label permutations for the p-value (with boosting each costs one "
                        "cross-validation)")
    p.add_argument("--n-text-permutations", type=int, default=N_TEXT_PERMUTATIONS, metavar="P",
                   help="the same for the text test (each costs one cross-validation)")
    add_domain_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        json_out = check_output_path(args.json_out) if args.json_out is not None else None
        text_out = check_output_path(args.text_json) if args.text_json is not None else None
        rows, text_rows = run(args.human, args.eval_results, seed=args.seed, model=args.model,
                              text=text_out is not None, domain=args.domain, n_refit=args.n_refit,
                              n_permutations=args.n_permutations, n_text_permutations=args.n_text_permutations)
        if json_out is not None:
            write_output(json_out, rows_json(rows))
        if text_rows is not None and text_out is not None:
            write_output(text_out, rows_json(text_rows))
    except BAD_INPUT as err:
        return report_bad_input(err)
    print(format_rows(rows))
    if text_rows is not None:
        print("\ntext (character n-grams of the user turns; may reflect how the text was collected):")
        print(format_rows(text_rows))
    return 0

