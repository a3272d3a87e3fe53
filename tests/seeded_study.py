"""A fixed, seeded synthetic study for the index tests (independent of usersim_utils.demo,
so that a change to the demo generator never moves the golden numbers).

:func:`make_study` gives its records in memory, :func:`write_study` writes them in the
study's folder layout. File names are spelled out here, not taken from
usersim_utils.schema, so that the tests check the package's conventions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from usersim_utils.survey import SURVEY_OPTIONS

PHRASES = [
    "hi i need to cancel my order", "yes", "ok go ahead", "thanks!", "my user id is mia_li_3668",
    "order #W1234567 please", "i think it was tuesday", "not sure, maybe the blue one",
    "are you sure? i already told you", "what do you mean by that", "how much is the refund",
    "this is ridiculous, i am so frustrated", "actually can we switch it to friday",
    "definitely the cheaper one", "sorry \u2014 i meant the other flight", "how can i help you",
    "let me check my email real quick", "fine", "i'd rather keep it", "wait, which order is that",
    "is there a cheaper option", "that's not right", "ugh", "email is mia.li@example.com",
    "<|think|>hidden<|/think|>sure", "could you clarify the fee", "no worries, thank you",
]
AGENT = "<|think|>plan<|/think|>Sure. <function=get_user><parameter=id>x</parameter></function><|tool|>{}<|/tool|>"


def _conversation(rng: np.random.Generator, n_user: int, human: bool) -> list[dict]:
    conv = []
    if human:
        conv += [{"role": "user", "content": "\\tau task_index:retail-1 model:gpt-5.2"},
                 {"role": "assistant", "content": "<|canvas|>rules<|/canvas|>"}]
    conv.append({"role": "assistant", "content": "Hi! How can I help you today?"})
    for _ in range(n_user):
        k = int(rng.integers(1, 4))
        turn = " ".join(PHRASES[int(i)] for i in rng.integers(0, len(PHRASES), size=k))
        conv += [{"role": "user", "content": turn}, {"role": "assistant", "content": AGENT}]
    conv.append({"role": "user", "content": "/stop" if human else "###STOP###"})
    return conv


def _survey(rng: np.random.Generator, invalid: float, *, human: bool = False) -> dict:
    """Answers with a share ``invalid`` missing; simulators also give answers outside the
    options (the loader rejects those in human files, so humans leave them blank)."""
    out = {}
    for item, options in SURVEY_OPTIONS.items():
        if rng.random() < invalid:
            answer = None if rng.random() < 0.5 or human else "not an option"
        else:
            answer = list(options)[int(rng.integers(len(options)))]
        out[item] = {"question": item, "answer": answer}
    return out


TASKS = [f"retail_{i}" for i in range(12)] + [f"airline_{i}" for i in range(8)]
EXTRA = [f"retail_{i}" for i in range(40, 60)] + [f"airline_{i}" for i in range(20, 40)]


def make_study(seed: int = 7) -> dict[str, dict]:
    """``{"human": ..., "rerating": ..., "sims": {label: records}, "surveys": {label: records}}``."""
    rng = np.random.default_rng(seed)
    difficulty = {t: float(rng.random()) for t in TASKS + EXTRA}
    human = {}
    for suffix in ("", "_ann2", "_ann3"):
        for t in TASKS:
            rec = {"conversation": _conversation(rng, int(rng.integers(1, 7)), True),
                   "survey": _survey(rng, 0.05, human=True), "reward": float(rng.random() < difficulty[t])}
            if rng.random() < 0.1:
                rec["keep"] = False
            if rng.random() < 0.05:
                rec["reward"] = None
            human[t + suffix] = rec
    # a kept session with no user turn at all
    human["retail_0_ann3"]["conversation"] = [{"role": "user", "content": "/stop"}]
    rerating = {t: {"survey": _survey(rng, 0.1)} for t in TASKS[:14]}

    sims, surveys = {}, {}
    # 3 runs over 60 tasks = 180 entries > 170: the reference run split applies
    for label, bias in (("big_a", 0.2), ("big_b", -0.1), ("big_c", 0.0)):
        big = {}
        for run in (1, 2, 3):
            for t in TASKS + EXTRA:
                big[f"{t}_{run}"] = {"conversation": _conversation(rng, int(rng.integers(1, 9)), False),
                                     "reward": float(rng.random() < difficulty[t] + bias)}
        sims[label] = big
    sims["big_a"]["retail_3_2"]["keep"] = False
    # a fourth run: the reference puts it, whole key, into run "0" for rows and run "4" for ECE
    for t in TASKS[:5]:
        sims["big_b"][f"{t}_4"] = {"conversation": _conversation(rng, 2, False), "reward": 1.0}
    # one run, plain keys
    sims["single"] = {t: {"conversation": _conversation(rng, int(rng.integers(1, 5)), False),
                          "reward": float(rng.random() < 0.7)} for t in TASKS + EXTRA}
    # 3 runs but <= 170 entries: the reference split leaves keys whole (no overlap)
    sims["small3"] = {f"{t}_{run}": {"conversation": _conversation(rng, 3, False), "reward": 1.0}
                      for run in (1, 2, 3) for t in TASKS[:10]}
    for label in ("big_a", "big_b", "single"):
        surveys[label] = {t + s: {"survey": _survey(rng, 0.2)} for s in ("", "_ann2", "_ann3") for t in TASKS}
    return {"human": human, "rerating": rerating, "sims": sims, "surveys": surveys}


def write_study(root: Path, study: dict[str, dict] | None = None) -> Path:
    """Write ``study`` (default :func:`make_study`) into ``root`` in the layout of
    cmu-lti/tau-usi: ``data/tau_bench_tasks_unified.json``,
    ``eval_results/eval_results_<label>.json``, ``survey_data/survey_comparable_<label>.json``
    and the re-ratings ``survey_data/survey_comparable_human-eval-100.json``. Returns ``root``."""
    study = study or make_study()
    files = {
        "data/tau_bench_tasks_unified.json": study["human"],
        **{f"eval_results/eval_results_{label}.json": records for label, records in study["sims"].items()},
        **{f"survey_data/survey_comparable_{label}.json": records for label, records in study["surveys"].items()},
        "survey_data/survey_comparable_human-eval-100.json": study["rerating"],
    }
    for relative, records in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(records), encoding="utf-8")
    return root
