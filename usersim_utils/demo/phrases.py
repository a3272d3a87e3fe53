"""The demo study's phrase tables, kept as data in ``phrases.json`` beside this module.

Slots in braces are filled from a task's scenario (:func:`.conversations.scenario`).
Under a register (``HUMAN_PHRASES``, ``EAGER_PHRASES``, ...) each act maps to its
variants; variants under ``"act@domain"`` join those under ``"act"`` for that domain.
``INTENTS`` maps a domain's intent to (what the user wants, the tool that performs it).

:data:`NEAR_MISSES` are phrases that look like a lexicon of docs/method.md §4 but must
not match it; the human tables splice them in (``{"near_misses": "POLITE"}`` in the
file) so the demo study exercises the boundaries of every class.

In the file every list is a tuple here: the generator indexes them, and tuples keep
the tables immutable.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

#: The file of the tables, inside the package (``[tool.setuptools.package-data]``).
PHRASES_FILE = "phrases.json"


def _as_tuples(value: Any, near_misses: dict[str, tuple[str, ...]]) -> Any:
    """Lists -> tuples, recursively; a ``{"near_misses": class}`` entry of a list is
    replaced by that class's near misses."""
    if isinstance(value, dict):
        return {key: _as_tuples(item, near_misses) for key, item in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            if isinstance(item, dict) and set(item) == {"near_misses"}:
                out.extend(near_misses[item["near_misses"]])
            else:
                out.append(_as_tuples(item, near_misses))
        return tuple(out)
    return value


def load_tables() -> dict[str, Any]:
    """``{table name (upper case): table}`` of :data:`PHRASES_FILE`."""
    raw = json.loads(resources.files(__package__).joinpath(PHRASES_FILE).read_text(encoding="utf-8"))
    near_misses = {name: tuple(phrases) for name, phrases in raw["near_misses"].items()}
    return {name.upper(): _as_tuples(table, near_misses) for name, table in raw.items()}


_TABLES = load_tables()

#: The two free-text questions of the survey (beside the 8 ordinal items of :mod:`usersim_utils.survey`).
FREE_TEXT_QUESTIONS: dict[str, str] = _TABLES["FREE_TEXT_QUESTIONS"]
NEAR_MISSES: dict[str, tuple[str, ...]] = _TABLES["NEAR_MISSES"]
HUMAN_PHRASES: dict[str, tuple[str, ...]] = _TABLES["HUMAN_PHRASES"]
EAGER_PHRASES: dict[str, tuple[str, ...]] = _TABLES["EAGER_PHRASES"]
TERSE_PHRASES: dict[str, tuple[str, ...]] = _TABLES["TERSE_PHRASES"]
AGENTLIKE_PHRASES: dict[str, tuple[str, ...]] = _TABLES["AGENTLIKE_PHRASES"]
#: The user phrase tables by the register a :class:`.styles.Style` names.
REGISTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "human": HUMAN_PHRASES,
    "eager": EAGER_PHRASES,
    "terse": TERSE_PHRASES,
    "agentlike": AGENTLIKE_PHRASES,
}
AGENT_PHRASES: dict[str, tuple[str, ...]] = _TABLES["AGENT_PHRASES"]
#: The agent's reasoning summary before each move that has one.
AGENT_THINK: dict[str, str] = _TABLES["AGENT_THINK"]
RETAIL_ITEMS: tuple[str, ...] = _TABLES["RETAIL_ITEMS"]
#: (city, airport code) pairs.
CITIES: tuple[tuple[str, str], ...] = _TABLES["CITIES"]
DATES: tuple[str, ...] = _TABLES["DATES"]
FIRST_NAMES: tuple[str, ...] = _TABLES["FIRST_NAMES"]
LAST_NAMES: tuple[str, ...] = _TABLES["LAST_NAMES"]
#: domain -> intent -> (what the user wants, the tool that performs it).
INTENTS: dict[str, dict[str, tuple[str, str]]] = _TABLES["INTENTS"]
POLITE_ADDS: tuple[str, ...] = _TABLES["POLITE_ADDS"]
SPECIFIC_EXAMPLES: tuple[str, ...] = _TABLES["SPECIFIC_EXAMPLES"]
IMPROVEMENTS: tuple[str, ...] = _TABLES["IMPROVEMENTS"]
#: The quality judge's reasoning for sessions that passed, and that failed.
JUDGE_OK: tuple[str, ...] = _TABLES["JUDGE_OK"]
JUDGE_FAIL: tuple[str, ...] = _TABLES["JUDGE_FAIL"]
