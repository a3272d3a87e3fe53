"""Uncertainty around the User-Sim Index: bootstrap confidence intervals over tasks,
paired comparisons of simulators, ranking uncertainty, and a human ceiling that
does not hang on one split of the participants into batches.

None of this changes a reference number. Every statistic here is the statistic of
:mod:`usersim_utils.usi` evaluated with a weight per task; with every task weighted
once it *is* the reference value (the tests check 1e-9).

How it stays fast. Features are computed once (:func:`features.features_table`).
A :class:`TaskArrays` turns each human batch and each (simulator, run) into per-task
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

The generic intervals (percentile, centred, BCa) live in :mod:`usersim_utils.stats`; the
synthetic features tables of the tests in :mod:`usersim_utils.demo.feature_tables`.
"""

from .arrays import (
    AgreementArrays,
    Dimensions,
    RowArrays,
    SimulatorArrays,
    SuccessArrays,
    TaskArrays,
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
    "PAIR_NAMES", "Part", "PermutationResult", "RowArrays", "SimulatorArrays", "SuccessArrays", "TaskArrays",
    "bootstrap", "build_task_arrays", "ceiling_weights", "difficulty_bins", "human_ceiling_intervals", "intervals",
    "metric_names", "metric_range", "paired_difference", "permutation_test", "point_scores", "rank_summary",
    "score_parts", "score_weights", "simulator_arrays",
]
