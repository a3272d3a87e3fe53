"""The 19 behavioural features of one conversation (docs/method.md §3-4), and the
tabular path that extracts them for thousands of conversations at once.

Everything here is exact to the study's reference scorer, quirks included:
the IDS lexicon counts any plain word of six or more letters (the text is
lower-cased first), ``repeat_rate`` and ``id_confuse_rate`` are 0/1 flags per
conversation, and ``n_turns`` counts user and assistant messages together.

Lexicons are Python ``re`` patterns. Each is wrapped as ``\\b(...)\\b`` except
ACK (anchored to the whole turn) and IDS (no wrap).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

import pandas as pd

from . import ids, schema

Source = Literal["human", "llm"]

# --- Lexicons (docs/method.md §4), verbatim: one line each, however long. ------------------------------------------
POLITE = (
    r"please|thank you|thanks|sorry|excuse me|appreciate|grateful|kind of you|wonderful|courteous|considerate|i understand|no worries|my apologies|pardon"  # noqa: E501 (verbatim)
)
EMOTION = (
    r"frustrated|upset|angry|confused|worried|annoyed|furious|ridiculous|terrible|horrible|awful|ugh|stressed|anxious|nervous|uncomfortable|panic|disappointed|disappointing|irritated|irritating|aggravated|outraged|outrageous|exasperated|bothered|disgusted|miserable|devastated|heartbroken|desperate"  # noqa: E501 (verbatim)
)
ACK = (
    r"yes|yeah|yea|yep|yup|ok|okay|okey|sure|right|fine|great|perfect|awesome|cool|agree|agreed|correct|absolutely|indeed|alright|got it|go ahead|sounds good|that works|proceed|confirm|do it|no problem|thank you|thanks|please|mhm|uh-huh|aight"  # noqa: E501 (verbatim)
)
IDS_ALTERNATIVES: tuple[str, ...] = (
    r"\b[a-z0-9]{6,}\b",
    r"#?\w*\d{5,}\w*",
    r"\w+_\w+_\d{3,}",
    r"gift_card_\w+",
    r"credit_card_\w+",
    r"paypal_\w+",
    r"\w+@\w+\.\w+",
)
UNCERTAIN = (
    r"i think|not sure|i don'?t remember|i don'?t recall|i believe|probably|maybe|i forgot|don'?t know|i guess|i'?m not sure|if i recall|i don'?t have|can'?t recall|can'?t find|i'?m unsure|i might|perhaps|apparently|sort of|kind of|somewhat|partly|possibly|vaguely|roughly|hesitant|doubtful|confused|uncertain|dunno"  # noqa: E501 (verbatim)
)
CERTAIN = (
    r"definitely|absolutely|certainly|exactly|precisely|clearly|always|never|completely|entirely|fully|obvious|obviously|undoubtedly|without a doubt|for sure|of course|guaranteed|no doubt"  # noqa: E501 (verbatim)
)
PUSHBACK = (
    r"are you sure|that'?s (not right|wrong|incorrect|not what)|i already (told|said|gave|provided|mentioned)|you already (asked|have)|try again|check again|that can'?t be (right|correct)|that'?s (crazy|nonsense|ridiculous|absurd)|this is (not fair|nonsense)|why (can'?t|won'?t|didn'?t|isn'?t|aren'?t|would)|doesn'?t (seem|sound|look|make sense)|not what i (asked|said|meant|wanted)|do(n'?t| not) ask me .* again|i would never"  # noqa: E501 (verbatim)
)
CLARIFY = (
    r"what do you mean|what does that mean|what did you mean|could you (clarify|elaborate|specify)|can you (explain|clarify|elaborate)|i don'?t understand|i dont understand|what'?s the difference|whats the difference|what exactly|what specifically|which (one|reservation|order|flight|option|plan|account|item|product) (is|was|do|should|did|would)|i'?m not sure which|im not sure which|which is which|you (said|mentioned|told me|wrote|indicated) .{0,30}\?|that mean|what does that (involve|include|entail|look like)|(sorry|wait),? (what|which|how|i don'?t)|can you (be more specific|give me more detail|break that down|walk me through)|i'?m (confused|lost)|im (confused|lost)|(how|what) (exactly|specifically) (does|do|is|are|would|will|should)|could you (repeat|say) that|can you (repeat|say) that|what (is|are) the (options|choices|alternatives|details)|i need (more|some) (info|information|details|clarification)|(so|wait),? (you'?re saying|does that mean|is that)|meaning\??|how so\??|in what (way|sense)\??"  # noqa: E501 (verbatim)
)
INFOQ = (
    r"what is (the|my)|what'?s (the|my)|how much|how many|when (will|does|is|can|did)|where (is|are|was|can)|how (do|can|would|should) i|what are (the|my)|can you (check|tell|find|look|see|show|help|list)|do you (have|know|see)|is (there|it|that) (a |any )?|what options|how long|what.s the (status|price|cost|total|balance)"  # noqa: E501 (verbatim)
)
ACCUSE = (
    r"blame|fault|ridiculous|wrong|useless|incompetent|failure|misleading|irresponsible|unacceptable|disgrace|insult|scam|shame|stupid|trouble|disappointing|ruined"  # noqa: E501 (verbatim)
)
PIVOT = (
    r"(wait|actually) (can|let|could|would)|i('?d| would) (like|prefer|rather)|(can you|can we|could you) just|instead|rather than|how about|what about|what if|on second thought|is there (a |any |another )?way to|(let'?s|can we|lets) (try|do|go with|switch|change)|maybe (we|i|you) (should|could|can)|(change|switch|try) (it |that )?(to|something|a different)"  # noqa: E501 (verbatim)
)
CONFUSE = (
    r"how can i (help|assist)|how may i (help|assist)|what can i (do|help|assist) (for|with)|do you (want|require|wish|prefer)|would you (like|prefer)|let me (check|look|verify|find|pull up|search|assist|help)|i('?ll| will) (check|look into|verify|process|handle|assist|help)|i('?m| am) (happy|glad|here) to (help|assist)|is there anything else i can|thank you for (calling|contacting|reaching|choosing|your patience)|for (security|verification) (purposes|reasons)|(may|could) i (verify)|allow me to|permit me to|your (order|account|reservation|booking|request|ticket|case|inquiry)|i (see|understand) (that|your)|according to (our|the) (records|system|policy)|(our|the) (policy|system|records) (shows?|indicates?)|i (can|could) (offer|suggest|recommend)|(have you|did you) (tried?|considered?)|i apologize for (the|any) (inconvenience|confusion|delay|trouble)"  # noqa: E501 (verbatim)
)

LEXICONS: dict[str, str] = {
    "POLITE": POLITE,
    "EMOTION": EMOTION,
    "ACK": ACK,
    "IDS": "|".join(IDS_ALTERNATIVES),
    "UNCERTAIN": UNCERTAIN,
    "CERTAIN": CERTAIN,
    "PUSHBACK": PUSHBACK,
    "CLARIFY": CLARIFY,
    "INFOQ": INFOQ,
    "ACCUSE": ACCUSE,
    "PIVOT": PIVOT,
    "CONFUSE": CONFUSE,
}

# --- Feature names and their dimensions (docs/method.md §4-5). -------------------------------
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "D1_conv": (
        "politeness_rate",
        "short_msg_rate",
        "formality_rate",
        "ack_only_rate",
        "verbosity_cv",
        "repeat_rate",
        "id_confuse_rate",
    ),
    "D2_info": ("info_frontload", "id_density", "user_words_per_turn", "opening_words"),
    "D3_clarif": (
        "uncertainty_rate",
        "certainty_rate",
        "pushback_q_rate",
        "clarify_q_rate",
        "info_q_rate",
    ),
    "D4_react": ("emotion_rate", "accusation_rate", "pivot_rate"),
}
#: The 19 features, in dimension order.
FEATURES: tuple[str, ...] = tuple(f for group in DIMENSIONS.values() for f in group)
#: Features reported as they are in a row; every other feature is a fraction x 100.
UNSCALED_FEATURES: frozenset[str] = frozenset(
    {"verbosity_cv", "id_density", "user_words_per_turn", "opening_words"}
)
#: The one rule for a feature's unit in a row (docs/method.md §5): the factor its mean over
#: conversations is multiplied by; 100 for the rates and ``info_frontload`` (fractions
#: shown as percentages), 1 for :data:`UNSCALED_FEATURES`.
FEATURE_SCALE: dict[str, float] = {f: 1.0 if f in UNSCALED_FEATURES else 100.0 for f in FEATURES}
#: Which lexicon drives which feature (for ablations: remove one lexicon at a time).
FEATURE_LEXICON: dict[str, str] = {
    "politeness_rate": "POLITE",
    "ack_only_rate": "ACK",
    "id_confuse_rate": "CONFUSE",
    "id_density": "IDS",
    "uncertainty_rate": "UNCERTAIN",
    "certainty_rate": "CERTAIN",
    "pushback_q_rate": "PUSHBACK",
    "clarify_q_rate": "CLARIFY",
    "info_q_rate": "INFOQ",
    "emotion_rate": "EMOTION",
    "accusation_rate": "ACCUSE",
    "pivot_rate": "PIVOT",
}


def _wrap(pattern: str) -> re.Pattern[str]:
    return re.compile(r"\b(" + pattern + r")\b")


_POLITE = _wrap(POLITE)
_EMOTION = _wrap(EMOTION)
_ACK_ONLY = re.compile(r"^(" + ACK + r")[\s!.\-,]*$")
_UNCERTAIN = _wrap(UNCERTAIN)
_CERTAIN = _wrap(CERTAIN)
_PUSHBACK = _wrap(PUSHBACK)
_CLARIFY = _wrap(CLARIFY)
_INFOQ = _wrap(INFOQ)
_ACCUSE = _wrap(ACCUSE)
_PIVOT = _wrap(PIVOT)
_CONFUSE = _wrap(CONFUSE)
_DASH = re.compile("[\u2014\u2013]")

# IDS in linear time. Taken literally, the spec's IDS alternation retries at every
# position of a word and backs off nested ``\w+`` runs: a turn of 3,000 underscores
# took 122 s (cubic in the run length). Below, each alternative is rewritten to give,
# at every start position, the same success and the same match end (so the same
# non-overlapping matches), without backtracking. With "the word" = the \w run
# starting at the position:
#   1. inside a run of [a-z0-9] (all \w) there is no \b, so the run is possessive;
#   2. succeeds iff the word after the optional '#' holds five consecutive digits,
#      and then always ends at the word's end; dropping a '#' never helps ('#' is
#      neither \w nor \d), so it is possessive;
#   3. the backtracking picks the last '_' followed by 3 digits that has another
#      '_' after the start and at least 2 before it; such a '_' exists iff the
#      FIRST '_' after the start does: fix that one, back off only the second run;
#   4-6. unchanged: greedy to the word's end, nothing follows;
#   7. '@' and '.' are not \w, so backing off a \w run never helps.
# When all seven fail at a word character, the last branch skips the rest of the
# word up to where 4-6 could match (only group 1 is counted). Nothing else can
# start inside it: 1 needs \b, 2 and 3 cannot succeed later in a word where they
# failed earlier, and 7 does not depend on where in the word it starts.
# tests/test_features_redos.py checks this against IDS_ALTERNATIVES on random strings.
_IDS_LINEAR_ALTERNATIVES: tuple[str, ...] = (
    r"\b[a-z0-9]{6,}+\b",
    r"#?+\w*?\d{5}\w*+",
    r"\w[^\W_]*+_\w+_\d{3,}",
    r"gift_card_\w+",
    r"credit_card_\w+",
    r"paypal_\w+",
    r"\w++@\w++\.\w++",
)
_IDS_SKIP_WORD = r"\w(?:(?!gift_card_\w|credit_card_\w|paypal_\w)\w)*+"
_IDS = re.compile("(" + "|".join(_IDS_LINEAR_ALTERNATIVES) + ")|" + _IDS_SKIP_WORD)

# --- Cleaning (docs/method.md §3). -------------------------------------------------------------
_THINK = re.compile(r"<\|think\|>.*?<\|/think\|>", re.DOTALL)
_FUNCTION = re.compile(r"<function=.*?(?:</function>|$)", re.DOTALL)
_TOOL = re.compile(r"<\|tool\|>.*?<\|/tool\|>", re.DOTALL)
_HUMAN_META_PREFIXES = (schema.TASK_HEADER_PREFIX, schema.REWARD_CHECK_PREFIX)
_HUMAN_META_TAGS = (schema.CANVAS_TAG, schema.HIGHLIGHT_TAG, schema.SURVEY_TAG)


def is_meta_message(content: str, source: Source) -> bool:
    """True for the study platform's meta messages, which are dropped before anything else.

    Human sessions: content starting with ``\\tau `` or ``\\reward``, containing a
    canvas/highlight/survey tag, or equal to ``/stop``. Simulator rollouts: content
    equal to ``###STOP###``. White space around the content is ignored for the
    equality tests only.
    """
    if source == "human":
        return (
            content.startswith(_HUMAN_META_PREFIXES)
            or any(tag in content for tag in _HUMAN_META_TAGS)
            or content.strip() == schema.HUMAN_STOP
        )
    return content.strip() == schema.STOP_MARKER


def _delete_closed(pattern: re.Pattern[str], closing: str, text: str) -> str:
    """``pattern.sub("", text)`` for a pattern ``<open>.*?<closing>``, in linear time.

    Every opening tag with no closing tag after it would scan to the end of the text
    and fail (quadratic in the number of such tags); no match can end after the last
    closing tag, so only the text up to it is searched."""
    end = text.rfind(closing)
    if end < 0:
        return text
    end += len(closing)
    return pattern.sub("", text[:end]) + text[end:]


def strip_markup(text: str) -> str:
    """Delete agent markup: ``<|think|>…<|/think|>``, ``<function=…`` up to
    ``</function>`` or the end, and ``<|tool|>…<|/tool|>`` (non-greedy, across lines)."""
    text = _delete_closed(_THINK, "<|/think|>", text)
    text = _FUNCTION.sub("", text)
    return _delete_closed(_TOOL, "<|/tool|>", text)


def clean_conversation(
    conversation: Sequence[Mapping[str, Any]], source: Source
) -> tuple[list[str], int]:
    """``(user turns without markup, n_turns)`` of a conversation.

    ``n_turns`` counts every message left after meta removal.
    """
    kept = [m for m in conversation if not is_meta_message(str(m.get("content") or ""), source)]
    user_turns = [strip_markup(str(m.get("content") or "")) for m in kept if m.get("role") == "user"]
    return user_turns, len(kept)


# --- The features. -------------------------------------------------------------------
_QUESTION_CLASSES = (_PUSHBACK, _CLARIFY, _INFOQ)


def id_matches(text: str) -> list[str]:
    """The non-overlapping IDS matches in ``text``, in order: exactly what
    ``re.findall("|".join(IDS_ALTERNATIVES), text)`` returns, in linear time."""
    return [found for found in _IDS.findall(text) if found]


@lru_cache(maxsize=1 << 16)
def _turn_flags(turn: str) -> tuple:
    """Per-turn facts of one markup-free user turn, cached: simulators repeat turns.

    Returns ``(words, polite, dash, ack_only, confuse, n_ids, uncertain, certain,
    question_class, emotion, accuse, pivot)``; ``question_class`` is 0 (pushback),
    1 (clarify), 2 (info) or -1, the first class that matches.
    """
    low = turn.lower()
    question_class = next((i for i, p in enumerate(_QUESTION_CLASSES) if p.search(low)), -1)
    return (
        len(turn.split()),
        _POLITE.search(low) is not None,
        _DASH.search(turn) is not None,
        _ACK_ONLY.match(low.strip()) is not None,
        _CONFUSE.search(low) is not None,
        len(id_matches(low)),
        _UNCERTAIN.search(low) is not None,
        _CERTAIN.search(low) is not None,
        question_class,
        _EMOTION.search(low) is not None,
        _ACCUSE.search(low) is not None,
        _PIVOT.search(low) is not None,
    )


def _trigram_flag(turns: Sequence[str]) -> float:
    """1.0 if one word trigram (lower-cased, per turn, summed over turns) occurs > 10 times."""
    counts: Counter[tuple[str, ...]] = Counter()
    for turn in turns:
        words = turn.lower().split()
        counts.update(zip(words, words[1:], words[2:]))
    return 1.0 if counts and max(counts.values()) > 10 else 0.0


def turn_features(turns: Sequence[str]) -> dict[str, float]:
    """The 19 features of markup-free user turns (docs/method.md §4).

    ``turns`` must hold at least one string; see :func:`conversation_features`.
    Plain Python arithmetic: numpy's per-call overhead dominates on a handful of turns.
    """
    n = len(turns)
    flags = [_turn_flags(t) for t in turns]
    (words, polite, dash, ack, confuse, n_ids, uncertain, certain,
     qclass, emotion, accuse, pivot) = zip(*flags)
    total = sum(words)
    mean_words = total / n
    std_words = math.sqrt(sum((w - mean_words) ** 2 for w in words) / n)
    return {
        "politeness_rate": sum(polite) / n,
        "short_msg_rate": sum(1 for w in words if w <= 3) / n,
        "formality_rate": sum(dash) / n,
        "ack_only_rate": sum(ack) / n,
        "verbosity_cv": std_words / mean_words if mean_words > 0 else 0.0,
        "repeat_rate": _trigram_flag(turns),
        "id_confuse_rate": 1.0 if any(confuse) else 0.0,
        "info_frontload": sum(words[:2]) / total if total > 0 else 0.0,
        "id_density": sum(n_ids) / n,
        "user_words_per_turn": mean_words,
        "opening_words": float(words[0]),
        "uncertainty_rate": sum(uncertain) / n,
        "certainty_rate": sum(certain) / n,
        "pushback_q_rate": qclass.count(0) / n,
        "clarify_q_rate": qclass.count(1) / n,
        "info_q_rate": qclass.count(2) / n,
        "emotion_rate": sum(emotion) / n,
        "accusation_rate": sum(accuse) / n,
        "pivot_rate": sum(pivot) / n,
    }


def conversation_features(
    conversation: Sequence[Mapping[str, Any]], source: Source
) -> dict[str, float] | None:
    """The 19 features plus ``n_turns`` of one conversation, or ``None``.

    ``conversation`` is a list of ``{role, content}``; ``source`` is ``"human"``
    (study sessions: platform meta messages are dropped) or ``"llm"`` (simulator
    rollouts: ``###STOP###`` is dropped). ``None`` when no message or no user turn
    is left after cleaning.
    """
    if source not in ("human", "llm"):
        raise ValueError(f"source must be 'human' or 'llm', not {source!r}")
    turns, n_turns = clean_conversation(conversation, source)
    if n_turns == 0 or not turns:
        return None
    feats = turn_features(turns)
    feats["n_turns"] = float(n_turns)
    return feats


# --- The tabular path. ----------------------------------------------------------------
#: Columns of a features table, before the 19 features and ``n_turns``.
ID_COLUMNS: tuple[str, ...] = (
    "label", "source", "key", "task_key", "batch", "keep", "success", "has_features",
)


def success_of(record: Mapping[str, Any]) -> int:
    """1 if the record's ``reward`` is > 0, else 0 (a null or missing reward counts as 0)."""
    reward = record.get("reward")
    return 1 if reward is not None and float(reward) > 0 else 0


def features_table(
    records: Mapping[str, Mapping[str, Any]], *, source: Source, label: str
) -> pd.DataFrame:
    """Features of every conversation of one file, one row per record (file order).

    ``records`` maps instance ids to records with ``conversation`` and optional
    ``reward`` and ``keep``. Columns: ``label``, ``source``, ``key`` (the record's
    key), ``task_key`` (``<domain>_<i>``), ``batch`` (1-3 for human sessions, from
    the ``_ann2``/``_ann3`` suffix; 0 for simulator rollouts), ``keep`` (missing ->
    True), ``success`` (0/1), ``has_features`` (False when the conversation has no
    user turn), then the 19 features and ``n_turns`` (NaN without features).
    Every record is kept, kept or not, because the reference run split counts them.
    """
    rows = []
    for key, record in records.items():
        feats = conversation_features(record.get("conversation") or [], source)
        rows.append(
            {
                "label": label,
                "source": source,
                "key": key,
                "task_key": ids.task_key(key),
                "batch": ids.split_batch(key)[1] if source == "human" else 0,
                "keep": record.get("keep", True) is not False,
                "success": success_of(record),
                "has_features": feats is not None,
                **(feats or {}),
            }
        )
    columns = [*ID_COLUMNS, *FEATURES, "n_turns"]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({c: float for c in (*FEATURES, "n_turns")}).astype(
        {"batch": int, "keep": bool, "success": int, "has_features": bool}
    )


def features_tables(
    files: Iterable[tuple[str, Mapping[str, Mapping[str, Any]]]], *, source: Source
) -> pd.DataFrame:
    """:func:`features_table` of several ``(label, records)`` pairs, concatenated."""
    tables = [features_table(records, source=source, label=label) for label, records in files]
    return pd.concat(tables, ignore_index=True) if tables else features_table({}, source=source, label="")
