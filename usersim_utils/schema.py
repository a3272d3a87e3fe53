"""The study's conventions, in one place: how its files are named and laid out, how its
keys and batches are spelled, and the fixed texts of its conversations
``docs/method.md`` §2-3 and §10).

Every module that names a study file, builds a key or looks for a marker imports it
from here; nothing here reads or writes a file, and this module imports nothing from
the package, so any module may use it.
"""

from __future__ import annotations

import os
from pathlib import Path

# --- Where the study comes from, and its terms. ------------------------------------------
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

# --- The study folder (the layout of cmu-lti/tau-usi). -----------------------------------
#: The human sessions, relative to the study folder.
HUMAN_FILE = Path("data") / "tau_bench_tasks_unified.json"
#: Simulator rollouts: ``eval_results/eval_results_<label>.json``.
EVAL_RESULTS_SUBDIR = "eval_results"
EVAL_PREFIX = "eval_results_"
#: Simulator surveys and the human re-ratings: ``survey_data/survey_comparable_<label>.json``.
SURVEY_SUBDIR = "survey_data"
SURVEY_PREFIX = "survey_comparable_"
#: The label of the second human rating of part of batch 1 (the human ceiling's Eval).
RERATING_LABEL = "human-eval-100"
#: The label of the human rows: in features tables, survey tables, leaderboards and the
#: hand-over files of the notebooks.
HUMAN_LABEL = "human"


def eval_results_name(label: str) -> str:
    """``eval_results_<label>.json``: the file name of a simulator's rollouts."""
    return f"{EVAL_PREFIX}{label}.json"


def survey_name(label: str) -> str:
    """``survey_comparable_<label>.json``: the file name of a simulator's surveys (or of the
    re-ratings, label :data:`RERATING_LABEL`)."""
    return f"{SURVEY_PREFIX}{label}.json"


#: Glob patterns of the two kinds of labelled files.
EVAL_RESULTS_GLOB = f"{EVAL_PREFIX}*.json"
SURVEY_GLOB = f"{SURVEY_PREFIX}*.json"


def label_of(path: str | os.PathLike[str], prefix: str = EVAL_PREFIX) -> str:
    """A file's label: its stem without ``prefix`` (by default ``eval_results_``; pass
    :data:`SURVEY_PREFIX` for survey files). A stem without the prefix is the label."""
    return Path(path).stem.removeprefix(prefix)


# --- Keys and batches (docs/method.md §2). ----------------------------------------------------
#: The three human batches; batch 1 has plain keys ``<domain>_<i>``.
BATCHES: tuple[int, ...] = (1, 2, 3)
#: Key suffix of each human batch: ``x`` (1), ``x_ann2`` (2), ``x_ann3`` (3). Simulator
#: surveys and rollout surveys are keyed the same way, run b rating batch b's session.
BATCH_SUFFIX: dict[int, str] = {1: "", 2: "_ann2", 3: "_ann3"}
#: The suffixes that mark batches 2 and 3 (what tells a human-study key from a rollout key).
BATCH_SUFFIXES: tuple[str, ...] = tuple(s for s in BATCH_SUFFIX.values() if s)

# --- Conversations (docs/method.md §3). -------------------------------------------------------
#: The agent's opening line in every conversation of the study (tau-bench's greeting).
GREETING = "Hi! How can I help you today?"
#: A simulator ends the conversation with this marker (alone, it is a meta message).
STOP_MARKER = "###STOP###"
#: A participant ends a session by typing this (a platform meta message).
HUMAN_STOP = "/stop"
#: Platform meta messages of human sessions: the task header and the reward check start
#: with these; the instructions canvas and the survey prompts contain these tags.
TASK_HEADER_PREFIX = "\\tau "
REWARD_CHECK_PREFIX = "\\reward"
CANVAS_TAG = "<|canvas|>"
HIGHLIGHT_TAG = "<|highlight|>"
SURVEY_TAG = "<|survey|>"
