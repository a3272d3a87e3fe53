"""Tests of the published comparison: every label the released files carry resolves to the
paper's name, every published cell is differenced at its printed precision, the published
difficulty map has the published bin counts, and every Arena rating says where it came from."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from usersim_utils import paths, published, usi

SPEC = paths.REPO_ROOT.parent / "shared" / "spec" / "usi.md"
SHARED_DIFFICULTY = paths.REPO_ROOT.parent / "shared" / "data" / "odyssim" / "tau_usi_difficulty.json"
#: The 31 file labels of spec usi.md §8, exactly as given there.
LABELS_31 = [
    "gpt-5-mini", "gpt-5", "gpt-5.1", "gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo", "UserLM-8b",
    "CoSER-Llama-3.1-8B", "Human-Like-Qwen2.5-7B-Instruct", "humanlm-opinion",
    "deepseek-ai_DeepSeek-V3.1", "gemini-2.0-flash", "gemini-2.5-flash", "gemini-2.5-flash-lite",
    "gemini-3-flash-preview", "gemini-3-pro-preview", "gemini-3.1-pro-preview",
    "meta-llama_Llama-3.3-70B-Instruct-Turbo", "meta-llama_Llama-4-Maverick-17B-128E-Instruct-FP8",
    "MiniMaxAI_MiniMax-M2.5", "moonshotai_Kimi-K2.5", "openai_gpt-oss-120b",
    "Qwen_Qwen2.5-7B-Instruct-Turbo", "Qwen_Qwen3-235B-A22B-Thinking-2507", "Qwen_Qwen3-Next-80B-A3B-Instruct",
    "claude-3-haiku-20240307", "claude-3-5-sonnet-20241022", "claude-3-7-sonnet-20250219-v1_0",
    "claude-haiku-4-5-20251001-v1_0", "claude-opus-4-20250514-v1_0", "claude-sonnet-4-20250514-v1_0",
]


# --- Aliases. ------------------------------------------------------------------------------------------------
def test_all_31_labels_resolve_to_31_distinct_names():
    names = [published.resolve_name(label) for label in LABELS_31]
    assert None not in names
    assert len(set(names)) == 31
    assert list(published.PUBLISHED_SIMULATORS) == LABELS_31  # the authors' order
    assert published.unresolved(LABELS_31) == []


@pytest.mark.skipif(not SPEC.exists(), reason="../shared/spec is not beside this checkout")
def test_the_31_labels_are_those_of_the_spec():
    text = SPEC.read_text()
    section = text[text.index("The 31 published simulators"):text.index("A gemini-2.5-pro run")]
    quoted = re.findall(r"`([^`]+)`", section)
    assert quoted[quoted.index("gpt-5-mini"):] == LABELS_31


def test_families_have_the_published_sizes():
    families = pd.Series([published.family_of(label) for label in LABELS_31]).value_counts().to_dict()
    assert families == {"GPT": 6, "human-simulation": 4, "open-weight": 9, "Gemini": 6, "Claude": 6}


@pytest.mark.parametrize("label, name", [
    ("eval_results_meta-llama_Llama-4-Maverick-17B-128E-Instruct-FP8", "Llama-4-Maverick"),
    ("Llama-4-Maverick-17B-128E-Instruct-FP8", "Llama-4-Maverick"),
    ("Qwen3-235B-A22B-Thinking-2507", "Qwen3-235B"),
    ("deepseek-ai/DeepSeek-V3.1", "DeepSeek-V3.1"),
    ("GPT-5.1", "GPT-5.1"), ("gpt-5-mini", "GPT-5-mini"), ("GPT-4o", "GPT-4o"),
    ("claude-opus-4-20250514", "Claude-Opus-4"),
    ("human", "Human inter-annotator"), ("Human inter-annotator", "Human inter-annotator"),
    ("human-ceiling", "Human inter-annotator"),
])
def test_labels_and_printed_names_resolve(label, name):
    assert published.resolve_name(label) == name


def test_every_published_row_resolves_to_itself_and_others_to_nothing():
    for name in published.PUBLISHED:
        assert published.published_row(name) == name
    for label in ("gemini-2.5-pro", "SYNTHETIC-eager-helper", "local/smollm2-135m", "gpt-5.2"):
        assert published.resolve_name(label) is None
    assert published.published_row("claude-3-haiku-20240307") is None  # in the pool, no printed cell


# --- Every published cell, at its printed precision. ----------------------------------------------------------
def board_of_published(names: dict[str, str] | None = None) -> pd.DataFrame:
    """A leaderboard (usi.leaderboard columns) holding exactly the published values,
    rows named by file label (``names``: paper name -> label)."""
    names = names or {}
    records = []
    for paper, cells in published.PUBLISHED.items():
        rec = {"name": names.get(paper, paper)}
        for metric in usi.METRICS:
            cell = cells.get(metric)
            rec[metric] = cell[0] if cell else math.nan
            rec[f"{metric}_std"] = cell[1] if cell and cell[1] is not None else math.nan
        records.append(rec)
    return pd.DataFrame.from_records(records)


LABEL_OF = {"Human inter-annotator": "human", "DeepSeek-V3.1": "deepseek-ai_DeepSeek-V3.1",
            "Llama-4-Maverick": "meta-llama_Llama-4-Maverick-17B-128E-Instruct-FP8",
            "Qwen3-235B": "Qwen_Qwen3-235B-A22B-Thinking-2507", "GPT-5.1": "gpt-5.1"}


def n_published_cells() -> int:
    return sum(1 for cells in published.PUBLISHED.values() for cell in cells.values() if cell
               for value in cell if value is not None)


def test_the_published_values_pass_every_cell_under_file_labels():
    table = published.compare(board_of_published(LABEL_OF))
    assert list(table.columns) == list(published.COMPARE_COLUMNS)
    assert len(table) == n_published_cells() == 84
    assert table["passed"].all()
    human = table[table["published_name"] == "Human inter-annotator"]
    assert set(human["name"]) == {"human"} and len(human) == 14
    assert set(table["statistic"]) == {"mean", "std"}


@pytest.mark.parametrize("metric, printed, shift, passes", [
    ("usi", 76.0, 0.049, True), ("usi", 76.0, 0.051, False), ("usi", 76.0, -0.05, True),
    ("ece", 0.122, 0.0004, True), ("ece", 0.122, 0.0006, False), ("D1_conv", 45.1, -0.06, False),
])
def test_a_cell_passes_within_half_a_unit_of_the_last_printed_digit(metric, printed, shift, passes):
    board = board_of_published()
    row = board["name"] == "DeepSeek-V3.1"
    assert board.loc[row, metric].item() == printed
    board.loc[row, metric] = printed + shift
    table = published.compare(board)
    cell = table[(table["published_name"] == "DeepSeek-V3.1") & (table["metric"] == metric)
                 & (table["statistic"] == "mean")]
    assert cell["passed"].item() is passes
    assert cell["difference"].item() == pytest.approx(shift)
    assert cell["tolerance"].item() == (0.0005 if metric == "ece" else 0.05)


def test_std_cells_and_missing_values_are_compared_too():
    board = board_of_published()
    board.loc[board["name"] == "GPT-5", "ece_std"] = 0.0196  # printed 0.019: 0.0006 off
    board.loc[board["name"] == "GPT-5", "usi"] = math.nan
    table = published.compare(board).set_index(["published_name", "metric", "statistic"])
    assert not table.loc[("GPT-5", "ece", "std"), "passed"]
    assert not table.loc[("GPT-5", "usi", "mean"), "passed"]
    assert table["passed"].sum() == len(table) - 2


def test_only_rows_on_the_board_unless_asked():
    board = board_of_published().iloc[[1]]  # DeepSeek-V3.1 only
    assert set(published.compare(board)["published_name"]) == {"DeepSeek-V3.1"}
    everything = published.compare(board, include_missing=True)
    assert len(everything) == 84
    assert (everything["name"].isna() == ~everything["passed"]).all()
    with pytest.raises(ValueError, match="leaderboard"):
        published.compare(pd.DataFrame({"name": ["x"]}))


def test_a_real_leaderboard_is_compared_by_its_labels():
    """usi.leaderboard output goes in as it is (the human ceiling is row "human")."""
    cells = {m: (50.0, 1.0) for m in usi.METRICS}
    scores = [usi.Score("human", dict(cells)), usi.Score("gpt-5", dict(cells)), usi.Score("SYNTHETIC-x", dict(cells))]
    table = published.compare(usi.leaderboard(scores))
    assert set(table["name"]) == {"human", "gpt-5"}
    assert not table["passed"].any()


# --- The published difficulty map. -----------------------------------------------------------------------------
def test_bin_counts_by_hand():
    difficulty = {"a": 0.0, "b": 0.19999, "c": 0.2, "d": 0.6, "e": 0.8, "f": 1.0}
    assert published.difficulty_bin_counts(difficulty) == (2, 1, 0, 1, 2)
    table = published.check_difficulty_bins(difficulty)
    assert list(table["published"]) == [4, 17, 37, 66, 41] and not table["passed"].any()
    assert list(table["range"]) == ["[0.0, 0.2)", "[0.2, 0.4)", "[0.4, 0.6)", "[0.6, 0.8)", "[0.8, 1.0]"]


def published_difficulty_map() -> dict[str, float] | None:
    """The project's copy of the authors' map when present, else ../shared's, else None."""
    loader = getattr(published, "published_difficulty", None)
    file = getattr(published, "PUBLISHED_DIFFICULTY_FILE", None)
    if loader is not None and file is not None and file.exists():
        return loader()
    if SHARED_DIFFICULTY.exists():
        return usi.difficulty_map_from_json(json.loads(SHARED_DIFFICULTY.read_text()))
    return None


def test_the_published_difficulty_map_has_the_published_bin_counts():
    difficulty = published_difficulty_map()
    if difficulty is None:
        pytest.skip("no copy of the published difficulty map here")
    assert len(difficulty) == 165
    assert published.difficulty_bin_counts(difficulty) == published.PUBLISHED_DIFFICULTY_BIN_COUNTS
    assert published.check_difficulty_bins(difficulty)["passed"].all()


# --- Arena ratings. --------------------------------------------------------------------------------------------
def test_every_arena_rating_names_its_source_and_date_and_model():
    arena = published.arena_elo()
    assert list(arena.columns) == ["model", "family", "arena_name", "elo", "source", "retrieved", "note"]
    assert arena["model"].is_unique
    assert arena["source"].str.startswith("https://").all()
    assert arena["retrieved"].astype(str).str.fullmatch(r"20\d\d(-\d\d-\d\d)?").all()
    assert np.issubdtype(arena["elo"].dtype, np.integer) and arena["elo"].between(1000, 1600).all()
    for model, family in zip(arena["model"], arena["family"]):
        assert published.resolve_name(model) == model  # rows use the paper's names
        assert family in (published.family_of(model), "Qwen", "Llama")


def test_every_published_row_says_its_protocol_and_later_work_stays_apart():
    table = published.published_table()
    with_usi = table["usi"].notna()
    assert (table.loc[with_usi, "index"] == "USI6").all() and table.loc[~with_usi, "index"].isna().all()
    assert (table["agent"] == published.PAPER_PROTOCOL["agent"]).all()
    later = published.later_work_table()
    assert set(later["index"]) == {"USI5"} and later["source"].str.len().gt(0).all()
    # never merged: no later-work name among the paper's rows, none of them resolves to a paper row
    assert not set(later["name"]) & set(table["name"])
    assert all(published.published_row(name) is None for name in later["name"] if name != "Human ceiling")
