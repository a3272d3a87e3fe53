"""Difficulty maps: the shipped published map."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from usersim_utils import ids, paths, published, usi
from usersim_utils.errors import DataError

SHARED_MAP = paths.REPO_ROOT.parent / "shared" / "data" / "odyssim" / "tau_usi_difficulty.json"


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


@pytest.mark.skipif(not SHARED_MAP.exists(), reason="../shared/data is not beside this checkout")
def test_published_map_is_an_unchanged_copy() -> None:
    assert published.PUBLISHED_DIFFICULTY_FILE.read_bytes() == SHARED_MAP.read_bytes()


def test_published_map_loader_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "map.json"
    bad.write_text(json.dumps({"n_tasks": 2, "difficulty": {"retail_1": 0.5}}))
    with pytest.raises(DataError, match="n_tasks is 2 but the map holds 1 task"):
        published.published_difficulty(bad)
    bad.write_text(json.dumps({"difficulty": {"retail_1": 1.5}}))
    with pytest.raises(DataError, match=str(bad)):
        published.published_difficulty(bad)
