"""The demo study's files as data: the human sessions, each simulator's rollouts and
surveys, and the re-rating, ``{relative path: JSON-able object}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import ids, schema
from .conversations import dialogue, human_conversation, human_persona, pick, pick_tasks, scenario, success_probability
from .phrases import IMPROVEMENTS, JUDGE_FAIL, JUDGE_OK, SPECIFIC_EXAMPLES
from .shapes import DEFAULT_SHAPE, PanelShape, invalidate
from .styles import SIMULATORS, Simulator
from .surveys import as_survey, rerate, spoil, survey_answers

#: Runs of each simulator over each of its tasks (keys ``<task>_<run>``).
N_RUNS = 3
#: Where the human sessions and the re-rating sit in the study folder.
HUMAN_PATH = schema.HUMAN_FILE.as_posix()
RERATING_PATH = f"{schema.SURVEY_SUBDIR}/{schema.survey_name(schema.RERATING_LABEL)}"


# --- The panel ---------------------------------------------------------------------------
def human_sessions(tasks: Sequence[str], scenarios: Mapping[str, dict], rng: np.random.Generator,
                    n_batches: int = 3) -> tuple[dict[str, dict], dict[str, dict[str, str]]]:
    """``(records, ordinal answers by key)`` of ``n_batches`` batches over ``tasks``."""
    keys = [f"{t}{suffix}" for suffix in [schema.BATCH_SUFFIX[b] for b in schema.BATCHES][:n_batches] for t in tasks]
    n = len(keys)
    dropped = set(rng.choice(n, size=max(2, round(0.04 * n)), replace=False).tolist())
    null_reward = set(rng.choice(sorted(set(range(n)) - dropped), size=2, replace=False).tolist())
    platform_ids = rng.permutation(n) + 1001
    records: dict[str, dict] = {}
    answers: dict[str, dict[str, str]] = {}
    for k, key in enumerate(keys):
        sc = scenarios[ids.task_key(key)]
        success = rng.random() < sc["p_success"]
        reward = None if k in null_reward else float(success)
        level = float(np.clip(0.3 + 0.35 * success + 0.15 * rng.standard_normal(), 0.0, 1.0))
        answers[key] = survey_answers(level, 0.2, float(success), rng)
        free = {"specific_examples": pick(rng, SPECIFIC_EXAMPLES), "improvement_suggestions": pick(rng, IMPROVEMENTS)}
        passed = k not in dropped
        records[key] = {
            "task_id": int(platform_ids[k]),
            "instance_id": key,
            "agent_id": "agent-origin",
            "conversation": human_conversation(sc, human_persona(rng), reward, rng),
            "survey": as_survey(answers[key] | free),
            "quality_score": round(float(rng.uniform(65, 99) if passed else rng.uniform(15, 55)), 1),
            "quality_passed": passed,
            "llm_reasoning": pick(rng, JUDGE_OK if passed else JUDGE_FAIL),
            "human_score": None,
            "human_reasoning": None,
            "keep": passed,
            "reward": reward,
        }
    return records, answers


def simulator_files(
    sim: Simulator, tasks: Sequence[str], human_keys: Sequence[str], scenarios: Mapping[str, dict],
    rng: np.random.Generator,
) -> tuple[dict[str, dict], dict[str, dict]]:
    """``(eval_results, surveys)`` of one simulator: 3 runs over ``tasks``; the survey of
    human key ``x`` (batch b) rates run b of ``x``'s task (none when that task was not run)."""
    rollouts: dict[str, dict] = {}
    for task in tasks:
        sc = scenarios[task]
        p = success_probability(sc["p_success"], sim.success_shift)
        for run in range(1, N_RUNS + 1):
            key = f"{task}_{run}"
            success = bool(rng.random() < p)
            conversation = dialogue(sc, sim.style, success, rng) + [{"role": "user", "content": schema.STOP_MARKER}]
            record: dict[str, Any] = {"instance_id": key, "conversation": conversation, "reward": float(success)}
            if sim.has_keep:
                record["keep"] = bool(rng.random() >= sim.drop_rate)
            rollouts[key] = record
    surveys: dict[str, dict] = {}
    for key in human_keys:
        base, batch = ids.split_batch(key)
        if f"{base}_{batch}" not in rollouts:
            continue
        reward = rollouts[f"{base}_{batch}"]["reward"]
        level = min(1.0, sim.survey_level + sim.reward_weight * reward)
        answers = spoil(survey_answers(level, sim.survey_noise, reward, rng), sim.invalid_rate, rng)
        surveys[key] = {"instance_id": key, "survey": as_survey(answers)}
    return rollouts, surveys




def generate_demo_panel(rng: np.random.Generator, *, n_tasks: int = 30,
                        shape: PanelShape = DEFAULT_SHAPE) -> dict[str, object]:
    """The demo panel's data files, ``{relative path: JSON-able object}`` (the README is
    written by :func:`write_demo_panel`, which knows the seed).

    ``n_tasks`` human tasks (60 % retail), 3 human batches over them; 4 simulators
    with 3 runs over those tasks plus ``n_tasks`` more; one survey file per simulator
    keyed like the human sessions; a second human rating of two thirds of batch 1.
    ``shape`` changes any of these (:class:`PanelShape`). Pure apart from consuming ``rng``.
    """
    if not 2 <= n_tasks <= shape.max_tasks():
        raise ValueError(f"n_tasks must be in 2..{shape.max_tasks()}, got {n_tasks}")
    human_tasks, extra_tasks = pick_tasks(rng, n_tasks, shape.domains)
    all_tasks = human_tasks + extra_tasks
    scenarios = {task: scenario(task, rng) for task in all_tasks}
    human, human_answers = human_sessions(human_tasks, scenarios, rng, shape.n_batches)
    panel: dict[str, object] = {HUMAN_PATH: human}
    surveys_of: dict[str, dict] = {}
    for sim in SIMULATORS[:shape.n_simulators]:
        tasks = all_tasks if shape.shared_tasks else extra_tasks
        rollouts, surveys = simulator_files(sim, tasks, list(human), scenarios, rng)
        panel[f"{schema.EVAL_RESULTS_SUBDIR}/{schema.eval_results_name(sim.label)}"] = rollouts
        if shape.simulator_surveys and surveys:
            surveys_of[f"{schema.SURVEY_SUBDIR}/{schema.survey_name(sim.label)}"] = surveys
    panel |= surveys_of
    rerated = rng.choice(human_tasks, size=max(1, round(2 * n_tasks / 3)), replace=False)
    rerating = {str(k): {"survey": as_survey(rerate(human_answers[str(k)], rng))} for k in rerated}
    if shape.rerating:
        panel[RERATING_PATH] = rerating
    if shape.invalid_answers:
        for rel in (HUMAN_PATH, *surveys_of, *([RERATING_PATH] if shape.rerating else [])):
            invalidate(panel[rel], rng)
    return panel

