"""Could anyone tell a simulator's conversations from human ones? A classifier two-sample test.

For each simulator, a classifier learns to tell its conversations (label 1) from the
human sessions (label 0) on the tasks both have (kept conversations with features);
if it cannot beat chance on conversations it never saw, the two are, for that
classifier and those features, indistinguishable (Lopez-Paz & Oquab 2017, "Revisiting
classifier two-sample tests").

* **Features.** The 19 behavioural features of :mod:`usersim_utils.features`. User-side
  text (character n-grams of the user's turns) is a separate test, reported
  separately: it can pick up artefacts of data collection (typing on a platform,
  copy-pasted suggestions, the simulator's formatting) that say little about behaviour.
* **Classifier.** Logistic regression on standardised features (default): 19 features
  and about a thousand conversations per simulator call for a stable, low-variance
  model; its log-odds are linear in each feature, so a give-away is a shift of a
  feature's distribution, which is what the index measures too; and it fits in
  milliseconds, which keeps the whole study under a minute. ``model="boosting"``
  (histogram gradient boosting) is a second opinion that also sees interactions and
  thresholds, at about five times the cost (1.6 s against 0.3 s of CPU per simulator
  at the study's size).
* **No task in both train and test.** Cross-validation is grouped by task
  (``GroupKFold``, :data:`N_SPLITS` folds): every prediction is out-of-fold and a
  classifier never sees the task it is tested on, so it cannot win by recognising
  tasks.
* **AUC.** Each fold's AUC of its own out-of-fold scores, averaged over folds weighted by
  fold size (:func:`fold_auc`). Indistinguishability = 100·(1 − |2·AUC − 1|): 100 at
  chance, 0 when perfectly told apart. Pooling the five folds' scores into one AUC would
  compare scores of different classifiers, which pulls a classifier with no signal a
  little below 0.5 (Airola et al. 2011 compare the two); a fold's classifier never saw
  its test fold, so with no signal each fold's AUC, hence their mean, has expectation
  exactly 0.5.
* **Its interval: resample tasks, and refit.** A cross-validated AUC varies for two
  reasons: which conversations land in each test fold, and which classifiers the other
  folds produce. Resampling tasks with replacement while holding the fitted classifiers
  fixed (``n_boot`` resamples, cheap) sees only the first, and the second is as large:
  fold j's classifier is learnt from the other folds, so the chance difference between
  the classes in fold k (a direction s_k in feature space) shapes it, and fold j's AUC
  carries ⟨s_k, s_j⟩ just as fold k's carries ⟨s_j, s_k⟩; the folds' AUCs are positively
  correlated. In a linear model of small signals (AUC_j − ½ ∝ ⟨S_j, s_j⟩ / ‖S_j‖ with
  S_j = Σ_{l≠j} s_l, the s_l independent with variance v per direction) the mean of K
  folds has variance 2v/K, where the fixed resampling gives v/K. Refitting every fold on
  a resample (the first ``n_refit`` of them, :func:`refit_fold_auc`; a task drawn k times
  gives its rows k times) overshoots: the observed s_l become the resampled world's true
  differences and resampling adds δ_l to each, so the cross terms carry ⟨s_l, δ_j⟩ twice
  and ⟨δ_l, δ_j⟩ once, over a direction √2 longer: 3v/K. A simulator's interval takes
  the mean of the two variances (:data:`REFIT_WEIGHT` ½), 2v/K in that model. The human
  reference averages three problems whose labels are complementary, which that model
  does not cover, and the mean there was too narrow in simulation (89% coverage), so its
  variance is the refitted one alone (:data:`REFERENCE_REFIT_WEIGHT` 1).
* **"At chance": a permutation p-value.** Under "the simulator's conversations are drawn
  from the human process", a task's conversations are exchangeable between the two
  labels, whatever the task effects, zeros and correlations. So the labels are permuted
  within each task (:data:`N_PERMUTATIONS` 99 times, one draw shared by the human
  reference's three problems), every fold refitted on the permuted labels with the same
  task folds, and ``p_value`` = (1 + #{permuted AUC ≥ observed}) / (1 + P), one-sided
  (:mod:`.two_sample`): exact at any sample size, smallest 0.01. The observed AUC of the
  test is computed by the same fits as the permuted ones (:func:`null_fold_auc`: for the
  logistic model an exact Newton solver fits all 100 label vectors at once, the AUC within
  4·10⁻⁴ of scikit-learn's ``lbfgs``, 0.3-0.6 s per simulator at the study's size, about
  15 s for the whole study; boosting and the text test refit one by one, 1.6 s and 0.2 s per
  permutation, hence :data:`N_TEXT_PERMUTATIONS` 39 for text and ``--n-permutations`` to
  lower boosting's). scikit-learn's ``permutation_test_score`` would permute within
  groups too, but refits with its own scorer (the pooled AUC) one permutation at a time.
* **An interval that keeps its width at 0 and 1.** A t interval of the resampled variance
  collapses to [1, 1] when every resample separates the classes. The interval is of the
  score (Wilson) kind instead (Newcombe 2006; :func:`auc_interval`): every θ with
  (AUC − θ)² ≤ z²·d·V(θ), V Hanley & McNeil's variance of independent rows *at θ*, and d a
  design effect (clustering by task and the cross-validation): the resampled variance
  over V(AUC), or the permuted AUCs' variance over V(½) if that is larger. The second is
  exact under the null and defined at an AUC of 1, which therefore gets a lower end
  below 1; near 0.5 the interval is the usual AUC ± z·se.
* **"Indistinguishable": an equivalence test.** Failing to tell apart is not evidence
  of sameness. ``equivalent`` is the TOST at α = 1 − level: True only when the (1 − 2α)
  interval lies inside 0.5 ± :data:`EQUIVALENCE_MARGIN` (0.05). Why 0.05: an AUC of 0.55
  means a classifier ranks a random (simulator, person) pair right 55% of the time, an
  indistinguishability of 90; the human reference's own AUC spreads ± 0.02-0.03 around
  0.5 at the study's size, so a margin much below 0.05 could not be met even by people
  against people, and a wider one would call differences of 0.6 indistinguishable.
* **The indistinguishability score and its interval.** 100·(1 − |2·AUC − 1|), and its
  interval from the AUC's (up to 100 when that holds 0.5). It is biased below 100: even a
  perfect simulator's AUC strays from 0.5 by an amount that shrinks with the numbers of
  tasks and runs (89.8-97.1 in the study's layouts; 96.6 on average at 165 tasks and 3
  runs), so scores are comparable only at equal numbers of tasks and runs.
* **Give-aways.** Permutation importance (scikit-learn's ``permutation_importance``,
  scoring by AUC) on each held-out fold, averaged over folds weighted by fold size:
  how much the held-out AUC drops when one feature is shuffled. Only for a simulator told
  apart (``p_value`` below α); at chance the largest importances are noise, and the row's
  give-aways are empty.
* **The human reference.** Each human batch against the other two, with the same
  folds over tasks; the reported AUC is the mean of the three, and the task resample
  is shared by the three.

Caveats. An AUC near 0.5 on a few dozen conversations is weak evidence: read the
interval, not the point. A classifier that cannot tell them apart says nothing about
a better one; a simulator told apart on text alone may differ only in how text was
collected. The interval is checked by simulation, not derived exactly (no unbiased
estimator of a cross-validation's variance exists, Bengio & Grandvalet 2004). On
simulated studies of the study's size (165 tasks, 3 human batches, 3 runs;
``benchmarks/bench_distinguish.py --coverage``) the 95% interval covered 0.5 for a
simulator drawn from the human process in 96.5% of 200 draws (AUC 0.500 ± 0.025,
half-width 0.052) and in 97% of 100 with task effects shared by both sides, 0.5 for the
human reference in 97% of 100 (± 0.031, half-width 0.068), and the mean AUC (0.57) of
a mildly different simulator in 97% of 100. Resampling with the classifiers fixed had
covered 82-87% in such draws; refitting alone covers 98-100% for a simulator, with
intervals 1.2-1.3 times too wide. Those were independent draws. On rows resampled from
a realistic table (:mod:`usersim_utils.demo.resampled_rows`: 44% of the values 0,
features correlated, three people per task resampled on both sides), the t interval
covered 0.5 for a simulator from the human process in 96.7% of 60 draws (± 2.3, Monte
Carlo SE) and the human reference in 30 of 30; the review had found 90.8% on its own
resampled rows, which this generator does not reproduce. With the score interval and the
permutation p-value, on 100 such draws: the p-value fell below 0.05 in 8% (± 2.7: an
exact test's 5% is within 1.1 SE), the interval covered 0.5 in 93% (± 2.6; half-width
0.040, AUC 0.500 ± 0.021) and the TOST declared 60% equivalent; for the mild simulator
(AUC 0.570 ± 0.017, 40 draws) the interval covered the mean AUC in 97.5% (± 2.5), p < 0.05
in 97.5% and none was declared equivalent; the human reference (40 draws) covered 0.5 in
97.5% (± 2.5), p < 0.05 in 2.5% and 35% were declared equivalent. ``tests/test_distinguish.py`` repeats smaller
checks.
Each refit costs one cross-validation: about 15 ms with the logistic model at the
study's size (the whole study's behavioural test took 35 s instead of 19 s), 1.6 s with
boosting, about 0.2 s for the text test (190 s for the whole study's): lower ``n_refit``
for those.

Randomness: one ``numpy.random.Generator``; :func:`distinguish_all` spawns one child
generator per comparison, in the order human reference, then simulators in the order
given, so a seed gives the same numbers every time.

Command line::

    python -m usersim_utils.distinguish --human PATH --eval-results FILE [FILE ...] --json OUT
        [--text-json OUT] [--seed S] [--model logistic|boosting] [--n-refit R]
        [--n-permutations P] [--n-text-permutations P] [--domain airline|retail]

``--json`` gets the behavioural rows ``{name, auc, low, high, indistinguishability,
indistinguishability_low, indistinguishability_high, p_value, equivalent, giveaways,
n_human, n_simulator, n_tasks}`` (one row named ``human``); ``--text-json`` the same rows
from the text test. Bad input: one ``error:`` line, exit 2.

Modules, each with one job:

* :mod:`~usersim_utils.distinguish.crossval`    one cross-validated problem: folds, scores, AUC, refits;
* :mod:`~usersim_utils.distinguish.c2st`        the behavioural test: problems, interval, rows;
* :mod:`~usersim_utils.distinguish.two_sample`  permutation p-value, score interval, TOST;
* :mod:`~usersim_utils.distinguish.text`        the text test;
* :mod:`~usersim_utils.distinguish.cli`         files and ``python -m usersim_utils.distinguish``.

Their public names are re-exported here (``distinguish.c2st_simulator`` and the like).
"""

from __future__ import annotations

from .c2st import (
    N_BOOT,
    N_GIVEAWAYS,
    N_PERMUTATIONS,
    N_REFIT,
    REFERENCE_REFIT_WEIGHT,
    REFIT_WEIGHT,
    AucInterval,
    C2STRow,
    auc_interval,
    batch_problems,
    c2st_human,
    c2st_simulator,
    distinguish_all,
    known_answer_tables,
    label_permutations,
    shared_rows,
    simulator_problem,
    task_resamples,
    top_giveaways,
    usable_rows,
)
from .cli import format_rows, load_records, main, rows_json, run
from .crossval import (
    MODELS,
    N_REPEATS,
    N_SPLITS,
    FitPredict,
    FitPredictLabels,
    Model,
    OutOfFold,
    Problem,
    auc_scorer,
    behavioural_out_of_fold,
    fold_auc,
    logistic_decisions,
    make_model,
    null_fold_auc,
    permuted_fold_auc,
    refit_fold_auc,
    task_folds,
    weighted_auc,
)
from .text import (
    N_TEXT_PERMUTATIONS,
    TEXT_COLUMNS,
    TEXT_MIN_DF,
    TEXT_NGRAMS,
    text_batch_problems,
    text_distinguish_all,
    text_out_of_fold,
    text_pipeline,
    text_simulator_problem,
    top_ngrams,
    user_texts,
)
from .two_sample import (
    EQUIVALENCE_MARGIN,
    equivalent,
    indistinguishability,
    indistinguishability_interval,
    permutation_p_value,
    score_interval,
    within_task_permutations,
)

__all__ = [
    "AucInterval",
    "C2STRow",
    "EQUIVALENCE_MARGIN",
    "FitPredict",
    "FitPredictLabels",
    "MODELS",
    "Model",
    "N_BOOT",
    "N_GIVEAWAYS",
    "N_PERMUTATIONS",
    "N_REFIT",
    "N_REPEATS",
    "N_SPLITS",
    "N_TEXT_PERMUTATIONS",
    "OutOfFold",
    "Problem",
    "REFERENCE_REFIT_WEIGHT",
    "REFIT_WEIGHT",
    "TEXT_COLUMNS",
    "TEXT_MIN_DF",
    "TEXT_NGRAMS",
    "auc_interval",
    "auc_scorer",
    "batch_problems",
    "behavioural_out_of_fold",
    "c2st_human",
    "c2st_simulator",
    "distinguish_all",
    "equivalent",
    "fold_auc",
    "format_rows",
    "indistinguishability",
    "indistinguishability_interval",
    "known_answer_tables",
    "label_permutations",
    "load_records",
    "logistic_decisions",
    "main",
    "make_model",
    "null_fold_auc",
    "permutation_p_value",
    "permuted_fold_auc",
    "refit_fold_auc",
    "rows_json",
    "run",
    "score_interval",
    "shared_rows",
    "simulator_problem",
    "task_folds",
    "task_resamples",
    "text_batch_problems",
    "text_distinguish_all",
    "text_out_of_fold",
    "text_pipeline",
    "text_simulator_problem",
    "top_giveaways",
    "top_ngrams",
    "usable_rows",
    "user_texts",
    "weighted_auc",
    "within_task_permutations",
]
