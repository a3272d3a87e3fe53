"""What people did on the tuning tasks, and how far a candidate card is from it.

Targets (:func:`human_targets`) come from the kept human sessions of the tuning tasks
only (the caller holds nothing else, :mod:`.split`): for each of the 19 features its
distribution over conversations (mean, quartiles, 10th and 90th percentiles, in a row's
unit: rates x 100) and the interval of its mean, a percentile bootstrap that resamples
tasks (a task's batches are not independent); and the survey's positivity, the mean over
the 8 items of an answer's normalised value (docs/method.md §7), with the same interval,
beside each item's answer shares.

A profile (:func:`profile`) is the same summary of a simulator's conversations and
surveys; :func:`gap_report` sets the two side by side: a feature whose simulator mean
lies below the human interval is ``under``, above it ``over``, else ``inside``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import ids, survey
from ..features import FEATURE_SCALE, FEATURES, features_table
from ..schema import HUMAN_LABEL
from ..stats import bootstrap_mean_interval

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
#: Resamples of the intervals of the targets.
N_BOOT = 400
POSITIVITY = "survey_positivity"
GAP_COLUMNS = ("feature", "human", "low", "high", "simulator", "direction")


@dataclass(frozen=True)
class Distribution:
    """One quantity over conversations: mean, interval of the mean, quantiles, the values."""

    mean: float
    low: float
    high: float
    quantiles: tuple[float, ...]
    values: np.ndarray  # (N,) one value per conversation, row units

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (no values)."""
        return {"mean": self.mean, "low": self.low, "high": self.high,
                "quantiles": dict(zip((f"q{round(100 * q)}" for q in QUANTILES), self.quantiles))}


@dataclass(frozen=True)
class Targets:
    """People's features and survey answers on the tuning tasks."""

    tasks: tuple[str, ...]
    n_sessions: int
    features: Mapping[str, Distribution]
    positivity: Distribution | None
    answer_shares: Mapping[str, Mapping[str, float]]
    #: (N, 19) the kept sessions' feature values (row units), for joint draws (personas).
    sessions: np.ndarray

    def to_json(self) -> dict[str, Any]:
        return {"tasks": list(self.tasks), "n_sessions": self.n_sessions,
                "features": {f: d.to_json() for f, d in self.features.items()},
                "survey_positivity": self.positivity.to_json() if self.positivity else None,
                "answer_shares": {k: dict(v) for k, v in self.answer_shares.items()}}


def distribution(values: np.ndarray, clusters: np.ndarray, rng: np.random.Generator, n_boot: int = N_BOOT
                 ) -> Distribution:
    """Mean, task-bootstrap interval and quantiles of ``values`` (``clusters``: task keys)."""
    mean, low, high = bootstrap_mean_interval(values, rng, clusters=clusters, n_boot=n_boot)
    return Distribution(float(mean), float(low), float(high),
                        tuple(float(q) for q in np.quantile(values, QUANTILES)), np.asarray(values, dtype=float))


def positivity(answers: Mapping[str, Any] | None) -> float | None:
    """Mean normalised value (0 worst, 1 best) of the valid ordinal answers of one survey
    (``{item: {"answer": ...}}`` or ``{item: answer}``); ``None`` without one."""
    if not isinstance(answers, Mapping):
        return None
    scores = []
    for item, options in survey.SURVEY_OPTIONS.items():
        entry = answers.get(item)
        answer = entry.get("answer") if isinstance(entry, Mapping) else entry
        if isinstance(answer, str) and answer in options:
            low, high = min(options.values()), max(options.values())
            scores.append((options[answer] - low) / (high - low))
    return float(np.mean(scores)) if scores else None


def answer_shares(surveys: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per item, the share of each option among the valid answers of ``surveys``."""
    out: dict[str, dict[str, float]] = {}
    for item, options in survey.SURVEY_OPTIONS.items():
        answers = []
        for record in surveys.values():
            entry = (record or {}).get(item) if isinstance(record, Mapping) else None
            answer = entry.get("answer") if isinstance(entry, Mapping) else entry
            if isinstance(answer, str) and answer in options:
                answers.append(answer)
        out[item] = {o: answers.count(o) / len(answers) for o in options} if answers else {}
    return out


def _feature_values(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``((N, 19) kept conversations' features in row units, (N,) their task keys)``."""
    kept = table[table["keep"] & table["has_features"]]
    scale = np.array([FEATURE_SCALE[f] for f in FEATURES])
    return kept[list(FEATURES)].to_numpy(dtype=float) * scale, kept["task_key"].to_numpy()


def _positivity_values(surveys: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(p, ids.task_key(k)) for k, s in surveys.items() if (p := positivity(s)) is not None]
    return np.array([p for p, _ in pairs], dtype=float), np.array([t for _, t in pairs])


def summarise(table: pd.DataFrame, surveys: Mapping[str, Any], rng: np.random.Generator, *, n_boot: int = N_BOOT
              ) -> tuple[dict[str, Distribution], Distribution | None, np.ndarray]:
    """``(feature distributions, positivity distribution or None, (N, 19) values)`` of a
    features table and ``{key: survey}``. ``ValueError`` without a conversation with features."""
    values, tasks = _feature_values(table)
    if len(values) == 0:
        raise ValueError("no kept conversation with user turns to summarise")
    feats = {f: distribution(values[:, i], tasks, rng, n_boot) for i, f in enumerate(FEATURES)}
    pos, pos_tasks = _positivity_values(surveys)
    return feats, (distribution(pos, pos_tasks, rng, n_boot) if len(pos) else None), values


def human_targets(tuning_records: Mapping[str, Mapping[str, Any]], rng: np.random.Generator, *,
                  n_boot: int = N_BOOT) -> Targets:
    """:class:`Targets` of the human sessions given (the tuning tasks' only)."""
    table = features_table(tuning_records, source="human", label=HUMAN_LABEL)
    kept = {k: r for k, r in tuning_records.items() if r.get("keep", True) is not False}
    surveys = {k: r.get("survey") for k, r in kept.items()}
    feats, pos, values = summarise(table, surveys, rng, n_boot=n_boot)
    tasks = tuple(sorted({ids.task_key(k) for k in kept}))
    return Targets(tasks, len(values), feats, pos, answer_shares(surveys), values)


@dataclass(frozen=True)
class Profile:
    """A simulator's means on the tuning tasks: features (row units) and positivity."""

    features: Mapping[str, float]
    positivity: float | None

    def to_json(self) -> dict[str, Any]:
        return {"features": dict(self.features), "survey_positivity": self.positivity}


def profile(eval_results: Mapping[str, Mapping[str, Any]], surveys: Mapping[str, Any], label: str) -> Profile:
    """A simulator's :class:`Profile` from its rollouts and ``{key: {"survey": ...}}``."""
    values, _ = _feature_values(features_table(eval_results, source="llm", label=label))
    means = values.mean(axis=0) if len(values) else np.full(len(FEATURES), math.nan)
    scores = [p for s in surveys.values() if (p := positivity((s or {}).get("survey"))) is not None]
    return Profile(dict(zip(FEATURES, (float(m) for m in means))), float(np.mean(scores)) if scores else None)


def direction(value: float, low: float, high: float) -> str:
    """``under``, ``over`` or ``inside`` the interval [low, high] (NaN: ``inside``: no evidence)."""
    if math.isnan(value):
        return "inside"
    return "under" if value < low else "over" if value > high else "inside"


def gap_report(prof: Profile, targets: Targets) -> pd.DataFrame:
    """A row per feature (and positivity): :data:`GAP_COLUMNS`."""
    rows = [(f, d.mean, d.low, d.high, prof.features[f], direction(prof.features[f], d.low, d.high))
            for f, d in targets.features.items()]
    if targets.positivity is not None and prof.positivity is not None:
        d = targets.positivity
        rows.append((POSITIVITY, d.mean, d.low, d.high, prof.positivity, direction(prof.positivity, d.low, d.high)))
    return pd.DataFrame(rows, columns=list(GAP_COLUMNS))
