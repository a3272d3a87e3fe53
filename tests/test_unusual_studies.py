"""Unusual studies (issue 9 §2): every analysis notebook runs on studies that lack
surveys, re-ratings, a second batch, ECE, a shared task or a domain, and figures meet
empty data with a labelled placeholder.

The studies come from the SYNTHETIC demo generator (:data:`usersim_utils.demo.UNUSUAL_SHAPES`).
The notebooks run with papermill in child processes that write under a temporary
``$USERSIM_OUTPUT_DIR`` (never the developer's ``data/processed`` or ``reports``), a
study's notebooks in order (03 writes the features 04-06 read), two studies at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import altair as alt
import nbformat
import pandas as pd
import pytest

from usersim_utils import demo, figures, paths

# --- figures: a labelled placeholder instead of an exception -----------------------------------


def _svg_text(folder: Path, name: str) -> str:
    assert (folder / f"{name}.png").stat().st_size > 0
    return (folder / f"{name}.svg").read_text()


def test_an_empty_faceted_chart_is_saved_as_a_labelled_placeholder(tmp_path: Path) -> None:
    empty = pd.DataFrame({"label": pd.Series(dtype=str), "value": pd.Series(dtype=float)})
    chart = alt.Chart(empty).mark_bar().encode(x="value:Q", y="label:N").properties(
        height=18 * len(empty)).facet(facet="label:N", columns=2)
    figures.save(chart, "empty", synthetic=True, caption="Shares.", title="A title", folder=tmp_path,
                 if_empty="No simulator has a survey file; add survey_comparable_<label>.json.")
    svg = _svg_text(tmp_path, "empty")
    assert "Nothing to draw." in svg and "No simulator has a survey file;" in svg
    assert "A title" in svg and "SYNTHETIC DEMO DATA - Shares." in svg


def test_a_colour_legend_over_empty_data_is_a_placeholder_not_an_exception(tmp_path: Path) -> None:
    # Notebook 06's forest plot on a study without USI: an untitled legend without entries made
    # vl-convert fail with "SVG has an invalid size".
    empty = pd.DataFrame({"name": pd.Series(dtype=str), "low": pd.Series(dtype=float)})
    chart = alt.Chart(empty).mark_rule().encode(x="low:Q", y="name:N", color=alt.Color("name:N", title=None))
    figures.save(chart, "forest", synthetic=False, caption="c", folder=tmp_path)
    assert "The chart has a dataset without rows." in _svg_text(tmp_path, "forest")


def test_rows_without_a_value_to_draw_are_a_placeholder_not_an_exception(tmp_path: Path) -> None:
    # Notebook 06's sensitivity plot when every Kendall's tau is undefined: the same failure.
    taus = pd.DataFrame({"variant": ["a", "b"], "group": ["bins", "lexicon"], "kendall_tau": [None, None]})
    dot = alt.Chart(taus).mark_point().encode(x="kendall_tau:Q", y="variant:N", color=alt.Color("group:N", title=None))
    rule = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule().encode(x="x:Q")
    figures.save(alt.layer(rule, dot), "taus", synthetic=False, caption="c", folder=tmp_path)
    assert "The chart has no row with a value of kendall_tau." in _svg_text(tmp_path, "taus")


def test_empty_reason_reads_layers_facets_and_transforms() -> None:
    rows = pd.DataFrame({"x": [1.0, None], "y": [None, 2.0], "k": ["a", "b"]})
    assert figures.empty_reason(alt.Chart(rows).mark_point().encode(x="x:Q").to_dict()) is None
    both = alt.Chart(rows).mark_point().encode(x="x:Q", y="y:Q")  # no row has both
    assert figures.empty_reason(both.to_dict()) == "no row with a value of x, y"
    assert figures.empty_reason(both.facet(column="k:N").to_dict()) == "no row with a value of x, y"
    assert figures.empty_reason(alt.Chart(rows).mark_bar().encode(x="count():Q", y="k:N").to_dict()) is None
    computed = both.transform_filter(alt.datum.k == "a")  # rows made by a transform are not judged
    assert figures.empty_reason(computed.to_dict()) is None
    assert figures.empty_reason(alt.hconcat(alt.Chart(rows).mark_point().encode(x="x:Q"),
                                            alt.Chart(rows.iloc[:0]).mark_point()).to_dict()) == "a dataset without rows"


def test_a_chart_with_data_is_drawn_not_replaced(tmp_path: Path) -> None:
    chart = alt.Chart(pd.DataFrame({"x": [1.0, 2.0], "height": [0, 0]})).mark_point().encode(x="x:Q")
    figures.save(chart, "drawn", synthetic=False, caption="c", folder=tmp_path, if_empty="never shown")
    assert "Nothing to draw" not in _svg_text(tmp_path, "drawn")  # a column named "height" is data, not a size


def test_placeholder_wraps_a_long_reason() -> None:
    chart = figures.placeholder("T", "word " * 60)
    rows = chart.to_dict()["datasets"]
    lines = [row["text"] for row in next(iter(rows.values()))]
    assert lines[0] == "Nothing to draw." and len(lines) > 3
    assert all(len(line) <= figures.PLACEHOLDER_WIDTH for line in lines)
