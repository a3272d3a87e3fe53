"""Difficulty maps: the shipped published map, the modes, and the fallback to it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from usersim_utils import ids, paths, published, scoring, usi
from usersim_utils.errors import DataError
from usersim_utils.features import features_table


@pytest.fixture(scope="module")
def tables(seeded_study: dict) -> dict:
    return {label: features_table(records, source="llm", label=label)
            for label, records in seeded_study["sims"].items()}


def test_published_map_has_the_papers_bins() -> None:
    difficulty = published.published_difficulty()
    assert len(difficulty) == 165
    assert Counter(ids.domain_of(k) for k in difficulty) == {"airline": 50, "retail": 115}
    assert set(difficulty) == set(ids.parse_task_spec("all"))
    bins = Counter(usi.difficulty_bin(v) for v in difficulty.values())
    assert [bins[b] for b in range(5)] == [4, 17, 37, 66, 41]


def test_published_map_ships_with_its_licence_and_notice() -> None:
    folder = published.PUBLISHED_DIFFICULTY_FILE.parent
    assert (folder / "tau_usi_difficulty.LICENSE").read_text().lstrip().startswith("Apache License")
    notice = (folder / "tau_usi_difficulty.NOTICE").read_text()
    for needed in ("sunnweiwei/OdysSim", "agents/tau_usi/tau_usi_difficulty.json", "df47a21", "2026-06-18",
                   "Apache License 2.0"):
        assert needed in notice
    assert "tau_usi_difficulty.json" in (paths.DATA_DIR / "README.md").read_text()


def test_published_map_is_an_unchanged_copy(shared_file) -> None:
    shared_map = shared_file("data/odyssim/tau_usi_difficulty.json")
    assert published.PUBLISHED_DIFFICULTY_FILE.read_bytes() == shared_map.read_bytes()


def test_published_map_loader_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "map.json"
    bad.write_text(json.dumps({"n_tasks": 2, "difficulty": {"retail_1": 0.5}}))
    with pytest.raises(DataError, match="n_tasks is 2 but the map holds 1 task"):
        published.published_difficulty(bad)
    bad.write_text(json.dumps({"difficulty": {"retail_1": 1.5}}))
    with pytest.raises(DataError, match=str(bad)):
        published.published_difficulty(bad)


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [("all", ("all", None)), ("study", ("study", None)),
     ("published", ("published", None)), ("frozen:m.json", ("frozen", "m.json")),
     ("baselines:dir", ("baselines", "dir"))],
)
def test_difficulty_modes(spec: str, parsed: tuple) -> None:
    assert usi.parse_difficulty_mode(spec) == parsed


@pytest.mark.parametrize("spec", ["", "published:x", "study:x", "frozen", "baselines:", "pooled", "self"])
def test_bad_difficulty_modes_list_the_modes(spec: str) -> None:
    with pytest.raises(ValueError, match="all, study, published, frozen:PATH or baselines:DIR"):
        usi.parse_difficulty_mode(spec)


def test_a_pool_large_enough_is_used_as_it_is(tables: dict) -> None:
    choice = scoring.resolve_difficulty("all", tables)
    assert choice.map == usi.pooled_difficulty(tables.values())
    assert choice.mode_used == "all" and choice.requested == "all"
    assert choice.note is None and not choice.fell_back
    labels = ["big_a", "big_b", "big_c", "single"]  # 3 + 3 + 3 + 1 = 10 entries per task
    study = scoring.resolve_difficulty("study", tables, study_labels=labels)
    assert study.map == usi.pooled_difficulty(tables[label] for label in labels)
    assert study.map and study.mode_used == "study" and study.note is None


def test_a_pool_too_small_falls_back_to_the_published_map(tables: dict) -> None:
    """One simulator with one run gives no task the 10 pooled entries: the paper's bins apply."""
    for mode, kwargs in (("all", {}), ("study", {"study_labels": ["single"]})):
        choice = scoring.resolve_difficulty(mode, {"single": tables["single"]}, **kwargs)
        assert choice.map == published.published_difficulty()
        assert choice.mode_used == "published" and choice.fell_back
        assert choice.note.count("\n") == 0 and "published difficulty map" in choice.note
        assert "10 pooled entries" in choice.note


def test_explicit_maps_are_never_replaced(tables: dict, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    choice = scoring.resolve_difficulty(f"frozen:{empty}", {"single": tables["single"]})
    assert choice.map == {} and not choice.fell_back and choice.mode_used == f"frozen:{empty}"
    assert "ECE, hence USI, is undefined" in choice.note and "--difficulty published" in choice.note
    assert "baselines:DIR" in choice.note and "more simulators" in choice.note
    choice = scoring.resolve_difficulty("published", {"single": tables["single"]})
    assert choice.map == published.published_difficulty() and choice.note is None and not choice.fell_back


def test_difficulty_for_is_the_map_of_resolve_difficulty(tables: dict) -> None:
    assert scoring.difficulty_for("published", tables) == published.published_difficulty()
    assert scoring.difficulty_for("all", tables) == usi.pooled_difficulty(tables.values())
    assert scoring.difficulty_for("all", {"single": tables["single"]}) == published.published_difficulty()


def test_study_mode_needs_the_study_labels(tables: dict) -> None:
    with pytest.raises(ValueError, match="needs their labels"):
        scoring.resolve_difficulty("study", tables)
    with pytest.raises(ValueError, match="nope"):
        scoring.resolve_difficulty("study", tables, study_labels=["big_a", "nope"])
