"""Candidate cards: a parent card's fields with a new prompt, written as a normal card.

A candidate is the parent's card (:func:`usersim_utils.rollout.card.read_card` fields)
with a prompt template whose directive block (:mod:`.directives`) is new. Written out
(:func:`write_card`) it is three files side by side, so that ``usersim-rollout --card``
reads it like any other card:

* ``<label>.toml``         the card (its ``prompt_file`` is the next file), lineage in comments;
* ``<label>.prompt.txt``   the prompt template, ``{instruction}`` slot included;
* ``<label>.lineage.json`` where it comes from: parent card and its sha256, the
  directives, the scores of every round, the split, the sha256 of the prompt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..rollout import card as card_mod
from ..rollout.cache import write_json_atomic
from ..rollout.errors import OutputError
from ..rollout.prompts import default_template
from . import directives

#: The card tables and fields written, in order (``prompt_file`` is always the candidate's own).
WRITTEN_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("simulator", ("model", "api_base", "temperature", "prompt_style")),
    ("agent", ("model", "api_base", "harness", "reasoning_effort", "temperature", "api")),
    ("protocol", ("max_user_turns", "max_agent_rounds")),
    ("persona", ("source", "seed")),
)


@dataclass(frozen=True)
class Candidate:
    """A card to score: its label, the parent card's fields, its prompt and directives."""

    label: str
    card: Mapping[str, Any]
    prompt: str
    values: Mapping[str, float]
    parent: str | None = None
    round: int = 0
    origin: str = "starting card"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def prompt_sha256(self) -> str:
        return card_mod.sha256_text(self.prompt)


def base_prompt(card: Mapping[str, Any]) -> str:
    """The parent's prompt template: its ``prompt_file``'s text, else its harness's default."""
    text = card.get("simulator.prompt_text")
    if text:
        return str(text)
    harness = card_mod.resolve_harness(card.get("agent.harness"), str(card.get("agent.model", "")),
                                       card.get("agent.api_base"))
    return default_template(harness)


def starting_candidate(card: Mapping[str, Any]) -> Candidate:
    """The card as given, round 0: its prompt and the directives it already carries."""
    prompt = base_prompt(card)
    return Candidate(str(card.get("name") or "card"), card, prompt, directives.parse(prompt))


def child(parent: Candidate, label: str, values: Mapping[str, float], round_: int, origin: str) -> Candidate:
    """A candidate of ``parent`` with the directive block of ``values``."""
    prompt = directives.with_directives(parent.prompt, values)
    return Candidate(label, parent.card, prompt, directives.parse(prompt), parent.label, round_, origin)


def _toml_value(value: Any) -> str:
    # a JSON string is a TOML basic string (same escapes); numbers as Python writes them
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def card_toml(candidate: Candidate, prompt_file: str, comment: str = "") -> str:
    """The candidate as a TOML card whose ``simulator.prompt_file`` is ``prompt_file``."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines.append(f"name = {_toml_value(candidate.label)}")
    for table, names in WRITTEN_FIELDS:
        present = [(n, candidate.card[f"{table}.{n}"]) for n in names if f"{table}.{n}" in candidate.card]
        if table == "simulator":
            present.append(("prompt_file", prompt_file))
        if present:
            lines += ["", f"[{table}]", *(f"{n} = {_toml_value(v)}" for n, v in present)]
    return "\n".join(lines) + "\n"


def write_card(folder: Path, candidate: Candidate, lineage: Mapping[str, Any]) -> Path:
    """Write the candidate's three files (module docstring) into ``folder``; the card's path.
    :class:`usersim_utils.rollout.errors.OutputError` when a file cannot be written."""
    folder.mkdir(parents=True, exist_ok=True)
    prompt_name = f"{candidate.label}.prompt.txt"
    comment = (f"Calibrated by usersim-calibrate from {lineage.get('parent_card')}\n"
               f"prompt sha256 {candidate.prompt_sha256}; lineage in {candidate.label}.lineage.json")
    path = folder / f"{candidate.label}.toml"
    try:
        atomic_write_text(folder / prompt_name, candidate.prompt)
        atomic_write_text(path, card_toml(candidate, prompt_name, comment))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    write_json_atomic(folder / f"{candidate.label}.lineage.json", dict(lineage))
    return path
