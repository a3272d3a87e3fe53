"""Simulator cards: everything that defines a rollout, in one TOML file, recorded with the results.

A card (read with the standard library's ``tomllib``)::

    name = "my-sim"                        # label of the results
    [simulator]
    model = "openai/my-model"              # any litellm model string
    api_base = "http://127.0.0.1:8000/v1"  # optional
    temperature = 0.7                      # optional
    prompt_file = "prompt.txt"             # optional template, {instruction} = the task's; relative to the card
    prompt_style = "auto"                  # optional: auto, chat or transcript
    [agent]
    model = "gpt-5.2"
    harness = "study"                      # "study" (docs/method.md §11) or "function-calling"
    reasoning_effort = "low"
    api = "auto"                           # optional: responses, chat, auto
    [protocol]
    max_user_turns = 80
    max_agent_rounds = 64
    [persona]                              # optional
    source = "human-study"
    seed = 0

Command-line flags override card fields (:func:`merge`). The resolved card
(:func:`resolved_card`: every field, the full prompt text and its sha256, package
versions) is written beside the results as ``card_<label>.json``.

Comparability (pure functions, used by the scoring command): :func:`protocol_of` picks the fields
that make scores comparable (agent model, harness, reasoning effort, maximum turns and
rounds, task set, survey prompt); :func:`protocol_differences` names the fields on which a
set of results differ, a result without a card counting as the study's published protocol
(:data:`STUDY_PROTOCOL`, shown as ``study protocol (published): agent gpt-5.2 (study)``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import ids, schema
from .prompts import (
    DEFAULT_MAX_TOOL_CALLS,
    DEFAULT_MAX_USER_TURNS,
    INSTRUCTION_SLOT,
    LOCAL_PREFIX,
    default_template,
    survey_prompt,
)

CARD_PREFIX = "card_"
#: How a tau-bench trajectory file's protocol is shown: it has no card, and tau-bench's own agent,
#: harness and limits played it, none of which the file records.
UNKNOWN_PROTOCOL = "protocol unknown (a tau-bench trajectory file: tau-bench's own agent)"
#: The card :func:`usersim_utils.rollout.comparability.protocol_cards` gives such a file: every
#: protocol field is ``"unknown"`` (:func:`protocol_of`), so it never passes for the study's protocol.
UNKNOWN_PROTOCOL_CARD: dict[str, Any] = {"protocol_unknown": "tau-bench trajectory file"}
HARNESSES = ("study", "function-calling")
AGENT_APIS = ("responses", "chat")
PERSONA_SOURCES = ("human-study",)
#: Packages whose versions a resolved card records.
RECORDED_PACKAGES = ("usersim_utils", "litellm", "tau-trait", "llama_cpp_python", "numpy")

#: The fields a card may hold, per table (``""`` = top level), with their types.
CARD_SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "": {"name": (str,)},
    "simulator": {
        "model": (str,),
        "api_base": (str,),
        "temperature": (int, float),
        "prompt_file": (str,),
        "prompt_style": (str,),
    },
    "agent": {
        "model": (str,),
        "api_base": (str,),
        "harness": (str,),
        "reasoning_effort": (str,),
        "temperature": (int, float),
        "api": (str,),
    },
    "protocol": {"max_user_turns": (int,), "max_agent_rounds": (int,)},
    "persona": {"source": (str,), "seed": (int,)},
}

#: The study's protocol (docs/method.md §11), what a published file without a card ran under.
STUDY_PROTOCOL: dict[str, Any] = {
    "agent_model": "gpt-5.2",
    "agent_harness": "study",
    "agent_reasoning_effort": "low",
    "max_user_turns": DEFAULT_MAX_USER_TURNS,
    "max_agent_rounds": DEFAULT_MAX_TOOL_CALLS,
    "tasks": "all",
    "survey_prompt_sha256": hashlib.sha256(survey_prompt().encode("utf-8")).hexdigest(),
}
#: How a result without a card (a file of the published study) shows its protocol, naming the
#: agent as a new rollout's row does.
PUBLISHED = f"study protocol (published): agent {STUDY_PROTOCOL['agent_model']} ({STUDY_PROTOCOL['agent_harness']})"


def card_name(label: str) -> str:
    """``card_<label>.json``: the resolved card's file name."""
    return f"{CARD_PREFIX}{label}.json"


def sha256_text(text: str) -> str:
    """SHA-256 hex digest of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: Largest card or prompt template read (a real one is a few kilobytes).
MAX_TEXT_FILE_BYTES = 1_000_000


def read_text_file(path: str | os.PathLike[str], expected: str) -> str:
    """A UTF-8 text file of the rollout (a card, a prompt template): a regular file of at
    most :data:`MAX_TEXT_FILE_BYTES` (:func:`usersim_utils.data.io.read_regular_file`, the
    reader of every file the toolkit reads), else ``DataError`` (a ``ValueError``) naming it."""
    # here, not at the top: the data package loads pandas (0.6 s), which reading a card must not cost
    from ..data.io import read_regular_file

    raw = read_regular_file(path, max_bytes=MAX_TEXT_FILE_BYTES, expected=expected)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None


def read_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A card as flat fields (``simulator.model``...; ``name``), checked against
    :data:`CARD_SCHEMA`, with ``simulator.prompt_text`` read from ``prompt_file``
    (relative to the card's folder). ``ValueError``, one line naming the file and the
    field, on anything wrong."""
    path = Path(path)
    text = read_text_file(path, "a TOML card")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not a TOML card: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        table = key if isinstance(value, dict) else ""
        items = value.items() if isinstance(value, dict) else [(key, value)]
        if table not in CARD_SCHEMA:
            tables = ", ".join(list(CARD_SCHEMA)[1:])
            raise ValueError(f"{path}: unknown table or field {key!r}: expected name, {tables}")
        for field, item in items:
            name = f"{table}.{field}" if table else field
            types = CARD_SCHEMA[table].get(field)
            if types is None:
                raise ValueError(f"{path}: unknown field {name!r}: expected one of {sorted(CARD_SCHEMA[table])}")
            if not isinstance(item, types) or isinstance(item, bool):
                expected = " or ".join(t.__name__ for t in types)
                raise ValueError(f"{path}: field {name!r} must be {expected}, got {item!r}")
            flat[name] = item
    if "simulator.prompt_file" in flat:
        prompt_path = (path.parent / flat["simulator.prompt_file"]).resolve()
        try:
            flat["simulator.prompt_text"] = read_text_file(prompt_path, "a prompt template")
        except ValueError as exc:
            raise ValueError(f"{path}: field 'simulator.prompt_file': {exc}") from None
        flat["simulator.prompt_file"] = str(prompt_path)
    if "simulator.prompt_text" in flat and INSTRUCTION_SLOT not in flat["simulator.prompt_text"]:
        raise ValueError(f"{path}: field 'simulator.prompt_file': the template has no {INSTRUCTION_SLOT} slot")
    flat["card_file"] = str(path.resolve())
    return flat


#: Sampling temperatures accepted (the OpenAI API's range; NaN and infinities are no numbers).
TEMPERATURE_RANGE = (0, 2)
#: Persona seeds accepted (numpy's seeds are unsigned 32-bit here: a negative one failed
#: every conversation later instead of the run up front).
SEED_RANGE = (0, 2**32 - 1)
#: Config field -> (card field, flag) that set it, for the one error line.
FIELD_NAMES = {
    "simulator_temperature": ("simulator.temperature", "--simulator-temperature"),
    "agent_temperature": ("agent.temperature", "--agent-temperature"),
    "persona_seed": ("persona.seed", None),
}


def out_of_range(field: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for the rollout setting ``field`` (a key of
    :data:`FIELD_NAMES`), or ``None`` when it is (``None`` itself: not set)."""
    if value is None:
        return None
    low, high = TEMPERATURE_RANGE if field.endswith("temperature") else SEED_RANGE
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if field == "persona_seed" and not isinstance(value, int):
        number = False
    if not number or not (math.isfinite(value) and low <= value <= high):
        card_field, flag = FIELD_NAMES[field]
        names = f"{card_field!r}" + (f" ({flag})" if flag else "")
        kind = "a number" if field.endswith("temperature") else "an integer"
        return f"field {names} must be {kind} from {low} to {high}, got {value!r}"
    return None


def check_ranges(settings: Mapping[str, Any]) -> None:
    """Every range-checked field of ``settings`` (config fields, the card's and the
    flags' merged): ``ValueError``, one line, on the first out of range."""
    for field in FIELD_NAMES:
        if (problem := out_of_range(field, settings.get(field))) is not None:
            raise ValueError(problem)


def merge(card: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``card`` with every override that is not ``None`` put over it (flags beat the card)."""
    return {**card, **{k: v for k, v in overrides.items() if v is not None}}


@functools.cache
def price_map() -> dict[str, dict[str, Any]]:
    """litellm's bundled (offline) price map, read from its JSON file without importing
    litellm (seconds): ``{model: {input_cost_per_token, output_cost_per_token, ...}}``."""
    spec = importlib.util.find_spec("litellm")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "model_prices_and_context_window_backup.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return {}


def price_of(model: str) -> dict[str, Any] | None:
    """The price-map entry of a litellm model string (also without an ``openai/`` prefix)."""
    prices = price_map()
    return prices.get(model) or prices.get(model.removeprefix("openai/"))


def is_hosted(model: str, api_base: str | None) -> bool:
    """A hosted model: no endpoint of one's own and known to litellm's (offline) price map."""
    if api_base or model.startswith(LOCAL_PREFIX):
        return False
    return price_of(model) is not None


def resolve_harness(harness: str | None, agent: str, agent_api_base: str | None) -> str:
    """``study`` or ``function-calling``; ``auto``/``None`` means the study's harness for
    hosted agents (:func:`is_hosted`) and function calling otherwise (the embedded model,
    self-served models, scripted test models)."""
    if harness in (None, "auto"):
        return "study" if is_hosted(agent, agent_api_base) else "function-calling"
    if harness not in HARNESSES:
        raise ValueError(f"bad agent harness {harness!r}: expected study, function-calling or auto")
    return harness


def resolve_agent_api(api: str | None, harness: str, agent: str, agent_api_base: str | None) -> str:
    """``responses`` or ``chat``; ``auto``/``None``: the Responses API for the study harness
    on a hosted agent (the study's setting), chat completions otherwise (most
    OpenAI-compatible servers have no ``/responses``; function calling needs chat)."""
    if api in (None, "auto"):
        return "responses" if harness == "study" and is_hosted(agent, agent_api_base) else "chat"
    if api not in AGENT_APIS:
        raise ValueError(f"bad agent api {api!r}: expected responses, chat or auto")
    if api == "responses" and harness != "study":
        raise ValueError("the Responses API is used with the study harness only")
    return api


def task_spec(tasks: Sequence[str]) -> str:
    """A compact spec of task keys (inverse of :func:`usersim_utils.ids.parse_task_spec`):
    ``all`` for the 165 study tasks, else ranges such as ``retail:0-4,airline:7``."""
    if set(tasks) == set(ids.parse_task_spec("all")):
        return "all"
    parts: list[str] = []
    for domain in ids.DOMAINS:
        numbers = sorted(int(t.split("_")[1]) for t in tasks if t.startswith(f"{domain}_"))
        i = 0
        while i < len(numbers):
            j = i
            while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
                j += 1
            parts.append(f"{domain}:{numbers[i]}" + (f"-{numbers[j]}" if j > i else ""))
            i = j + 1
    return ",".join(parts)


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a rollout, and Python's."""
    out = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def resolved_card(config: Any) -> dict[str, Any]:
    """The resolved card of a validated :class:`~usersim_utils.rollout.runner.RolloutConfig`:
    every field that defines the run, the full simulator prompt template and its sha256,
    the survey prompt's sha256 and package versions (JSON-ready)."""
    settings = config.protocol_settings()
    template = settings.simulator_template or default_template(settings.agent_harness)
    return {
        "name": config.label,
        "card_file": config.card_file,
        "simulator": {
            "model": settings.simulator,
            "api_base": settings.simulator_api_base,
            "temperature": settings.simulator_temperature,
            "prompt_style": settings.simulator_prompt,
            "prompt_file": config.simulator_prompt_file,
            "prompt_text": template,
            "prompt_sha256": sha256_text(template),
        },
        "agent": {
            "model": settings.agent,
            "api_base": settings.agent_api_base,
            "harness": settings.agent_harness,
            "api": settings.agent_api,
            "reasoning_effort": settings.agent_reasoning_effort,
            "temperature": settings.agent_temperature,
        },
        "protocol": {
            "max_user_turns": settings.max_user_turns,
            "max_agent_rounds": settings.max_tool_calls,
            "tasks": task_spec(config.tasks),
            "runs": config.runs,
            "survey_prompt_sha256": sha256_text(survey_prompt()),
        },
        "persona": (
            {"source": settings.persona_source, "seed": settings.persona_seed} if settings.persona_source else None
        ),
        "versions": package_versions(),
    }


# --- comparability ---------------------------------------------------------------------


def load_card_for(eval_results_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The resolved card beside ``eval_results_<label>.json`` (``card_<label>.json``), or
    ``None`` when there is none (a published file). ``ValueError`` (one line) for a card
    that is not a JSON object."""
    path = Path(eval_results_path)
    label = schema.label_of(path)
    card_path = path.with_name(card_name(label))
    if not card_path.is_file():
        return None
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{card_path}: cannot read the card: {exc}") from None
    if not isinstance(card, dict):
        raise ValueError(f"{card_path}: a card must be a JSON object")
    return card


def protocol_of(card: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields that make two results comparable; :data:`STUDY_PROTOCOL` for ``None``,
    ``"unknown"`` in every field for :data:`UNKNOWN_PROTOCOL_CARD`."""
    if card is None:
        return dict(STUDY_PROTOCOL)
    if is_unknown_protocol(card):
        return dict.fromkeys(STUDY_PROTOCOL, "unknown")
    agent, protocol = card.get("agent") or {}, card.get("protocol") or {}
    return {
        "agent_model": agent.get("model"),
        "agent_harness": agent.get("harness"),
        "agent_reasoning_effort": agent.get("reasoning_effort"),
        "max_user_turns": protocol.get("max_user_turns"),
        "max_agent_rounds": protocol.get("max_agent_rounds"),
        "tasks": protocol.get("tasks"),
        "survey_prompt_sha256": protocol.get("survey_prompt_sha256"),
    }


def is_unknown_protocol(card: Mapping[str, Any] | None) -> bool:
    """True for :data:`UNKNOWN_PROTOCOL_CARD` (a tau-bench trajectory file)."""
    return card is not None and "protocol_unknown" in card


def protocol_label(card: Mapping[str, Any] | None) -> str:
    """How a result's protocol is shown: :data:`PUBLISHED` without a card,
    :data:`UNKNOWN_PROTOCOL` for a tau-bench trajectory file, else ``agent <model> (<harness>)``."""
    if card is None:
        return PUBLISHED
    if is_unknown_protocol(card):
        return UNKNOWN_PROTOCOL
    p = protocol_of(card)
    return f"agent {p['agent_model']} ({p['agent_harness']})"


def _shown(field: str, value: Any) -> str:
    return str(value)[:12] if field.endswith("sha256") and value else str(value)


def protocol_differences(cards: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """One entry per protocol field on which the results differ, e.g.
    ``agent_model: gpt-5.2 (A, B) vs gpt-4o (C)``; ``cards`` maps a label to its
    resolved card (``None``: a published file, the study's protocol). Empty when all
    results share one protocol. Results of unknown protocol (tau-bench trajectory files) are one
    entry, ``protocol: unknown (A) vs known (B, C)``, and not compared field by field."""
    unknown = [label for label, card in cards.items() if is_unknown_protocol(card)]
    protocols = {label: protocol_of(card) for label, card in cards.items() if label not in unknown}
    out = []
    if unknown and protocols:
        out.append(f"protocol: unknown ({', '.join(unknown)}) vs known ({', '.join(protocols)})")
    for field in STUDY_PROTOCOL:
        groups: dict[str, list[str]] = {}
        for label, protocol in protocols.items():
            groups.setdefault(_shown(field, protocol[field]), []).append(label)
        if len(groups) > 1:
            out.append(f"{field}: " + " vs ".join(f"{value} ({', '.join(labels)})" for value, labels in groups.items()))
    return out


#: What the scoring command tells a user who wants mixed protocols on one leaderboard.
CLI_REMEDY = "pass --allow-mixed-protocols to score them together anyway"


def protocol_warning(cards: Mapping[str, Mapping[str, Any] | None], remedy: str = CLI_REMEDY) -> str | None:
    """The one warning line for results of mixed protocols (``None`` when they agree),
    ending with ``remedy`` in brackets."""
    differences = protocol_differences(cards)
    if not differences:
        return None
    return (
        "warning: these results were not produced under one protocol, so their scores are not comparable; "
        + "; ".join(differences)
        + f" ({remedy})"
    )
