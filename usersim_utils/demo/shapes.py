"""What a generated study holds: :class:`PanelShape` (the defaults make the demo study)
and the unusual shapes the notebooks are tested on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ids, survey
from .conversations import pick
from .styles import SIMULATORS

#: Largest ``n_tasks``: the simulators' extra tasks must fit beside the human ones.
MAX_TASKS = 60


@dataclass(frozen=True)
class PanelShape:
    """What a generated study holds; the defaults make the demo panel.

    The other values make unusual (still SYNTHETIC) studies to test the notebooks on.
    Files a shape leaves out are still drawn, so the rest of the panel stays as in the
    default one; only ``domains``, ``n_batches``, ``n_simulators`` and ``shared_tasks``
    change the draws.
    """

    n_simulators: int = len(SIMULATORS)  # the first n of SIMULATORS (1-4)
    simulator_surveys: bool = True  # write survey_comparable_<label>.json per simulator
    rerating: bool = True  # write the human re-rating (survey_comparable_human-eval-100.json)
    n_batches: int = 3  # human batches (1-3): key suffixes "", "_ann2", "_ann3"
    domains: tuple[str, ...] = ("retail", "airline")  # one domain, or both
    shared_tasks: bool = True  # False: simulators run only tasks no human played (no survey then)
    invalid_answers: bool = False  # answers outside the options in every survey of every file

    def __post_init__(self) -> None:
        if not 1 <= self.n_simulators <= len(SIMULATORS):
            raise ValueError(f"n_simulators must be in 1..{len(SIMULATORS)}, got {self.n_simulators}")
        if not 1 <= self.n_batches <= 3:
            raise ValueError(f"n_batches must be in 1..3, got {self.n_batches}")
        if not self.domains or len(set(self.domains)) != len(self.domains) or not set(self.domains) <= set(ids.DOMAINS):
            raise ValueError(f"domains must be one or both of {ids.DOMAINS}, got {self.domains!r}")

    def max_tasks(self) -> int:
        """Largest ``n_tasks``: the simulators' extra tasks must fit beside the human ones."""
        return MAX_TASKS if len(self.domains) > 1 else ids.N_TASKS[self.domains[0]] // 2

    def describe(self) -> str:
        """What differs from the demo panel, in words ("" for the default shape)."""
        default = PanelShape()
        parts = []
        if self.n_simulators != default.n_simulators:
            parts.append(f"{self.n_simulators} simulator(s) only")
        if not self.simulator_surveys:
            parts.append("no simulator survey files")
        if not self.rerating:
            parts.append("no human re-rating")
        if self.n_batches != default.n_batches:
            parts.append(f"{self.n_batches} human batch(es) only")
        if self.domains != default.domains and len(self.domains) == 1:
            parts.append(f"{self.domains[0]} tasks only")
        if not self.shared_tasks:
            parts.append("no task shared by the simulators and the humans")
        if self.invalid_answers:
            parts.append("survey answers outside the options in every file (humans, simulators, re-rating)")
        return "; ".join(parts)


#: The demo study's shape (every default).
DEFAULT_SHAPE = PanelShape()
#: The unusual studies the notebooks must run on (tests/test_unusual_studies.py).
UNUSUAL_SHAPES: dict[str, PanelShape] = {
    "two-simulators": PanelShape(n_simulators=2),
    "no-surveys": PanelShape(simulator_surveys=False, rerating=False),
    "no-reratings": PanelShape(rerating=False),
    "invalid-answers": PanelShape(invalid_answers=True),
    "airline-only": PanelShape(domains=("airline",)),
    "one-batch": PanelShape(n_batches=1),
    "no-shared-task": PanelShape(shared_tasks=False),
}
#: Invalid survey answers: not an option, a wrong case, "N/A", a number (all skipped by the index).
INVALID_ANSWERS: tuple[Any, ...] = ("Not an option", "good", "N/A", 3)
#: Share of ordinal answers made invalid in each file of an ``invalid_answers`` study.
INVALID_ANSWER_RATE = 0.1


def invalidate(surveys: Mapping[str, Mapping[str, Any]], rng: np.random.Generator) -> None:
    """Replace about :data:`INVALID_ANSWER_RATE` of the ordinal answers of every record in
    place (the first record's first item always) with one of :data:`INVALID_ANSWERS`."""
    for n, record in enumerate(surveys.values()):
        for i, item in enumerate(survey.SURVEY_ITEMS):
            entry = record["survey"].get(item)
            if entry is not None and ((n == 0 and i == 0) or rng.random() < INVALID_ANSWER_RATE):
                entry["answer"] = pick(rng, INVALID_ANSWERS)

