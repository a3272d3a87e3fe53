"""Studies drawn by resampling realistic feature rows (tests and benchmarks of the
two-sample test, :mod:`usersim_utils.distinguish`): harder than independent draws.

Real feature rows are not independent draws around a mean: most rate features of a
conversation are exactly 0 (a flag that never fires), the features move together (a
talkative person is talkative in every respect) and the people of one task resemble each
other. :func:`source_rows` draws such a table, a few people per task (:data:`PEOPLE_PER_TASK`,
three as in the study), from a Gaussian copula: one latent factor shared by a
conversation's features (loading :data:`FACTOR_LOADING`), a task effect shared by the
task's conversations (:data:`TASK_EFFECT`), and rate features that are 0 below a latent
threshold (:data:`ZERO_SHARE` of them). :func:`resampled_tables` then draws a study from it
the way a bootstrap of the real study would: every human session and every simulator run
of a task is a row drawn, with replacement, from that task's people, so both sides share
the task effects and the zeros, and a row can appear on both sides. A simulator drawn so is
a simulator from the human process; ``scale`` moves a simulator's features by a known
factor. Nothing here is study data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .. import ids, schema
from ..features import FEATURES, ID_COLUMNS, UNSCALED_FEATURES
from .feature_tables import SYNTHETIC_HUMAN_MEANS

#: People (distinct feature rows) per task in the source table.
PEOPLE_PER_TASK = 3
#: Share of the rate features' values that are exactly 0.
ZERO_SHARE = 0.5
#: Loading of every feature on the conversation's latent factor (features correlate by its square).
FACTOR_LOADING = 0.6
#: Standard deviation of a task's shift on the latent scale, shared by its conversations.
TASK_EFFECT = 0.5
_FLAGS = frozenset({"repeat_rate", "id_confuse_rate"})


def _marginal(feature: str, mean: float, u: np.ndarray, zero_share: float) -> np.ndarray:
    """Values of ``feature`` (mean ``mean`` on the raw scale) at uniform quantiles ``u`` (n,):
    flags 0/1, ``opening_words`` Poisson, other unscaled features Gamma(2), rates 0 below
    ``zero_share`` and Beta(concentration 5) above it, with the overall mean kept."""
    if feature in _FLAGS:
        return (u > 1.0 - mean).astype(float)
    if feature == "opening_words":
        return stats.poisson.ppf(u, mean)
    if feature in UNSCALED_FEATURES:
        return stats.gamma.ppf(u, 2.0, scale=mean / 2.0)
    inflated = min(mean / (1.0 - zero_share), 0.95)
    above = np.clip((u - zero_share) / (1.0 - zero_share), 1e-9, 1.0 - 1e-9)
    return np.where(u < zero_share, 0.0, stats.beta.ppf(above, 5.0 * inflated, 5.0 * (1.0 - inflated)))


def source_rows(rng: np.random.Generator, tasks: Sequence[str], *, people: int = PEOPLE_PER_TASK,
                zero_share: float = ZERO_SHARE, loading: float = FACTOR_LOADING,
                task_effect: float = TASK_EFFECT) -> pd.DataFrame:
    """A realistic features table: ``people`` rows per task (task-major), columns ``task_key``
    and :data:`~usersim_utils.features.FEATURES` around
    :data:`~usersim_utils.demo.feature_tables.SYNTHETIC_HUMAN_MEANS` (shape (len(tasks)·people, 20))."""
    n, p = len(tasks) * people, len(FEATURES)
    shift = np.repeat(rng.normal(0.0, task_effect, (len(tasks), p)), people, axis=0)
    latent = loading * rng.standard_normal((n, 1)) + np.sqrt(1.0 - loading**2) * rng.standard_normal((n, p))
    u = stats.norm.cdf((latent + shift) / np.sqrt(1.0 + task_effect**2))
    table = pd.DataFrame({f: _marginal(f, SYNTHETIC_HUMAN_MEANS[f], u[:, j], zero_share)
                          for j, f in enumerate(FEATURES)})
    table.insert(0, "task_key", np.repeat(list(tasks), people))
    return table


def _draw(rng: np.random.Generator, source: pd.DataFrame, label: str, keys: list[str], source_kind: str,
          scale: Mapping[str, float], drop_rate: float) -> pd.DataFrame:
    """One row of ``source`` drawn (with replacement) from the key's task for each of ``keys``."""
    by_task = source.reset_index(drop=True).groupby("task_key").indices  # task -> positions
    task_keys = [ids.task_key(k) for k in keys]
    picks = np.array([rng.choice(by_task[t]) for t in task_keys])
    values = source[list(FEATURES)].to_numpy()[picks]
    for f, factor in scale.items():
        j = FEATURES.index(f)
        values[:, j] = values[:, j] * factor if f in UNSCALED_FEATURES else np.minimum(values[:, j] * factor, 1.0)
    n = len(keys)
    table = pd.DataFrame({
        "label": label, "source": source_kind, "key": keys, "task_key": task_keys,
        "batch": [ids.split_batch(k)[1] if source_kind == "human" else 0 for k in keys],
        "keep": rng.random(n) >= drop_rate, "success": rng.integers(0, 2, n), "has_features": True,
        **dict(zip(FEATURES, values.T)), "n_turns": 10.0,
    })
    return table[[*ID_COLUMNS, *FEATURES, "n_turns"]]


def resampled_tables(rng: np.random.Generator, tasks: Sequence[str], *, n_runs: int = 3,
                     scale: Mapping[str, float] | None = None, drop_rate: float = 0.03,
                     source: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(human, simulator)`` features tables resampled from ``source`` (a fresh
    :func:`source_rows` of ``tasks`` by default): three human batches (``drop_rate`` of the
    sessions not kept) and ``n_runs`` simulator runs, each row a draw from its task's people.
    ``scale`` (feature -> factor) multiplies the simulator's values of those features (rates
    capped at 1); without it the simulator is drawn from the human process."""
    tasks = list(tasks)
    source = source_rows(rng, tasks) if source is None else source
    human_keys = [f"{t}{schema.BATCH_SUFFIX[b]}" for b in schema.BATCHES for t in tasks]
    runs = [""] if n_runs == 1 else [f"_{r}" for r in range(1, n_runs + 1)]
    human = _draw(rng, source, schema.HUMAN_LABEL, human_keys, "human", {}, drop_rate)
    sim = _draw(rng, source, "simulator", [f"{t}{r}" for r in runs for t in tasks], "llm", dict(scale or {}), 0.0)
    return human, sim
