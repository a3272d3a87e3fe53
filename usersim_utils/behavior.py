"""Human versus simulator behaviour, feature by feature: distributions, not only means.

Pure functions over features tables (:func:`usersim_utils.features.features_table`).
Only kept conversations that have features enter any statistic, as in the index.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .features import DIMENSIONS, FEATURE_SCALE, FEATURES
from .schema import HUMAN_LABEL

#: The study's headline contrasts: humans write short, impolite-ish, piecemeal turns,
#: show frustration and push back; simulators are polite, front-load and pivot quietly.
HEADLINE_FEATURES: tuple[str, ...] = (
    "short_msg_rate", "politeness_rate", "info_frontload", "emotion_rate", "pushback_q_rate", "pivot_rate",
)
FEATURE_DIMENSION: dict[str, str] = {f: d for d, feats in DIMENSIONS.items() for f in feats}
QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)


def usable(table: pd.DataFrame) -> pd.DataFrame:
    """Kept rows that have features."""
    return table.loc[table["keep"] & table["has_features"]]


def long_features(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (conversation, feature): ``label``, ``key``, ``feature``, ``dimension``,
    ``value`` (rates and ``info_frontload`` x 100, as in the index rows)."""
    rows = usable(table)
    long = rows.melt(id_vars=["label", "key"], value_vars=list(FEATURES), var_name="feature")
    long["value"] = long["value"] * long["feature"].map(FEATURE_SCALE)
    long["dimension"] = long["feature"].map(FEATURE_DIMENSION)
    return long[["label", "key", "feature", "dimension", "value"]]


def feature_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (label, feature): ``dimension``, ``n``, ``mean``, ``std`` and the quantiles
    ``q10``, ``q25``, ``q50``, ``q75``, ``q90`` of the per-conversation values."""
    long = long_features(table)
    grouped = long.groupby(["label", "feature"], sort=False)["value"]
    summary = grouped.agg(n="size", mean="mean", std="std")
    for q in QUANTILES:
        summary[f"q{int(q * 100)}"] = grouped.quantile(q)
    summary = summary.reset_index()
    summary["dimension"] = summary["feature"].map(FEATURE_DIMENSION)
    return summary


def headline_contrasts(
    human: pd.DataFrame, simulators: Mapping[str, pd.DataFrame],
    features: tuple[str, ...] = HEADLINE_FEATURES,
) -> pd.DataFrame:
    """Mean of each headline feature (x 100 for rates) for the humans and each simulator.

    Columns: ``label``, ``feature``, ``value``, ``n`` (conversations); humans first.
    """
    rows = []
    for label, table in {HUMAN_LABEL: human, **simulators}.items():
        used = usable(table)
        for f in features:
            rows.append({"label": label, "feature": f, "value": float(used[f].mean() * FEATURE_SCALE[f]),
                         "n": len(used)})
    return pd.DataFrame(rows, columns=["label", "feature", "value", "n"])
