"""Personas drawn from the human study: per-conversation style targets as numbers and words.

With ``[persona] source = "human-study"`` each conversation draws one human session's
style (jointly, so that verbosity and politeness stay as correlated as in people) from the
human sessions' behavioural features, and the simulator's prompt gets them as targets:
words per message, the share of very short messages, of polite messages, of clarification
questions and of push-back questions. Only numbers derived from the features reach the
prompt, never a person's words.

The draw uses an explicit ``numpy.random.Generator`` seeded with (card seed, task, run),
so a rerun draws the same targets. Whether a simulator follows them can only be measured
with a capable model: the embedded 135M model ignores such instructions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .. import features, ids

#: Style target -> the feature it is drawn from.
TARGETS: dict[str, str] = {
    "verbosity_words": "user_words_per_turn",
    "short_message_rate": "short_msg_rate",
    "politeness_rate": "politeness_rate",
    "clarification_rate": "clarify_q_rate",
    "pushback_rate": "pushback_q_rate",
}
_TASK_INDEX = {key: i for i, key in enumerate(ids.parse_task_spec("all"))}


def styles_of(conversations: Sequence[Sequence[Mapping[str, object]]]) -> list[dict[str, float]]:
    """The style targets of each human conversation that has user turns (list of dicts
    keyed by :data:`TARGETS`)."""
    out = []
    for conversation in conversations:
        feats = features.conversation_features(conversation, "human")
        if feats is not None:
            out.append({target: float(feats[feature]) for target, feature in TARGETS.items()})
    return out


def style_pool() -> list[dict[str, float]]:
    """Style targets of the kept human sessions of the study in use
    (:func:`usersim_utils.data.resolve_study`: the real study when present, else the
    SYNTHETIC demo panel)."""
    from .. import data

    study = data.resolve_study()
    return styles_of([r["conversation"] for r in study.records.values() if r.get("keep", True)])


def draw(pool: Sequence[Mapping[str, float]], seed: int, task_key: str, run: int) -> dict[str, float]:
    """One session's targets for conversation (``task_key``, ``run``), drawn with a
    Generator seeded by ``(seed, task, run)``."""
    if not pool:
        raise ValueError("no human session with user turns to draw a persona from")
    rng = np.random.default_rng([seed, _TASK_INDEX[task_key], run])
    return dict(pool[int(rng.integers(len(pool)))])


def render(targets: Mapping[str, float]) -> str:
    """The targets as prompt text (numbers and words only)."""

    def pct(name: str) -> str:
        return f"{round(100 * targets[name])}%"

    return (
        "Style for this conversation (targets for how you write, not things to say): "
        f"about {round(targets['verbosity_words'])} words per message; "
        f"about {pct('short_message_rate')} of your messages very short (3 words or fewer); "
        f"a polite phrase (please, thank you) in about {pct('politeness_rate')} of your messages; "
        f"a question asking the agent to clarify in about {pct('clarification_rate')} of them; "
        f"a question pushing back on what the agent said in about {pct('pushback_rate')} of them."
    )
