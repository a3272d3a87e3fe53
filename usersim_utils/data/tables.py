"""The study's files as tables: one row per human session (:func:`sessions_table`),
per message (:func:`turns_table`), per survey answer (:func:`surveys_table`), and the
invalid answers counted per file and field (:func:`count_warnings`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import features, ids, survey
from ..errors import DataError, DataWarning
from .io import is_number

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


def record_keep(record: Mapping[str, Any]) -> bool:
    """A record's ``keep``; missing or null means True (docs/method.md §2)."""
    value = record.get("keep")
    return True if value is None else bool(value)


def number_or_nan(value: Any) -> float:
    """A JSON number as a float; NaN for anything else (null, absent, text)."""
    return float(value) if is_number(value) else float("nan")


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
        reward = number_or_nan(record.get("reward"))
        passed = record.get("quality_passed")
        rows.append(
            {
                "instance_id": key,
                "task_key": ids.task_key(key),
                "domain": ids.domain_of(key),
                "task_index": _task_index(key),
                "batch": ids.split_batch(key)[1],
                "keep": record_keep(record),
                "reward": reward,
                "success": int(reward > 0),  # NaN > 0 is False: a null reward is a failure
                "quality_score": number_or_nan(record.get("quality_score")),
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
    missing answers are NA, test with ``pd.isna``), ``value`` (ordinal value as
    float; NaN when missing, not an option, or free text), ``value_norm``
    (``value`` mapped to 0-1; NaN likewise), ``keep`` (bool: ``keep[instance_id]``
    when given and present there, e.g. the human session's flag for a simulator
    survey; else the record's own ``keep``, missing -> True).
    """
    rows = []
    for key, record in records.items():
        answers = survey.survey_answers(record.get("survey"))
        kept = keep[key] if keep is not None and key in keep else record_keep(record)
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



WARNING_COUNT_COLUMNS: tuple[str, ...] = ("file", "field", "n")


def count_warnings(warnings: Sequence[DataWarning]) -> pd.DataFrame:
    """How many warnings each file has for each field: columns ``file`` (the file's
    name), ``field`` (e.g. ``survey.efficiency.answer``) and ``n``, in the order the
    files were read, fields sorted. No rows when there are no warnings."""
    counts = Counter((Path(w.file).name if w.file else "", w.field or "") for w in warnings)
    file_order = {file: i for i, file in enumerate(dict.fromkeys(file for file, _ in counts))}
    rows = sorted(((file, field, n) for (file, field), n in counts.items()), key=lambda r: (file_order[r[0]], r[1]))
    return pd.DataFrame(rows, columns=list(WARNING_COUNT_COLUMNS)).astype({"n": "int64"})

