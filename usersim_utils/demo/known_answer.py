"""Studies with a known answer: people and simulators drawn from one process, as features
tables (no conversations), for the simulation checks of the analyses and benchmarks.

Per task the process has feature means (the population's, times a task effect), a success
rate and a survey quality, shared by every conversation of the task, human or simulated.
A simulator's runs are further draws of the same process, unless ``shifts`` moves its
feature means by a known fraction: then the size of its true difference is known too.

The layouts of the released study are parameters: 1 or 3 runs per simulator, a share of
the human sessions not kept (``drop_rate``: 0-15 % in the study), and feature rows full of
zeros (``zero_share``: the share of a conversation's rate features that are exactly 0, as
in real rows where most flags never fire). Nothing here is study data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import ids, usi
from ..features import FEATURES, ID_COLUMNS, UNSCALED_FEATURES
from ..survey import SURVEY_OPTIONS
from .feature_tables import SYNTHETIC_HUMAN_MEANS

#: Features drawn as 0/1 flags (a conversation repeats itself or not).
FLAG_FEATURES = frozenset({"repeat_rate", "id_confuse_rate"})
#: Share of conversations without features (too short), as in the demo panel.
NO_FEATURES_SHARE = 0.02
#: Share of survey answers left blank.
BLANK_ANSWER_SHARE = 0.05
#: Share of a re-rating's answers copied from the first rating (the rest rated again).
RERATING_SAME_SHARE = 0.7


@dataclass(frozen=True)
class KnownStudy:
    """A simulated study: ``human`` and ``simulators`` features tables, the human
    ``records`` (survey and ``keep`` per session id), the ``rerating`` of batch 1, Eval
    ``agreements`` per simulator (:func:`usi.eval_agreements`) and the true per-task
    success rates as ``difficulty`` (a frozen map: it holds no run)."""

    human: pd.DataFrame
    simulators: dict[str, pd.DataFrame]
    records: dict[str, dict]
    rerating: dict[str, dict]
    agreements: dict[str, pd.DataFrame]
    difficulty: dict[str, float]


def features_table(rng: np.random.Generator, label: str, keys: list[str], means: np.ndarray, success: np.ndarray,
                   source: str, *, zero_share: float = 0.0) -> pd.DataFrame:
    """A features table whose conversation i has features drawn around ``means[i]``
    (n, 19) and succeeds with probability ``success[i]`` (n,); a ``zero_share`` of its
    bounded rate features are exactly 0."""
    n = len(keys)
    columns = {}
    for j, feature in enumerate(FEATURES):
        mu = means[:, j]
        if feature in FLAG_FEATURES:
            columns[feature] = (rng.random(n) < mu).astype(float)
        elif feature == "opening_words":
            columns[feature] = rng.poisson(mu).astype(float)
        elif feature in UNSCALED_FEATURES:
            columns[feature] = rng.gamma(2.0, mu / 2.0)
        else:
            # mean mu overall: a zero with probability zero_share, else a draw around mu / (1 - zero_share)
            inflated = np.minimum(mu / (1.0 - zero_share), 0.95)
            values = rng.beta(5.0 * inflated, 5.0 * (1.0 - inflated))
            if zero_share > 0:  # no draw otherwise: the same seed gives the same study as before
                values = np.where(rng.random(n) < zero_share, 0.0, values)
            columns[feature] = values
    has_features = rng.random(n) >= NO_FEATURES_SHARE
    table = pd.DataFrame({
        "label": label, "source": source, "key": list(keys), "task_key": [ids.task_key(k) for k in keys],
        "batch": [ids.split_batch(k)[1] if source == "human" else 0 for k in keys], "keep": True,
        "success": (rng.random(n) < success).astype(int), "has_features": has_features,
        **{f: np.where(has_features, v, np.nan) for f, v in columns.items()},
        "n_turns": np.where(has_features, 10.0, np.nan),
    })
    return table[[*ID_COLUMNS, *FEATURES, "n_turns"]]


def survey(rng: np.random.Generator, quality: float) -> dict:
    """Answers around a task's latent ``quality`` (0-1), some left blank."""
    out = {}
    noise = rng.normal(0.0, 0.8, len(SURVEY_OPTIONS))
    blank = rng.random(len(SURVEY_OPTIONS)) < BLANK_ANSWER_SHARE
    for (item, options), e, missing in zip(SURVEY_OPTIONS.items(), noise, blank):
        names = list(options)
        index = min(max(round(quality * (len(names) - 1) + e), 0), len(names) - 1)
        out[item] = {"question": item, "answer": None if missing else names[index]}
    return out


def human_process_study(rng: np.random.Generator, n_tasks: int, runs: Mapping[str, int], *,
                        drop_rate: float = 0.0, shifts: Mapping[str, float] | None = None,
                        zero_share: float = 0.0) -> KnownStudy:
    """Three human batches of ``n_tasks`` retail tasks and simulators (label -> number
    of runs) drawn from the same process; ``shifts`` (label -> fraction) multiplies a
    simulator's feature means by ``1 + shift`` (bounded rates kept below 0.9);
    ``drop_rate`` of the human sessions are not kept; ``zero_share`` as in
    :func:`features_table`."""
    shifts = dict(shifts or {})
    tasks = [f"retail_{i}" for i in range(n_tasks)]
    base = np.array([SYNTHETIC_HUMAN_MEANS[f] for f in FEATURES])
    task_means = base * np.exp(0.3 * rng.standard_normal((n_tasks, len(FEATURES))))
    bounded = np.array([f not in UNSCALED_FEATURES for f in FEATURES])
    task_means[:, bounded] = np.minimum(task_means[:, bounded], 0.9)
    success = rng.beta(2.0, 2.0, n_tasks)
    quality = rng.random(n_tasks)

    def draw(label: str, suffixes: tuple[str, ...], source: str, shift: float = 0.0) -> tuple[pd.DataFrame, list]:
        keys = [f"{t}{s}" for s in suffixes for t in tasks]
        rows = np.tile(np.arange(n_tasks), len(suffixes))
        means = task_means[rows] * (1.0 + shift)
        means[:, bounded] = np.minimum(means[:, bounded], 0.9)
        return features_table(rng, label, keys, means, success[rows], source, zero_share=zero_share), keys

    human, human_keys = draw("human", ("", "_ann2", "_ann3"), "human")
    human["keep"] = rng.random(len(human)) >= drop_rate
    records = {k: {"survey": survey(rng, quality[i % n_tasks]), "keep": bool(keep)}
               for i, (k, keep) in enumerate(zip(human_keys, human["keep"]))}
    rerating = {}
    for i, t in enumerate(tasks):
        again = survey(rng, quality[i])
        rerating[t] = {"survey": {item: (records[t]["survey"][item] if rng.random() < RERATING_SAME_SHARE
                                         else again[item]) for item in SURVEY_OPTIONS}}
    sims, agreements = {}, {}
    for label, n_runs in runs.items():
        suffixes = ("",) if n_runs == 1 else tuple(f"_{r}" for r in range(1, n_runs + 1))
        sims[label], _ = draw(label, suffixes, "llm", shifts.get(label, 0.0))
        surveys = {k: {"survey": survey(rng, quality[i % n_tasks])} for i, k in enumerate(human_keys)}
        agreements[label] = usi.eval_agreements(records, surveys)
    return KnownStudy(human, sims, records, rerating, agreements, dict(zip(tasks, success)))
