"""The scoring commands' inputs: the files named on a command line, read, validated and
checked before any work, the one ``error:`` line every command ends with on bad input, and
the arguments that name them (``add_*_argument``), each spelled and explained once.

Shared by ``usersim-usi`` (:mod:`usersim_utils.scoring`) and the analyses' commands
(``usersim-baselines``, ``usersim-power``, ``usersim-distinguish``, ``usersim-diversity``,
``usersim-audit``, ``usersim-calibrate``), so that each reads the files the same way and an
analysis never imports another command's module. The other conventions of every command
(usage, defaults shown, an example) are :mod:`usersim_utils.command_line`'s.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import ids, schema, trajectories, usi
from ..command_line import EXIT_BAD_INPUT
from ..errors import DataError
from ..features import FEATURES, ID_COLUMNS, features_table
from ..schema import label_of
from .cache import ScoreCache, digest
from .io import parse_json, read_json, read_regular_file
from .validate import detect_kind, validate_eval_results, validate_human_sessions, validate_survey_records


def human_file(path: str | os.PathLike[str]) -> Path:
    """The human-sessions file of ``path`` (a file, or a study folder holding one)."""
    path = Path(path)
    return path / schema.HUMAN_FILE if path.is_dir() else path


@dataclass
class ScoringInputs:
    """Everything the index needs, features computed once. ``human_records`` (the raw
    human sessions) are read on first use when the features came from a cache."""

    human: pd.DataFrame
    simulators: dict[str, pd.DataFrame]
    evals: dict[str, usi.Cell | None]
    ceiling_eval: usi.Cell | None
    read_human_records: Callable[[], dict[str, dict]] = field(repr=False)

    @property
    def human_records(self) -> dict[str, dict]:
        """The human sessions, read and validated (once)."""
        return self.read_human_records()


#: The columns of every features table (:func:`usersim_utils.features.features_table`).
_TABLE_COLUMNS = [*ID_COLUMNS, *FEATURES, "n_turns"]


def _cached_table(cache: ScoreCache | None, key_parts: Sequence[str | None],
                  compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``compute()``, or the table the cache holds under ``key_parts``; stored when computed."""
    if cache is None:
        return compute()
    key = cache.key("features", *key_parts)
    table = cache.table(key, _TABLE_COLUMNS)
    if table is None:
        table = compute()
        cache.store_table(key, table)
    return table


def _simulator_table(cache: ScoreCache | None, file: str | os.PathLike[str], label: str,
                     domain: str | None) -> pd.DataFrame:
    """The features table of one ``--eval-results`` file, labelled ``label`` (the same bytes
    under another name may carry another label)."""
    raw = read_regular_file(file)

    def compute() -> pd.DataFrame:
        return features_table(load_simulator_file(file, domain=domain, raw=raw), source="llm", label=label)

    if cache is None:
        return compute()
    return _cached_table(cache, ["llm", digest(raw), Path(file).name, domain], compute).assign(label=label)


def _survey_cell(cache: ScoreCache | None, kind: str, human_digest: str, survey_file: Path,
                 cell_of: Callable[[dict[str, dict]], usi.Cell | None]) -> usi.Cell | None:
    """The Eval cell ``cell_of(records)`` of a survey file against the human file, from the cache when
    its bytes and the human file's were scored before; stored when computed."""
    raw = read_regular_file(survey_file)

    def compute() -> usi.Cell | None:
        return cell_of(validate_survey_records(parse_json(raw, survey_file), file=survey_file))

    if cache is None:
        return compute()
    key = cache.key(kind, human_digest, digest(raw), survey_file.name)
    found, cell = cache.cell(key)
    if not found:
        cell = compute()
        cache.store_cell(key, cell)
    return cell


def load_inputs(
    human_path: str | os.PathLike[str],
    eval_results: Sequence[str | os.PathLike[str]],
    *,
    survey_dir: str | os.PathLike[str] | None = None,
    domain: str | None = None,
    cache: ScoreCache | None = None,
) -> ScoringInputs:
    """Read and validate the files, compute features tables and Eval cells.

    With ``cache``, a file whose bytes were read before (same digest, name, options,
    package version and lexicons) is not read again: its features table and Eval cells
    come from the cache (see :mod:`usersim_utils.data.cache`)."""
    survey_dir = check_survey_dir(survey_dir)
    human_path = human_file(human_path)
    human_raw = read_regular_file(human_path)
    human_digest = digest(human_raw) if cache else ""
    human_records = functools.cache(lambda: validate_human_sessions(parse_json(human_raw, human_path),
                                                                    file=human_path))
    human = _cached_table(cache, ["human", human_digest],
                          lambda: features_table(human_records(), source="human", label=schema.HUMAN_LABEL))
    simulators: dict[str, pd.DataFrame] = {}
    evals: dict[str, usi.Cell | None] = {}
    for file in eval_results:
        label = label_of(file)
        if label in simulators:
            raise DataError(f"two files have the label {label!r}", file=file)
        simulators[label] = _simulator_table(cache, file, label, domain)
        survey_file = survey_dir / schema.survey_name(label) if survey_dir else None
        evals[label] = None
        if survey_file and survey_file.exists():
            evals[label] = _survey_cell(cache, "eval", human_digest, survey_file, lambda surveys: usi.eval_cell(
                usi.eval_agreements(human_records(), surveys)))
    ceiling_eval = None
    rerating_file = survey_dir / schema.survey_name(schema.RERATING_LABEL) if survey_dir else None
    if rerating_file and rerating_file.exists():
        ceiling_eval = _survey_cell(cache, "ceiling", human_digest, rerating_file, lambda rerating: (
            usi.ceiling_eval_cell(usi.ceiling_agreements(human_records(), rerating))))
    return ScoringInputs(human, simulators, evals, ceiling_eval, human_records)


_SURVEY_FILES = schema.survey_name("<label>")  # how messages name the survey files


def check_survey_dir(survey_dir: str | os.PathLike[str] | None) -> Path | None:
    """``survey_dir`` as a folder, or ``None`` when not given. A path that is empty,
    missing or not a folder raises :class:`DataError`: scoring without the surveys
    would silently drop Eval and change every USI."""
    if survey_dir is None:
        return None
    if not str(survey_dir).strip():  # Path("") would be the working folder
        raise DataError(f"the survey folder is an empty path; give the folder of {_SURVEY_FILES}")
    folder = Path(survey_dir)
    if not folder.exists():
        raise DataError(f"no such folder (expected the folder of {_SURVEY_FILES})", file=folder)
    if not folder.is_dir():
        raise DataError(f"not a folder (expected the folder of {_SURVEY_FILES})", file=folder)
    return folder


def check_trajectory_domain(items: Sequence[Any], domain: str, *, file: str | os.PathLike[str]) -> None:
    """Refuse tau-bench trajectories whose content names another domain than ``domain``
    (the policy heading of the system message, or domain-only tools: see
    :func:`usersim_utils.trajectories.recognise_domain`), which would otherwise be
    scored against the other domain's humans. Items that do not tell are accepted."""
    for index, item in enumerate(items):
        traj = item.get("traj") if isinstance(item, Mapping) else None
        found = trajectories.recognise_domain(traj) if isinstance(traj, list) else None
        if found is not None and found != domain:
            raise DataError(
                f"the domain given is {domain} but this trajectory is {found} (its policy or tools); "
                "drop --domain, or give the right one",
                file=file, record=f"item {index}",
            )


def load_simulator_file(
    path: str | os.PathLike[str], *, domain: str | None = None, raw: bytes | None = None
) -> dict[str, dict]:
    """Read and validate one ``--eval-results`` file (rollouts or tau-bench trajectories);
    ``raw``: its bytes, when already read.

    A human-sessions or survey file is refused with a :class:`DataError` saying
    where it belongs, and so are trajectories of another domain than ``domain``."""
    obj = read_json(path) if raw is None else parse_json(raw, path)
    if isinstance(obj, Mapping):
        kind = detect_kind(obj, path)
        if kind == "human":
            raise DataError("this is the human-sessions file (human-only fields or batch suffixes), "
                            "not simulator rollouts; pass it as --human", file=path)
        if kind == "survey":
            raise DataError("this is a survey file (surveys, no conversations), not simulator rollouts; "
                            "pass its folder as --survey-dir", file=path)
    elif isinstance(obj, list) and domain is not None:
        check_trajectory_domain(obj, domain, file=path)
    return validate_eval_results(obj, file=path, domain=domain)


def check_output_path(out: str | os.PathLike[str]) -> Path:
    """``out`` as a file the JSON rows can be written to, checked before any scoring.

    Raises :class:`DataError` when ``out`` is empty, a folder, not a regular file
    (a device, FIFO or socket would be replaced), under a regular file, or in a
    folder this process cannot write to (tried with a temporary file)."""
    if not str(out).strip():
        raise DataError("the JSON output is an empty path; give a file name")
    path = Path(out)
    if path.is_dir():
        raise DataError("is a folder; give a file name for the JSON rows", file=path)
    if path.exists() and not path.is_file():
        raise DataError("is not a regular file (a device, FIFO or socket); give a file name", file=path)
    folder = path.parent
    while not folder.exists():  # missing folders are created on writing
        folder = folder.parent
    if not folder.is_dir():
        raise DataError(f"cannot write under {folder}: it is a file, not a folder", file=path)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise DataError(f"cannot write in {folder}: {exc.strerror or exc}", file=path) from None
    os.close(fd)
    os.unlink(probe)
    return path


#: What a command reports as bad input: a file, record or field (:class:`DataError`) or an
#: argument (``ValueError``).
BAD_INPUT = (DataError, ValueError)


# --- The arguments the scoring commands share, each spelled and explained once. -------------------
def add_human_argument(parser: argparse.ArgumentParser, *, required: bool = True, also: str = "") -> None:
    """``--human``: the human-sessions file or a study folder (``also``: what the command adds)."""
    parser.add_argument("--human", required=required, metavar="PATH",
                        help=f"human sessions file, or a study folder{also}")


def add_eval_results_argument(parser: argparse.ArgumentParser) -> None:
    """``--eval-results``: one or more simulator files (rollouts or tau-bench trajectories)."""
    parser.add_argument("--eval-results", required=True, nargs="+", metavar="FILE",
                        help=f"{schema.eval_results_name('<label>')} or tau-bench trajectory files")


def add_survey_dir_argument(parser: argparse.ArgumentParser) -> None:
    """``--survey-dir``: the folder of the simulators' surveys and the human re-ratings."""
    parser.add_argument("--survey-dir", metavar="DIR",
                        help=f"folder with {_SURVEY_FILES} (the Eval term, and the human re-ratings)")


#: The default of ``--difficulty`` in words (:func:`usersim_utils.scoring.difficulty_mode` applies it).
DIFFICULTY_DEFAULT = "all, or published when a file is a new rollout (it has a card) or tau-bench trajectories"


def add_difficulty_argument(parser: argparse.ArgumentParser) -> None:
    """``--difficulty``: the difficulty map of ECE; not given, :data:`DIFFICULTY_DEFAULT`."""
    parser.add_argument("--difficulty", default=None, metavar="MODE",
                        help="difficulty map of ECE: all (pool of the simulators scored) | published (the authors' "
                             "map) | frozen:PATH | baselines:DIR; a pool too small for any task falls back to "
                             f"published (default: {DIFFICULTY_DEFAULT})")


def add_run_split_argument(parser: argparse.ArgumentParser) -> None:
    """``--run-split``: how a simulator file is split into runs."""
    parser.add_argument("--run-split", choices=["reference", "suffix"], default="reference",
                        help="reference: the authors' split (only files with >170 entries are split by run); "
                             "suffix: always split <domain>_<i>_<run> keys (for small rollouts)")


def add_json_argument(parser: argparse.ArgumentParser, *, what: str = "the rows") -> None:
    """``--json OUT`` (``json_out``): also write ``what`` as JSON; the table is printed either way."""
    parser.add_argument("--json", dest="json_out", metavar="OUT", help=f"also write {what} as JSON to OUT")


def add_seed_argument(parser: argparse.ArgumentParser, *, of: str = "the resampling") -> None:
    """``--seed``: the seed of the command's random generator (``of``: what it draws)."""
    parser.add_argument("--seed", type=int, default=0, help=f"seed of {of}")


def add_domain_argument(parser: argparse.ArgumentParser) -> None:
    """``--domain``: the domain of tau-bench trajectory files that do not say it."""
    parser.add_argument("--domain", choices=list(ids.DOMAINS),
                        help="domain of tau-bench trajectory files (default: recognised from their content)")


def add_study_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The inputs of a command that scores simulators against the study: ``--human``,
    ``--eval-results``, ``--survey-dir``, ``--difficulty``, ``--json`` (``json_out``),
    ``--seed`` and ``--domain``."""
    for add in (add_human_argument, add_eval_results_argument, add_survey_dir_argument, add_difficulty_argument,
                add_json_argument, add_seed_argument, add_domain_argument):
        add(parser)
    return parser


def report_bad_input(err: Exception) -> int:
    """Print ``err`` as the command's one ``error:`` line on stderr; returns
    :data:`~usersim_utils.command_line.EXIT_BAD_INPUT` for ``main`` to return (``except BAD_INPUT as err: return
    report_bad_input(err)``)."""
    print(f"error: {err}", file=sys.stderr)
    return EXIT_BAD_INPUT
