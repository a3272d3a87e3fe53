"""Is a simulator as varied as people, or does it say the same thing every time?

Each simulator is compared with the humans on the tasks both have (kept conversations with
a user turn), metric by metric, as a **simulator-minus-human difference with a paired
interval**: one task resample (:func:`usersim_utils.stats.resample_counts`, B × T) per
simulator, shared by its metrics and by both sides, so the interval is that of the
difference, not two intervals side by side. ``more_varied`` / ``less_varied`` only when
that interval excludes 0 (its centred bootstrap interval,
:func:`usersim_utils.stats.centred_interval`: resampling repeats whole tasks, which lowers
the corpus statistics on both sides; for the task means it equals the percentile interval
up to noise); otherwise the study cannot tell. On fewer than
:data:`~usersim_utils.diversity.paired.MIN_TASKS` compared tasks: no interval, no verdict.
The humans' value is recomputed for each simulator, on its tasks and its design. Measured
coverage on simulated studies: docs/method.md §17.

Three scales, on the user's words (:func:`~usersim_utils.diversity.lexical.tokens`):

* **Within a conversation**: ``mattr`` (moving-average type-token ratio over windows of
  25 tokens, Covington & McFall 2010), ``mtld`` (McCarthy & Jarvis 2010) and ``hdd``
  (HD-D, McCarthy & Jarvis 2007), per conversation, then a mean per task and over tasks
  (each task weighs the same on both sides). **Short texts**: a conversation shorter than
  a measure's minimum (25, 100 and 42 tokens:
  :data:`~usersim_utils.diversity.lexical.MIN_TOKENS`) is left out of that measure and
  counted (``short_simulator``, ``short_human``), and a task counts only where both sides
  have a long enough conversation (``n_tasks``). The plain type-token ratio of a short text
  is higher by construction (fewer words, fewer repeats), so falling back to it made a terse
  simulator look more varied than people; above its minimum each measure is free of the
  text's length (see ``lexical``). A terse simulator is thus measured on its few long
  conversations, or not at all: read the counts.
* **Across conversations of the same task**: ``distinct_1_task`` / ``distinct_2_task``,
  distinct n-grams / n-grams of the task's pooled user text (n-grams never cross a
  conversation), and ``similarity_task``, the mean TF-IDF cosine of two conversations of
  the task (tasks with two or more on both sides). **Equal numbers**: distinct-n falls as a
  corpus grows (the same people score 0.84 on one batch and 0.59 on three pooled), so both
  sides pool min(simulator's, humans') conversations of each task, the larger side averaged
  over its subsets of that size (all of them when there are at most
  :data:`~usersim_utils.diversity.sides.N_SUBSAMPLES`, else that many drawn with the
  ``rng``). A mean over pairs does not depend on how many conversations there are, so the
  similarities use all of them.
* **Across tasks**: ``distinct_1_all`` / ``distinct_2_all`` over the side's whole text on
  the compared tasks, with the same per-task sizes (averaged over
  :data:`~usersim_utils.diversity.sides.N_SUBSAMPLES` random subsamples when a side has
  more), and ``similarity_across``, the mean cosine of two conversations of different tasks:
  a simulator that phrases every task alike scores high.

TF-IDF: sublinear term counts times an inverse document frequency ln(N / df) + 1 learnt from
**both sides' conversations together**, then unit length
(:func:`~usersim_utils.diversity.sides.pooled_similarities`): every conversation is weighed
by the same function of the same texts. Learnt from the humans alone, a human's own words
counted in their df and a simulator's did not, which moved a simulator of the human process
off the humans in every study.

Limits. Distinct-n still falls as each *text* grows, so a verbose simulator scores lower
than terse people even when equally varied: read it beside the per-text measures. A
simulator with one run per task has no ``similarity_task`` (no pair of its own). The
subsampling's own Monte Carlo error is not in the interval (none where every subset is
used). The intervals resample tasks, not people: they say what another draw of tasks would
give.

Randomness: one ``numpy.random.Generator``; :func:`compare_with_humans` spawns one child per
simulator, in table order, which draws its task resample, then its subsamples: a seed gives
the same numbers every time.

Command line::

    python -m usersim_utils.diversity --human PATH --eval-results FILE [FILE ...] --json OUT
        [--seed S] [--n-boot B] [--domain airline|retail]

writes one row per simulator and metric, ``{name, scale, metric, simulator, human, diff,
low, high, more_varied, less_varied, n_tasks, short_simulator, short_human}``. Bad input
(a missing file, bad JSON, a folder as output, a simulator with no task in common with the
humans): one ``error:`` line naming file, record and field, exit 2.

Modules, each with one job:

* :mod:`~usersim_utils.diversity.lexical`  measures of one text: tokens, distinct-n, MATTR, MTLD, HD-D;
* :mod:`~usersim_utils.diversity.sides`    one side on the compared tasks: per-task values, subsamples,
  corpus statistics under resamples, TF-IDF;
* :mod:`~usersim_utils.diversity.paired`   a simulator against the humans: differences, intervals, rows;
* :mod:`~usersim_utils.diversity.cli`      files and ``python -m usersim_utils.diversity``.

Their public names are re-exported here (``diversity.compare_with_humans`` and the like).
"""

from __future__ import annotations

from .cli import format_rows, main, rows_json, run
from .lexical import (
    HDD_SAMPLE,
    MATTR_WINDOW,
    MIN_TOKENS,
    MTLD_MIN_FACTOR,
    MTLD_THRESHOLD,
    TOKEN_PATTERN,
    distinct_n,
    hdd,
    hdd_values,
    mattr,
    mtld,
    ngrams,
    per_text_values,
    tokens,
)
from .paired import (
    COLUMNS,
    HIGHER_IS_MORE_VARIED,
    METRICS,
    MIN_TASKS,
    N_BOOT,
    SCALES,
    Difference,
    compare_records,
    compare_with_humans,
    corpus_difference,
    count_verdicts,
    difference_rows,
    differences,
    per_task_difference,
)
from .sides import (
    N_SUBSAMPLES,
    Side,
    across_similarity,
    corpus_distinct,
    corpus_subsample,
    cosine_matrix,
    distinct_share,
    gram_ids,
    make_side,
    matched_corpus_distinct,
    on_tasks,
    pooled_similarities,
    pooled_tfidf,
    rows_of_tasks,
    subsets,
    task_distinct,
    task_means,
    task_pair_similarity,
)

__all__ = [
    "COLUMNS", "Difference", "HDD_SAMPLE", "HIGHER_IS_MORE_VARIED", "MATTR_WINDOW", "METRICS", "MIN_TASKS",
    "MIN_TOKENS", "MTLD_MIN_FACTOR", "MTLD_THRESHOLD", "N_BOOT", "N_SUBSAMPLES", "SCALES", "Side", "TOKEN_PATTERN",
    "across_similarity", "compare_records", "compare_with_humans", "corpus_difference", "corpus_distinct",
    "corpus_subsample", "cosine_matrix", "count_verdicts", "difference_rows", "differences", "distinct_n",
    "distinct_share", "format_rows", "gram_ids", "hdd", "hdd_values", "main", "make_side", "matched_corpus_distinct",
    "mattr", "mtld", "ngrams", "on_tasks", "per_task_difference", "per_text_values", "pooled_similarities",
    "pooled_tfidf", "rows_json", "rows_of_tasks", "run", "subsets", "task_distinct", "task_means",
    "task_pair_similarity", "tokens",
]
