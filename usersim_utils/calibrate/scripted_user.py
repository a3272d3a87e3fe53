"""A SCRIPTED user simulator, for tests and the demo only: no model, its behaviour follows
the card's style directives by rule, and its turns come from the demo generator's phrase
tables (:mod:`usersim_utils.demo`). It exists so that calibration can be proven offline
on a simulator whose response to a directive is known; it says nothing about how a
language model would respond.

A card whose simulator model starts with :data:`SCRIPTED_PREFIX` is played by
:func:`play`, which writes the agent's side too (the demo generator's agent moves), so
no agent is called either. The rules, directive by directive (:mod:`.directives`):

* no directive at all: the demo's SYNTHETIC-eager style (the verbose, polite,
  cooperative simulator the study found: long sentences, everything said at once,
  surveys near the top);
* ``length``: the phrase register whose mean words per phrase is nearest the target
  (:data:`REGISTER_WORDS`); the per-message habits below (politeness, dashes) apply in
  the human register only, the one whose phrases are typed by people;
* ``polite``, ``dashes``: the chance per message of a polite phrase, of a dash;
* a per-message share ``v`` of hedges, certainty, push-back, clarification and
  information questions, frustration, blame or pivots: the chance ``min(1, v x``
  :data:`TURNS_PER_CONVERSATION` ``)`` that a conversation holds that act once;
* ``agent_voice``, ``no_repeat`` (shares of conversations): the chance of the act;
* ``spread``: the chance of saying everything in the first message,
  ``clip((v - FRONTLOAD_LOW) / (FRONTLOAD_HIGH - FRONTLOAD_LOW), 0, 1)``, else
  identifiers come one at a time;
* ``survey``: the satisfaction level the survey answers are drawn around;
* success: the demo's log-odds shift over the task's published difficulty,
  ``0.2 + 1.0 x`` the chance of saying everything at once (a user who gives it all
  at once makes the agent's job easy: the study's "easy mode").

Every draw comes from a ``numpy.random.Generator`` seeded by ``(seed, task, run)``: the
same card, task and run give the same conversation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .. import ids, schema
from ..demo.conversations import dialogue, scenario, success_probability
from ..demo.phrases import REGISTERS
from ..demo.styles import HUMAN_STYLE, SIMULATORS, Style
from ..demo.surveys import as_survey, survey_answers
from . import directives

#: Model-string prefix of a scripted card (``scripted/demo-user``).
SCRIPTED_PREFIX = "scripted/"
SCRIPTED_MODEL = f"{SCRIPTED_PREFIX}demo-user"
#: The style with no directive: the demo's SYNTHETIC-eager simulator.
BASE = next(s for s in SIMULATORS if s.label == "SYNTHETIC-eager")
#: Mean words per phrase of each register of the phrase tables.
REGISTER_WORDS: dict[str, float] = {
    name: float(np.mean([len(v.split()) for variants in table.values() for v in variants]))
    for name, table in REGISTERS.items()
}
#: User messages of a typical scripted conversation: a per-message share -> a per-conversation chance.
TURNS_PER_CONVERSATION = 8
#: info_frontload of the human register without (low) and with (high) everything said at once.
FRONTLOAD_LOW, FRONTLOAD_HIGH = 0.25, 0.55
#: Directive -> the demo generator's event it sets, per message (True) or per conversation (False).
EVENT_OF: dict[str, tuple[str, bool]] = {
    "hedge": ("hedge", True), "certain": ("certain", True), "pushback": ("pushback", True),
    "clarify": ("clarify", True), "infoq": ("infoq", True), "frustration": ("emotion", True),
    "blame": ("accuse", True), "pivot": ("pivot", True), "agent_voice": ("confuse", False),
    "no_repeat": ("loop", False),
}
SURVEY_NOISE = 0.1
_TASK_INDEX = {key: i for i, key in enumerate(ids.parse_task_spec("all"))}


def is_scripted(model: str) -> bool:
    """Whether a card's simulator model is the scripted simulator."""
    return model.startswith(SCRIPTED_PREFIX)


def nearest_register(words: float) -> str:
    """The register whose mean words per phrase is nearest ``words``."""
    return min(REGISTER_WORDS, key=lambda name: abs(REGISTER_WORDS[name] - words))


def frontload_chance(share: float) -> float:
    """The chance of saying everything at once for a target share of words in the first two messages."""
    return float(np.clip((share - FRONTLOAD_LOW) / (FRONTLOAD_HIGH - FRONTLOAD_LOW), 0.0, 1.0))


def behaviour(values: Mapping[str, float]) -> tuple[Style, float, float]:
    """``(style, success shift, survey level)`` of a card's directives (module docstring)."""
    style = BASE.style
    if "length" in values:
        register = nearest_register(values["length"])
        style = replace(style, register=register)
        if register == HUMAN_STYLE.register:
            style = replace(style, lowercase=HUMAN_STYLE.lowercase, typo_rate=HUMAN_STYLE.typo_rate)
    if "polite" in values:
        style = replace(style, polite=float(values["polite"]))
    if "dashes" in values:
        style = replace(style, dash=float(values["dashes"]))
    events = dict(style.events)
    for key, (event, per_message) in EVENT_OF.items():
        if key in values:
            events[event] = float(min(1.0, values[key] * (TURNS_PER_CONVERSATION if per_message else 1.0)))
    if "spread" in values:
        events["frontload"] = frontload_chance(values["spread"])
        events["piecemeal"] = 1.0 - events["frontload"]
    style = replace(style, events=events)
    shift = 0.2 + 1.0 * events.get("frontload", 0.0)
    level = float(values.get("survey", BASE.survey_level))
    return style, shift, level


def play(prompt: str, tasks: Sequence[str], runs: int, difficulty: Mapping[str, float], *, seed: int = 0
         ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``(eval_results, surveys)`` of the scripted simulator with ``prompt`` (its directives
    read by :func:`directives.parse`) on ``tasks`` x runs 1..``runs``, in the study's formats;
    ``difficulty``: each task's published difficulty (its human success stand-in; 0.5 when absent)."""
    style, shift, level = behaviour(directives.parse(prompt))
    rollouts: dict[str, dict[str, Any]] = {}
    surveys: dict[str, dict[str, Any]] = {}
    for task in tasks:
        for run in range(1, runs + 1):
            rng = np.random.default_rng([seed, _TASK_INDEX[task], run])
            sc = scenario(task, rng)
            p = success_probability(float(np.clip(difficulty.get(task, 0.5), 0.03, 0.97)), shift)
            success = bool(rng.random() < p)
            conversation = dialogue(sc, style, success, rng) + [{"role": "user", "content": schema.STOP_MARKER}]
            key = ids.instance_id(task, run, runs)
            rollouts[key] = {"instance_id": key, "conversation": conversation, "reward": float(success)}
            answers = survey_answers(level, SURVEY_NOISE, float(success), rng)
            surveys[ids.survey_key(task, run)] = {"survey": as_survey(answers)}
    return rollouts, surveys
