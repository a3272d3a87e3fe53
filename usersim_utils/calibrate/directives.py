"""The style directives a calibrated card's prompt carries: one vocabulary for the
proposer that writes them and the scripted simulator that follows them.

A directive names what to change and a target drawn from people, in words a capable
model can follow. The block is appended to the card's prompt template after
:data:`HEADER`, one directive a line::

    Style (how you write, not what you say; targets measured on real customers):
    - Write about 6 words per message on average; ...

Each directive has one number: a share of messages in percent, a number of words, or a
share of conversations. :func:`render` writes a block from ``{key: value}``,
:func:`parse` reads it back (the scripted simulator's only view of the card), and
:func:`with_directives` puts a new block in place of an old one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

HEADER = "Style (how you write, not what you say; targets measured on real customers):"


@dataclass(frozen=True)
class Directive:
    """One directive: the feature whose human value is its target, and its sentence
    (``{v}`` = the target, rounded; percent directives take a share x 100)."""

    key: str
    feature: str
    sentence: str
    percent: bool = True


#: The vocabulary, in the order a block lists it.
DIRECTIVES: tuple[Directive, ...] = (
    Directive("length", "user_words_per_turn",
              "Keep your messages short, as people type them: about {v} words per message on average.", False),
    Directive("short", "short_msg_rate", "Make about {v}% of your messages 3 words or fewer (ok, yes, that one)."),
    Directive("spread", "info_frontload",
              "Spread what you know over the conversation: put only about {v}% of all your words into your first "
              "two messages, and give details when the agent asks for them."),
    Directive("polite", "politeness_rate",
              "Use a polite phrase (please, thank you, sorry) in about {v}% of your messages, not more."),
    Directive("dashes", "formality_rate", "Use a dash (\u2014) in at most {v}% of your messages; people rarely do."),
    Directive("acks", "ack_only_rate", "Answer with a bare acknowledgement (ok, sure, yes) in about {v}% of messages."),
    Directive("no_repeat", "repeat_rate", "Repeat the same phrasing over and over in at most {v}% of conversations."),
    Directive("agent_voice", "id_confuse_rate",
              "Sound like the agent (\"let me check\", \"your order\") in about {v}% of conversations only."),
    Directive("hedge", "uncertainty_rate",
              "Show uncertainty (i think, not sure, i don't remember) in about {v}% of your messages."),
    Directive("certain", "certainty_rate", "Sound certain (definitely, of course) in about {v}% of your messages."),
    Directive("pushback", "pushback_q_rate",
              "Push back on the agent (are you sure? why can't you...?) in about {v}% of your messages."),
    Directive("clarify", "clarify_q_rate",
              "Ask the agent what it means (what do you mean? which one?) in about {v}% of your messages."),
    Directive("infoq", "info_q_rate",
              "Ask for information (how much? when will it arrive?) in about {v}% of your messages."),
    Directive("frustration", "emotion_rate",
              "Let frustration show (this is frustrating, ugh) in about {v}% of your messages."),
    Directive("blame", "accusation_rate",
              "Blame the agent or the company (this is unacceptable) in about {v}% of your messages."),
    Directive("pivot", "pivot_rate",
              "Change your mind or ask for an alternative (actually, could you instead...) in about {v}% of messages."),
    Directive("survey", "survey_positivity",
              "When you fill in the survey, rate as people did: your answers should sit about {v}% of the way from "
              "the worst option to the best, not at the top."),
)
BY_KEY: dict[str, Directive] = {d.key: d for d in DIRECTIVES}
#: Feature (or ``survey_positivity``) -> the directive that steers it.
BY_FEATURE: dict[str, Directive] = {d.feature: d for d in DIRECTIVES}
#: Features no directive steers on its own: they follow from the others (opening words and
#: the spread of lengths from length and spread; identifiers per message from spread).
DERIVED: dict[str, str] = {"opening_words": "spread", "verbosity_cv": "short", "id_density": "spread"}


def _pattern(d: Directive) -> re.Pattern[str]:
    before, after = d.sentence.split("{v}")
    return re.compile(re.escape(before) + r"(?P<v>\d+(?:\.\d+)?)" + re.escape(after))


_PATTERNS = {d.key: _pattern(d) for d in DIRECTIVES}


def shown(d: Directive, value: float) -> str:
    """A target as the sentence shows it: an integer (one decimal below 10)."""
    x = 100 * value if d.percent else value
    return f"{x:.1f}" if 0 < abs(x) < 10 else f"{x:.0f}"


def render(values: Mapping[str, float]) -> str:
    """The block of ``{directive key: value}`` (shares as fractions), in vocabulary order;
    ``""`` when empty. ``KeyError`` for an unknown key."""
    unknown = set(values) - set(BY_KEY)
    if unknown:
        raise KeyError(f"unknown directive(s) {sorted(unknown)}")
    lines = [f"- {d.sentence.replace('{v}', shown(d, values[d.key]))}" for d in DIRECTIVES if d.key in values]
    return "\n".join([HEADER, *lines]) if lines else ""


def parse(prompt: str) -> dict[str, float]:
    """The directives of a prompt's block (``{key: value}``, shares as fractions); those
    outside a block, or sentences not of the vocabulary, are not directives."""
    at = prompt.find(HEADER)
    if at < 0:
        return {}
    out = {}
    for d in DIRECTIVES:
        found = _PATTERNS[d.key].search(prompt, at)
        if found:
            value = float(found["v"])
            out[d.key] = value / 100 if d.percent else value
    return out


def without_block(prompt: str) -> str:
    """The prompt without its directive block (the block runs to the end of the prompt)."""
    at = prompt.find(HEADER)
    return prompt if at < 0 else prompt[:at].rstrip("\n")


def with_directives(prompt: str, values: Mapping[str, float]) -> str:
    """``prompt`` with its block replaced by the block of ``values`` (appended after a
    blank line; the ``{instruction}`` slot stays where it was)."""
    base = without_block(prompt)
    block = render(values)
    return f"{base}\n\n{block}" if block else base
