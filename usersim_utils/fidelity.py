"""Beyond Dice on means: distribution-level fidelity per feature, a distributional
index reported beside USI, and how sensitive the USI ranking is to its choices.

Dice compares two means, so a simulator whose every conversation sits at the human
mean scores 100 against humans who spread widely around it. Here each feature is
compared conversation by conversation (kept conversations with features, human
versus simulator, on the tasks both have) with the Wasserstein distance and the
two-sample Kolmogorov-Smirnov statistic (:mod:`scipy.stats`).

The distributional fidelity index (DFI) averages ``100 · (1 − KS)`` over each
dimension's features, then over the dimensions, like USI's D1-D4. KS is the largest
gap between the two cumulative distributions: scale-free like Dice, bounded in
[0, 1], 0 only when the empirical distributions are identical, and for a 0/1
feature simply the difference of the two proportions. The Wasserstein distance
keeps the feature's units; ``100 · (1 − W / (W + s))`` (s the human standard deviation)
turns it into a similarity reported beside it.

Sensitivity: the USI of every simulator under variants of the index (difficulty
mode, number of bins, one dimension dropped, one lexicon's features dropped),
compared with the reference ranking by Kendall's τ, beside the τ that resampling
tasks alone gives, and the rank swaps among pairs the paired bootstrap resolves
(:func:`sensitivity_table`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from . import uncertainty, usi
from .features import DIMENSIONS, FEATURE_LEXICON, FEATURE_SCALE, FEATURES
from .stats import confidence_interval, kendall_tau, resample_counts

Dimensions = Mapping[str, Sequence[str]]
_DIMENSION_OF = {f: d for d, feats in DIMENSIONS.items() for f in feats}
_SCALE = pd.Series(FEATURE_SCALE)
SENSITIVITY_COLUMNS = ("group", "variant", "kendall_tau", "n_simulators", "best", "best_changed", "swaps",
                       "swaps_resolved", "resampling_tau", "resampling_tau_low", "resampling_tau_high")


# --- Per-feature distributions. ------------------------------------------------------------
def conversation_values(table: pd.DataFrame, tasks: set[str] | None = None) -> pd.DataFrame:
    """Kept conversations with features (restricted to ``tasks`` when given):
    ``task_key`` and the 19 features on the row scale (rates x 100)."""
    rows = table.loc[table["keep"] & table["has_features"]]
    if tasks is not None:
        rows = rows.loc[rows["task_key"].isin(tasks)]
    return pd.concat([rows[["task_key"]], rows[list(FEATURES)] * _SCALE], axis=1).reset_index(drop=True)


def wasserstein_similarity(distance: float, scale: float) -> float:
    """``100 · (1 − distance / (distance + scale))``: 100 at distance 0, 50 at one human
    standard deviation; with no human spread, 100 if the distance is 0 else 0."""
    if distance + scale == 0:
        return 100.0
    return 100.0 * (1.0 - distance / (distance + scale))


def feature_fidelity(human: pd.DataFrame, sim: pd.DataFrame, *, common_tasks: bool = True) -> pd.DataFrame:
    """A row per feature comparing the per-conversation distributions.

    ``human``, ``sim``: features tables. With ``common_tasks`` both sides keep
    only tasks present on both (so the task mix is the same). Columns:
    ``feature``, ``dimension``, ``n_human``, ``n_sim``, ``human_mean``, ``sim_mean``,
    ``dice`` (100 x Dice of the means), ``wasserstein``, ``human_std``,
    ``w_similarity``, ``ks_statistic``, ``ks_pvalue``, ``ks_similarity`` (100 x (1 − KS)).
    Features without a conversation on one side get NaN.
    """
    tasks = None
    if common_tasks:
        tasks = set(human.loc[human["keep"], "task_key"]) & set(sim.loc[sim["keep"], "task_key"])
    h, s = conversation_values(human, tasks), conversation_values(sim, tasks)
    rows = []
    for f in FEATURES:
        hv, sv = h[f].to_numpy(), s[f].to_numpy()
        if len(hv) == 0 or len(sv) == 0:
            rows.append((f, _DIMENSION_OF[f], len(hv), len(sv), *([np.nan] * 9)))
            continue
        distance = float(stats.wasserstein_distance(hv, sv))
        spread = float(np.std(hv))
        with warnings.catch_warnings():
            # With many ties the exact p-value can fail; scipy then says so and uses the asymptotic one.
            warnings.filterwarnings("ignore", message="ks_2samp: Exact calculation unsuccessful")
            ks = stats.ks_2samp(hv, sv)
        rows.append((
            f, _DIMENSION_OF[f], len(hv), len(sv), float(hv.mean()), float(sv.mean()),
            100.0 * usi.dice(hv.mean(), sv.mean()), distance, spread,
            wasserstein_similarity(distance, spread), float(ks.statistic), float(ks.pvalue),
            100.0 * (1.0 - float(ks.statistic)),
        ))
    return pd.DataFrame(rows, columns=[
        "feature", "dimension", "n_human", "n_sim", "human_mean", "sim_mean", "dice",
        "wasserstein", "human_std", "w_similarity", "ks_statistic", "ks_pvalue", "ks_similarity",
    ])


def fidelity_table(
    human: pd.DataFrame, simulators: Mapping[str, pd.DataFrame], *, common_tasks: bool = True
) -> pd.DataFrame:
    """:func:`feature_fidelity` of every simulator, with a ``name`` column first."""
    tables = [feature_fidelity(human, table, common_tasks=common_tasks).assign(name=label)
              for label, table in simulators.items()]
    out = pd.concat(tables, ignore_index=True)
    return out[["name", *(c for c in out.columns if c != "name")]]


def human_pairs_fidelity(human: pd.DataFrame, *, common_tasks: bool = True) -> pd.DataFrame:
    """The human reference for :func:`feature_fidelity`: batch against batch for the
    pairs 1-2, 1-3, 2-3 (``name`` ``"human 1-2"``, ...). Each side holds one batch,
    a third of the sessions a simulator is compared with, so sampling noise alone
    keeps these values below 100 a little more than for a simulator."""
    tables = []
    for a, b in usi.HUMAN_PAIRS:
        side_a, side_b = human.loc[human["batch"] == a], human.loc[human["batch"] == b]
        tables.append(feature_fidelity(side_a, side_b, common_tasks=common_tasks).assign(name=f"human {a}-{b}"))
    out = pd.concat(tables, ignore_index=True)
    return out[["name", *(c for c in out.columns if c != "name")]]


def distributional_index(
    fidelity: pd.DataFrame, *, column: str = "ks_similarity", dimensions: Dimensions = DIMENSIONS
) -> pd.DataFrame:
    """Per simulator (index ``name``): each dimension's mean of ``column`` over its
    features, and ``index`` = the mean of the dimensions (as USI averages D1-D4)."""
    by_feature = fidelity.pivot(index="name", columns="feature", values=column)
    out = pd.DataFrame({d: by_feature[list(feats)].mean(axis=1) for d, feats in dimensions.items()})
    out["index"] = out[list(dimensions)].mean(axis=1)
    return out.loc[list(dict.fromkeys(fidelity["name"]))]


# --- Sensitivity of the ranking. ----------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One way of computing the index: ``group`` (what was changed) and ``name``."""

    group: str
    name: str
    difficulty: Mapping[str, float]
    edges: tuple[float, ...] = usi.BIN_EDGES
    dimensions: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(DIMENSIONS))


def equal_width_edges(n_bins: int) -> tuple[float, ...]:
    """Inner edges of ``n_bins`` equal-width difficulty bins on [0, 1]; 5 bins give
    exactly the reference edges (0.2, 0.4, 0.6, 0.8)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, not {n_bins}")
    return tuple(i / n_bins for i in range(1, n_bins))


def lexicon_features(lexicon: str) -> tuple[str, ...]:
    """The features a lexicon drives (:data:`features.FEATURE_LEXICON`)."""
    found = tuple(f for f in FEATURES if FEATURE_LEXICON.get(f) == lexicon)
    if not found:
        raise ValueError(f"no feature is driven by lexicon {lexicon!r}")
    return found


def without_features(dimensions: Dimensions, dropped: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``dimensions`` without the ``dropped`` features; a dimension left empty is dropped."""
    out = {d: tuple(f for f in feats if f not in dropped) for d, feats in dimensions.items()}
    return {d: feats for d, feats in out.items() if feats}


def sensitivity_variants(
    difficulty_modes: Mapping[str, Mapping[str, float]],
    *,
    reference_mode: str | None = None,
    bin_counts: Sequence[int] = (3, 5, 10),
) -> list[Variant]:
    """The reference, then one variant per difficulty mode, bin count, dropped
    dimension and dropped lexicon (each changes one thing from the reference)."""
    base = difficulty_modes[reference_mode or next(iter(difficulty_modes))]
    variants = [Variant("reference", "reference", base)]
    variants += [Variant("difficulty", mode, d) for mode, d in difficulty_modes.items()]
    variants += [Variant("bins", f"{k} bins", base, equal_width_edges(k)) for k in bin_counts]
    variants += [Variant("drop dimension", d, base, dimensions=without_features(DIMENSIONS, DIMENSIONS[d]))
                 for d in DIMENSIONS]
    variants += [Variant("drop lexicon", lex, base, dimensions=without_features(DIMENSIONS, lexicon_features(lex)))
                 for lex in sorted(set(FEATURE_LEXICON.values()))]
    return variants


def usi_by_variant(
    panel: uncertainty.TaskArrays, variants: Sequence[Variant], *, labels: Sequence[str] | None = None
) -> pd.DataFrame:
    """USI (mean over batches) of each simulator under each variant: index
    (``group``, ``variant``), a column per simulator label."""
    labels = list(labels) if labels is not None else list(panel.labels)
    cells = variant_scores(panel, variants, np.ones((1, len(panel.tasks))), labels=labels)[:, 0]
    index = pd.MultiIndex.from_tuples([(v.group, v.name) for v in variants], names=["group", "variant"])
    return pd.DataFrame(cells, index=index, columns=labels)


def variant_scores(panel: uncertainty.TaskArrays, variants: Sequence[Variant], weights: np.ndarray, *,
                   labels: Sequence[str] | None = None) -> np.ndarray:
    """(V, K, S) USI of each simulator under each variant with task weights ``weights`` (K, T)."""
    return np.stack([uncertainty.score_weights(panel, weights, v.difficulty, labels=labels, edges=v.edges,
                                               dimensions=v.dimensions)[:, :, -1] for v in variants])


def discordant_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(S, S) True where simulators i and j are ordered strictly one way by ``a`` (S,)
    and strictly the other way by ``b`` (S,): a rank swap."""
    da, db = np.sign(a[:, None] - a[None, :]), np.sign(b[:, None] - b[None, :])
    return (da * db) < 0


def resolved_pairs(estimate: np.ndarray, replicates: np.ndarray, level: float = 0.95) -> np.ndarray:
    """(S, S) True where the centred interval of USI(i) − USI(j) over task resamples
    excludes 0: ``estimate`` (S,), ``replicates`` (K, S) on the same resamples."""
    n = len(estimate)
    out = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in range(i + 1, n):
            low, high = confidence_interval(estimate[i] - estimate[j], replicates[:, i] - replicates[:, j], None,
                                            level, "centred")
            out[i, j] = out[j, i] = bool(low > 0 or high < 0)
    return out


def sensitivity_table(
    panel: uncertainty.TaskArrays,
    variants: Sequence[Variant],
    rng: np.random.Generator,
    *,
    n_boot: int = 200,
    level: float = 0.95,
    labels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Each variant's ranking against the reference (the first variant), beside what
    resampling tasks alone does to the reference ranking, on the same ``n_boot`` resamples.

    Columns: ``group``, ``variant``, ``kendall_tau`` (the variant's ranking against the
    reference's, full data), ``n_simulators``, ``best``, ``best_changed``, ``swaps`` (pairs
    the variant orders the other way), ``swaps_resolved`` (of those, pairs whose reference
    difference the paired bootstrap resolves: :func:`resolved_pairs`), and, the same on every
    row, ``resampling_tau`` with ``resampling_tau_low``/``high``: the median and percentile
    interval over resamples of τ between the reference ranking and the reference ranking on a
    resample. A variant whose τ lies inside that interval moves the ranking no more than
    another draw of tasks would. No p-value: "τ = 0" is false by design (every variant
    shares most of the index), so testing it says nothing.
    """
    labels = list(labels) if labels is not None else list(panel.labels)
    n_tasks = len(panel.tasks)
    weights = np.vstack([np.ones((1, n_tasks)), resample_counts(n_tasks, n_boot, rng)])
    scores = variant_scores(panel, variants, weights, labels=labels)  # (V, 1 + B, S)
    reference, reference_reps = scores[0, 0], scores[0, 1:]
    resampled = np.array([kendall_tau(reference, reps)[0] for reps in reference_reps])
    resampled = resampled[~np.isnan(resampled)]
    alpha = (1.0 - level) / 2.0
    tau_mid, tau_low, tau_high = (np.quantile(resampled, [0.5, alpha, 1.0 - alpha]) if resampled.size
                                  else (np.nan, np.nan, np.nan))
    resolved = np.triu(resolved_pairs(reference, reference_reps, level), k=1)
    defined = np.isfinite(reference)
    ref_best = labels[int(np.nanargmax(reference))] if defined.any() else None
    rows = []
    for v, variant in enumerate(variants):
        values = scores[v, 0]
        swaps = np.triu(discordant_pairs(reference, values), k=1)
        best = labels[int(np.nanargmax(values))] if np.isfinite(values).any() else None
        rows.append((variant.group, variant.name, kendall_tau(reference, values)[0],
                     int((defined & np.isfinite(values)).sum()), best, best != ref_best, int(swaps.sum()),
                     int((swaps & resolved).sum()), float(tau_mid), float(tau_low), float(tau_high)))
    return pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))
