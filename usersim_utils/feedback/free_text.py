"""The free-text survey answers: how long they are, how often given, and which
themes (a small keyword lexicon) they mention, per rater and item.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from ..survey import FREE_TEXT_ITEMS

#: A small keyword lexicon of feedback themes. Each entry is a list of word stems;
#: a stem ending in ``*`` matches any word that starts with it, otherwise the whole
#: word must match. Matching is case-insensitive on word boundaries; an answer
#: mentions a theme when any of its stems occurs. English only, deliberately small:
#: counts are indicative, not a content analysis.
THEMES: dict[str, tuple[str, ...]] = {
    "speed": ("fast*", "quick*", "slow*", "speed*", "time", "timely", "wait*", "long", "delay*", "prompt*"),
    "clarity": ("clear*", "unclear", "confus*", "understand*", "explain*", "explanation*", "vague", "concise"),
    "politeness": ("polite*", "friendly", "rude*", "courteous", "kind", "respectful", "tone", "warm*",
                   "empath*", "apolog*"),
    "errors": ("error*", "mistake*", "wrong", "incorrect*", "fail*", "bug*", "glitch*", "broken", "inaccura*"),
    "human_like": ("human*", "robot*", "natural*", "personal*", "bot", "scripted", "automated", "mechanical"),
    "questions": ("question*", "ask*", "repeat*", "clarif*"),
}


def _theme_pattern(stems: Sequence[str]) -> re.Pattern[str]:
    parts = [re.escape(s[:-1]) + r"\w*" if s.endswith("*") else re.escape(s) for s in stems]
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.IGNORECASE)


_THEME_PATTERNS: dict[str, re.Pattern[str]] = {name: _theme_pattern(stems) for name, stems in THEMES.items()}


def themes_of(text: str) -> dict[str, bool]:
    """``{theme: mentioned}`` for one free-text answer (see :data:`THEMES`)."""
    return {name: bool(pattern.search(text)) for name, pattern in _THEME_PATTERNS.items()}


def free_text_answers(surveys: pd.DataFrame) -> pd.DataFrame:
    """The non-blank free-text answers of long survey tables (any labels), with
    their length and themes. Filter ``keep`` before calling if needed.

    Columns: ``label``, ``instance_id``, ``task_key``, ``batch``, ``item``, ``text``,
    ``n_words`` (white-space words), ``n_chars``, then one bool column per theme.
    """
    rows = surveys[surveys["item"].isin(FREE_TEXT_ITEMS)]
    rows = rows[rows["answer"].map(lambda a: isinstance(a, str) and bool(a.strip()))]
    out = rows[["label", "instance_id", "task_key", "batch", "item"]].copy()
    out["text"] = rows["answer"].str.strip()
    out["n_words"] = out["text"].str.split().str.len().astype(int)
    out["n_chars"] = out["text"].str.len().astype(int)
    for name, pattern in _THEME_PATTERNS.items():
        out[name] = out["text"].map(lambda t, p=pattern: bool(p.search(t))).astype(bool)
    return out.reset_index(drop=True)


def free_text_summary(answers: pd.DataFrame, surveys: pd.DataFrame) -> pd.DataFrame:
    """Length of the free-text answers per rater and item.

    ``answers``: :func:`free_text_answers` of ``surveys`` (the long tables it came
    from, to count the blank or missing answers).
    Columns: ``label``, ``item``, ``n_records``, ``n_answers``, ``answer_rate``,
    ``mean_words``, ``median_words``, ``mean_chars``.
    """
    records = surveys[surveys["item"].isin(FREE_TEXT_ITEMS)].groupby(["label", "item"], sort=False).size()
    records = records.rename("n_records").reset_index()
    lengths = answers.groupby(["label", "item"], sort=False).agg(
        n_answers=("text", "size"), mean_words=("n_words", "mean"), median_words=("n_words", "median"),
        mean_chars=("n_chars", "mean"),
    ).reset_index()
    out = records.merge(lengths, on=["label", "item"], how="left")
    out["n_answers"] = out["n_answers"].fillna(0).astype(int)
    out["answer_rate"] = out["n_answers"] / out["n_records"]
    return out[["label", "item", "n_records", "n_answers", "answer_rate", "mean_words", "median_words", "mean_chars"]]


def theme_shares(answers: pd.DataFrame) -> pd.DataFrame:
    """Share of answers mentioning each theme, per rater and item.

    ``answers``: :func:`free_text_answers`. Columns: ``label``, ``item``, ``theme``,
    ``n_answers``, ``n_mentions``, ``share``.
    """
    records = []
    for (label, item), group in answers.groupby(["label", "item"], sort=False):
        for theme in THEMES:
            n_mentions = int(group[theme].sum())
            records.append({"label": label, "item": item, "theme": theme, "n_answers": len(group),
                            "n_mentions": n_mentions, "share": n_mentions / len(group)})
    return pd.DataFrame.from_records(records, columns=["label", "item", "theme", "n_answers", "n_mentions", "share"])
