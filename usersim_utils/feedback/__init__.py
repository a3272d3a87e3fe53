"""Simulated versus human feedback, and rule-based reward versus human judgement
(notebook 05). Pure statistics: no file is read or written here.

One module per question:

* :mod:`.answers`    the survey answers paired session by session, answer shares,
                     over-rating per simulator and item, the paper's over-rating beside ours
* :mod:`.agreement`  the index's Eval term item by item, weighted kappa and Spearman views
* :mod:`.reward`     the binary reward against the participant's own judgement
* :mod:`.outcomes`   "easy mode": success with simulators versus with people
* :mod:`.free_text`  the free-text answers: length and themes

The inputs are the long survey tables of :func:`usersim_utils.data.surveys_table`
(columns ``label``, ``instance_id``, ``task_key``, ``batch``, ``item``, ``answer``,
``value``, ``value_norm``, ``keep``), the human sessions table of
:func:`usersim_utils.data.sessions_table` (``instance_id``, ``success``, ``keep``...)
and outcome tables (:func:`outcomes_table`).

Every resampling statistic takes an explicit ``numpy.random.Generator`` and
consumes it in a documented order (simulators in table order, then items in
:data:`usersim_utils.survey.SURVEY_ITEMS` order), so the same parameters give the
same numbers. The generic statistics (intervals, tests, kappa) live in
:mod:`usersim_utils.stats`.
"""

from .agreement import (
    ITEM_AGREEMENT_COLUMNS,
    agreement_views,
    eval_by_item,
    eval_item_agreements,
    eval_overall,
    task_agreements_from_items,
)
from .answers import (
    PAIR_COLUMNS,
    beside_published,
    label_item_groups,
    mean_differences,
    overrating,
    pair_surveys,
    paired_answer_distribution,
    per_task_differences,
)
from .free_text import THEMES, free_text_answers, free_text_summary, theme_shares, themes_of
from .outcomes import outcomes_table, outcomes_with_difficulty, success_gap, success_rates
from .reward import (
    NO_ANSWER,
    REPORTED_SUCCESS_MIN_VALUE,
    REWARD_JUDGEMENT_COLUMNS,
    judgement_line,
    reward_by_reported_success,
    reward_correlations,
    reward_disagreements,
    reward_judgement,
    reward_with_answers,
)

__all__ = [
    "ITEM_AGREEMENT_COLUMNS", "NO_ANSWER", "PAIR_COLUMNS", "REPORTED_SUCCESS_MIN_VALUE", "REWARD_JUDGEMENT_COLUMNS",
    "THEMES", "agreement_views", "beside_published", "eval_by_item", "eval_item_agreements", "eval_overall",
    "free_text_answers", "free_text_summary", "judgement_line", "label_item_groups", "mean_differences",
    "outcomes_table",
    "outcomes_with_difficulty", "overrating", "pair_surveys", "paired_answer_distribution", "per_task_differences",
    "reward_by_reported_success", "reward_correlations", "reward_disagreements", "reward_judgement",
    "reward_with_answers", "success_gap", "success_rates", "task_agreements_from_items", "theme_shares", "themes_of",
]
