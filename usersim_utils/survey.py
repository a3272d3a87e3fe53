"""The study's 8 ordinal survey items and the evaluative agreement (docs/method.md §7).

An answer is valid only when it is a string equal to one of the listed options.
Values are normalised to [0, 1] by ``(v - min) / (max - min)`` over the item's values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Item -> {option text: ordinal value}, in the order the metric walks them.
SURVEY_OPTIONS: dict[str, dict[str, int]] = {
    "task_success": {
        "No - Task failed": 1,
        "No - Due to a policy issue, which the agent clearly explained": 2,
        "Partially - Some progress": 3,
        "Yes - Task completed": 4,
        "Fully - Exceeded expectations": 5,
    },
    "efficiency": {
        "Very inefficient - Too many steps": 1,
        "Somewhat inefficient": 2,
        "About right": 3,
        "Very efficient": 4,
    },
    # Both extremes are "worse" than "About right": the study scores them equally.
    "question_amount_preference": {"Too many": 1, "About right": 2, "Too few": 1},
    "answer_effort_time": {"High": 1, "Medium": 2, "Low": 3},
    "human_like": {"No": 1, "Partially": 2, "Yes": 3},
    "interaction_flow": {"Not smooth": 1, "OK": 2, "Smooth": 3, "Excellent": 4},
    "overall_score": {
        "1 (Very poor)": 1,
        "2 (Poor)": 2,
        "3 (Acceptable)": 3,
        "4 (Good)": 4,
        "5 (Excellent)": 5,
    },
    "reuse": {"Absolutely no": 1, "No": 2, "Maybe": 3, "Yes": 4, "Absolutely yes": 5},
}
SURVEY_ITEMS: tuple[str, ...] = tuple(SURVEY_OPTIONS)

#: The questions, as the participants and the simulators saw them.
SURVEY_QUESTIONS: dict[str, str] = {
    "task_success": "Did the agent successfully complete your task?",
    "efficiency": "How efficient was the agent in completing the task?",
    "question_amount_preference": "How did the number of clarifying questions feel to you?",
    "answer_effort_time": "How much time/effort did it take to answer the agent's clarifying questions?",
    "human_like": "Does the agent feel human-like?",
    "interaction_flow": "How smooth was the overall interaction during clarification?",
    "overall_score": "Overall agent performance score (1-5)",
    "reuse": "If you encounter similar problems in life, would you like to reuse this agent?",
}
#: Free-text items of the human survey (not part of the index).
FREE_TEXT_ITEMS: tuple[str, ...] = ("specific_examples", "improvement_suggestions")

#: Sorted distinct values of each item: what a missing simulator answer is drawn from.
ITEM_VALUES: dict[str, list[int]] = {f: sorted(set(o.values())) for f, o in SURVEY_OPTIONS.items()}


def answer_value(item: str, answer: Any) -> int | None:
    """Ordinal value of ``answer`` for ``item``, or ``None`` when it is not a listed option."""
    if not isinstance(answer, str):
        return None
    return SURVEY_OPTIONS[item].get(answer)


def is_unanswered(answer: Any) -> bool:
    """True for a null or blank answer: not answered, which is not an invalid answer."""
    return answer is None or (isinstance(answer, str) and not answer.strip())


def normalise(item: str, value: float) -> float:
    """Map an ordinal value of ``item`` to [0, 1]."""
    lo, hi = ITEM_VALUES[item][0], ITEM_VALUES[item][-1]
    return (value - lo) / (hi - lo)


def survey_answers(survey: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{item: answer}`` from a study survey ``{item: {question, answer}}``.

    Also accepts a flat ``{item: answer}``; anything else gives ``{}``.
    """
    if not isinstance(survey, Mapping):
        return {}
    out: dict[str, Any] = {}
    for item, entry in survey.items():
        out[item] = entry.get("answer") if isinstance(entry, Mapping) else entry
    return out


def item_distances(
    human: Mapping[str, Any] | None,
    simulator: Mapping[str, Any] | None,
    rng: np.random.Generator,
) -> list[tuple[str, float, float, bool]]:
    """``(item, human_norm, simulator_norm, drawn)`` for each item the human answered
    validly, in item order (docs/method.md §7).

    An invalid or missing simulator answer is replaced by a uniform draw from the
    item's values, one ``rng.choice`` per such item (``drawn`` is then True).
    """
    h_answers, l_answers = survey_answers(human), survey_answers(simulator)
    out: list[tuple[str, float, float, bool]] = []
    for item in SURVEY_ITEMS:
        h = answer_value(item, h_answers.get(item))
        if h is None:
            continue
        sim = answer_value(item, l_answers.get(item))
        sim_value = float(sim) if sim is not None else float(rng.choice(ITEM_VALUES[item]))
        out.append((item, normalise(item, h), normalise(item, sim_value), sim is None))
    return out


def agreement(
    human: Mapping[str, Any] | None,
    simulator: Mapping[str, Any] | None,
    rng: np.random.Generator,
) -> float | None:
    """Agreement (0-100) of one human survey with one simulator survey:
    100 x (1 - mean |human - simulator|) over :func:`item_distances`.

    Both are study surveys (``{item: {question, answer}}``) or flat maps.
    ``None`` when no item was compared.
    """
    diffs = [abs(h - sim) for _, h, sim, _ in item_distances(human, simulator, rng)]
    if not diffs:
        return None
    return 100.0 * (1.0 - float(np.mean(diffs)))
