"""The command line of the data package (``python -m usersim_utils.data``, ``usersim-data``)::

    validate PATH [--kind auto|human|eval_results|survey|tau_bench] [--strict]
    download [--dest DIR] [--force]
    describe [--study-dir DIR]

Bad input exits with status 2 and one line ``error: <message>`` on stderr; warnings
are printed as ``warning: <message>`` lines on stderr (at most
:data:`MAX_WARNING_LINES`, then a count of the rest) and leave the status at 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Literal

from .. import command_line, paths, schema
from ..errors import DataError, DataWarning
from ..overview import summarise_eval_results, summarise_human, summarise_surveys
from .download import download
from .io import read_json
from .study import Study, resolve_study
from .validate import (
    KIND_NAMES,
    KINDS,
    Kind,
    detect_kind,
    validate_eval_results,
    validate_human_sessions,
    validate_survey_records,
)

#: ``validate`` prints at most this many warning lines, then how many more there are.
MAX_WARNING_LINES = 20


def validate_file(
    path: str | os.PathLike[str],
    kind: Kind | Literal["auto"] = "auto",
    *,
    strict: bool = False,
    warnings: list[DataWarning] | None = None,
) -> tuple[Kind, str]:
    """Read, detect (unless ``kind`` is given), validate and summarise one file.

    Returns ``(kind, summary)``; raises :class:`DataError` on a bad file. Invalid
    answers are appended to ``warnings`` (or raised, with ``strict``).
    """
    obj = read_json(path)
    resolved: Kind = detect_kind(obj, path) if kind == "auto" else kind
    check = {"strict": strict, "warnings": warnings}
    if resolved == "human":
        return resolved, summarise_human(validate_human_sessions(obj, file=path, **check))
    if resolved in ("eval_results", "tau_bench"):
        return resolved, summarise_eval_results(validate_eval_results(obj, file=path, **check))
    label = schema.label_of(path, schema.SURVEY_PREFIX)
    return resolved, summarise_surveys(validate_survey_records(obj, file=path, **check), label=label)


def warning_lines(warnings: Sequence[DataWarning], limit: int = MAX_WARNING_LINES) -> list[str]:
    """One line per distinct warning, in order, at most ``limit`` of them, then
    ``... and N more warnings`` when some were left out."""
    distinct = list(dict.fromkeys(str(w) for w in warnings))
    lines = distinct[:limit]
    if len(distinct) > limit:
        rest = len(distinct) - limit
        lines.append(f"... and {rest} more warning{'s' if rest > 1 else ''}")
    return lines


def describe_study(study: Study) -> str:
    """Plain-text description of a loaded study: where, what, and the human summary."""
    lines = [
        ("SYNTHETIC DEMO DATA: " if study.synthetic else "") + f"study at {study.root}",
        summarise_human(study.records),
        f"simulator rollouts: {len(study.eval_results)} ({', '.join(study.eval_results) or 'none'})",
        f"simulator surveys: {len(study.simulator_surveys)} ({', '.join(study.simulator_surveys) or 'none'})",
        f"human re-rating: {study.rerating_path.name if study.rerating_path else 'none'}",
    ]
    if study.warnings:
        lines.append(f"invalid survey answers (kept, scored as missing): {len(study.warnings)}")
    if not study.synthetic:
        lines.append(schema.TERMS)
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``usersim-data`` and its subcommands."""
    demo = command_line.DEMO_PANEL
    parser = command_line.command_parser(
        "usersim-data",
        "Validate, download and describe the study's data (cmu-lti/tau-usi). Also run as python -m "
        "usersim_utils.data.",
        f"usersim-data validate {demo}/eval_results/eval_results_SYNTHETIC-humanlike.json",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_validate = command_line.add_subcommand(
        parser, sub, "validate", help="check one file; exit 0 with a summary (and warnings), or 2 with one error line",
        example=f"usersim-data validate {demo}/{schema.HUMAN_FILE.as_posix()}",
    )
    p_validate.add_argument(
        "path", help=f"a human-study, {schema.EVAL_RESULTS_GLOB}, {schema.SURVEY_GLOB} or tau-bench file"
    )
    p_validate.add_argument("--kind", choices=("auto", *KINDS), default="auto", help="file kind (auto: detect)")
    p_validate.add_argument(
        "--strict", action="store_true", help="treat warnings (invalid survey answers) as errors: exit 2"
    )
    p_download = command_line.add_subcommand(
        parser, sub, "download", help=f"download {schema.HF_REPO_ID} (needs accepted terms and HF_TOKEN)",
        example="usersim-data download --dest data/raw/tau-usi",
    )
    p_download.add_argument(
        "--dest", default=None, help=f"target folder (default: ${paths.STUDY_DIR_ENV} or data/raw/tau-usi)"
    )
    p_download.add_argument("--force", action="store_true", help="download even when the files are present")
    p_describe = command_line.add_subcommand(
        parser, sub, "describe", help="summarise the study the notebooks would use",
        example=f"usersim-data describe --study-dir {demo}",
    )
    p_describe.add_argument("--study-dir", default=None,
                            help="a local copy of the dataset (default: the notebooks' choice)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            found: list[DataWarning] = []
            kind, summary = validate_file(args.path, args.kind, strict=args.strict, warnings=found)
            print(f"{args.path}: valid {KIND_NAMES[kind]}")
            print(summary)
            for line in warning_lines(found):
                print(f"warning: {line}", file=sys.stderr)
        elif args.command == "download":
            download(args.dest, force=args.force)
        else:
            print(describe_study(resolve_study(args.study_dir)))
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
