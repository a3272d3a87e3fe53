"""Reading and validating the study's files (the project's one I/O package for data).

The study is the dataset ``cmu-lti/tau-usi`` (``docs/method.md`` §10): a folder with

* ``data/tau_bench_tasks_unified.json``: the 495 human sessions (3 batches x 165 tasks);
* ``eval_results/eval_results_<label>.json``: simulator rollouts;
* ``survey_data/survey_comparable_<label>.json``: simulator surveys, and
  ``survey_comparable_human-eval-100.json``: a second human rating.

Every reader validates what it reads and raises one :class:`~usersim_utils.errors.DataError`
naming the file, the record (instance id) and the field, for example
``f.json: record 'airline_3': field 'conversation[2].role': missing``.

A survey answer that is not one of its item's options (or not a string) is not an
error: the record is kept, the index counts the answer as missing (docs/method.md §7:
a human's is skipped, a simulator's replaced by a uniform draw), and the reader
reports a :class:`~usersim_utils.errors.DataWarning` in the same one-line format.
Every reader and validator takes ``warnings=`` (a list the warnings are appended to;
``None`` ignores them) and ``strict=`` (True raises the first one as a ``DataError``
instead). The same holds for every kind of file.

Modules, each with one job:

* :mod:`~usersim_utils.data.io`        reading a JSON file, or one line saying what is wrong;
* :mod:`~usersim_utils.data.validate`  checking each kind of file, loading it, telling kinds apart;
* :mod:`~usersim_utils.data.tables`    sessions, turns and survey answers as tables;
* :mod:`~usersim_utils.data.study`     the study the notebooks use (:func:`resolve_study`);
* :mod:`~usersim_utils.data.inputs`    the files of a scoring command, read and checked, its one
  ``error:`` line (:func:`load_inputs`, :func:`check_output_path`, :func:`report_bad_input`) and
  the arguments that name them (:func:`add_study_arguments` and its parts);
* :mod:`~usersim_utils.data.cache`     the scoring command's features cache, keyed by content digest;
* :mod:`~usersim_utils.data.download`  the gated dataset from the Hugging Face Hub;
* :mod:`~usersim_utils.data.cli`       ``python -m usersim_utils.data`` (``usersim-data``).

Their public names are re-exported here (``data.load_eval_results`` and the like). The
summaries of the files live in :mod:`usersim_utils.overview`, the study's constants in
:mod:`usersim_utils.schema`, the hand-over tables in :mod:`usersim_utils.handover`.
"""

from __future__ import annotations

from .cache import CACHE_DIR_ENV, ScoreCache
from .cache import DEFAULT_DIR as DEFAULT_CACHE_DIR
from .cache import default_dir as default_cache_dir
from .download import download
from .inputs import (
    BAD_INPUT,
    DIFFICULTY_DEFAULT,
    EXIT_BAD_INPUT,
    ScoringInputs,
    add_difficulty_argument,
    add_domain_argument,
    add_eval_results_argument,
    add_human_argument,
    add_json_argument,
    add_run_split_argument,
    add_seed_argument,
    add_study_arguments,
    add_survey_dir_argument,
    check_output_path,
    check_survey_dir,
    check_trajectory_domain,
    human_file,
    load_inputs,
    load_simulator_file,
    report_bad_input,
)
from .io import read_json
from .study import Study, load_study, resolve_study, show_banner
from .tables import (
    SESSION_COLUMNS,
    SURVEY_COLUMNS,
    SURVEY_TABLE_ITEMS,
    TURN_COLUMNS,
    WARNING_COUNT_COLUMNS,
    count_warnings,
    sessions_table,
    surveys_table,
    turns_table,
)
from .validate import (
    KIND_NAMES,
    KINDS,
    Kind,
    detect_kind,
    load_eval_results,
    load_human_sessions,
    load_survey_records,
    validate_eval_results,
    validate_human_sessions,
    validate_survey_records,
)

__all__ = [
    "BAD_INPUT", "CACHE_DIR_ENV", "DEFAULT_CACHE_DIR", "DIFFICULTY_DEFAULT", "EXIT_BAD_INPUT", "ScoreCache",
    "default_cache_dir",
    "KINDS", "KIND_NAMES", "SESSION_COLUMNS", "SURVEY_COLUMNS", "SURVEY_TABLE_ITEMS",
    "TURN_COLUMNS", "WARNING_COUNT_COLUMNS", "Kind", "ScoringInputs", "Study", "check_output_path",
    "check_survey_dir", "check_trajectory_domain", "count_warnings", "detect_kind", "download", "human_file",
    "load_eval_results", "load_human_sessions", "load_inputs", "load_simulator_file", "load_study",
    "load_survey_records", "read_json", "add_difficulty_argument", "add_domain_argument",
    "add_eval_results_argument", "add_human_argument", "add_json_argument", "add_run_split_argument",
    "add_seed_argument", "add_study_arguments", "add_survey_dir_argument", "report_bad_input", "resolve_study",
    "sessions_table", "show_banner",
    "surveys_table", "turns_table", "validate_eval_results", "validate_human_sessions", "validate_survey_records",
]
