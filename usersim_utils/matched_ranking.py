"""The leaderboard like with like: simulators ranked by their matched gap to people, and
paired comparisons between simulators on the same task resamples.

The reference index averages a simulator's runs before Dice, so a 3-run simulator gains
Dice from averaging alone, and a simulator with one run (or a study with fewer tasks)
cannot: in simulated studies of 165 tasks a 1-run simulator drawn from the human process
ranked above a 3-run one 5 % off on every feature in about a quarter of them. The matched
gap (:func:`usersim_utils.matched_design.matched_weights`: every run scored against a human batch
as one batch is scored against another, minus that ceiling) puts every simulator on the
ceiling's footing whatever its number of runs, so ranking by it compares like with like
(``tests/test_matched_ranking.py`` checks it ranks that pair right in most studies).

Resampling: the tasks are drawn ``n_boot`` times from ``rng`` (counts first, the same for
every simulator and its ceiling), as :func:`usersim_utils.matched_comparison.compare` does, and held in
a :class:`usersim_utils.uncertainty.BootstrapResult` of gaps, so the uncertainty module's
paired differences and rank summaries apply to it unchanged. Intervals are centred
(:func:`usersim_utils.stats.confidence_interval`) and not clipped: a gap runs from −100 to 100.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import stats
from . import uncertainty as unc
from .features import DIMENSIONS
from .matched_design import MatchedArrays, matched_weights

LEADERBOARD_COLUMNS = ("name", "runs", "gap", "low", "high", "p_best", "rank", "rank_low", "rank_high")


def matched_bootstrap(
    matched: MatchedArrays,
    difficulty: Mapping[str, float],
    rng: np.random.Generator,
    *,
    n_boot: int = 1000,
    difficulty_by_label: Mapping[str, Mapping[str, float]] | None = None,
    dimensions: unc.Dimensions = DIMENSIONS,
) -> unc.BootstrapResult:
    """Matched gaps (simulator − its matched ceiling) of every simulator and metric: the
    estimate (S, M) and ``n_boot`` task resamples (B, S, M); no jackknife (0, S, M), so
    intervals are centred or percentile, not BCa."""
    n_tasks = len(matched.task_arrays.tasks)
    weights = np.vstack([np.ones((1, n_tasks)), stats.resample_counts(n_tasks, n_boot, rng)])
    sims, ceilings = matched_weights(matched, weights, difficulty, difficulty_by_label=difficulty_by_label,
                                     dimensions=dimensions)
    gaps = sims - ceilings
    return unc.BootstrapResult(matched.labels, unc.metric_names(dimensions), gaps[0], gaps[1:],
                               np.empty((0, *gaps.shape[1:])))


def matched_leaderboard(result: unc.BootstrapResult, matched: MatchedArrays, *, metric: str = "usi",
                        level: float = 0.95) -> pd.DataFrame:
    """A row per simulator (:data:`LEADERBOARD_COLUMNS`), best matched gap first: the gap and
    its centred interval, the probability of ranking first, the rank of the estimate and
    its interval over resamples (:func:`usersim_utils.uncertainty.rank_summary`)."""
    ranks = unc.rank_summary(result, metric=metric, level=level).set_index("name")
    rows = []
    for label in result.labels:
        estimate, replicates, _ = result.values(label, metric)
        low, high = stats.confidence_interval(estimate, replicates, None, level, "centred")
        rank = ranks.loc[label]
        rows.append((label, matched.runs(label), estimate, low, high, rank["p_best"], rank["rank"], rank["rank_low"],
                     rank["rank_high"]))
    table = pd.DataFrame(rows, columns=list(LEADERBOARD_COLUMNS))
    return table.sort_values("gap", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def matched_differences(result: unc.BootstrapResult, pairs: Sequence[tuple[str, str]], *, metric: str = "usi",
                        level: float = 0.95) -> pd.DataFrame:
    """Per pair (a, b): ``difference`` = gap(a) − gap(b), its centred interval, the share of
    resamples with a ahead (``p_a_better``) and ``resolved`` (the interval excludes 0)."""
    rows = []
    for a, b in pairs:
        diff = unc.paired_difference(result, a, b, metric=metric, level=level)
        resolved = bool(diff.low > 0 or diff.high < 0)
        rows.append((a, b, diff.estimate, diff.low, diff.high, diff.p_a_better, resolved))
    return pd.DataFrame(rows, columns=["a", "b", "difference", "low", "high", "p_a_better", "resolved"])
