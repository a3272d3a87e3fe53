"""The seeded SYNTHETIC demo study: a small stand-in for the gated ``cmu-lti/tau-usi``.

``make run`` must work without the real human data, so this package writes a study
in exactly the dataset's layout (``docs/method.md`` §10), under a folder and
file names that say SYNTHETIC (for people: the data is proven generated only by the
stamp the writer leaves, :func:`is_demo_data`, never by a name)::

    SYNTHETIC_README.md
    data/tau_bench_tasks_unified.json               3 batches x n_tasks human-like sessions
    eval_results/eval_results_SYNTHETIC-<name>.json 4 simulators x 3 runs x 2 n_tasks tasks
    survey_data/survey_comparable_SYNTHETIC-<name>.json
    survey_data/survey_comparable_human-eval-100.json

Everything is drawn from phrase tables with one ``numpy.random.Generator``, so a
seed fixes every byte. The "human" sessions are varied (short replies, typos,
hedges, frustration, pushback, pivots, identifiers given piecemeal) and the four
simulators reproduce the study's finding in caricature: too cooperative, too
uniform, too positive. Every lexicon of docs/method.md §4 fires in the human
sessions, and :data:`NEAR_MISSES` (phrases that look like a lexicon but must not
match it) appear too. None of it is study data.

:class:`PanelShape` makes the same generator write *unusual* studies (two simulators,
no surveys, no re-ratings, one batch, one domain, no task shared with the humans,
invalid answers in every survey), still labelled SYNTHETIC; :data:`UNUSUAL_SHAPES`
names the ones the notebooks are tested on.

Modules by job:

* :mod:`.phrases`        the phrase tables (data: ``phrases.json``)
* :mod:`.styles`         who is talking: the human style and the simulators
* :mod:`.conversations`  tasks, scenarios and conversations
* :mod:`.surveys`        survey answers, a simulator's slips, the re-rating
* :mod:`.shapes`         :class:`PanelShape`: what a generated study holds
* :mod:`.study`          the study's files as data (:func:`generate_demo_panel`)
* :mod:`.writer`         writing, stamping and refreshing it (:func:`ensure_demo_panel`)
* :mod:`.feature_tables` random features tables for tests and benchmarks (no conversations)
* :mod:`.known_answer`   studies drawn from one known process (runs, dropped sessions, shifts, zeros)
* :mod:`.resampled_rows` realistic features rows resampled from a table, for the two-sample test's checks
"""

from ..schema import GREETING
from .conversations import AGENT_MODEL, RETAIL_SHARE
from .phrases import FREE_TEXT_QUESTIONS, NEAR_MISSES, REGISTERS
from .shapes import INVALID_ANSWER_RATE, INVALID_ANSWERS, MAX_TASKS, UNUSUAL_SHAPES, PanelShape
from .study import HUMAN_PATH, N_RUNS, RERATING_PATH, generate_demo_panel
from .styles import EVENTS, HUMAN_STYLE, SIMULATORS, Simulator, Style
from .writer import (
    DEMO_N_TASKS,
    DEMO_SEED,
    GENERATOR_VERSION,
    README_FILE,
    SOURCE_SHA256,
    STAMP_FILE,
    ensure_demo_panel,
    is_current,
    is_demo_data,
    readme_text,
    write_demo_panel,
)

__all__ = [
    "AGENT_MODEL", "DEMO_N_TASKS", "DEMO_SEED", "EVENTS", "FREE_TEXT_QUESTIONS", "GENERATOR_VERSION", "GREETING",
    "HUMAN_PATH", "HUMAN_STYLE", "INVALID_ANSWERS", "INVALID_ANSWER_RATE", "MAX_TASKS", "NEAR_MISSES", "N_RUNS",
    "README_FILE", "REGISTERS", "RERATING_PATH", "RETAIL_SHARE", "SIMULATORS", "SOURCE_SHA256", "STAMP_FILE",
    "UNUSUAL_SHAPES", "PanelShape", "Simulator", "Style", "ensure_demo_panel", "generate_demo_panel", "is_current",
    "is_demo_data",
    "readme_text", "write_demo_panel",
]
