"""The demo study's survey answers: drawn around a satisfaction level, a simulator's
slips (missing, mis-cased, numbers, N/A), and a second human's re-rating."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import survey
from .conversations import pick
from .phrases import FREE_TEXT_QUESTIONS

# --- Surveys ----------------------------------------------------------------------------
#: Each item's options from worst to best (ties keep the spec's order).
_RANKED: dict[str, list[str]] = {
    item: sorted(options, key=options.__getitem__) for item, options in survey.SURVEY_OPTIONS.items()
}


def survey_answers(level: float, noise: float, reward: float, rng: np.random.Generator) -> dict[str, str]:
    """One option per item around a satisfaction ``level`` in [0, 1]; task success also follows the reward."""
    answers = {}
    for item, ranked in _RANKED.items():
        centre = 0.15 + 0.7 * reward + 0.3 * (level - 0.5) if item == "task_success" else level
        x = centre + noise * float(rng.standard_normal())
        answers[item] = ranked[min(len(ranked) - 1, max(0, int(x * len(ranked))))]
    return answers


def as_survey(answers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    questions = survey.SURVEY_QUESTIONS | FREE_TEXT_QUESTIONS
    return {item: {"question": questions[item], "answer": answer} for item, answer in answers.items()}


def spoil(answers: dict[str, str], rate: float, rng: np.random.Generator) -> dict[str, Any]:
    """A simulator's slips: an answer left out, mis-cased, a number, or N/A (all scored as missing)."""
    out: dict[str, Any] = {}
    for item, answer in answers.items():
        if rng.random() >= rate:
            out[item] = answer
            continue
        kind = int(rng.integers(4))
        if kind == 1:
            out[item] = answer.lower() if answer != answer.lower() else answer.upper()
        elif kind == 2:
            out[item] = survey.SURVEY_OPTIONS[item][answer]
        elif kind == 3:
            out[item] = "N/A"
    return out


def rerate(answers: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
    """A second human's rating: each item moves one option up or down a third of the time."""
    out = {}
    for item, answer in answers.items():
        ranked = _RANKED[item]
        i = ranked.index(answer)
        if rng.random() < 1 / 3:
            i = min(len(ranked) - 1, max(0, i + pick(rng, (-1, 1))))
        out[item] = ranked[i]
    return out


