"""The User-Sim Index against Chatbot Arena ratings, within each model family.

The paper correlates USI with Arena Elo across all simulators and finds the
relation differs by family (inversely within Gemini). :func:`arena_family_correlations`
redoes it per family, with Fisher-z intervals and the number of points, beside the
paper's values (:data:`published.PUBLISHED_ARENA_R`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from . import published
from .stats import check_level, fisher_interval


def arena_family_correlations(
    usi_by_name: Mapping[str, float],
    arena: pd.DataFrame | None = None,
    *,
    level: float = 0.95,
    families: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Pearson r of USI with the Arena rating within each model family.

    ``usi_by_name``: USI per simulator, keyed by any label or name that
    :func:`published.resolve_name` knows (e.g. ``board.set_index("name")["usi"]``,
    or the published values); ``arena``: :func:`published.arena_elo` (rows are
    matched by their ``model`` name the same way). Fisher-z interval
    (:func:`stats.fisher_interval`, needs 4 points). Rows per family (all
    families with a rating, or ``families``), with ``paper_r`` from
    :data:`published.PUBLISHED_ARENA_R` (NaN where the paper gives none).
    Columns: ``family``, ``n``, ``models``, ``r``, ``low``, ``high``, ``paper_r``.
    """
    check_level(level)
    arena = published.arena_elo() if arena is None else arena
    usi_values = {}
    for name, value in usi_by_name.items():
        resolved = published.resolve_name(str(name))
        if resolved is not None and value is not None and not (isinstance(value, float) and math.isnan(value)):
            usi_values[resolved] = float(value)
    points = arena.assign(resolved=[published.resolve_name(str(m)) for m in arena["model"]])
    points = points.assign(usi=points["resolved"].map(usi_values)).dropna(subset=["usi", "elo"])
    records = []
    for family in families if families is not None else list(dict.fromkeys(arena["family"])):
        rows = points[points["family"] == family]
        n = len(rows)
        r = math.nan
        if n >= 3 and np.ptp(rows["elo"]) > 0 and np.ptp(rows["usi"]) > 0:
            r = float(scipy_stats.pearsonr(rows["elo"].astype(float), rows["usi"]).statistic)
        low, high = fisher_interval(r, n, level)
        records.append({"family": family, "n": n, "models": ", ".join(rows["resolved"]), "r": r, "low": low,
                        "high": high, "paper_r": published.PUBLISHED_ARENA_R.get(family, math.nan)})
    return pd.DataFrame.from_records(records, columns=["family", "n", "models", "r", "low", "high", "paper_r"])
