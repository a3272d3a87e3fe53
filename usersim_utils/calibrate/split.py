"""The seeded split of a study's tasks into a tuning half and a held-out half.

Tasks are stratified by domain and published difficulty bin (the authors' frozen map,
:func:`usersim_utils.published.published_difficulty`, binned by
:func:`usersim_utils.usi.difficulty_bin`; a task outside the map is its own stratum
``unbinned``), shuffled within each stratum with one ``numpy.random.Generator`` and
allocated by cumulative rounding, so every stratum is split as evenly as
``tune_fraction`` allows and the halves add up to the study's tasks.

Held-out tasks are kept out of reach structurally: :func:`partition` returns the tuning
sessions as plain records and the held-out ones sealed in a :class:`HeldOut`, which hands
them over only through :meth:`HeldOut.open` (called by the final report, after the search).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import ids, usi
from ..errors import DataError
from ..rollout.cache import write_json_atomic

SPLIT_FILE = "split.json"
UNBINNED = "unbinned"


@dataclass(frozen=True)
class Split:
    """Which tasks tune and which are held out, and how they were drawn."""

    seed: int
    tune_fraction: float
    tuning: tuple[str, ...]
    held_out: tuple[str, ...]
    strata: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (sorted strata)."""
        return {"seed": self.seed, "tune_fraction": self.tune_fraction, "tuning": list(self.tuning),
                "held_out": list(self.held_out), "strata": dict(sorted(self.strata.items()))}


def stratum_of(task: str, difficulty: Mapping[str, float]) -> str:
    """``<domain>/bin<k>`` (k the published difficulty bin) or ``<domain>/unbinned``."""
    value = difficulty.get(task)
    label = UNBINNED if value is None or math.isnan(value) else f"bin{usi.difficulty_bin(value)}"
    return f"{ids.domain_of(task)}/{label}"


def _task_order(task: str) -> tuple[int, int]:
    domain, index = task.split("_")
    return ids.DOMAINS.index(domain), int(index)


def stratified_split(tasks: Sequence[str], difficulty: Mapping[str, float], rng: np.random.Generator, *,
                     seed: int, tune_fraction: float = 0.5) -> Split:
    """Split ``tasks`` (task keys) stratum by stratum (module docstring). ``ValueError``
    when either half would be empty."""
    if not 0 < tune_fraction < 1:
        raise ValueError(f"--tune-fraction must be between 0 and 1, not {tune_fraction}")
    unique = sorted(set(tasks), key=_task_order)
    strata = {t: stratum_of(t, difficulty) for t in unique}
    tuning: list[str] = []
    held: list[str] = []
    carried = 0.0  # cumulative rounding: the halves stay within one task of the fraction overall
    for name in sorted(set(strata.values())):
        members = [t for t in unique if strata[t] == name]
        members = [members[i] for i in rng.permutation(len(members))]
        wanted = carried + tune_fraction * len(members)
        n_tune = min(len(members), max(0, round(wanted)))
        carried = wanted - n_tune
        tuning += members[:n_tune]
        held += members[n_tune:]
    if not tuning or not held:
        raise ValueError(f"{len(unique)} task(s) with human sessions cannot be split into a tuning and a held-out "
                         f"half at --tune-fraction {tune_fraction}")
    return Split(seed, tune_fraction, tuple(sorted(tuning, key=_task_order)), tuple(sorted(held, key=_task_order)),
                 strata)


def save_split(split: Split, out: Path) -> Path:
    """Write ``<out>/split.json`` atomically; the path."""
    path = Path(out) / SPLIT_FILE
    write_json_atomic(path, split.to_json())
    return path


def load_split(path: Path) -> Split:
    """A saved split; :class:`DataError` naming the file and field when it is not one."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
        split = Split(int(obj["seed"]), float(obj["tune_fraction"]), tuple(obj["tuning"]), tuple(obj["held_out"]),
                      dict(obj["strata"]))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the saved split: {exc}", file=path) from None
    except (KeyError, TypeError) as exc:
        raise DataError("not a saved split", file=path, field=str(exc).strip("'")) from None
    return split


def resume_or_save(split: Split, out: Path) -> Split:
    """``split``, saved in ``out``; a split saved there by an earlier run must be the same
    one (same seed, fraction and tasks), else ``ValueError``: a search never mixes splits."""
    path = Path(out) / SPLIT_FILE
    if path.is_file():
        saved = load_split(path)
        if saved.to_json() != split.to_json():
            raise ValueError(f"{path}: an earlier search in this --out used another split (seed {saved.seed}, "
                             f"fraction {saved.tune_fraction}, {len(saved.tuning)}+{len(saved.held_out)} tasks); "
                             "use another --out or the same --seed and --tune-fraction")
        return saved
    save_split(split, out)
    return split


class HeldOut:
    """The held-out sessions, sealed: nothing reads them but :meth:`open`, which the final
    report calls once the search is over (tests patch it to prove the order)."""

    def __init__(self, tasks: Sequence[str], records: Mapping[str, Mapping[str, Any]]) -> None:
        self.tasks = tuple(tasks)
        self._records = dict(records)

    def __len__(self) -> int:
        return len(self._records)

    def open(self) -> dict[str, dict[str, Any]]:
        """The held-out human sessions (``{instance id: record}``)."""
        return {k: dict(v) for k, v in self._records.items()}


def partition(records: Mapping[str, Mapping[str, Any]], split: Split) -> tuple[dict[str, dict[str, Any]], HeldOut]:
    """``(tuning sessions, sealed held-out sessions)`` of the human records by task."""
    tuning_tasks, held_tasks = set(split.tuning), set(split.held_out)
    tuning = {k: dict(r) for k, r in records.items() if ids.task_key(k) in tuning_tasks}
    held = {k: r for k, r in records.items() if ids.task_key(k) in held_tasks}
    return tuning, HeldOut(split.held_out, held)


def human_tasks(records: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The tasks with at least one kept human session, in study order."""
    kept = {ids.task_key(k) for k, r in records.items() if r.get("keep", True) is not False}
    return sorted(kept, key=_task_order)
