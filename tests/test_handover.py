"""Hand-over files between notebooks (usersim_utils.handover): notebook 04's matched gaps,
read by notebook 07's fidelity forecast."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from usersim_utils import handover
from usersim_utils.errors import DataError


def test_matched_gaps_round_trip_with_undefined_gaps(tmp_path: Path) -> None:
    table = pd.DataFrame({"name": ["a", "a", "b"], "runs": [3, 3, 1], "metric": ["usi", "ece", "usi"],
                          "simulator": [70.0, 0.1, np.nan], "ceiling": [80.0, 0.05, 80.0],
                          "gap": [-10.0, 0.05, np.nan], "low": [-12.0, 0.01, np.nan], "high": [-8.0, 0.09, np.nan]})
    path = handover.write_matched_gaps(table, tmp_path / "m.json")
    assert "NaN" not in path.read_text()  # strict JSON: undefined is null
    back = handover.read_matched_gaps(path)
    assert list(back.columns) == list(handover.MATCHED_GAP_COLUMNS)
    assert back.loc[0, "gap"] == -10.0 and math.isnan(back.loc[2, "gap"]) and back.loc[2, "runs"] == 1


def test_matched_gaps_absent_or_corrupt(tmp_path: Path) -> None:
    assert handover.read_matched_gaps(tmp_path / "none.json") is None
    bad = tmp_path / "bad.json"
    for text in ("[{", '[{"name": "a", "gap": "wide"}]', "7"):
        bad.write_text(text)
        with pytest.raises(DataError, match=r"bad\.json: not the matched comparison notebook 04 writes"):
            handover.read_matched_gaps(bad)
