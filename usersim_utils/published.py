"""The study's published numbers (Zhou et al., 2026, docs/method.md §12), the Chatbot
Arena ratings the notebooks set beside them, and the authors' frozen difficulty map.
The numbers are reference values only; the difficulty map feeds the index when asked
(``--difficulty published``) or when a study's own pool is too small."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass

import pandas as pd

from . import data, paths, schema, usi
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
#: The protocol of every row of :data:`PUBLISHED`: the six-term index (docs/method.md §8) with
#: the study's agent (docs/method.md §11).
PAPER_PROTOCOL: dict[str, str] = {"index": "USI6", "agent": "GPT-5.2", "source": "Zhou et al. 2026 (arXiv 2603.11245)"}


@dataclass(frozen=True)
class LaterRow:
    """A USI reported by later work under its own protocol: never merged with the paper's rows."""

    name: str
    usi: float
    index: str  # "USI6" or "USI5" (no survey term)
    agent: str
    source: str


#: Rows reported under other protocols. The MIMESIS report scores USI5 (the survey term dropped)
#: against a GPT-5.5 agent, so its numbers are not comparable with the paper's six-term ones.
LATER_WORK: tuple[LaterRow, ...] = (
    LaterRow("Human ceiling", 91.75, "USI5", "GPT-5.5", "MIMESIS report"),
    LaterRow("OSim-8B", 80.44, "USI5", "GPT-5.5", "MIMESIS report"),
    LaterRow("MIMESIS-9B", 80.17, "USI5", "GPT-5.5", "MIMESIS report"),
)
#: Published over-rating of the agent by simulated users: mean (simulator - human) of the
#: normalised answer, as a fraction of the item's scale.
PUBLISHED_OVERRATING: dict[str, dict[str, float]] = {"GPT-5.1": {"human_like": 0.55, "overall_score": 0.18}}
ARENA_ELO_FILE = paths.DATA_DIR / "external" / "arena_elo.csv"
#: The authors' frozen difficulty map (Apache-2.0, sunnweiwei/OdysSim; notice beside it).
PUBLISHED_DIFFICULTY_FILE = paths.DATA_DIR / "external" / "tau_usi_difficulty.json"


def normalise_name(name: str) -> str:
    """Lower-case alphanumerics only: ``"DeepSeek-V3.1"`` and ``"deepseek_v3_1"`` compare equal."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def published_table() -> pd.DataFrame:
    """Published rows as a table: ``name`` and, per metric, ``<metric>`` and ``<metric>_std``,
    then the protocol (:data:`PAPER_PROTOCOL`): ``index`` (for rows with a USI) and ``agent``."""
    records = []
    for name, cells in PUBLISHED.items():
        rec: dict[str, object] = {"name": name}
        for metric in ("D1_conv", "D2_info", "D3_clarif", "D4_react", "eval_agree", "ece", "usi"):
            cell = cells.get(metric)
            rec[metric] = cell[0] if cell else None
            rec[f"{metric}_std"] = cell[1] if cell else None
        records.append(rec)
    table = pd.DataFrame.from_records(records).astype({c: float for c in records[0] if c != "name"})
    return table.assign(index=[PAPER_PROTOCOL["index"] if pd.notna(v) else None for v in table["usi"]],
                        agent=PAPER_PROTOCOL["agent"])


def later_work_table() -> pd.DataFrame:
    """:data:`LATER_WORK` as a table (``name``, ``usi``, ``index``, ``agent``, ``source``): shown
    beside the paper's rows, never in them."""
    return pd.DataFrame([asdict(r) for r in LATER_WORK], columns=["name", "usi", "index", "agent", "source"])


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


# --- Names: every label of the released files -> the paper's name (one name per row). ----------
#: The row of the human ceiling in the paper, and the labels that stand for it.
HUMAN_ROW = "Human inter-annotator"
HUMAN_ALIASES: tuple[str, ...] = ("human", "humans", "Human", "human-ceiling", "human ceiling",
                                  "Human inter-annotator", "inter-annotator", "human-inter-annotator")
#: The 31 published simulators as their files are labelled (docs/method.md §12, the authors' order)
#: -> (name used here and in the paper's tables, family). The names of the rows with
#: published cells are the paper's (:data:`PUBLISHED`); the others follow the same style.
PUBLISHED_SIMULATORS: dict[str, tuple[str, str]] = {
    "gpt-5-mini": ("GPT-5-mini", "GPT"),
    "gpt-5": ("GPT-5", "GPT"),
    "gpt-5.1": ("GPT-5.1", "GPT"),
    "gpt-4o": ("GPT-4o", "GPT"),
    "gpt-4o-mini": ("GPT-4o-mini", "GPT"),
    "gpt-3.5-turbo": ("GPT-3.5-turbo", "GPT"),
    "UserLM-8b": ("UserLM-8b", "human-simulation"),
    "CoSER-Llama-3.1-8B": ("CoSER-Llama-3.1-8B", "human-simulation"),
    "Human-Like-Qwen2.5-7B-Instruct": ("Human-Like-Qwen2.5-7B", "human-simulation"),
    "humanlm-opinion": ("HumanLM-opinion", "human-simulation"),
    "deepseek-ai_DeepSeek-V3.1": ("DeepSeek-V3.1", "open-weight"),
    "gemini-2.0-flash": ("Gemini-2.0-Flash", "Gemini"),
    "gemini-2.5-flash": ("Gemini-2.5-Flash", "Gemini"),
    "gemini-2.5-flash-lite": ("Gemini-2.5-Flash-Lite", "Gemini"),
    "gemini-3-flash-preview": ("Gemini-3-Flash", "Gemini"),
    "gemini-3-pro-preview": ("Gemini-3-Pro", "Gemini"),
    "gemini-3.1-pro-preview": ("Gemini-3.1-Pro", "Gemini"),
    "meta-llama_Llama-3.3-70B-Instruct-Turbo": ("Llama-3.3-70B", "open-weight"),
    "meta-llama_Llama-4-Maverick-17B-128E-Instruct-FP8": ("Llama-4-Maverick", "open-weight"),
    "MiniMaxAI_MiniMax-M2.5": ("MiniMax-M2.5", "open-weight"),
    "moonshotai_Kimi-K2.5": ("Kimi-K2.5", "open-weight"),
    "openai_gpt-oss-120b": ("gpt-oss-120b", "open-weight"),
    "Qwen_Qwen2.5-7B-Instruct-Turbo": ("Qwen2.5-7B", "open-weight"),
    "Qwen_Qwen3-235B-A22B-Thinking-2507": ("Qwen3-235B", "open-weight"),
    "Qwen_Qwen3-Next-80B-A3B-Instruct": ("Qwen3-Next-80B", "open-weight"),
    "claude-3-haiku-20240307": ("Claude-3-Haiku", "Claude"),
    "claude-3-5-sonnet-20241022": ("Claude-3.5-Sonnet", "Claude"),
    "claude-3-7-sonnet-20250219-v1_0": ("Claude-3.7-Sonnet", "Claude"),
    "claude-haiku-4-5-20251001-v1_0": ("Claude-Haiku-4.5", "Claude"),
    "claude-opus-4-20250514-v1_0": ("Claude-Opus-4", "Claude"),
    "claude-sonnet-4-20250514-v1_0": ("Claude-Sonnet-4", "Claude"),
}
#: Further spellings the same models carry elsewhere (without the organisation prefix,
#: the provider's suffix or the "preview" tag, as Hugging Face ids or API names).
EXTRA_ALIASES: dict[str, str] = {
    "DeepSeek-V3.1": "DeepSeek-V3.1", "deepseek-ai/DeepSeek-V3.1": "DeepSeek-V3.1",
    "Llama-3.3-70B-Instruct-Turbo": "Llama-3.3-70B", "Llama-3.3-70B-Instruct": "Llama-3.3-70B",
    "Llama-4-Maverick-17B-128E-Instruct-FP8": "Llama-4-Maverick",
    "Llama-4-Maverick-17B-128E-Instruct": "Llama-4-Maverick",
    "MiniMax-M2.5": "MiniMax-M2.5", "Kimi-K2.5": "Kimi-K2.5", "gpt-oss-120b": "gpt-oss-120b",
    "Qwen2.5-7B-Instruct-Turbo": "Qwen2.5-7B", "Qwen2.5-7B-Instruct": "Qwen2.5-7B",
    "Qwen3-235B-A22B-Thinking-2507": "Qwen3-235B", "Qwen3-235B-A22B": "Qwen3-235B",
    "Qwen3-Next-80B-A3B-Instruct": "Qwen3-Next-80B",
    "Human-Like-Qwen2.5-7B-Instruct": "Human-Like-Qwen2.5-7B",
    "gemini-3-flash": "Gemini-3-Flash", "gemini-3-pro": "Gemini-3-Pro", "gemini-3.1-pro": "Gemini-3.1-Pro",
    "claude-3-7-sonnet-20250219": "Claude-3.7-Sonnet", "claude-haiku-4-5-20251001": "Claude-Haiku-4.5",
    "claude-haiku-4-5": "Claude-Haiku-4.5", "claude-opus-4-20250514": "Claude-Opus-4",
    "claude-sonnet-4-20250514": "Claude-Sonnet-4", "claude-3-5-sonnet": "Claude-3.5-Sonnet",
    "claude-3-haiku": "Claude-3-Haiku",
}


def _alias_index() -> dict[str, str]:
    """Normalised alias -> name; raises ``ValueError`` if two names share an alias."""
    index: dict[str, str] = {}
    pairs = [*((label, name) for label, (name, _) in PUBLISHED_SIMULATORS.items()),
             *((name, name) for name, _ in PUBLISHED_SIMULATORS.values()),
             *((name, name) for name in PUBLISHED),
             *EXTRA_ALIASES.items(),
             *((alias, HUMAN_ROW) for alias in HUMAN_ALIASES)]
    for alias, name in pairs:
        key = normalise_name(alias)
        if index.setdefault(key, name) != name:
            raise ValueError(f"alias {alias!r} names both {index[key]!r} and {name!r}")
    return index


_ALIASES = _alias_index()


def resolve_name(label: str) -> str | None:
    """The paper's name of a simulator label (``eval_results_`` prefix, organisation
    prefix, case and punctuation ignored), :data:`HUMAN_ROW` for the human ceiling,
    ``None`` for a model outside the 31 (e.g. ``gemini-2.5-pro``, a demo simulator)."""
    # not schema.label_of: a label is no file name ("gpt-5.1" has no suffix to strip)
    return _ALIASES.get(normalise_name(label.removeprefix(schema.EVAL_PREFIX)))


def family_of(label: str) -> str | None:
    """The model family of a label (``GPT``, ``Claude``, ``Gemini``, ``open-weight``,
    ``human-simulation``), ``None`` when it does not resolve to one of the 31."""
    name = resolve_name(label)
    return next((family for n, family in PUBLISHED_SIMULATORS.values() if n == name), None)


def published_row(label: str) -> str | None:
    """The :data:`PUBLISHED` row of a label (the human ceiling included), if the paper prints one."""
    name = resolve_name(label)
    return name if name in PUBLISHED else None


#: Digits after the decimal point the paper prints for each metric (its precision).
PRINTED_DECIMALS: dict[str, int] = {"D1_conv": 1, "D2_info": 1, "D3_clarif": 1, "D4_react": 1,
                                    "eval_agree": 1, "ece": 3, "usi": 1}
COMPARE_COLUMNS: tuple[str, ...] = ("name", "published_name", "metric", "statistic", "ours", "printed",
                                    "tolerance", "difference", "passed")


def compare(board: pd.DataFrame, *, include_missing: bool = False) -> pd.DataFrame:
    """Every published cell (D1-D4, Eval, ECE, USI, and each "±") against ours, at the
    precision the paper prints.

    ``board``: :func:`usersim_utils.usi.leaderboard` (``name``, ``<metric>``,
    ``<metric>_std``). Board rows are matched to the paper by :func:`resolve_name`.
    A cell passes when |ours − printed| <= half a unit of the last printed digit
    (0.05 for 76.0, 0.0005 for 0.122; :data:`PRINTED_DECIMALS`); a missing value
    of ours fails. With ``include_missing`` the published cells of rows the board
    lacks are listed too (``name`` None, failing). One row per cell; columns
    :data:`COMPARE_COLUMNS` (``statistic`` is ``"mean"`` or ``"std"``).
    """
    missing = [c for c in ("name", *PRINTED_DECIMALS) if c not in board.columns]
    if missing:
        raise ValueError(f"not a leaderboard: no column {missing[0]!r}")
    rows_of = {}
    for _, row in board.iterrows():
        paper = published_row(str(row["name"]))
        if paper is not None:
            rows_of.setdefault(paper, row)
    records = []
    for paper, cells in PUBLISHED.items():
        row = rows_of.get(paper)
        if row is None and not include_missing:
            continue
        for metric, cell in cells.items():
            if cell is None:
                continue
            tolerance = 0.5 * 10.0 ** -PRINTED_DECIMALS[metric]
            for statistic, printed in zip(("mean", "std"), cell):
                if printed is None:
                    continue
                column = metric if statistic == "mean" else f"{metric}_std"
                ours = float(row[column]) if row is not None and column in row.index else float("nan")
                difference = ours - printed
                # a relative 1e-9 slack so that a value exactly half a digit away is not lost to rounding
                passed = bool(abs(difference) <= tolerance * (1 + 1e-9))
                records.append((None if row is None else row["name"], paper, metric, statistic, ours, printed,
                                tolerance, difference, passed))
    return pd.DataFrame.from_records(records, columns=list(COMPARE_COLUMNS))


def unresolved(labels) -> list[str]:
    """The labels :func:`resolve_name` cannot map to the paper (expected: none among
    the 31 published files and the human row)."""
    return [label for label in labels if resolve_name(str(label)) is None]


#: Tasks per difficulty bin (< 0.2, < 0.4, < 0.6, < 0.8, >= 0.8) of the published map.
PUBLISHED_DIFFICULTY_BIN_COUNTS: tuple[int, ...] = (4, 17, 37, 66, 41)


def difficulty_bin_counts(difficulty, edges=usi.BIN_EDGES) -> tuple[int, ...]:
    """Number of tasks in each difficulty bin (:func:`usersim_utils.usi.difficulty_bin`)."""
    counts = [0] * (len(edges) + 1)
    for value in difficulty.values():
        counts[usi.difficulty_bin(value, edges)] += 1
    return tuple(counts)


def check_difficulty_bins(difficulty) -> pd.DataFrame:
    """Our difficulty map's bin counts beside the published 4/17/37/66/41: a row per
    bin with ``bin``, ``range``, ``ours``, ``published``, ``passed``."""
    ours = difficulty_bin_counts(difficulty)
    edges = (0.0, *usi.BIN_EDGES, 1.0)
    ranges = [f"[{lo:.1f}, {hi:.1f}{']' if i == len(ours) - 1 else ')'}" for i, (lo, hi) in
              enumerate(zip(edges[:-1], edges[1:]))]
    return pd.DataFrame({"bin": range(len(ours)), "range": ranges, "ours": ours,
                         "published": PUBLISHED_DIFFICULTY_BIN_COUNTS,
                         "passed": [a == b for a, b in zip(ours, PUBLISHED_DIFFICULTY_BIN_COUNTS)]})


#: The paper's Pearson r of USI with Arena Elo within each family (docs/method.md §12).
PUBLISHED_ARENA_R: dict[str, float] = {"GPT": 0.91, "Claude": 0.48, "Gemini": -0.52}
