"""Validating the study's files: one :class:`~usersim_utils.errors.DataError` line
naming file, record and field for what cannot be read, a
:class:`~usersim_utils.errors.DataWarning` for an invalid survey answer.

The validators check an object already parsed (:func:`validate_human_sessions`,
:func:`validate_eval_results`, :func:`validate_survey_records`); the loaders read a
file and validate it (:func:`load_human_sessions`...); :func:`detect_kind` tells
which kind of file an object is. Every one takes ``warnings=`` (a list the invalid
answers are appended to; ``None`` ignores them) and ``strict=`` (True raises the
first one as a ``DataError`` instead): such an answer keeps its record, and the
index counts it as missing (docs/method.md §7).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from .. import ids, schema, survey, trajectories
from ..errors import MAX_NESTING, DataError, DataWarning, excerpt, is_finite_number, nesting_depth
from .io import is_number, json_type, read_json

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


def _require_records(obj: Any, file: str | Path | None) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise DataError(
            f"top level is {json_type(obj)}, expected an object keyed by instance id", file=file
        )
    if not obj:
        raise DataError("no records: the top-level object is empty", file=file)
    return obj


def _check_key(key: str, *, batch_only: bool, file: str | Path | None) -> None:
    match = ids.KEY_RE.fullmatch(key)
    suffix = match.group(3) if match else None
    if match is None or (batch_only and suffix is not None and suffix.isdigit()):
        suffixes = "/".join(schema.BATCH_SUFFIXES)
        allowed = f"an optional {suffixes} suffix" if batch_only else f"an optional {suffixes} or run suffix"
        raise DataError(
            f"key is not <domain>_<i> (domain airline or retail) with {allowed}",
            file=file,
            record=key,
        )


def _require_record_object(record: Any, key: str, file: str | Path | None) -> Mapping[str, Any]:
    if not isinstance(record, Mapping):
        raise DataError(f"expected an object, got {json_type(record)}", file=file, record=key)
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
            f"expected a list of messages, got {json_type(conversation)}",
            file=file,
            record=key,
            field="conversation",
        )
    for i, message in enumerate(conversation):
        where = f"conversation[{i}]"
        if not isinstance(message, Mapping):
            raise DataError(
                f"expected a {{role, content}} object, got {json_type(message)}",
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
                f"expected a non-empty string, got {json_type(role)}",
                file=file,
                record=key,
                field=f"{where}.role",
            )
        if not (isinstance(content, str) or (null_content and content is None)):
            raise DataError(
                f"expected a string, got {json_type(content)}",
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
                f"expected a boolean or null, got {json_type(value)} {excerpt(value)}",
                file=file,
                record=key,
                field=name,
            )
    for name in ("reward", "quality_score"):
        value = record.get(name)
        if value is not None and not is_number(value):
            raise DataError(
                f"expected a number or null, got {json_type(value)} {excerpt(value)}",
                file=file,
                record=key,
                field=name,
            )
        if value is not None and not is_finite_number(value):
            raise DataError(
                f"expected a finite number or null, got {excerpt(value)}", file=file, record=key, field=name
            )


def _answer_problem(item: str, answer: Any) -> str | None:
    """What is wrong with an answered (not null or blank) survey ``answer`` to ``item``:
    an ordinal answer that is not one of the options, a free-text answer that is not
    a string; ``None`` when it is fine or the item is not one the study scores."""
    if item in survey.SURVEY_OPTIONS:
        if survey.answer_value(item, answer) is None:
            options = ", ".join(repr(o) for o in survey.SURVEY_OPTIONS[item])
            return f"{excerpt(answer)} is not one of the options ({options})"
    elif item in survey.FREE_TEXT_ITEMS and not isinstance(answer, str):
        return f"expected free text (a string), got {json_type(answer)}"
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
    keeps its record, because the index counts it as missing (docs/method.md §7): it
    becomes a :class:`DataWarning` appended to ``warnings``, or a :class:`DataError`
    when ``strict``.
    """
    if survey_obj is None:
        return
    if not isinstance(survey_obj, Mapping):
        raise DataError(
            f"expected an object {{item: {{question, answer}}}}, got {json_type(survey_obj)}",
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
        problem = None if survey.is_unanswered(answer) else _answer_problem(item, answer)
        if problem is None:
            continue
        found = DataWarning(problem, file=file, record=key, field=where)
        if strict:
            raise found.as_error()
        if warnings is not None:
            warnings.append(found)


def _check_conversation_records(
    obj: Any, file: str | Path | None, *, human: bool, strict: bool, warnings: list[DataWarning] | None
) -> dict[str, dict]:
    """The records of a human-sessions file (``human``: batch-suffixed keys only, no null
    message content) or of a rollouts file, each checked: key, conversation, scalars, survey."""
    records = _require_records(obj, file)
    for key, record in records.items():
        _check_key(key, batch_only=human, file=file)
        record = _require_record_object(record, key, file)
        _check_conversation(record, key, file, null_content=not human)
        _check_scalars(record, key, file)
        _check_survey(record.get("survey"), key, file, strict=strict, warnings=warnings)
    return dict(records)


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
    return _check_conversation_records(obj, file, human=True, strict=strict, warnings=warnings)


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
    return _check_conversation_records(obj, file, human=False, strict=strict, warnings=warnings)


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
    scored as missing (docs/method.md §7): ``warnings`` and ``strict`` as in
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
    if name.startswith(schema.EVAL_PREFIX):
        return "eval_results"
    if name.startswith(schema.SURVEY_PREFIX):
        return "survey"
    if name == schema.HUMAN_FILE.name:
        return "human"
    if isinstance(obj, list):
        return "tau_bench"
    if not isinstance(obj, Mapping):
        return "human"
    records = [r for r in obj.values() if isinstance(r, Mapping)]
    has_conversation = any("conversation" in r for r in records)
    has_survey = any("survey" in r for r in records)
    human_like = any(k.endswith(schema.BATCH_SUFFIXES) for k in obj) or any(
        _HUMAN_ONLY_FIELDS & r.keys() for r in records
    )
    if human_like:
        return "human" if has_conversation or not has_survey else "survey"
    if has_survey and not has_conversation:
        return "survey"
    return "eval_results"

