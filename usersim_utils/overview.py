"""Summaries of the study's files at a glance (notebook 01 and ``python -m
usersim_utils.data validate``/``describe``): counts, rates and shares, never rows.

``summarise_*`` give a few lines of text per file, ``*_overview`` the same counts as
a dict (one row of a table of files), :func:`answer_distribution` the share of each
survey option, :func:`meta_kind` which platform meta message a human turn is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import ids, schema, survey
from .data.tables import number_or_nan, record_keep, sessions_table, surveys_table


def _rate(values: pd.Series) -> str:
    return f"{values.mean():.3f}" if len(values) else "n/a"


def summarise_human(records: Mapping[str, Mapping[str, Any]]) -> str:
    """A few lines on a human-study file: sessions per batch and domain, kept,
    reward rate, survey completeness (counts only, never rows)."""
    sessions = sessions_table(records)
    answers = surveys_table(records, label=schema.HUMAN_LABEL)
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
    answered = ordinal["answer"].map(lambda a: isinstance(a, str) and not survey.is_unanswered(a))
    return answered & ordinal["value"].isna()


def rollouts_overview(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Counts of a rollout file: ``entries``, ``kept``, ``runs`` (run suffixes; plain
    keys are run 1), ``tasks``, ``domains`` (list), ``reward_rate`` (mean success of
    kept entries, NaN when none) and ``with_survey``."""
    kept = [r for r in records.values() if record_keep(r)]
    success = [int(number_or_nan(r.get("reward")) > 0) for r in kept]
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
    if content.startswith(schema.TASK_HEADER_PREFIX):
        return "task header"
    if content.startswith(schema.REWARD_CHECK_PREFIX):
        return "reward check"
    if schema.CANVAS_TAG in content:
        return "instructions canvas"
    if schema.HIGHLIGHT_TAG in content or schema.SURVEY_TAG in content:
        return "survey prompt"
    if content.strip() == schema.HUMAN_STOP:
        return "stop"
    return None

