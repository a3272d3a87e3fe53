"""The figure helpers (figures) and the chart builders (charts): the theme is explicit, and
each chart builder draws the columns its docstring names (read from the Vega-Lite spec; one
render per kind through vl-convert)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest

from usersim_utils import charts, figures


@pytest.fixture
def default_theme():
    """Leave altair's global theme, renderer and row cap as the test found them."""
    theme, renderer, transformer = alt.theme.active, alt.renderers.active, alt.data_transformers.active
    yield
    alt.theme.enable(theme)
    alt.renderers.enable(renderer)
    alt.data_transformers.enable(transformer)


def _layers(spec: dict) -> list[dict]:
    inner = spec.get("spec", spec)
    return inner.get("layer", [inner])


def _marks(spec: dict) -> list[str]:
    return [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in _layers(spec)]


INTERVALS = pd.DataFrame({
    "name": ["human", "SYNTHETIC-terse", "human", "SYNTHETIC-terse"],
    "interval": ["published", "published", "centred", "centred"],
    "estimate": [86.0, 52.0, 86.0, 52.0],
    "low": [85.0, 51.0, 80.0, 49.0],
    "high": [87.0, 53.0, 91.0, 55.0],
})


# --- the theme ----------------------------------------------------------------------------------


def test_importing_figures_changes_nothing_in_altair() -> None:
    code = ("import altair as alt; from usersim_utils import figures; "
            "print(alt.theme.active, alt.renderers.active, alt.data_transformers.options.get('max_rows', 5000))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["default", "default", "5000"]


def test_use_theme_enables_the_theme_and_lifts_the_row_cap(default_theme) -> None:
    figures.use_theme()
    assert alt.theme.active == figures.THEME_NAME
    big = pd.DataFrame({"x": np.arange(6000.0)})
    spec = alt.Chart(big).mark_point().encode(x="x:Q").to_dict()  # over the 5,000-row cap
    assert spec["config"]["font"] == figures.FONT


def test_use_theme_shows_charts_as_vega_that_jupyterlab_draws_offline(default_theme) -> None:
    """The bundle a notebook cell gets: Vega (JupyterLab's own, safe renderer: no CDN, no trust
    needed) compiled from the themed Vega-Lite spec, which rides along for the site; no HTML,
    which JupyterLab would prefer and which loads Vega from a CDN."""
    figures.use_theme()
    chart = alt.Chart(pd.DataFrame({"x": [1.0, 2.0], "label": ["a", "b"]})).mark_point().encode(
        x="x:Q", color="label:N")
    data, metadata = chart._repr_mimebundle_()
    assert set(data) == {figures.LAB_VEGA_MIME, figures.VEGALITE_MIME} == {
        "application/vnd.vega.v5+json", "application/vnd.vegalite.v6+json"}
    assert data[figures.VEGALITE_MIME] == chart.to_dict()
    vega = data[figures.LAB_VEGA_MIME]
    assert vega["$schema"].startswith("https://vega.github.io/schema/vega/") and vega["marks"]
    assert figures.FONT in json.dumps(vega)  # the theme is compiled in
    assert metadata[figures.LAB_VEGA_MIME]["embed_options"]["actions"]["editor"] is False
    assert "http" not in json.dumps(metadata)


def test_with_theme_adds_the_theme_under_the_charts_own_settings() -> None:
    chart = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_point().encode(x="x:Q").configure_axis(labelFontSize=20)
    config = figures.with_theme(chart).to_dict()["config"]
    assert config["font"] == figures.FONT and config["range"]["category"] == list(figures.PALETTE)
    assert config["axis"]["labelFontSize"] == 20 and config["axis"]["titleFontSize"] == 12
    assert "font" not in chart.to_dict().get("config", {})  # the original is untouched


def test_save_applies_the_theme_without_use_theme(tmp_path: Path, default_theme) -> None:
    alt.theme.enable("default")
    chart = alt.Chart(pd.DataFrame({"x": [1.0, 2.0]})).mark_point().encode(x="x:Q")
    saved = figures.save(chart, "themed", synthetic=False, caption="c", folder=tmp_path)
    assert saved.to_dict()["config"]["font"] == figures.FONT
    assert figures.FONT in (tmp_path / "themed.svg").read_text()


# --- interval chart ---------------------------------------------------------------------------


def test_interval_chart_draws_a_rule_from_low_to_high_and_a_point_at_the_estimate() -> None:
    spec = charts.interval_chart(INTERVALS, "name", group="interval").to_dict()
    rule, point = _layers(spec)
    assert _marks(spec) == ["rule", "point"]
    assert (rule["encoding"]["x"]["field"], rule["encoding"]["x2"]["field"]) == ("low", "high")
    assert point["encoding"]["x"]["field"] == "estimate"
    assert rule["encoding"]["y"]["sort"] == ["human", "SYNTHETIC-terse"]
    assert rule["encoding"]["yOffset"]["field"] == "interval"
    assert rule["encoding"]["color"]["field"] == "interval"


def test_interval_chart_colours_simulators_with_their_fixed_colours() -> None:
    spec = charts.interval_chart(INTERVALS.iloc[2:], "name", color="name", legend=False).to_dict()
    colour = _layers(spec)[0]["encoding"]["color"]
    assert colour["scale"]["range"] == [figures.HUMAN_COLOR, figures.color_of("SYNTHETIC-terse")]
    assert colour["legend"] is None


def test_interval_chart_tick_marks_each_category_once_across_its_band() -> None:
    spec = charts.interval_chart(INTERVALS, "name", group="interval", marker="tick", height=68).to_dict()
    tick = _layers(spec)[1]
    assert tick["mark"]["type"] == "tick" and tick["mark"]["color"] == "black"
    assert tick["mark"]["size"] == pytest.approx(0.75 * 34)  # 68 px over two categories
    assert tick["encoding"]["x"]["aggregate"] == "mean" and "yOffset" not in tick["encoding"]


def test_interval_chart_reference_rule_vertical_and_facets() -> None:
    spec = charts.interval_chart(INTERVALS, "name", group="interval", reference=0.0, vertical=True,
                                 value_format="%", domain=(0, 100), facet="interval").to_dict()
    reference, rule, _ = _layers(spec)
    assert reference["encoding"] == {"y": {"datum": 0.0}} and reference["mark"]["color"] == "black"
    assert rule["encoding"]["y"]["field"] == "low" and rule["encoding"]["y2"]["field"] == "high"
    assert rule["encoding"]["x"]["field"] == "name" and rule["encoding"]["xOffset"]["field"] == "interval"
    assert rule["encoding"]["y"]["scale"]["domain"] == [0, 100] and rule["encoding"]["y"]["axis"]["format"] == "%"
    assert spec["facet"]["field"] == "interval"


def test_an_interval_chart_renders_and_without_rows_becomes_a_placeholder(tmp_path: Path) -> None:
    chart = charts.interval_chart(INTERVALS, "name", group="interval", reference=80.0, facet="interval")
    figures.save(chart, "intervals", synthetic=True, caption="c", folder=tmp_path)
    assert "SYNTHETIC-terse" in (tmp_path / "intervals.svg").read_text()
    empty = charts.interval_chart(INTERVALS.iloc[:0], "name", group="interval", marker="tick")
    figures.save(empty, "none", synthetic=True, caption="c", folder=tmp_path, if_empty="No USI.")
    assert "Nothing to draw." in (tmp_path / "none.svg").read_text()


# --- quantile boxes and distributions ---------------------------------------------------------


def test_quantile_boxes_draw_whiskers_box_median_and_mean_per_facet() -> None:
    summary = pd.DataFrame({"label": ["human", "a"], "feature": ["f", "f"], "q10": [0, 1], "q25": [1, 2],
                            "q50": [2, 3], "q75": [3, 4], "q90": [4, 5], "mean": [2, 3]})
    spec = charts.quantile_boxes(summary, facet_sort=["f"]).to_dict()
    assert _marks(spec) == ["rule", "bar", "tick", "point"]
    fields = [(layer["encoding"]["x"]["field"], layer["encoding"].get("x2", {}).get("field"))
              for layer in _layers(spec)]
    assert fields == [("q10", "q90"), ("q25", "q75"), ("q50", None), ("mean", None)]
    assert spec["facet"]["field"] == "feature" and spec["resolve"] == {"scale": {"x": "independent"}}


def test_cumulative_curves_are_the_quantile_function_of_each_column() -> None:
    values = {"human": pd.DataFrame({"f": [0.0, 1.0, 2.0, 10.0]}), "a": pd.DataFrame({"f": [5.0, 5.0]})}
    curves = charts.cumulative_curves(values, ["f"], n_points=5)
    assert list(curves.columns) == ["label", "feature", "share", "value"] and len(curves) == 10
    human = curves[curves["label"] == "human"]
    assert human["value"].tolist() == list(np.quantile([0, 1, 2, 10], [0, 0.25, 0.5, 0.75, 1]))
    assert (curves.loc[curves["label"] == "a", "value"] == 5.0).all()
    assert charts.cumulative_curves({}, ["f"]).empty


def test_distribution_facets_cumulative_steps_and_histogram_bins() -> None:
    curves = charts.cumulative_curves({"human": pd.DataFrame({"f": [0.0, 1.0]})}, ["f"])
    spec = charts.distribution_facets(curves).to_dict()
    assert spec["spec"]["mark"] == {"type": "line", "interpolate": "step-after"}
    assert spec["spec"]["encoding"]["y"]["field"] == "share" and spec["resolve"]["scale"]["x"] == "independent"
    counts = pd.DataFrame({"turns": [1, 2], "sessions": [3, 4], "domain": ["airline", "retail"]})
    hist = charts.distribution_facets(counts, kind="histogram", value="turns", count="sessions", color="domain",
                                      facet=None, bin_step=1).to_dict()
    assert hist["mark"]["type"] == "bar" and hist["encoding"]["x"]["bin"] == {"step": 1}
    assert hist["encoding"]["y"] == {"aggregate": "sum", "field": "sessions", "title": "count", "type": "quantitative"}


# --- bars and dots ----------------------------------------------------------------------------


def test_bar_chart_groups_facets_and_resolves_axes() -> None:
    table = pd.DataFrame({"batch": [1, 1, 2], "domain": ["airline", "retail", "airline"], "rate": [0.4, 0.5, 0.6]})
    grouped = charts.bar_chart(table, "rate", "batch", group="domain", vertical=True, category_type="O",
                               palette="theme", domain=(0, 1)).to_dict()
    assert grouped["encoding"]["x"]["type"] == "ordinal" and grouped["encoding"]["xOffset"]["field"] == "domain"
    assert grouped["encoding"]["y"]["scale"]["domain"] == [0, 1] and "scale" not in grouped["encoding"]["color"]
    faceted = charts.bar_chart(table, "rate", "domain", facet="batch", independent="category").to_dict()
    assert faceted["resolve"] == {"scale": {"y": "independent"}}


def test_dot_chart_colours_and_shapes_each_row() -> None:
    taus = pd.DataFrame({"variant": ["b", "a"], "group": ["bins", "lexicon"], "tau": [0.5, 1.0],
                         "changed": [False, True]})
    spec = charts.dot_chart(taus, "tau", "variant", color="group", shape="changed", domain=(-1, 1)).to_dict()
    assert spec["encoding"]["y"]["sort"] == ["b", "a"]  # rows in the table's order
    assert spec["encoding"]["shape"]["field"] == "changed" and spec["encoding"]["x"]["scale"]["domain"] == [-1, 1]
    assert spec["height"] == 32


def test_a_palette_list_and_a_rank_column_order_the_groups_and_categories() -> None:
    spec = charts.interval_chart(INTERVALS, "name", group="interval", palette=["#111111", "#222222"]).to_dict()
    scale = _layers(spec)[0]["encoding"]["color"]["scale"]
    assert scale == {"domain": ["published", "centred"], "range": ["#111111", "#222222"]}
    options = pd.DataFrame({"answer": ["No", "Yes"], "rank": [0, 1], "share": [0.4, 0.6]})
    bars = charts.bar_chart(options, "share", "answer", category_sort="rank").to_dict()
    assert bars["encoding"]["y"]["sort"] == {"field": "rank", "op": "min"}


# --- readability: no label overlaps or runs past its panel -----------------------------------


def test_touching_tick_labels_count_as_overlapping() -> None:
    """Vega hides every other tick label that overlaps; 4 px of separation makes touching ones
    ("0.00.2", the flush end labels) count too."""
    assert figures.theme()["config"]["axis"]["labelSeparation"] >= 2


def test_ranks_get_whole_number_ticks_and_fractions_do_not() -> None:
    ranks = pd.DataFrame({"name": ["a", "b"], "rank": [1, 2], "rank_low": [1.0, 1.0], "rank_high": [2.0, 4.0]})
    chart = charts.interval_chart(ranks, "name", estimate="rank", low="rank_low", high="rank_high",
                                  domain=(0.5, 4.5))
    assert _layers(chart.to_dict())[0]["encoding"]["x"]["axis"]["tickMinStep"] == 1
    shares = pd.DataFrame({"name": ["a", "b"], "p_best": [0.25, 0.75]})
    axis = charts.bar_chart(shares, "p_best", "name", domain=(0, 1)).to_dict()["encoding"]["x"]["axis"]
    assert "tickMinStep" not in axis


def test_long_titles_and_captions_are_wrapped_to_their_panel() -> None:
    title = "mean (% of turns; front-loading: % of words)"
    assert charts.axis_title(title, None) == title and charts.axis_title("USI", 200) == "USI"
    lines = charts.axis_title(title, 200)
    assert len(lines) > 1 and all(len(line) * charts.TITLE_CHAR_PX <= 200 for line in lines)
    table = pd.DataFrame({"name": ["a", "b"], "value": [1.5, 2.5], "feature": ["x", "y"]})
    spec = charts.bar_chart(table, "value", "name", facet="feature", value_title=title, width=200).to_dict()
    assert spec["spec"]["encoding"]["x"]["title"] == lines
    caption = "word " * 60
    assert all(len(line) <= figures.CAPTION_WIDTH for line in figures.caption_lines(caption + "\nsecond"))
    assert figures.caption_lines("one\ntwo") == ["one", "two"]


def test_labelled_points_write_each_name_towards_the_middle() -> None:
    """A name right of a point in the right half would run past the plot into the legend."""
    points = pd.DataFrame({"model": ["left", "right"], "elo": [1280.0, 1355.0], "usi": [69.0, 73.0],
                           "family": ["GPT", "Gemini"]})
    spec = charts.labelled_points(points, "elo", "usi", "model", color="family").to_dict()
    texts = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    placed = {(layer["mark"]["align"], layer["mark"]["dx"] > 0): [row["model"] for row in spec["datasets"][
        layer["data"]["name"]]] for layer in texts}
    assert placed == {("left", True): ["left"], ("right", False): ["right"]}
