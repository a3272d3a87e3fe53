"""The instance-id grammar of the study (docs/method.md §2, §6, §8).

* human sessions: ``airline_7`` (batch 1), ``airline_7_ann2`` (2), ``airline_7_ann3`` (3);
* simulator rollouts: ``retail_5`` (one run) or ``retail_5_2`` (run 2).

A *task key* is always ``<domain>_<i>``, ``i`` indexing tau-bench's v1 test split.
"""

from __future__ import annotations

import re

from . import schema
from .errors import excerpt

DOMAINS: tuple[str, ...] = ("airline", "retail")
#: Number of test tasks per domain in tau-bench v1 (the study's 165 tasks).
N_TASKS: dict[str, int] = {"airline": 50, "retail": 115}

#: A valid key: domain, task index, then an optional ``_ann2``/``_ann3`` or run suffix.
#: ASCII digits (``\d`` would take ``airline_٣``) and ``\Z`` (``$`` would take a
#: trailing newline): ``match`` and ``fullmatch`` both test the whole key.
_BATCH_TAGS = "|".join(suffix.removeprefix("_") for suffix in schema.BATCH_SUFFIXES)  # ann2|ann3
KEY_RE = re.compile(rf"^(airline|retail)_([0-9]+)(?:_({_BATCH_TAGS}|[0-9]+))?\Z")
#: Keys whose run index the reference scorer reads for ECE (docs/method.md §8 step 5): a
#: prefix match, as in the reference, over ASCII digits.
RUN_KEY_RE = re.compile(r"^(airline|retail)_[0-9]+_[0-9]+")
_BATCH_OF_SUFFIX = {suffix: batch for batch, suffix in schema.BATCH_SUFFIX.items() if suffix}


def is_valid_key(key: str) -> bool:
    """True when ``key`` is ``<domain>_<i>`` with an optional batch or run suffix."""
    return KEY_RE.fullmatch(key) is not None


def task_key(key: str) -> str:
    """``<domain>_<i>`` of any key: drops a batch (``_ann2``) or run (``_2``) suffix.

    Keys outside the grammar are returned unchanged.
    """
    m = KEY_RE.fullmatch(key)
    return f"{m.group(1)}_{m.group(2)}" if m else key


def domain_of(key: str) -> str:
    """The domain of a key (the text before the first ``_``)."""
    return key.split("_", 1)[0]


def split_batch(key: str) -> tuple[str, int]:
    """``(base_id, batch)`` of a human-session or survey key: ``x_ann2`` is batch 2 of ``x``."""
    for suffix, batch in _BATCH_OF_SUFFIX.items():
        if key.endswith(suffix):
            return key[: -len(suffix)], batch
    return key, 1


def instance_id(task_key: str, run: int, runs: int) -> str:
    """The key of a rollout: ``<domain>_<i>`` when its file has one run per task, else
    ``<domain>_<i>_<run>``."""
    return task_key if runs == 1 else f"{task_key}_{run}"


def survey_key(task_key: str, run: int) -> str:
    """The survey key of a rollout's run, like the human batches': ``x``, ``x_ann2``, ``x_ann3``."""
    return f"{task_key}{schema.BATCH_SUFFIX[run]}"


def reference_run_split(keys: list[str]) -> dict[str, dict[str, str]]:
    """Split a simulator file's keys into runs exactly as the reference scorer does
    for the behaviour rows (docs/method.md §8 step 1).

    Files with more than 170 entries (kept or not) are split at each key's last
    ``_``: a suffix of 1, 2 or 3 names the run and the part before it is the id;
    any other suffix puts the key, whole, into run ``"0"``. Smaller files are one
    run, ``"1"``, keyed as they are (so ``retail_5_2`` then matches no human id:
    a quirk kept on purpose; see :func:`suffix_run_split`).

    Returns ``{run: {id: original_key}}``.
    """
    if len(keys) <= 170:
        return {"1": {k: k for k in keys}}
    runs: dict[str, dict[str, str]] = {}
    for key in keys:
        head, _, tail = key.rpartition("_")
        if tail in ("1", "2", "3"):
            runs.setdefault(tail, {})[head] = key
        else:
            runs.setdefault("0", {})[key] = key
    return runs


def suffix_run_split(keys: list[str]) -> dict[str, dict[str, str]]:
    """The non-reference variant: every ``<domain>_<i>_<run>`` key belongs to its run
    whatever the file's size; plain ``<domain>_<i>`` keys form run ``"1"``.

    Use it for small rollouts (a few tasks, several runs), which the reference
    split cannot match to human ids. Returns ``{run: {id: original_key}}``.
    """
    runs: dict[str, dict[str, str]] = {}
    for key in keys:
        m = KEY_RE.fullmatch(key)
        if m and m.group(3) and m.group(3).isdigit():
            runs.setdefault(m.group(3), {})[f"{m.group(1)}_{m.group(2)}"] = key
        else:
            runs.setdefault("1", {})[key] = key
    return runs


def ece_run_index(key: str) -> str:
    """Run of a key for ECE (docs/method.md §8 step 5): its ``_<run>`` suffix when the key
    matches :data:`RUN_KEY_RE` (``^(airline|retail)_[0-9]+_[0-9]+``, a prefix match),
    else ``"1"``."""
    if RUN_KEY_RE.match(key):
        return key.rsplit("_", 1)[1]
    return "1"


def parse_task_spec(spec: str) -> list[str]:
    """Task keys from a compact spec such as ``"retail:0-4,airline:0-2,airline:7"``.

    ``"all"`` gives the 165 study tasks. Raises ``ValueError`` with the bad part.
    """
    spec = spec.strip()
    if spec == "all":
        return [f"{d}_{i}" for d in DOMAINS for i in range(N_TASKS[d])]
    keys: list[str] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        domain, sep, rng = part.partition(":")
        if not sep or domain not in DOMAINS:
            raise ValueError(f"bad task spec {excerpt(part)}: expected <airline|retail>:<i> or <i>-<j>")
        lo, dash, hi = rng.partition("-")
        try:
            first, last = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise ValueError(f"bad task range in {excerpt(part)}") from None
        if not 0 <= first <= last < N_TASKS[domain]:
            raise ValueError(f"task range {excerpt(part)} outside {domain} 0-{N_TASKS[domain] - 1}")
        keys.extend(f"{domain}_{i}" for i in range(first, last + 1))
    if not keys:
        raise ValueError("empty task spec")
    return list(dict.fromkeys(keys))
