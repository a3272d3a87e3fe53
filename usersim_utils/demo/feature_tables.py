"""Random features tables (benchmarks and tests): the columns of
:func:`usersim_utils.features.features_table` drawn around plausible means, with no
conversation behind them (never regex features). Keys follow the study: ``x``,
``x_ann2``, ``x_ann3`` for the humans and ``x_<run>`` for the simulators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from .. import ids, schema
from ..features import FEATURES, UNSCALED_FEATURES

#: A plausible human mean per feature, on the raw (not x100) scale.
SYNTHETIC_HUMAN_MEANS: dict[str, float] = {
    "politeness_rate": 0.15, "short_msg_rate": 0.29, "formality_rate": 0.03, "ack_only_rate": 0.12,
    "verbosity_cv": 0.6, "repeat_rate": 0.02, "id_confuse_rate": 0.05, "info_frontload": 0.45,
    "id_density": 1.5, "user_words_per_turn": 11.0, "opening_words": 14.0, "uncertainty_rate": 0.08,
    "certainty_rate": 0.04, "pushback_q_rate": 0.05, "clarify_q_rate": 0.06, "info_q_rate": 0.18,
    "emotion_rate": 0.05, "accusation_rate": 0.03, "pivot_rate": 0.08,
}
_FLAG_FEATURES = frozenset({"repeat_rate", "id_confuse_rate"})
_COUNT_FEATURES = frozenset({"opening_words"})


def _draw_features(rng: np.random.Generator, means: Mapping[str, float], n: int) -> dict[str, np.ndarray]:
    """``n`` conversations' features around ``means``: flags Bernoulli, counts
    Poisson, unscaled features Gamma(2), fractions Beta with concentration 5."""
    out = {}
    for f in FEATURES:
        mu = means[f]
        if f in _FLAG_FEATURES:
            out[f] = (rng.random(n) < mu).astype(float)
        elif f in _COUNT_FEATURES:
            out[f] = rng.poisson(mu, n).astype(float)
        elif f in UNSCALED_FEATURES:
            out[f] = rng.gamma(2.0, mu / 2.0, n)
        else:
            out[f] = rng.beta(mu * 5.0, (1.0 - mu) * 5.0, n)
    return out


def synthetic_table(
    rng: np.random.Generator,
    label: str,
    keys: Sequence[str],
    means: Mapping[str, float],
    success_probability: Mapping[str, float],
    *,
    source: Literal["human", "llm"] = "llm",
    missing_rate: float = 0.02,
    drop_rate: float = 0.0,
) -> pd.DataFrame:
    """A features table with random features (columns of :func:`features.features_table`).

    ``keys`` are instance ids; ``success_probability`` maps a task key to its
    success rate; ``missing_rate`` of the conversations have no features and
    ``drop_rate`` of them are not kept.
    """
    n = len(keys)
    feats = _draw_features(rng, means, n)
    has_features = rng.random(n) >= missing_rate
    task_keys = [ids.task_key(k) for k in keys]
    table = pd.DataFrame({
        "label": label,
        "source": source,
        "key": list(keys),
        "task_key": task_keys,
        "batch": [ids.split_batch(k)[1] if source == "human" else 0 for k in keys],
        "keep": rng.random(n) >= drop_rate,
        "success": (rng.random(n) < np.array([success_probability[t] for t in task_keys])).astype(int),
        "has_features": has_features,
        **{f: np.where(has_features, v, np.nan) for f, v in feats.items()},
        "n_turns": np.where(has_features, rng.integers(2, 30, n).astype(float), np.nan),
    })
    return table


def synthetic_tables(
    rng: np.random.Generator,
    *,
    n_simulators: int = 31,
    n_runs: int = 3,
    tasks: Sequence[str] | None = None,
    spread: float = 0.5,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """A full-size synthetic panel: human sessions (3 batches of ``tasks``, all 165
    study tasks by default) and ``n_simulators`` simulators of ``n_runs`` runs.

    Each simulator's feature means are the human ones times ``exp(spread · z)``,
    z standard normal per feature; its success rate is the task's plus a
    simulator bias. Keys follow the study: ``x``, ``x_ann2``, ``x_ann3`` and ``x_<run>``.
    """
    tasks = list(tasks) if tasks is not None else ids.parse_task_spec("all")
    task_success = dict(zip(tasks, rng.beta(2.0, 2.0, len(tasks))))
    human_keys = [f"{t}{schema.BATCH_SUFFIX[b]}" for b in schema.BATCHES for t in tasks]
    human = synthetic_table(rng, schema.HUMAN_LABEL, human_keys, SYNTHETIC_HUMAN_MEANS, task_success,
                            source="human", drop_rate=0.03)
    sims = {}
    for i in range(n_simulators):
        label = f"sim-{i:02d}"
        means = {}
        for f, mu in SYNTHETIC_HUMAN_MEANS.items():
            value = mu * float(np.exp(spread * rng.standard_normal()))
            bounded = f not in UNSCALED_FEATURES
            means[f] = min(value, 0.95) if bounded else value
        bias = 0.15 * rng.standard_normal()
        success = {t: float(np.clip(p + bias, 0.0, 1.0)) for t, p in task_success.items()}
        keys = tasks if n_runs == 1 else [f"{t}_{r}" for r in range(1, n_runs + 1) for t in tasks]
        sims[label] = synthetic_table(rng, label, keys, means, success)
    return human, sims
