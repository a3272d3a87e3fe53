"""Scoring files: the I/O around :mod:`usersim_utils.usi` and its command line.

    python -m usersim_utils.usi --human PATH --eval-results FILE [FILE ...]
        [--survey-dir DIR] --difficulty {self | frozen:PATH | baselines:DIR} [--json OUT]

``--human`` is the human-sessions file or a study folder (``data/…`` inside).
``--eval-results`` takes the study's ``eval_results_<label>.json`` files and
tau-bench trajectory files alike (converted on the fly; ``--domain`` when the
domain cannot be recognised). Bad input ends with one ``error:`` line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import data, paths, usi
from .atomic import atomic_write, atomic_write_text
from .errors import DataError
from .features import features_table

RERATING_LABEL = "human-eval-100"


def label_of(path: str | os.PathLike[str]) -> str:
    """A simulator's label: the file stem without the ``eval_results_`` prefix."""
    return Path(path).stem.removeprefix("eval_results_")


def human_file(path: str | os.PathLike[str]) -> Path:
    """The human-sessions file of ``path`` (a file, or a study folder holding one)."""
    path = Path(path)
    return path / paths.HUMAN_FILE if path.is_dir() else path


@dataclass
class ScoringInputs:
    """Everything the index needs, features computed once."""

    human_records: dict[str, dict]
    human: pd.DataFrame
    simulators: dict[str, pd.DataFrame]
    evals: dict[str, usi.Cell | None]
    ceiling_eval: usi.Cell | None


def load_inputs(
    human_path: str | os.PathLike[str],
    eval_results: Sequence[str | os.PathLike[str]],
    *,
    survey_dir: str | os.PathLike[str] | None = None,
    domain: str | None = None,
) -> ScoringInputs:
    """Read and validate the files, compute features tables and Eval cells."""
    human_records = data.load_human_sessions(human_file(human_path))
    human = features_table(human_records, source="human", label="human")
    simulators: dict[str, pd.DataFrame] = {}
    evals: dict[str, usi.Cell | None] = {}
    survey_dir = Path(survey_dir) if survey_dir else None
    for file in eval_results:
        label = label_of(file)
        if label in simulators:
            raise DataError(f"two files have the label {label!r}", file=file)
        records = data.load_eval_results(file, domain=domain)
        simulators[label] = features_table(records, source="llm", label=label)
        survey_file = survey_dir / f"survey_comparable_{label}.json" if survey_dir else None
        evals[label] = None
        if survey_file and survey_file.exists():
            surveys = data.load_survey_records(survey_file)
            evals[label] = usi.eval_cell(usi.eval_agreements(human_records, surveys))
    ceiling_eval = None
    rerating_file = survey_dir / f"survey_comparable_{RERATING_LABEL}.json" if survey_dir else None
    if rerating_file and rerating_file.exists():
        rerating = data.load_survey_records(rerating_file)
        ceiling_eval = usi.ceiling_eval_cell(usi.ceiling_agreements(human_records, rerating))
    return ScoringInputs(human_records, human, simulators, evals, ceiling_eval)


def difficulty_for(spec: str, simulators: dict[str, pd.DataFrame], *, domain: str | None = None) -> dict[str, float]:
    """The difficulty map of a ``--difficulty`` spec (see :func:`usi.parse_difficulty_mode`)."""
    mode, arg = usi.parse_difficulty_mode(spec)
    if mode == "self":
        return usi.pooled_difficulty(simulators.values())
    if mode == "frozen":
        try:
            return usi.difficulty_map_from_json(data.read_json(arg))
        except ValueError as err:
            if isinstance(err, DataError):
                raise
            raise DataError(str(err), file=arg) from None
    folder = Path(arg)
    files = sorted(folder.glob("eval_results_*.json"))
    if not files:
        raise DataError("no eval_results_*.json files for the baseline pool", file=folder)
    pool = [features_table(data.load_eval_results(f, domain=domain), source="llm", label=label_of(f)) for f in files]
    return usi.pooled_difficulty(pool)


def score_files(
    human_path: str | os.PathLike[str],
    eval_results: Sequence[str | os.PathLike[str]],
    *,
    survey_dir: str | os.PathLike[str] | None = None,
    difficulty: str = "self",
    run_split: usi.RunSplit = "reference",
    domain: str | None = None,
) -> list[usi.Score]:
    """The human ceiling and one score per file, exactly as the command line computes them."""
    inputs = load_inputs(human_path, eval_results, survey_dir=survey_dir, domain=domain)
    diff = difficulty_for(difficulty, inputs.simulators, domain=domain)
    return usi.score_all(inputs.human, inputs.simulators, diff, evals=inputs.evals,
                         ceiling_eval=inputs.ceiling_eval, run_split=run_split)


def write_json(scores: Sequence[usi.Score], out: str | os.PathLike[str]) -> Path:
    """Write the rows (human ceiling first, then by USI) as a JSON list, atomically."""
    order = {name: i for i, name in enumerate(usi.leaderboard(scores)["name"])}
    rows = [s.to_json() for s in sorted(scores, key=lambda s: order[s.name])]
    out = Path(out)
    atomic_write_text(out, json.dumps(rows, indent=2) + "\n")
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m usersim_utils.usi",
        description="Score user simulators with the User-Sim Index (Zhou et al., 2026).",
    )
    p.add_argument("--human", required=True, help="human sessions file, or a study folder")
    p.add_argument("--eval-results", required=True, nargs="+", metavar="FILE",
                   help="eval_results_<label>.json or tau-bench trajectory files")
    p.add_argument("--survey-dir", help="folder with survey_comparable_<label>.json (and the human re-ratings)")
    p.add_argument("--difficulty", default="self", help="self | frozen:PATH | baselines:DIR (default: self)")
    p.add_argument("--run-split", choices=["reference", "suffix"], default="reference",
                   help="reference: the authors' split (only files with >170 entries are split by run); "
                        "suffix: always split <domain>_<i>_<run> keys (for small rollouts)")
    p.add_argument("--domain", choices=["airline", "retail"], help="domain of tau-bench trajectory files")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the rows as JSON to OUT")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        scores = score_files(args.human, args.eval_results, survey_dir=args.survey_dir,
                             difficulty=args.difficulty, run_split=args.run_split, domain=args.domain)
    except (DataError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(usi.format_leaderboard(scores))
    unmatched = [s.name for s in scores if s.name != "human" and not s.batches]
    if unmatched and args.run_split == "reference":
        print(f"note: no task of {', '.join(unmatched)} matched a human session; small files with "
              "<domain>_<i>_<run> keys need --run-split suffix", file=sys.stderr)
    if args.json_out:
        write_json(scores, args.json_out)
    return 0


# --- Hand-over between notebooks: features computed once, read by 04-06. -------------------
def simulator_files(study: data.Study, *, include_rollouts: bool = True,
                    rollouts_dir: Path | None = None) -> dict[str, Path]:
    """``{label: eval_results file}``: the study's simulators (published or demo), then
    the rollouts of notebook 02 (``data/processed/rollouts``) when asked."""
    files = dict(study.eval_results)
    if include_rollouts:
        folder = rollouts_dir or paths.ROLLOUTS_DIR
        for path in sorted(folder.glob("eval_results_*.json")):
            files.setdefault(label_of(path), path)
    return files


def survey_files(study: data.Study, *, include_rollouts: bool = True,
                 rollouts_dir: Path | None = None) -> dict[str, Path]:
    """``{label: survey_comparable file}`` for the study's simulators and the rollouts."""
    files = dict(study.simulator_surveys)
    if include_rollouts:
        folder = rollouts_dir or paths.ROLLOUTS_DIR
        for path in sorted(folder.glob("survey_comparable_*.json")):
            files.setdefault(path.stem.removeprefix("survey_comparable_"), path)
    return files


def write_feature_tables(tables: dict[str, pd.DataFrame], dest: Path | None = None) -> dict[str, Path]:
    """Write each features table to ``<dest>/<label>.parquet`` atomically (dest:
    ``data/processed/features``), removing tables of labels no longer present."""
    dest = dest or paths.FEATURES_DIR
    dest.mkdir(parents=True, exist_ok=True)
    written = {}
    for label, table in tables.items():
        out = dest / f"{label}.parquet"
        atomic_write(out, lambda tmp, table=table: table.to_parquet(tmp, index=False))
        written[label] = out
    for stale in set(dest.glob("*.parquet")) - set(written.values()):
        stale.unlink()
    return written


def read_feature_tables(source: Path | None = None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """``(human table, {label: simulator table})`` written by notebook 03.

    Raises ``DataError`` when notebook 03 has not been run."""
    source = source or paths.FEATURES_DIR
    human_path = source / "human.parquet"
    if not human_path.exists():
        raise DataError("no features tables: run notebooks/03_extract_behavioral_features.ipynb first",
                        file=source)
    sims = {p.stem: pd.read_parquet(p) for p in sorted(source.glob("*.parquet")) if p.stem != "human"}
    return pd.read_parquet(human_path), sims
