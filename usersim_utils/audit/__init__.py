"""An explainable audit of user-simulator misbehaviour: rule-based flags, their rates
beside the humans', and what they cost the agent.

Every flag is one documented rule over one conversation (see each ``flag_*``
function); a finding names the conversation (``record``: the key the scoring command
uses), the flag and the message (``turn``: the index in the record's
``conversation`` list). The seven flags:

========================  ==============================================================
``empty_turn``            :func:`flag_empty_turn`
``repeated_turn``         :func:`flag_repeated_turn`
``role_flip``             :func:`flag_role_flip`
``instruction_copy``      :func:`flag_instruction_copy`
``invented_id``           :func:`flag_invented_id`
``early_stop``            :func:`flag_early_stop`
``restart_after_stop``    :func:`flag_restart_after_stop`
========================  ==============================================================

Conversations are read as the index reads them: human sessions without the
platform's meta messages (their ``/stop``, :data:`usersim_utils.schema.HUMAN_STOP`, is
the stop token), simulator rollouts with ``###STOP###``
(:data:`usersim_utils.schema.STOP_MARKER`, anywhere in a user message, as tau-bench
stops) as the stop token. Only kept conversations of the study's 165 tasks are
audited. The task's instruction, gold actions and database come from tau-bench (v1)
through tau-trait (:mod:`usersim_utils.taubench`), looked up by the task of the
record's key; the database's identifiers are indexed once per domain.

Rates per label and flag: flagged conversations / audited conversations, with an interval
that resamples whole tasks (the conversations of a task share its scenario, so a flag
fires for several of them or for none; Wilson's interval, which counts them as
independent, was 1.5-1.7 times too narrow): Wilson's form on an effective number of
conversations, n over the design effect measured by the task resamples. Each simulator
minus people on the tasks both have, with a paired interval over the same task resamples:
``more_often`` / ``less_often`` only when it excludes 0. The cost to the agent: mean reward
(success 0/1) of flagged minus unflagged conversations, per difficulty bin
(:func:`usersim_utils.usi.difficulty_bin`) and over all, with each side's conversations and
tasks and a task-resampled interval when each side spans at least
:data:`~usersim_utils.audit.rates.MIN_INTERVAL_TASKS` tasks; a difference, not an effect
(flags and hard tasks go together), hence the bins. Details and measured coverage:
:mod:`usersim_utils.audit.rates`, docs/method.md §19.

Rates on tau-bench's 200 unmodified GPT-4o airline trajectories (``tests/test_audit.py``):
``instruction_copy`` 5.5 % (true copies: task 27's instruction asks the user to say a
sentence, others reuse a 12-word run of it), ``early_stop`` 20 % (the agent never
made the required change and the user ended; see :func:`~usersim_utils.audit.rules.flag_early_stop`), every
other flag 0 %.

Command line::

    python -m usersim_utils.audit --eval-results FILE [FILE ...] [--human PATH] --json OUT
        [--show-excerpts] [--difficulty MODE] [--seed S] [--domain airline|retail]

writes ``{"findings": [{name, record, flag, turn, excerpt}], "rates": [{name, flag,
count, conversations, tasks, rate, low, high, design_effect}], "differences": [{name, flag,
tasks, conversations, human_conversations, simulator, human, diff, low, high, more_often,
less_often}], "reward_gaps": [{name, flag, difficulty_bin, n_flagged, n_unflagged,
tasks_flagged, tasks_unflagged, reward_flagged, reward_unflagged, difference, low,
high}]}`` and prints the rates and the resolved differences. Excerpts (the
flagged text, cut to :data:`~usersim_utils.audit.rules.EXCERPT_CHARS` characters) are written only when every
input is proven SYNTHETIC demo data (the generator's stamp, never a path's name) or
``--show-excerpts`` is given (the study's human data
must not be copied into outputs), else ``excerpt`` is null. Bad input: one ``error:``
line, exit 2.

Modules by job:

* :mod:`.rules` reading a conversation, the task's context, the seven rules, the
  per-conversation tables
* :mod:`.rates` rates, differences and reward gaps with task-resampled intervals
* :mod:`.cli`   files and the command line
"""

from .cli import AuditResult, build_parser, format_differences, format_rates, in_study, main, run, split_auditable
from .rates import (
    DIFFERENCE_COLUMNS,
    GAP_COLUMNS,
    MIN_INTERVAL_TASKS,
    RATE_COLUMNS,
    clustered_wilson_interval,
    design_effect,
    flag_rates,
    rate_differences,
    reward_gaps,
)
from .rules import (
    AGENT_VOICE,
    CONVERSATION_COLUMNS,
    COPY_WORDS,
    EXCERPT_CHARS,
    FINDING_COLUMNS,
    FLAGS,
    ID_PATTERNS,
    MIN_REPEAT_WORDS,
    Finding,
    Message,
    TaskContext,
    agent_calls,
    audit_conversation,
    audit_records,
    database_ids,
    excerpt,
    find_ids,
    first_stop,
    flag_early_stop,
    flag_empty_turn,
    flag_instruction_copy,
    flag_invented_id,
    flag_repeated_turn,
    flag_restart_after_stop,
    flag_role_flip,
    is_blank,
    normalise_id,
    read_conversation,
    task_context,
    user_messages,
    word_runs,
    write_tools,
)

__all__ = [
    "AGENT_VOICE", "AuditResult", "CONVERSATION_COLUMNS", "COPY_WORDS", "DIFFERENCE_COLUMNS", "EXCERPT_CHARS",
    "FINDING_COLUMNS", "FLAGS", "Finding", "GAP_COLUMNS", "ID_PATTERNS", "MIN_INTERVAL_TASKS", "MIN_REPEAT_WORDS",
    "Message", "RATE_COLUMNS", "TaskContext", "agent_calls", "audit_conversation", "audit_records",
    "build_parser", "clustered_wilson_interval", "database_ids", "design_effect", "excerpt", "find_ids",
    "first_stop", "flag_early_stop", "flag_empty_turn", "flag_instruction_copy", "flag_invented_id",
    "flag_rates", "flag_repeated_turn", "flag_restart_after_stop", "flag_role_flip", "format_differences",
    "format_rates", "in_study", "is_blank", "main", "normalise_id", "rate_differences", "read_conversation",
    "reward_gaps", "run", "split_auditable", "task_context", "user_messages", "word_runs", "write_tools",
]
