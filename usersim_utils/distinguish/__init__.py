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
  the mean of the two variances (:data:`REFIT_WEIGHT` ½), 2v/K in that model
  (:func:`auc_interval`), with a Student t quantile of Satterthwaite's degrees of
  freedom (the refit part rests on ``n_refit`` resamples), clipped to [0, 1]. The human
  reference averages three problems whose labels are complementary, which that model
  does not cover, and the mean there was too narrow in simulation (89% coverage), so its
  interval takes the refitted variance alone (:data:`REFERENCE_REFIT_WEIGHT` 1).
* **Give-aways.** Permutation importance (scikit-learn's ``permutation_importance``,
  scoring by AUC) on each held-out fold, averaged over folds weighted by fold size:
  how much the held-out AUC drops when one feature is shuffled.
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
intervals 1.2-1.3 times too wide. ``tests/test_distinguish.py`` repeats a smaller check.
Each refit costs one cross-validation: about 15 ms with the logistic model at the
study's size (the whole study's behavioural test took 35 s instead of 19 s), 1.6 s with
boosting, about 0.2 s for the text test (190 s for the whole study's): lower ``n_refit``
for those.

Randomness: one ``numpy.random.Generator``; :func:`distinguish_all` spawns one child
generator per comparison, in the order human reference, then simulators in the order
given, so a seed gives the same numbers every time.

Command line::

    python -m usersim_utils.distinguish --human PATH --eval-results FILE [FILE ...] --json OUT
        [--text-json OUT] [--seed S] [--model logistic|boosting] [--n-refit R] [--domain airline|retail]

``--json`` gets the behavioural rows ``{name, auc, low, high, indistinguishability,
giveaways, n_human, n_simulator, n_tasks}`` (one row named ``human``); ``--text-json``
the same rows from the text test. Bad input: one ``error:`` line, exit 2.

Modules, each with one job:

* :mod:`~usersim_utils.distinguish.crossval`    one cross-validated problem: folds, scores, AUC, refits;
* :mod:`~usersim_utils.distinguish.c2st`        the behavioural test: problems, interval, rows;
* :mod:`~usersim_utils.distinguish.text`        the text test;
* :mod:`~usersim_utils.distinguish.cli`         files and ``python -m usersim_utils.distinguish``.

Their public names are re-exported here (``distinguish.c2st_simulator`` and the like).
"""

from __future__ import annotations

from .c2st import (
    N_BOOT,
    N_GIVEAWAYS,
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
    indistinguishability,
    known_answer_tables,
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
    Model,
    OutOfFold,
    Problem,
    auc_scorer,
    behavioural_out_of_fold,
    fold_auc,
    make_model,
    refit_fold_auc,
    task_folds,
    weighted_auc,
)
from .text import (
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

__all__ = [
    "AucInterval",
    "C2STRow",
    "FitPredict",
    "MODELS",
    "Model",
    "N_BOOT",
    "N_GIVEAWAYS",
    "N_REFIT",
    "N_REPEATS",
    "N_SPLITS",
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
    "fold_auc",
    "format_rows",
    "indistinguishability",
    "known_answer_tables",
    "load_records",
    "main",
    "make_model",
    "refit_fold_auc",
    "rows_json",
    "run",
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
]
