"""Uncertainty around the User-Sim Index: bootstrap confidence intervals over tasks,
paired comparisons of simulators, ranking uncertainty, and a human ceiling that
does not hang on one split of the participants into batches.

None of this changes a reference number. Every statistic here is the statistic of
:mod:`usersim_utils.usi` evaluated with a weight per task; with every task weighted
once it *is* the reference value (the tests check 1e-9).

How it stays fast. Features are computed once (:func:`features.features_table`).
A :class:`Panel` turns each human batch and each (simulator, run) into per-task
arrays: the sum of each feature over the task's conversations that have features,
their number, whether the task is present, its success. A bootstrap resample of
tasks is then a vector of integer counts per task (the same vector for every
batch, every run, every simulator and the ECE maps), and a resampled feature row
is a weighted mean ``counts @ sums / counts @ n``: 1,000 resamples are a handful of
matrix products per (simulator, run, batch).

* ECE under resampling: per-bin means weighted by the same counts.
* Eval under resampling: the per-task agreements of :func:`usi.eval_agreements`
  weighted by the same counts. The agreements, and the reference generator's
  draws for missing simulator answers inside them, stay fixed: a resample changes
  which tasks count, not how a survey pair was scored.

Which interval. Dice of two noisy means and ECE (an absolute gap) are biased: noise
alone pulls Dice below 100 and ECE above 0, so the USI of a finite study sits below
its large-sample value, the more so the closer a simulator is to people. A
resample adds the same noise again, so the replicates sit about one bias *below*
the reference value. The textbook percentile interval then misses the estimate,
and BCa, whose bias correction extrapolates into the far tail of the replicates,
collapses. The ``centred`` interval shifts the percentile interval by the
bootstrap's bias estimate, so it is centred on the reference value: an interval
for the expected USI of a study of this design (same tasks count, sessions per
task, runs). On simulated panels it covers that value at about its nominal rate
where percentile and BCa cover it far less often (``tests/test_uncertainty.py``).
It is the default; percentile and BCa are offered beside it
(:func:`usersim_utils.stats.confidence_interval`).

Modules by job:

* :mod:`.arrays`    the study as per-task arrays (:class:`TaskArrays`, :func:`build_task_arrays`)
* :mod:`.weighted`  the index with a weight per task (:func:`score_weights`, :func:`point_scores`)
* :mod:`.bootstrap` resampled leaderboards: intervals, ranks, paired differences, permutation test
* :mod:`.ceiling`   the human ceiling under resampling and relabelling of batches

The generic intervals (percentile, centred, BCa) live in :mod:`usersim_utils.stats` and
are re-exported here under their old names; the synthetic features tables moved to
:mod:`usersim_utils.demo.feature_tables` (the old names here still find them).
"""


import importlib
from typing import Any

from ..features import UNSCALED_FEATURES  # an old name, used by tests
from ..stats import (  # old names: the generic intervals lived here
    METHODS,
    Interval,
    Method,
    bca_interval,
    bootstrap_interval,
    centred_interval,
    confidence_interval,
    jackknife_weights,
    percentile_interval,
    resample_counts,
)
from .arrays import (
    AgreementArrays,
    Dimensions,
    Panel,
    RowArrays,
    SimulatorArrays,
    SuccessArrays,
    TaskArrays,
    build_panel,
    build_task_arrays,
    difficulty_bins,
    metric_names,
    metric_range,
    simulator_arrays,
)
from .bootstrap import (
    CEILING_LABEL,
    BootstrapResult,
    Difference,
    PermutationResult,
    bootstrap,
    intervals,
    paired_difference,
    permutation_test,
    rank_summary,
)
from .ceiling import BATCH_RELABELLINGS, PAIR_NAMES, ceiling_weights, human_ceiling_intervals
from .weighted import Part, point_scores, score_parts, score_weights

__all__ = [
    "AgreementArrays", "BATCH_RELABELLINGS", "BootstrapResult", "CEILING_LABEL", "Difference", "Dimensions",
    "Interval", "METHODS", "Method", "PAIR_NAMES", "Panel", "Part", "PermutationResult", "RowArrays",
    "SimulatorArrays", "SuccessArrays", "TaskArrays", "UNSCALED_FEATURES", "bca_interval", "bootstrap",
    "bootstrap_interval", "build_panel", "build_task_arrays", "ceiling_weights", "centred_interval",
    "confidence_interval", "difficulty_bins", "intervals", "jackknife_weights", "metric_names", "metric_range",
    "paired_difference", "percentile_interval", "permutation_test", "point_scores", "rank_summary",
    "human_ceiling_intervals", "resample_counts", "score_parts", "score_weights", "simulator_arrays",
]

#: Old names of the synthetic features tables, now in :mod:`usersim_utils.demo.feature_tables`.
_MOVED = frozenset({"SYNTHETIC_HUMAN_MEANS", "synthetic_table", "synthetic_tables"})


def __getattr__(name: str) -> Any:
    """``uncertainty.synthetic_tables`` and the other moved test tables, from their new
    module (imported on first use: the analysis does not load the demo generator)."""
    if name in _MOVED:
        return getattr(importlib.import_module("usersim_utils.demo.feature_tables"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
