"""A study folder with invalid survey answers in every kind of file (real files have them).

The fixed test panel (tests/panel.py) in the study's layout, then spoiled: answers that
are not one of the options (other text, mis-cased, numbers, lists, objects, booleans)
in the human file, in the survey field of a rollout file, in simulator survey files,
in the human re-ratings, and in a tau-bench trajectory file (item ``survey``) with its
own survey file. Such answers are kept and scored as missing (spec usi.md §6).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from itertools import cycle
from pathlib import Path
from typing import Any

from usersim_utils import paths
from usersim_utils.survey import FREE_TEXT_ITEMS, SURVEY_ITEMS, SURVEY_OPTIONS

from seeded_study import TASKS
from seeded_study import make_study as make_panel

#: Answers that are not one of any item's options, of every JSON type.
INVALID_ANSWERS: tuple[Any, ...] = (
    "Not an option", "about right", "YES", 3, 4.5, ["Yes"], {"answer": "Yes"}, True, "N/A",
)
TAU_BENCH_LABEL = "tau-bench-run"
_POLICY = {"airline": "# Airline Agent Policy\n\nBe helpful.", "retail": "# Retail agent policy\n\nBe helpful."}


def _spoil(records: dict[str, dict], every: int, answers: Iterator[Any], items: Iterator[str]) -> None:
    """Replace one answer in every ``every``-th record (key order) by the next invalid
    answer; every third spoiled record gets a flat ``{item: answer}`` entry instead of
    ``{question, answer}``."""
    for n, key in enumerate(sorted(records)):
        if n % every:
            continue
        item, answer = next(items), next(answers)
        survey = records[key].setdefault("survey", {})
        survey[item] = answer if n % (3 * every) == 0 else {"question": item, "answer": answer}


def _tau_bench_items(sim: dict[str, dict]) -> dict[str, dict[str, Any]]:
    """``{key: tau-bench item}`` (one trial per task) made of a one-run rollout file."""
    items = {}
    for key, record in sim.items():
        domain, task_id = key.split("_")
        traj = [{"role": "system", "content": _POLICY[domain]}] + record["conversation"][1:]
        items[key] = {"task_id": int(task_id), "trial": 0, "reward": record["reward"], "info": {}, "traj": traj}
    return items


def count_invalid(records: dict[str, dict]) -> Counter:
    """``Counter({field: n})`` of answered survey entries that are not valid, read the
    plain way: an ordinal answer that is not a listed option string, a free-text
    answer that is not a string (null and blank are unanswered)."""
    found: Counter = Counter()
    for record in records.values():
        for item, entry in (record.get("survey") or {}).items():
            answer, field = (entry.get("answer"), f"survey.{item}.answer") if isinstance(entry, dict) \
                else (entry, f"survey.{item}")
            if answer is None or (isinstance(answer, str) and not answer.strip()):
                continue
            if (item in SURVEY_OPTIONS and not (isinstance(answer, str) and answer in SURVEY_OPTIONS[item])) \
                    or (item in FREE_TEXT_ITEMS and not isinstance(answer, str)):
                found[field] += 1
    return found


def write_spoiled_study(root: Path) -> dict[str, Counter]:
    """Write the spoiled study into ``root`` (``data/``, ``eval_results/``,
    ``survey_data/``) and return ``{file name: Counter({field: invalid answers})}``
    for every file written (only ``eval_results_big_a.json`` and the tau-bench file
    among the rollout files carry surveys)."""
    panel = make_panel()
    answers, items = cycle(INVALID_ANSWERS), cycle(SURVEY_ITEMS)
    human, sims, surveys = panel["human"], panel["sims"], panel["surveys"]
    _spoil(human, 2, answers, items)
    human[sorted(human)[1]]["survey"]["specific_examples"] = {"question": "examples", "answer": 42}
    _spoil(sims["big_a"], 9, answers, items)
    tau_bench = _tau_bench_items({t: sims["single"][t] for t in TASKS})
    _spoil(tau_bench, 3, answers, items)
    surveys[TAU_BENCH_LABEL] = {
        t + s: {"survey": {i: {"question": i, "answer": next(iter(SURVEY_OPTIONS[i]))} for i in SURVEY_ITEMS}}
        for s in ("", "_ann2") for t in TASKS
    }
    for records in surveys.values():
        _spoil(records, 5, answers, items)
    _spoil(panel["rerating"], 3, answers, items)

    files: dict[str, tuple[Any, dict[str, dict]]] = {
        paths.HUMAN_FILE.as_posix(): (human, human),
        **{f"eval_results/eval_results_{label}.json": (records, records) for label, records in sims.items()},
        f"eval_results/{TAU_BENCH_LABEL}.json": (list(tau_bench.values()), tau_bench),
        **{f"survey_data/survey_comparable_{label}.json": (records, records) for label, records in surveys.items()},
        "survey_data/survey_comparable_human-eval-100.json": (panel["rerating"], panel["rerating"]),
    }
    expected = {}
    for relative, (content, records) in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content), encoding="utf-8")
        expected[target.name] = count_invalid(records)
    return expected
