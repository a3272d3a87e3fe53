"""The study's published numbers (Zhou et al., 2026, spec usi.md §8), the Chatbot
Arena ratings the notebooks set beside them, and the authors' frozen difficulty map.
The numbers are reference values only; the difficulty map feeds the index when asked
(``--difficulty published``) or when a study's own pool is too small."""

from __future__ import annotations

import os
import re

import pandas as pd

from . import data, paths, usi
from .errors import DataError

#: Published leaderboard rows: (mean, std) per metric; std None where the paper gives none.
PUBLISHED: dict[str, dict[str, tuple[float, float | None] | None]] = {
    "Human inter-annotator": {"D1_conv": (87.4, 6.8), "D2_info": (97.9, 0.9), "D3_clarif": (88.0, 1.3),
                              "D4_react": (93.5, 2.5), "eval_agree": (97.4, 5.0), "ece": (0.069, 0.022),
                              "usi": (92.9, 0.9)},
    "DeepSeek-V3.1": {"D1_conv": (45.1, None), "D2_info": (86.6, None), "D3_clarif": (74.5, None),
                      "D4_react": (87.6, None), "eval_agree": (74.3, None), "ece": (0.122, None),
                      "usi": (76.0, 1.2)},
    "Gemini-2.0-Flash": {"D1_conv": (51.6, 1.6), "D2_info": (88.9, 1.1), "D3_clarif": (68.2, 2.1),
                         "D4_react": (76.9, 3.7), "eval_agree": (73.7, 0.8), "ece": (0.196, 0.020),
                         "usi": (73.3, 0.4)},
    "GPT-5.1": {"D1_conv": (47.3, 6.9), "D2_info": (77.4, 0.6), "D3_clarif": (73.3, 2.0), "D4_react": (88.1, 2.6),
                "eval_agree": (72.1, 1.5), "ece": (0.331, 0.030), "usi": (70.9, 0.6)},
    "GPT-5": {"D1_conv": (49.7, 5.6), "D2_info": (73.7, 0.7), "D3_clarif": (73.2, 2.3), "D4_react": (73.4, 3.3),
              "eval_agree": (74.5, 1.1), "ece": (0.210, 0.019), "usi": (70.6, 1.2)},
    "GPT-5-mini": {"D1_conv": (39.4, 5.9), "D2_info": (74.4, 0.7), "D3_clarif": (83.1, 2.3),
                   "D4_react": (68.7, 1.6), "eval_agree": (73.5, 0.5), "ece": (0.174, 0.019), "usi": (70.3, 0.9)},
    "Llama-4-Maverick": {"usi": (73.9, None)},
    "Qwen3-235B": {"usi": (71.2, None)},
    "GPT-4o": {"ece": (0.206, None), "usi": (69.3, None)},
    "GPT-4o-mini": {"ece": (0.382, None)},
    "GPT-3.5-turbo": {"ece": (0.582, None)},
}
#: Published over-rating of the agent by simulated users: mean (simulator - human) of the
#: normalised answer, as a fraction of the item's scale.
PUBLISHED_OVERRATING: dict[str, dict[str, float]] = {"GPT-5.1": {"human_like": 0.55, "overall_score": 0.18}}
ARENA_ELO_FILE = paths.DATA_DIR / "external" / "arena_elo.csv"
#: The authors' frozen difficulty map (Apache-2.0, sunnweiwei/OdysSim; notice beside it).
PUBLISHED_DIFFICULTY_FILE = paths.DATA_DIR / "external" / "tau_usi_difficulty.json"


def normalise_name(name: str) -> str:
    """Lower-case alphanumerics only: ``"DeepSeek-V3.1"`` and ``"deepseek_v3_1"`` compare equal."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def match_published(label: str) -> str | None:
    """The published row whose name matches a simulator label, if any."""
    key = normalise_name(label)
    return next((name for name in PUBLISHED if normalise_name(name) == key), None)


def published_table() -> pd.DataFrame:
    """Published rows as a table: ``name`` and, per metric, ``<metric>`` and ``<metric>_std``."""
    records = []
    for name, cells in PUBLISHED.items():
        rec: dict[str, object] = {"name": name}
        for metric in ("D1_conv", "D2_info", "D3_clarif", "D4_react", "eval_agree", "ece", "usi"):
            cell = cells.get(metric)
            rec[metric] = cell[0] if cell else None
            rec[f"{metric}_std"] = cell[1] if cell else None
        records.append(rec)
    return pd.DataFrame.from_records(records).astype({c: float for c in records[0] if c != "name"})


def arena_elo(path=ARENA_ELO_FILE) -> pd.DataFrame:
    """Chatbot Arena ratings: ``model`` (as named in :data:`PUBLISHED` or a simulator label),
    ``family``, ``arena_name``, ``elo``, ``source``, ``retrieved`` (each row says where it came from)."""
    return pd.read_csv(path, comment="#")


def published_difficulty(path: str | os.PathLike[str] = PUBLISHED_DIFFICULTY_FILE) -> dict[str, float]:
    """The published difficulty map ``{task_key: pooled success in [0, 1]}``: the 31
    published simulators pooled on each of the 165 tasks (bins 4/17/37/66/41).

    Raises :class:`DataError` naming the file when it is missing or malformed, or
    when its ``n_tasks`` disagrees with the number of tasks it holds."""
    obj = data.read_json(path)
    try:
        difficulty = usi.difficulty_map_from_json(obj)
    except ValueError as err:
        raise DataError(str(err), file=path) from None
    declared = obj.get("n_tasks") if isinstance(obj, dict) else None
    if declared is not None and declared != len(difficulty):
        raise DataError(f"n_tasks is {declared!r} but the map holds {len(difficulty)} tasks", file=path)
    return difficulty

