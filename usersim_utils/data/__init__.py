"""Reading and validating the study's files (the project's one I/O module for data).

The study is the dataset ``cmu-lti/tau-usi`` (spec ``data-formats.md``): a folder with

* ``data/tau_bench_tasks_unified.json``: the 495 human sessions (3 batches x 165 tasks);
* ``eval_results/eval_results_<label>.json``: simulator rollouts;
* ``survey_data/survey_comparable_<label>.json``: simulator surveys, and
  ``survey_comparable_human-eval-100.json``: a second human rating.

Every reader validates what it reads and raises one :class:`~usersim_utils.errors.DataError`
naming the file, the record (instance id) and the field, for example
``f.json: record 'airline_3': field 'conversation[2].role': missing``.

A survey answer that is not one of its item's options (or not a string) is not an
error: the record is kept, the index counts the answer as missing (spec usi.md §6:
a human's is skipped, a simulator's replaced by a uniform draw), and the reader
reports a :class:`~usersim_utils.errors.DataWarning` in the same one-line format.
Every reader and validator takes ``warnings=`` (a list the warnings are appended to;
``None`` ignores them) and ``strict=`` (True raises the first one as a ``DataError``
instead). The same holds for every kind of file.

Command line (``python -m usersim_utils.data``)::

    validate PATH [--kind auto|human|eval_results|survey|tau_bench] [--strict]
    download [--dest DIR] [--force]
    describe [--study-dir DIR]

Bad input exits with status 2 and one line ``error: <message>`` on stderr; warnings
are printed as ``warning: <message>`` lines on stderr (at most
:data:`MAX_WARNING_LINES`, then a count of the rest) and leave the status at 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import stat
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .. import features, ids, paths, survey, trajectories
from ..atomic import atomic_write
from ..errors import (
    MAX_NESTING,
    DataError,
    DataWarning,
    excerpt,
    first_clause,
    is_finite_number,
    nesting_depth,
)

HF_REPO_ID = "cmu-lti/tau-usi"
HF_REPO_TYPE = "dataset"
HF_DATASET_URL = f"https://huggingface.co/datasets/{HF_REPO_ID}"
CITATION = (
    'Zhou et al. 2026, "Mind the Sim2Real Gap in User Simulation for Agentic Tasks", '
    "arXiv:2603.11245"
)
#: The terms of the gated human data, shown before every download and in every banner.
TERMS = (
    f"The human study data ({HF_REPO_ID}) is licensed CC-BY-NC-4.0 with extra terms: "
    "use it for research and evaluation only; do not use it to train language models; "
    "do not try to re-identify the participants; cite the paper "
    f"({CITATION}); any redistribution must carry these terms. "
    "This project never ships, commits or prints its rows."
)

EVAL_PREFIX = "eval_results_"
SURVEY_PREFIX = "survey_comparable_"
RERATING_LABEL = "human-eval-100"

Kind = Literal["human", "eval_results", "survey", "tau_bench"]
KINDS: tuple[str, ...] = ("human", "eval_results", "survey", "tau_bench")
#: How ``validate`` names each kind.
KIND_NAMES: dict[str, str] = {
    "human": "human-study file",
    "eval_results": "rollout file (eval_results)",
    "survey": "survey file",
    "tau_bench": "tau-bench trajectory list (converted to rollouts)",
}

#: Fields only the human-study file has (used to tell it apart from rollouts).
_HUMAN_ONLY_FIELDS = frozenset(
    {"task_id", "agent_id", "quality_score", "quality_passed", "llm_reasoning", "human_score"}
)
_BATCH_SUFFIXES = ("_ann2", "_ann3")
#: ``validate`` prints at most this many warning lines, then how many more there are.
MAX_WARNING_LINES = 20


# --------------------------------------------------------------------------- reading
def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file, or raise a :class:`DataError` saying what is wrong with it:
    missing, not a regular file (a FIFO or a device would block or never end),
    unreadable, not UTF-8, empty, not JSON (with line and column), truncated (the text
    ends before the value is complete), nested too deeply, or an object with the
    same key twice (which a JSON reader would otherwise resolve silently: the last
    one wins)."""
    path = Path(path)
    raw = _read_regular_file(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (bad byte at offset {exc.start})", file=path) from None
    if not text.strip():
        raise DataError("empty file, expected JSON", file=path)
    try:
        return json.loads(text, object_pairs_hook=_object_without_duplicates)
    except json.JSONDecodeError as exc:
        raise _json_error(exc, text, path) from None
    except _DuplicateKey as dup:
        raise _duplicate_key_error(text, path, dup) from None
    except RecursionError:
        raise DataError(
            "nested too deeply: arrays and objects more than about "
            f"{sys.getrecursionlimit()} levels deep", file=path
        ) from None
    except ValueError as exc:  # an integer literal beyond Python's digit limit, for one
        raise DataError(f"not readable as JSON: {first_clause(exc)}", file=path) from None


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``, which must be a regular file (a FIFO would wait forever
    and ``/dev/zero`` would fill the memory, so neither is opened)."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise DataError("is a directory, expected a JSON file", file=path)
        if not stat.S_ISREG(mode):
            raise DataError("not a regular file (a FIFO, device or socket), expected a JSON file", file=path)
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError("no such file", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror or exc}", file=path) from None


class _DuplicateKey(Exception):
    """Raised by :func:`_object_without_duplicates`: ``key`` is entry ``first`` and
    ``second`` (0-based) of one JSON object."""

    def __init__(self, key: str, first: int, second: int) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json``'s ``object_pairs_hook``: the object as a dict, or :class:`_DuplicateKey`
    when a key repeats (the default reader keeps the last silently)."""
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: dict[str, int] = {}
        for position, (key, _) in enumerate(pairs):
            if key in seen:
                raise _DuplicateKey(key, seen[key], position)
            seen[key] = position
    return obj


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _line_col(text: str, pos: int) -> str:
    """``line L, column C`` (1-based) of offset ``pos`` in ``text``."""
    line_start = text.rfind("\n", 0, pos) + 1
    return f"line {text.count(chr(10), 0, pos) + 1}, column {pos - line_start + 1}"


def _top_level_entries(text: str) -> Iterator[tuple[str, int]]:
    """``(name, position)`` of each entry of the top-level object (its key) or array
    (``item <i>``), parsing each value with the duplicate check, in text order.
    Only called on text that ``json`` has read up to a duplicate key."""
    decoder = json.JSONDecoder(object_pairs_hook=_object_without_duplicates)

    def skip(i: int) -> int:
        return _JSON_SPACE.match(text, i).end()

    i = skip(0)
    is_object = text.startswith("{", i)
    i, index = skip(i + 1), 0
    while i < len(text) and text[i] not in "]}":
        name, start = f"item {index}", i
        if is_object:
            name, i = json.decoder.scanstring(text, i + 1)
            i = skip(skip(i) + 1)  # past the colon
        yield name, start
        _, i = decoder.raw_decode(text, i)
        i = skip(i)
        if text.startswith(",", i):
            i = skip(i + 1)
        index += 1


def _duplicate_key_error(text: str, path: Path, dup: _DuplicateKey) -> DataError:
    """The error for a key that repeats in one object: a top-level key (an instance id)
    with the line and column of both entries, else the record holding the object."""
    seen: dict[str, int] = {}
    record: str | None = None
    try:
        for record, start in _top_level_entries(text):
            if record in seen:
                return DataError(
                    f"the same key twice in the top-level object, at {_line_col(text, seen[record])} "
                    f"and at {_line_col(text, start)} (a JSON reader keeps only the last)",
                    file=path,
                    record=record,
                )
            seen[record] = start
    except _DuplicateKey as inner:
        return _duplicate_in_record(inner, path, record)
    return _duplicate_in_record(dup, path, None)  # not found again: name no record


def _duplicate_in_record(dup: _DuplicateKey, path: Path, record: str | None) -> DataError:
    return DataError(
        f"the key {excerpt(dup.key)} twice in one object (its entries {dup.first + 1} and "
        f"{dup.second + 1}; a JSON reader keeps only the last)",
        file=path,
        record=record,
    )


def _json_error(exc: json.JSONDecodeError, text: str, path: Path) -> DataError:
    body = text.rstrip()
    end_line = body.count("\n") + 1
    end_col = len(body) - (body.rfind("\n") + 1) + 1
    if exc.msg.startswith("Unterminated string"):
        return DataError(
            f"truncated JSON: a string opened at line {exc.lineno}, column {exc.colno} "
            f"is never closed (the text ends at line {end_line}, column {end_col})",
            file=path,
        )
    if exc.pos >= len(body):
        return DataError(
            f"truncated JSON: the text ends at line {end_line}, column {end_col} "
            f"before the value is complete ({exc.msg})",
            file=path,
        )
    return DataError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", file=path)


def _json_type(value: Any) -> str:
    """``value``'s JSON type with an article, for messages ("an array", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


# ----------------------------------------------------------------------- validation
def _require_records(obj: Any, file: str | Path | None) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise DataError(
            f"top level is {_json_type(obj)}, expected an object keyed by instance id", file=file
        )
    if not obj:
        raise DataError("no records: the top-level object is empty", file=file)
    return obj


def _check_key(key: str, *, batch_only: bool, file: str | Path | None) -> None:
    match = ids.KEY_RE.fullmatch(key)
    suffix = match.group(3) if match else None
    if match is None or (batch_only and suffix is not None and suffix.isdigit()):
        allowed = "an optional _ann2/_ann3 suffix" if batch_only else "an optional _ann2/_ann3 or run suffix"
        raise DataError(
            f"key is not <domain>_<i> (domain airline or retail) with {allowed}",
            file=file,
            record=key,
        )


def _require_record_object(record: Any, key: str, file: str | Path | None) -> Mapping[str, Any]:
    if not isinstance(record, Mapping):
        raise DataError(f"expected an object, got {_json_type(record)}", file=file, record=key)
    return record


def _check_conversation(
    record: Mapping[str, Any], key: str, file: str | Path | None, *, null_content: bool
) -> None:
    """``conversation`` must be a list of ``{role, content}`` objects; ``role`` a non-empty
    string, ``content`` a string (or null when ``null_content``: tool-calling turns)."""
    if "conversation" not in record:
        raise DataError("missing", file=file, record=key, field="conversation")
    conversation = record["conversation"]
    if not isinstance(conversation, list):
        raise DataError(
            f"expected a list of messages, got {_json_type(conversation)}",
            file=file,
            record=key,
            field="conversation",
        )
    for i, message in enumerate(conversation):
        where = f"conversation[{i}]"
        if not isinstance(message, Mapping):
            raise DataError(
                f"expected a {{role, content}} object, got {_json_type(message)}",
                file=file,
                record=key,
                field=where,
            )
        for name in ("role", "content"):
            if name not in message:
                raise DataError("missing", file=file, record=key, field=f"{where}.{name}")
        role, content = message["role"], message["content"]
        if not isinstance(role, str) or not role:
            raise DataError(
                f"expected a non-empty string, got {_json_type(role)}",
                file=file,
                record=key,
                field=f"{where}.role",
            )
        if not (isinstance(content, str) or (null_content and content is None)):
            raise DataError(
                f"expected a string, got {_json_type(content)}",
                file=file,
                record=key,
                field=f"{where}.content",
            )


def _check_scalars(record: Mapping[str, Any], key: str, file: str | Path | None) -> None:
    """``keep`` and ``quality_passed`` are booleans, ``reward`` and ``quality_score``
    finite numbers (not NaN, Infinity, ``1e400`` or an integer beyond the float
    range); each may be null or absent (missing ``keep`` means True, null ``reward`` 0)."""
    for name in ("keep", "quality_passed"):
        value = record.get(name)
        if value is not None and not isinstance(value, bool):
            raise DataError(
                f"expected a boolean or null, got {_json_type(value)} {excerpt(value)}",
                file=file,
                record=key,
                field=name,
            )
    for name in ("reward", "quality_score"):
        value = record.get(name)
        if value is not None and not _is_number(value):
            raise DataError(
                f"expected a number or null, got {_json_type(value)} {excerpt(value)}",
                file=file,
                record=key,
                field=name,
            )
        if value is not None and not is_finite_number(value):
            raise DataError(f"expected a finite number or null, got {excerpt(value)}", file=file, record=key, field=name)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_missing_answer(answer: Any) -> bool:
    """Null and blank answers count as not answered (not as errors)."""
    return answer is None or (isinstance(answer, str) and not answer.strip())


def _answer_problem(item: str, answer: Any) -> str | None:
    """What is wrong with an answered (not null or blank) survey ``answer`` to ``item``:
    an ordinal answer that is not one of the options, a free-text answer that is not
    a string; ``None`` when it is fine or the item is not one the study scores."""
    if item in survey.SURVEY_OPTIONS:
        if survey.answer_value(item, answer) is None:
            options = ", ".join(repr(o) for o in survey.SURVEY_OPTIONS[item])
            return f"{excerpt(answer)} is not one of the options ({options})"
    elif item in survey.FREE_TEXT_ITEMS and not isinstance(answer, str):
        return f"expected free text (a string), got {_json_type(answer)}"
    return None


def _check_survey(
    survey_obj: Any,
    key: str,
    file: str | Path | None,
    *,
    strict: bool,
    warnings: list[DataWarning] | None,
) -> None:
    """A survey is ``{item: {question, answer}}`` (or ``{item: answer}``), or null;
    anything else is a :class:`DataError`.

    An answer nested more than :data:`~usersim_utils.errors.MAX_NESTING` levels deep
    is an error. An invalid answer (see :func:`_answer_problem`; an entry that is
    neither an object nor null is read as the answer itself, as the reference does)
    keeps its record, because the index counts it as missing (spec usi.md §6): it
    becomes a :class:`DataWarning` appended to ``warnings``, or a :class:`DataError`
    when ``strict``.
    """
    if survey_obj is None:
        return
    if not isinstance(survey_obj, Mapping):
        raise DataError(
            f"expected an object {{item: {{question, answer}}}}, got {_json_type(survey_obj)}",
            file=file,
            record=key,
            field="survey",
        )
    for item, entry in survey_obj.items():
        if isinstance(entry, Mapping):
            answer, where = entry.get("answer"), f"survey.{item}.answer"
        else:
            answer, where = entry, f"survey.{item}"
        if nesting_depth(answer) > MAX_NESTING:
            raise DataError(
                f"nested too deeply: more than {MAX_NESTING} levels of arrays and objects",
                file=file,
                record=key,
                field=where,
            )
        problem = None if _is_missing_answer(answer) else _answer_problem(item, answer)
        if problem is None:
            continue
        found = DataWarning(problem, file=file, record=key, field=where)
        if strict:
            raise found.as_error()
        if warnings is not None:
            warnings.append(found)


def validate_human_sessions(
    obj: Any,
    *,
    file: str | Path | None,
    strict: bool = False,
    warnings: list[DataWarning] | None = None,
) -> dict[str, dict]:
    """Check the human-study object (``tau_bench_tasks_unified.json``) and return its records.

    Keys are ``<domain>_<i>`` with an optional ``_ann2``/``_ann3``; each record is an
    object with a ``conversation`` list of ``{role, content}`` strings; ``keep``,
    ``reward``, ``quality_*`` have the right types; the survey is an object.
    Raises :class:`DataError`. An answer that is not one of its item's options
    (null/blank = not answered) keeps its record: a :class:`DataWarning` appended to
    ``warnings`` (when given), or a :class:`DataError` when ``strict``.
    """
    records = _require_records(obj, file)
    for key, record in records.items():
        _check_key(key, batch_only=True, file=file)
        record = _require_record_object(record, key, file)
        _check_conversation(record, key, file, null_content=False)
        _check_scalars(record, key, file)
        _check_survey(record.get("survey"), key, file, strict=strict, warnings=warnings)
    return dict(records)


def validate_eval_results(
    obj: Any,
    *,
    file: str | Path | None,
    domain: str | None = None,
    strict: bool = False,
    warnings: list[DataWarning] | None = None,
) -> dict[str, dict]:
    """Check simulator rollouts (``eval_results_<label>.json``) and return them.

    Keys are ``<domain>_<i>`` with an optional run (or batch) suffix; each record
    has a ``conversation`` (message content may be null), optional ``reward``,
    ``keep`` and ``survey`` (invalid answers: ``warnings`` and ``strict`` as in
    :func:`validate_human_sessions`). A tau-bench trajectory list is converted first
    with :func:`usersim_utils.trajectories.from_tau_bench` (``domain`` is passed on).
    """
    if isinstance(obj, list):
        if not _looks_like_tau_bench(obj):
            raise DataError(
                "top level is an array but not a tau-bench trajectory list "
                "(each item needs 'task_id' and 'traj'); expected an object keyed by instance id",
                file=file,
            )
        obj = trajectories.from_tau_bench(obj, domain=domain, file=file)
    records = _require_records(obj, file)
    for key, record in records.items():
        _check_key(key, batch_only=False, file=file)
        record = _require_record_object(record, key, file)
        _check_conversation(record, key, file, null_content=True)
        _check_scalars(record, key, file)
        _check_survey(record.get("survey"), key, file, strict=strict, warnings=warnings)
    return dict(records)


def validate_survey_records(
    obj: Any,
    *,
    file: str | Path | None,
    strict: bool = False,
    warnings: list[DataWarning] | None = None,
) -> dict[str, dict]:
    """Check a survey file (``survey_comparable_<label>.json``, simulator surveys or
    the human re-ratings) and return its records.

    Each record is an object with a ``survey``. Answers outside the options are
    scored as missing (spec §6): ``warnings`` and ``strict`` as in
    :func:`validate_human_sessions`.
    """
    records = _require_records(obj, file)
    for key, record in records.items():
        _check_key(key, batch_only=False, file=file)
        record = _require_record_object(record, key, file)
        if "survey" not in record:
            raise DataError("missing", file=file, record=key, field="survey")
        _check_scalars(record, key, file)
        _check_survey(record["survey"], key, file, strict=strict, warnings=warnings)
    return dict(records)


def _looks_like_tau_bench(obj: list[Any]) -> bool:
    return bool(obj) and all(isinstance(x, Mapping) and "traj" in x and "task_id" in x for x in obj)


def load_human_sessions(
    path: str | os.PathLike[str], *, strict: bool = False, warnings: list[DataWarning] | None = None
) -> dict[str, dict]:
    """Read and validate the human-study file. Raises :class:`DataError`; invalid
    answers are appended to ``warnings`` (see :func:`validate_human_sessions`)."""
    return validate_human_sessions(read_json(path), file=path, strict=strict, warnings=warnings)


def load_eval_results(
    path: str | os.PathLike[str],
    *,
    domain: str | None = None,
    strict: bool = False,
    warnings: list[DataWarning] | None = None,
) -> dict[str, dict]:
    """Read and validate a rollout file, or a tau-bench trajectory list (converted).
    Raises :class:`DataError`; invalid answers are appended to ``warnings``."""
    return validate_eval_results(read_json(path), file=path, domain=domain, strict=strict, warnings=warnings)


def load_survey_records(
    path: str | os.PathLike[str], *, strict: bool = False, warnings: list[DataWarning] | None = None
) -> dict[str, dict]:
    """Read and validate a survey file. Raises :class:`DataError`; invalid answers
    are appended to ``warnings``."""
    return validate_survey_records(read_json(path), file=path, strict=strict, warnings=warnings)


def detect_kind(obj: Any, path: str | os.PathLike[str]) -> Kind:
    """Which of the study's file kinds ``obj`` (read from ``path``) is.

    By name first (``eval_results_*``, ``survey_comparable_*``,
    ``tau_bench_tasks_unified.json``), then by content: a list is tau-bench
    trajectories; batch suffixes (``_ann2``/``_ann3``) or human-only fields
    (``quality_score``, ``agent_id``...) mean the human study, unless no record
    has a ``conversation`` (a survey file); records with a ``survey`` and no
    ``conversation`` are a survey file; anything else is rollouts. A value that is
    neither an object nor a list is reported as a bad human-study file.
    """
    name = Path(path).name
    if name.startswith(EVAL_PREFIX):
        return "eval_results"
    if name.startswith(SURVEY_PREFIX):
        return "survey"
    if name == paths.HUMAN_FILE.name:
        return "human"
    if isinstance(obj, list):
        return "tau_bench"
    if not isinstance(obj, Mapping):
        return "human"
    records = [r for r in obj.values() if isinstance(r, Mapping)]
    has_conversation = any("conversation" in r for r in records)
    has_survey = any("survey" in r for r in records)
    human_like = any(k.endswith(_BATCH_SUFFIXES) for k in obj) or any(
        _HUMAN_ONLY_FIELDS & r.keys() for r in records
    )
    if human_like:
        return "human" if has_conversation or not has_survey else "survey"
    if has_survey and not has_conversation:
        return "survey"
    return "eval_results"


# --------------------------------------------------------------------------- tables
SESSION_COLUMNS: tuple[str, ...] = (
    "instance_id",
    "task_key",
    "domain",
    "task_index",
    "batch",
    "keep",
    "reward",
    "success",
    "quality_score",
    "quality_passed",
    "n_messages",
    "n_user_turns",
    "n_user_words",
)
TURN_COLUMNS: tuple[str, ...] = ("instance_id", "batch", "position", "role", "content", "is_meta")
SURVEY_COLUMNS: tuple[str, ...] = (
    "label",
    "instance_id",
    "task_key",
    "batch",
    "item",
    "answer",
    "value",
    "value_norm",
    "keep",
)
#: The survey items of the long table: the 8 ordinal items, then the free-text ones.
SURVEY_TABLE_ITEMS: tuple[str, ...] = survey.SURVEY_ITEMS + survey.FREE_TEXT_ITEMS


def _keep(record: Mapping[str, Any]) -> bool:
    """A record's ``keep``; missing or null means True (spec usi.md §1)."""
    value = record.get("keep")
    return True if value is None else bool(value)


def _float_or_nan(value: Any) -> float:
    return float(value) if _is_number(value) else float("nan")


def _task_index(key: str) -> int:
    match = ids.KEY_RE.fullmatch(key)
    if match is None:
        raise DataError("key is not <domain>_<i>", record=key)
    return int(match.group(2))


def sessions_table(records: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per human session, sorted by batch, domain and task index.

    Columns: ``instance_id``, ``task_key`` (``<domain>_<i>``), ``domain``,
    ``task_index`` (int), ``batch`` (int 1-3, from the ``_ann2``/``_ann3`` suffix),
    ``keep`` (bool; missing -> True), ``reward`` (float, NaN when null),
    ``success`` (int: 1 if reward > 0 else 0; null -> 0), ``quality_score`` (float,
    NaN when absent), ``quality_passed`` (nullable boolean), ``n_messages`` (all
    messages, meta included), ``n_user_turns`` (user messages left after removing
    meta messages), ``n_user_words`` (white-space words in those turns, agent
    markup removed).
    """
    rows = []
    for key, record in records.items():
        turns, _ = features.clean_conversation(record["conversation"], "human")
        reward = _float_or_nan(record.get("reward"))
        passed = record.get("quality_passed")
        rows.append(
            {
                "instance_id": key,
                "task_key": ids.task_key(key),
                "domain": ids.domain_of(key),
                "task_index": _task_index(key),
                "batch": ids.split_batch(key)[1],
                "keep": _keep(record),
                "reward": reward,
                "success": int(reward > 0),  # NaN > 0 is False: a null reward is a failure
                "quality_score": _float_or_nan(record.get("quality_score")),
                "quality_passed": passed if isinstance(passed, bool) else pd.NA,
                "n_messages": len(record["conversation"]),
                "n_user_turns": len(turns),
                "n_user_words": sum(len(t.split()) for t in turns),
            }
        )
    table = pd.DataFrame(rows, columns=list(SESSION_COLUMNS))
    table = table.astype(
        {
            "task_index": "int64",
            "batch": "int64",
            "keep": "bool",
            "reward": "float64",
            "success": "int64",
            "quality_score": "float64",
            "quality_passed": "boolean",
            "n_messages": "int64",
            "n_user_turns": "int64",
            "n_user_words": "int64",
        }
    )
    return table.sort_values(["batch", "domain", "task_index"], ignore_index=True)


def turns_table(
    records: Mapping[str, Mapping[str, Any]], *, source: features.Source = "human"
) -> pd.DataFrame:
    """One row per message of every conversation, in order.

    Columns: ``instance_id``, ``batch`` (1-3 from the key's suffix; 1 for rollouts),
    ``position`` (int, 0-based index in the conversation), ``role``, ``content``
    (raw text; null content becomes ""), ``is_meta`` (bool: a platform meta message
    for ``source="human"``, ``###STOP###`` for ``source="llm"``; see
    :func:`usersim_utils.features.is_meta_message`).
    """
    rows = []
    for key, record in records.items():
        batch = ids.split_batch(key)[1]
        for position, message in enumerate(record["conversation"]):
            content = message.get("content") or ""
            rows.append(
                (key, batch, position, message.get("role"), content, features.is_meta_message(content, source))
            )
    table = pd.DataFrame(rows, columns=list(TURN_COLUMNS))
    return table.astype({"batch": "int64", "position": "int64", "is_meta": "bool"})


def _answer_text(answer: Any) -> str | None:
    """The raw answer as text (a non-string simulator answer is kept as its JSON)."""
    if answer is None or isinstance(answer, str):
        return answer
    return json.dumps(answer)


def surveys_table(
    records: Mapping[str, Mapping[str, Any]],
    *,
    label: str,
    keep: Mapping[str, bool] | None = None,
) -> pd.DataFrame:
    """Long table of survey answers: one row per record and item (8 ordinal items,
    then ``specific_examples`` and ``improvement_suggestions``), answered or not.

    Columns: ``label`` (``"human"`` or a simulator label), ``instance_id``,
    ``task_key``, ``batch`` (1-3), ``item``, ``answer`` (the raw answer as text;
    missing answers are NA, test with ``pd.isna``), ``value`` (ordinal value as float; NaN when missing, not an option, or
    free text), ``value_norm`` (``value`` mapped to 0-1; NaN likewise), ``keep``
    (bool: ``keep[instance_id]`` when given and present there, e.g. the human
    session's flag for a simulator survey; else the record's own ``keep``,
    missing -> True).
    """
    rows = []
    for key, record in records.items():
        answers = survey.survey_answers(record.get("survey"))
        kept = keep[key] if keep is not None and key in keep else _keep(record)
        for item in SURVEY_TABLE_ITEMS:
            answer = answers.get(item)
            value = survey.answer_value(item, answer) if item in survey.SURVEY_OPTIONS else None
            rows.append(
                {
                    "label": label,
                    "instance_id": key,
                    "task_key": ids.task_key(key),
                    "batch": ids.split_batch(key)[1],
                    "item": item,
                    "answer": _answer_text(answer),
                    "value": float("nan") if value is None else float(value),
                    "value_norm": float("nan") if value is None else survey.normalise(item, value),
                    "keep": bool(kept),
                }
            )
    table = pd.DataFrame(rows, columns=list(SURVEY_COLUMNS))
    return table.astype({"batch": "int64", "value": "float64", "value_norm": "float64", "keep": "bool"})


# --------------------------------------------------------------------------- summaries
def _rate(values: pd.Series) -> str:
    return f"{values.mean():.3f}" if len(values) else "n/a"


def summarise_human(records: Mapping[str, Mapping[str, Any]]) -> str:
    """A few lines on a human-study file: sessions per batch and domain, kept,
    reward rate, survey completeness (counts only, never rows)."""
    sessions = sessions_table(records)
    answers = surveys_table(records, label="human")
    ordinal = answers[answers["item"].isin(survey.SURVEY_ITEMS)]
    complete = ordinal.groupby("instance_id")["value"].apply(lambda v: v.notna().all())
    per_cell = sessions.groupby(["batch", "domain"]).size()
    kept = sessions[sessions["keep"]]
    invalid = int(_not_an_option(ordinal).sum())
    lines = [
        f"human sessions: {len(sessions)} ({int(sessions['keep'].sum())} kept)",
        *(
            f"  batch {batch}: "
            + ", ".join(f"{domain} {per_cell[(batch, domain)]}" for domain in sorted(group["domain"].unique()))
            for batch, group in sessions.groupby("batch")
        ),
        f"reward rate (kept sessions): {_rate(kept['success'])}",
        f"user turns per session (after meta removal): median {sessions['n_user_turns'].median():g}",
        f"survey: all {len(survey.SURVEY_ITEMS)} ordinal items answered in {int(complete.sum())}"
        f"/{len(sessions)} sessions; {int(ordinal['value'].isna().sum())} of {len(ordinal)} answers missing"
        + (f" ({invalid} of them not an option, skipped by the index)" if invalid else ""),
    ]
    return "\n".join(lines)


def _not_an_option(ordinal: pd.DataFrame) -> pd.Series:
    """Rows of a :func:`surveys_table` (ordinal items) answered with something that is
    not one of the options; null and blank answers are missing, not invalid."""
    answered = ordinal["answer"].map(lambda a: isinstance(a, str) and not _is_missing_answer(a))
    return answered & ordinal["value"].isna()


def rollouts_overview(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Counts of a rollout file: ``entries``, ``kept``, ``runs`` (run suffixes; plain
    keys are run 1), ``tasks``, ``domains`` (list), ``reward_rate`` (mean success of
    kept entries, NaN when none) and ``with_survey``."""
    kept = [r for r in records.values() if _keep(r)]
    success = [int(_float_or_nan(r.get("reward")) > 0) for r in kept]
    return {
        "entries": len(records),
        "kept": len(kept),
        "runs": len(ids.suffix_run_split(list(records))),
        "tasks": len({ids.task_key(k) for k in records}),
        "domains": sorted({ids.domain_of(k) for k in records}),
        "reward_rate": float(np.mean(success)) if success else float("nan"),
        "with_survey": sum(1 for r in records.values() if r.get("survey")),
    }


def summarise_eval_results(records: Mapping[str, Mapping[str, Any]]) -> str:
    """A few lines on a rollout file: entries, runs, tasks, kept, reward rate."""
    o = rollouts_overview(records)
    rate = "n/a" if math.isnan(o["reward_rate"]) else f"{o['reward_rate']:.3f}"
    return "\n".join(
        [
            f"rollouts: {o['entries']} entries ({o['kept']} kept), {o['runs']} run(s), "
            f"{o['tasks']} tasks ({', '.join(o['domains'])})",
            f"reward rate (kept entries): {rate}",
            f"entries with a survey: {o['with_survey']}",
        ]
    )


def survey_overview(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Counts of a survey file's ordinal answers: ``records``, ``per_batch``
    ({batch: records}), ``valid``, ``not_an_option`` (scored as missing by the index),
    ``missing`` (null, blank or absent) and ``answers`` (records x 8)."""
    answers = surveys_table(records, label="")
    ordinal = answers[answers["item"].isin(survey.SURVEY_ITEMS)]
    valid = int(ordinal["value"].notna().sum())
    invalid = int(_not_an_option(ordinal).sum())
    per_batch = answers.drop_duplicates("instance_id").groupby("batch").size()
    return {
        "records": len(records),
        "per_batch": {int(b): int(n) for b, n in per_batch.items()},
        "valid": valid,
        "not_an_option": invalid,
        "missing": len(ordinal) - valid - invalid,
        "answers": len(ordinal),
    }


def summarise_surveys(records: Mapping[str, Mapping[str, Any]], *, label: str) -> str:
    """A few lines on a survey file: records per batch, valid and invalid answers."""
    o = survey_overview(records)
    return "\n".join(
        [
            f"surveys ({label}): {o['records']} records ("
            + ", ".join(f"batch {b}: {n}" for b, n in o["per_batch"].items())
            + ")",
            f"ordinal answers: {o['valid']} valid, {o['not_an_option']} not an option "
            f"(scored as missing), {o['missing']} missing, of {o['answers']}",
        ]
    )


def answer_distribution(surveys: pd.DataFrame) -> pd.DataFrame:
    """Share of each option among the valid answers to each ordinal item, kept rows only.

    ``surveys`` is a :func:`surveys_table`. Columns: ``item``, ``answer`` (the option),
    ``rank`` (its position in the item's option list, 0-based), ``value`` (ordinal
    value), ``n`` (answers), ``share`` (n / valid answers to the item; every listed
    option appears, with n = 0 when nobody chose it).
    """
    valid = surveys[surveys["keep"] & surveys["value"].notna()]
    counts = valid.groupby(["item", "answer"]).size()
    rows = []
    for item, options in survey.SURVEY_OPTIONS.items():
        total = int(counts.loc[item].sum()) if item in counts.index.get_level_values(0) else 0
        for rank, (option, value) in enumerate(options.items()):
            n = int(counts.get((item, option), 0))
            rows.append((item, option, rank, float(value), n, n / total if total else float("nan")))
    return pd.DataFrame(rows, columns=["item", "answer", "rank", "value", "n", "share"])


#: Kinds of platform meta message, in the order :func:`meta_kind` tests them.
META_KINDS: tuple[str, ...] = ("task header", "reward check", "instructions canvas", "survey prompt", "stop")


def meta_kind(content: str) -> str | None:
    """Which kind of human-session meta message ``content`` is (one of :data:`META_KINDS`),
    or None for a real turn. Agrees with :func:`usersim_utils.features.is_meta_message`."""
    if content.startswith("\\tau "):
        return "task header"
    if content.startswith("\\reward"):
        return "reward check"
    if "<|canvas|>" in content:
        return "instructions canvas"
    if "<|highlight|>" in content or "<|survey|>" in content:
        return "survey prompt"
    if content.strip() == "/stop":
        return "stop"
    return None


# --------------------------------------------------------------------------- the study
@dataclass(frozen=True, eq=False)
class Study:
    """The study's data, loaded and validated (see :func:`resolve_study`).

    ``records`` are the raw human sessions; ``sessions``, ``turns``, ``surveys`` the
    tables of :func:`sessions_table`, :func:`turns_table` and :func:`surveys_table`
    (label ``"human"``). ``eval_results`` and ``simulator_surveys`` map a label to
    its file; the rollout files are listed, not read (they are large). ``warnings``
    are the invalid survey answers of the human file, the simulator survey files and
    the re-ratings (all read and checked): kept, and scored as missing by the index
    (:attr:`invalid_answers` counts them per file and field).
    """

    root: Path
    synthetic: bool
    records: dict[str, dict]
    sessions: pd.DataFrame
    turns: pd.DataFrame
    surveys: pd.DataFrame
    eval_results: dict[str, Path]
    simulator_surveys: dict[str, Path]
    rerating_path: Path | None
    warnings: tuple[DataWarning, ...] = ()

    @property
    def invalid_answers(self) -> pd.DataFrame:
        """Invalid survey answers per file and field (:func:`count_warnings`)."""
        return count_warnings(self.warnings)

    def banner(self) -> str:
        """Markdown to show above any result: a loud warning on the synthetic demo
        panel, else where the data came from and its terms."""
        if self.synthetic:
            return (
                "## ⚠️ SYNTHETIC DEMO DATA ⚠️\n\n"
                f"**These results come from the generated demo panel (`{_display_path(self.root)}`), "
                "not from the human study.** They show that the method runs end to end; they "
                "say nothing about real users or real simulators. For the real data, accept "
                f"the terms at {HF_DATASET_URL}, run `make download` (needs `HF_TOKEN`) or set "
                f"`${paths.STUDY_DIR_ENV}` / the `study_dir` parameter to a local copy."
            )
        return (
            f"**Data: the human study `{HF_REPO_ID}`** from `{_display_path(self.root)}` "
            f"({len(self.sessions)} sessions, {len(self.eval_results)} simulator rollout files).\n\n"
            f"**Terms.** {TERMS} Do not commit executed notebooks that show its rows."
        )


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(paths.REPO_ROOT))
    except ValueError:
        return str(path)


def _labelled_files(folder: Path, prefix: str) -> dict[str, Path]:
    """``{label: file}`` for ``folder/<prefix><label>.json``, sorted by label."""
    if not folder.is_dir():
        return {}
    found = {p.stem[len(prefix):]: p for p in folder.glob(f"{prefix}*.json") if p.is_file()}
    return dict(sorted(found.items()))


def _is_synthetic(root: Path) -> bool:
    """The demo panel lives under a folder named ``SYNTHETIC-…`` (and says so in its file names)."""
    return any("SYNTHETIC" in part for part in root.resolve().parts)


def resolve_study(study_dir: str | os.PathLike[str] | None = None, *, allow_demo: bool = True) -> Study:
    """Find, load and validate the study.

    The folder is ``study_dir``, else ``$USERSIM_TAU_USI_DIR``, else
    ``data/raw/tau-usi`` (:func:`usersim_utils.paths.study_dir`). When it holds no
    ``data/tau_bench_tasks_unified.json``: an explicit ``study_dir`` or environment
    variable is an error (:class:`DataError` naming the path); otherwise the
    SYNTHETIC demo panel is generated if needed and used (``allow_demo``).
    """
    root = paths.study_dir(study_dir)
    if not (root / paths.HUMAN_FILE).is_file():
        explicit = bool(study_dir) or bool(os.environ.get(paths.STUDY_DIR_ENV))
        if explicit:
            origin = "study_dir" if study_dir else f"${paths.STUDY_DIR_ENV}"
            raise DataError(
                f"no {paths.HUMAN_FILE.as_posix()} in this folder (given by {origin}); "
                f"point it at a copy of {HF_REPO_ID} or run `make download`",
                file=root,
            )
        if not allow_demo:
            raise DataError(
                f"no {paths.HUMAN_FILE.as_posix()} here; run `make download` (needs accepted "
                f"terms and HF_TOKEN) or set ${paths.STUDY_DIR_ENV}",
                file=root,
            )
        from .. import demo  # the demo module builds its panel with this module's writers

        root = Path(demo.ensure_demo_panel())
    return load_study(root)


def load_study(root: str | os.PathLike[str]) -> Study:
    """Load and validate the study in ``root`` (which must hold the human file): the
    human file, and every survey file (simulators and re-ratings) for its warnings."""
    root = Path(root)
    found: list[DataWarning] = []
    records = load_human_sessions(root / paths.HUMAN_FILE, warnings=found)
    surveys_dir = root / paths.SURVEY_SUBDIR
    simulator_surveys = _labelled_files(surveys_dir, SURVEY_PREFIX)
    rerating = simulator_surveys.pop(RERATING_LABEL, None)
    for path in [*simulator_surveys.values(), *([rerating] if rerating else [])]:
        load_survey_records(path, warnings=found)
    return Study(
        root=root,
        synthetic=_is_synthetic(root),
        records=records,
        sessions=sessions_table(records),
        turns=turns_table(records, source="human"),
        surveys=surveys_table(records, label="human"),
        eval_results=_labelled_files(root / paths.EVAL_RESULTS_SUBDIR, EVAL_PREFIX),
        simulator_surveys=simulator_surveys,
        rerating_path=rerating,
        warnings=tuple(found),
    )


WARNING_COUNT_COLUMNS: tuple[str, ...] = ("file", "field", "n")


def count_warnings(warnings: Sequence[DataWarning]) -> pd.DataFrame:
    """How many warnings each file has for each field: columns ``file`` (the file's
    name), ``field`` (e.g. ``survey.efficiency.answer``) and ``n``, in the order the
    files were read, fields sorted. No rows when there are no warnings."""
    counts = Counter((Path(w.file).name if w.file else "", w.field or "") for w in warnings)
    file_order = {file: i for i, file in enumerate(dict.fromkeys(file for file, _ in counts))}
    rows = sorted(((file, field, n) for (file, field), n in counts.items()), key=lambda r: (file_order[r[0]], r[1]))
    return pd.DataFrame(rows, columns=list(WARNING_COUNT_COLUMNS)).astype({"n": "int64"})


def show_banner(study: Study) -> None:
    """Display the study's banner: rendered markdown in IPython, plain text elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        print(study.banner())
        return
    if get_ipython() is None:
        print(study.banner())
    else:
        display(Markdown(study.banner()))


def write_tables(study: Study, dest: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Write the study's tables for later notebooks, atomically, into ``dest``
    (default ``data/processed/human``): ``sessions.parquet``, ``turns.parquet``,
    ``surveys.parquet`` and ``study.json`` (root, synthetic flag, rollout and survey
    files). Returns ``{name: path}``."""
    dest = Path(dest) if dest is not None else paths.PROCESSED_DIR / "human"
    written: dict[str, Path] = {}
    for name, table in (("sessions", study.sessions), ("turns", study.turns), ("surveys", study.surveys)):
        target = dest / f"{name}.parquet"
        atomic_write(target, lambda tmp, t=table: t.to_parquet(tmp, index=False))
        written[name] = target
    meta = {
        "root": str(study.root),
        "synthetic": study.synthetic,
        "n_sessions": len(study.sessions),
        "eval_results": {k: str(v) for k, v in study.eval_results.items()},
        "simulator_surveys": {k: str(v) for k, v in study.simulator_surveys.items()},
        "rerating_path": str(study.rerating_path) if study.rerating_path else None,
    }
    target = dest / "study.json"
    atomic_write(target, lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8"))
    written["study"] = target
    return written


# --------------------------------------------------------------------------- download
def download(dest: str | os.PathLike[str] | None = None, *, force: bool = False) -> Path:
    """Download ``cmu-lti/tau-usi`` into ``dest`` (default: ``paths.study_dir()``).

    Shows the terms first. When the human file is already there (and not
    ``force``), downloads nothing and makes no network call. Otherwise uses
    ``huggingface_hub.snapshot_download`` with the user's own token (``$HF_TOKEN``
    or the hub's stored login); the user must have accepted the terms on the Hub.
    Raises :class:`DataError` when the download fails.
    """
    target = Path(dest).expanduser().resolve() if dest else paths.study_dir()
    print(f"Terms of {HF_REPO_ID}: {TERMS}")
    human_file = target / paths.HUMAN_FILE
    if human_file.is_file() and not force:
        print(f"Already present: {human_file} (nothing downloaded; --force to fetch again)")
        return target
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    print(f"Downloading {HF_REPO_ID} to {target} ...")
    try:
        snapshot_download(
            repo_id=HF_REPO_ID,
            repo_type=HF_REPO_TYPE,
            local_dir=target,
            token=os.environ.get("HF_TOKEN") or None,
            force_download=force,
        )
    except (GatedRepoError, RepositoryNotFoundError):
        raise DataError(
            f"no access to {HF_REPO_ID}: accept its terms at {HF_DATASET_URL}, then set HF_TOKEN "
            "(or run `hf auth login`)",
            file=target,
        ) from None
    except LocalEntryNotFoundError:
        raise DataError(
            "the files are not there and the Hub client is offline; run with HF_HUB_OFFLINE=0 "
            "(`make download` does)",
            file=target,
        ) from None
    except Exception as exc:  # network and HTTP errors of any transport: one line for the user
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise DataError(f"download failed: {type(exc).__name__}: {first_line}", file=target) from None
    if not human_file.is_file():
        raise DataError(f"download finished but {paths.HUMAN_FILE.as_posix()} is missing", file=target)
    print(f"Done: {target}")
    return target


# --------------------------------------------------------------------------- CLI
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
    label = Path(path).stem.removeprefix(SURVEY_PREFIX)
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
        lines.append(TERMS)
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m usersim_utils.data",
        description="Validate, download and describe the study's data (cmu-lti/tau-usi).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_validate = sub.add_parser("validate", help="check one file; exit 0 with a summary (and warnings), or 2 with one error line")
    p_validate.add_argument("path", help="a human-study, eval_results_*, survey_comparable_* or tau-bench file")
    p_validate.add_argument("--kind", choices=("auto", *KINDS), default="auto", help="file kind (default: detect)")
    p_validate.add_argument(
        "--strict", action="store_true", help="treat warnings (invalid survey answers) as errors: exit 2"
    )
    p_download = sub.add_parser("download", help=f"download {HF_REPO_ID} (needs accepted terms and HF_TOKEN)")
    p_download.add_argument("--dest", default=None, help=f"target folder (default: ${paths.STUDY_DIR_ENV} or data/raw/tau-usi)")
    p_download.add_argument("--force", action="store_true", help="download even when the files are present")
    p_describe = sub.add_parser("describe", help="summarise the study the notebooks would use")
    p_describe.add_argument("--study-dir", default=None, help="a local copy of the dataset (default: as the notebooks)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input)."""
    args = _parser().parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
