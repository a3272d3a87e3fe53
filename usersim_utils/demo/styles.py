"""Who is talking in the demo study: the human style and the four synthetic simulators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

#: Per-session events, drawn in this order (one draw each, so the rng stream is stable).
EVENTS: tuple[str, ...] = ("frontload", "piecemeal", "pushback", "confuse", "hedge", "certain", "clarify",
                           "infoq", "accuse", "emotion", "pivot", "loop", "quiet_close")


@dataclass(frozen=True)
class Style:
    """How a user writes: a phrase register plus per-turn and per-session rates."""

    register: str
    lowercase: float = 0.0  # probability that a session is typed all lower-case
    typo_rate: float = 0.0  # per word
    polite: float = 0.0  # per turn: a please/thanks/sorry is added
    dash: float = 0.0  # per turn: a comma becomes an em dash
    events: Mapping[str, float] = field(default_factory=dict)


HUMAN_STYLE = Style(
    "human", lowercase=0.6, typo_rate=0.04, polite=0.12, dash=0.02,
    events={"frontload": 0.2, "piecemeal": 0.4, "pushback": 0.3, "confuse": 0.1, "hedge": 0.3, "certain": 0.2,
            "clarify": 0.35, "infoq": 0.4, "accuse": 0.15, "emotion": 0.2, "pivot": 0.25, "quiet_close": 0.3},
)


@dataclass(frozen=True)
class Simulator:
    """A synthetic simulator: its style, how much likelier it succeeds than a human
    (a shift in log-odds), and how it fills in the survey."""

    label: str
    style: Style
    success_shift: float
    survey_level: float  # 0-1: how positive its ratings are (plus reward_weight x reward)
    survey_noise: float
    invalid_rate: float  # per survey item: missing or not one of the options
    reward_weight: float = 0.0
    has_keep: bool = False  # write a ``keep`` field (the format makes it optional)
    drop_rate: float = 0.0  # share of entries with keep false


SIMULATORS: tuple[Simulator, ...] = (
    Simulator("SYNTHETIC-eager", Style("eager", events={"frontload": 1.0, "certain": 0.1, "clarify": 0.1,
                                                        "infoq": 0.3, "pivot": 0.05}),
              success_shift=1.2, survey_level=0.93, survey_noise=0.07, invalid_rate=0.01),
    Simulator("SYNTHETIC-terse", Style("terse", events={"certain": 0.05, "clarify": 0.1, "infoq": 0.15,
                                                        "pivot": 0.05}),
              success_shift=0.8, survey_level=0.78, survey_noise=0.1, invalid_rate=0.06),
    Simulator("SYNTHETIC-agentlike", Style("agentlike", events={"frontload": 0.3, "certain": 0.1, "clarify": 0.15,
                                                                "infoq": 0.2, "pivot": 0.15, "loop": 0.2}),
              success_shift=0.4, survey_level=0.85, survey_noise=0.1, invalid_rate=0.03,
              has_keep=True, drop_rate=0.02),
    Simulator("SYNTHETIC-humanlike", replace(
        HUMAN_STYLE, lowercase=0.3, typo_rate=0.01, polite=0.3, dash=0.0,
        events={"frontload": 0.5, "piecemeal": 0.2, "pushback": 0.08, "confuse": 0.05, "hedge": 0.15,
                "certain": 0.2, "clarify": 0.2, "infoq": 0.4, "accuse": 0.02, "emotion": 0.05, "pivot": 0.08,
                "quiet_close": 0.1}),
              success_shift=0.2, survey_level=0.5, survey_noise=0.15, invalid_rate=0.02, reward_weight=0.3,
              has_keep=True),
)

