"""The charts the notebooks draw more than once: pure builders, a tidy DataFrame in (the
columns each needs are named in its docstring), an altair chart out, to be shown or passed to
:func:`usersim_utils.figures.save` (which captions, themes and writes it).

* :func:`interval_chart`: a point (or tick) with its interval, per category, optionally
  offset and coloured by group, with a reference rule, faceted;
* :func:`quantile_boxes`: 10/25/50/75/90th percentile box-and-whisker plus the mean, per facet;
* :func:`distribution_facets`: cumulative distributions (step lines) or histograms, per facet;
* :func:`bar_chart`, :func:`dot_chart` and :func:`line_chart`: one value per category (or per
  x), grouped or faceted;
* :func:`labelled_points`: a scatter whose points are named beside them, inside the plot.

Simulators keep their fixed colours (:func:`usersim_utils.figures.color_of`) in every chart.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import altair as alt
import numpy as np
import pandas as pd

from .figures import color_scale

#: Width of an average character of an axis title (12 px bold), to wrap a title to its panel.
TITLE_CHAR_PX = 7
#: How a chart colours its groups: "simulators" gives each label its fixed colour
#: (:func:`usersim_utils.figures.color_of`), "theme" the theme's palette in order, a list
#: gives its colours to the groups in their order; or an explicit ``alt.Scale``.
Palette = Literal["simulators", "theme"] | list[str] | alt.Scale
#: A category order: the categories in order (a list), the name of a column whose smallest
#: value per category orders them (a str, e.g. an option's rank; per facet), an altair sort,
#: or None for the order of first appearance.
Sort = list[str] | tuple[str, ...] | str | alt.EncodingSortField | None


def axis_title(title: str | None, width: Any) -> str | list[str] | None:
    """``title`` wrapped into lines no wider than ``width`` px (its panel's width; a step or None
    leaves it whole): a title wider than its panel runs into the next panel or past the figure."""
    if not title or not isinstance(width, (int, float)) or len(title) * TITLE_CHAR_PX <= width:
        return title
    return textwrap.wrap(title, max(12, int(width // TITLE_CHAR_PX)))


def whole_number_axis(table: pd.DataFrame, columns: Sequence[str], value_format: str | None) -> alt.Axis:
    """A value axis in ``value_format``; with ticks 1 apart at least when every value of
    ``columns`` is a whole number (ranks, counts): no tick at 1.5 for a rank."""
    present = [pd.to_numeric(table[c], errors="coerce") for c in columns if c in table]
    values = pd.concat(present, ignore_index=True).dropna() if present else pd.Series(dtype=float)
    kwargs: dict[str, Any] = {"format": value_format} if value_format else {}
    if len(values) and bool((values == values.round()).all()):
        kwargs["tickMinStep"] = 1
    return alt.Axis(**kwargs)


def _order(table: pd.DataFrame, column: str, sort: Sort) -> Any:
    """``sort`` as altair takes it (see :data:`Sort`)."""
    if sort is None:
        return list(dict.fromkeys(table[column].astype(str))) if column in table else []
    if isinstance(sort, str):
        return alt.EncodingSortField(field=sort, op="min")
    return sort if isinstance(sort, alt.EncodingSortField) else list(sort)


def _colour(table: pd.DataFrame, column: str, palette: Palette, *, legend: bool, title: str | None,
            sort: Sort = None) -> alt.Color:
    """The colour channel of ``column`` with ``palette``; no legend when ``legend`` is False."""
    order = _order(table, column, sort)
    if isinstance(palette, alt.Scale):
        scale = palette
    elif isinstance(palette, list):
        domain = order if isinstance(order, list) else list(dict.fromkeys(table[column].astype(str)))
        scale = alt.Scale(domain=domain, range=palette[:len(domain)])
    elif palette == "simulators":
        scale = color_scale(order if isinstance(order, list) else table[column].astype(str))
    else:
        scale = alt.Undefined
    kwargs: dict[str, Any] = {"scale": scale, "title": title}
    if isinstance(order, list):
        kwargs["sort"] = order
    if not legend:
        kwargs["legend"] = None
    return alt.Color(f"{column}:N", **kwargs)


def _value_scale(domain: tuple[float, float] | None) -> alt.Scale:
    return alt.Scale(domain=list(domain)) if domain is not None else alt.Scale(zero=False)


def _facet(chart: alt.TopLevelMixin, table: pd.DataFrame, facet: str | None, *, columns: int,
           sort: Sort, independent: Literal["value", "category"] | None, value_axis: str) -> alt.TopLevelMixin:
    """``chart`` faceted by ``facet`` (wrapped in ``columns``), with the named axis independent."""
    if facet is None:
        return chart
    faceted = chart.facet(facet=alt.Facet(f"{facet}:N", title=None, sort=_order(table, facet, sort)),
                          columns=columns)
    if independent is None:
        return faceted
    axis = value_axis if independent == "value" else ("y" if value_axis == "x" else "x")
    return faceted.resolve_scale(**{axis: "independent"})


def interval_chart(
    table: pd.DataFrame,
    category: str,
    *,
    estimate: str = "estimate",
    low: str = "low",
    high: str = "high",
    group: str | None = None,
    color: str | None = None,
    palette: Palette = "simulators",
    legend: bool = True,
    legend_title: str | None = None,
    marker: Literal["point", "black_point", "tick"] = "point",
    reference: float | None = None,
    vertical: bool = False,
    category_type: Literal["N", "O"] = "N",
    category_sort: Sort = None,
    group_sort: Sort = None,
    value_title: str = "",
    value_format: str | None = None,
    domain: tuple[float, float] | None = None,
    facet: str | None = None,
    facet_sort: Sort = None,
    columns: int = 2,
    tooltip: Sequence[Any] | None = None,
    width: float | alt.Step | None = None,
    height: float | alt.Step | None = None,
) -> alt.LayerChart | alt.FacetChart:
    """Each row of ``table`` as a rule from ``low`` to ``high`` and a mark at ``estimate``.

    ``table``: one row per interval, with columns ``category`` (one band per value, on the
    y axis, or the x axis when ``vertical``), ``estimate``, ``low``, ``high``, and optionally
    ``group`` (rows of one category side by side inside its band), ``color`` (colours the
    rules; default ``group``; may be ``category`` itself) and ``facet``. Rows whose values
    are missing draw nothing.

    ``marker``: "point", a point coloured like its rule; "black_point"; or "tick", one black
    tick per category across its band, at the mean of its rows' estimates (a point estimate
    shared by several intervals, e.g. a published ± and bootstrap intervals of one score).
    ``reference``: a black rule at this value (e.g. 0 for differences). ``domain``: the
    value axis's range (default: fitted, not from zero); ``value_format``: its d3 format
    (e.g. "%"). ``width``/``height``: the default gives each category a band of 12 px per
    group (at least 20) and the value axis 420 px (260 px when ``vertical``).
    """
    pos, offset_channel = (alt.X, alt.XOffset) if vertical else (alt.Y, alt.YOffset)
    val, val2 = ("y", "y2") if vertical else ("x", "x2")
    n_groups = max(1, table[group].nunique()) if group is not None and group in table else 1
    band = alt.Step(max(20, 12 * n_groups))
    axis_kwargs = {"labelAngle": 0} if vertical else {}
    encoding: dict[str, Any] = {
        ("x" if vertical else "y"): pos(f"{category}:{category_type}", sort=_order(table, category, category_sort),
                                        title=None, axis=alt.Axis(**axis_kwargs)),
    }
    if group is not None:
        encoding["xOffset" if vertical else "yOffset"] = offset_channel(
            f"{group}:N", sort=_order(table, group, group_sort))
    color = color if color is not None else group
    if color is not None:
        encoding["color"] = _colour(table, color, palette, legend=legend, title=legend_title,
                                    sort=group_sort if color == group else None)
    value_axis = whole_number_axis(table, (estimate, low, high), value_format)
    value = alt.X if not vertical else alt.Y
    size = {"width": width if width is not None else (band if vertical else 420),
            "height": height if height is not None else (260 if vertical else band)}
    title = axis_title(value_title, size["height" if vertical else "width"])
    rule = alt.Chart().mark_rule(strokeWidth=3 if marker != "point" else 2).encode(
        **encoding, **{val: value(f"{low}:Q", scale=_value_scale(domain), title=title, axis=value_axis),
                       val2: f"{high}:Q"})
    tips = list(tooltip) if tooltip is not None else [
        c for c in (category, group, estimate, low, high) if c is not None]
    if marker == "tick":
        shared = {k: v for k, v in encoding.items() if k in ("x", "y")}
        extent = size["width" if vertical else "height"]
        n_categories = max(1, len(_order(table, category, None)))
        across = extent.step if isinstance(extent, alt.Step) else extent / n_categories
        mark = alt.Chart().mark_tick(color="black", thickness=2, size=0.75 * across)
        mark = mark.encode(**shared, **{val: value(f"mean({estimate}):Q")})
    else:
        point_encoding = encoding if marker == "point" else {k: v for k, v in encoding.items() if k != "color"}
        mark = alt.Chart().mark_point(filled=True, size=50, **({"color": "black"} if marker != "point" else {}))
        mark = mark.encode(**point_encoding, **{val: f"{estimate}:Q"}, tooltip=tips)
    layers = [rule, mark]
    if reference is not None:
        layers.insert(0, alt.Chart().mark_rule(color="black").encode(**{val: alt.datum(reference)}))
    chart = alt.layer(*layers, data=table).properties(**size)
    return _facet(chart, table, facet, columns=columns, sort=facet_sort, independent=None, value_axis=val)


#: The columns :func:`quantile_boxes` draws (``behavior.feature_summary`` gives them).
QUANTILE_COLUMNS: tuple[str, ...] = ("q10", "q25", "q50", "q75", "q90", "mean")


def quantile_boxes(
    summary: pd.DataFrame,
    *,
    category: str = "label",
    facet: str | None = "feature",
    category_sort: Sort = None,
    facet_sort: Sort = None,
    palette: Palette = "simulators",
    columns: int = 4,
    width: float = 190,
) -> alt.LayerChart | alt.FacetChart:
    """Box-and-whisker per row of ``summary``: whiskers from the 10th to the 90th percentile,
    a box from the 25th to the 75th, a tick at the median and a dot at the mean (all in the
    row's colour, the box paler).

    ``summary``: one row per (``category``, ``facet``) with the columns
    :data:`QUANTILE_COLUMNS` (``q10``, ``q25``, ``q50``, ``q75``, ``q90``, ``mean``), e.g.
    ``behavior.feature_summary``. One row of 18 px per category, coloured by category;
    facets have independent value axes (features have different units).
    """
    order = _order(summary, category, category_sort)
    base = alt.Chart().encode(y=alt.Y(f"{category}:N", title=None, sort=order),
                              color=_colour(summary, category, palette, legend=True, title=None, sort=category_sort))
    boxes = alt.layer(
        base.mark_rule().encode(x=alt.X("q10:Q", title=None), x2="q90:Q"),
        base.mark_bar(size=10, opacity=0.5).encode(x="q25:Q", x2="q75:Q"),
        base.mark_tick(thickness=2, size=12).encode(x="q50:Q"),
        base.mark_point(filled=True, size=25).encode(x="mean:Q"),
        data=summary,
    ).properties(width=width, height=18 * max(1, len(order)))
    return _facet(boxes, summary, facet, columns=columns, sort=facet_sort, independent="value", value_axis="x")


def cumulative_curves(values: Mapping[str, pd.DataFrame], columns: Sequence[str], *,
                      n_points: int = 41) -> pd.DataFrame:
    """The empirical quantile function of each column of each table, for
    :func:`distribution_facets`: long, with columns ``label`` (the mapping's key),
    ``feature`` (the column), ``share`` (``n_points`` levels from 0 to 1) and ``value``
    (the quantile at that level; NaN when the column has a missing value)."""
    shares = np.linspace(0, 1, n_points)
    curves = [pd.DataFrame({"label": label, "feature": column, "share": shares,
                            "value": np.quantile(table[column], shares)})
              for label, table in values.items() for column in columns]
    if not curves:
        return pd.DataFrame(columns=["label", "feature", "share", "value"])
    return pd.concat(curves, ignore_index=True)


def distribution_facets(
    table: pd.DataFrame,
    *,
    kind: Literal["cumulative", "histogram"] = "cumulative",
    value: str = "value",
    share: str = "share",
    count: str = "count",
    color: str | None = "label",
    facet: str | None = "feature",
    palette: Palette = "simulators",
    legend_title: str | None = None,
    facet_sort: Sort = None,
    value_title: str | None = None,
    count_title: str = "count",
    bin_step: float = 1,
    columns: int = 4,
    width: float = 170,
    height: float = 120,
) -> alt.Chart | alt.FacetChart:
    """Distributions of ``value``, one panel per ``facet`` (independent value axes), one
    colour per ``color`` group.

    ``kind="cumulative"``: step lines of ``share`` (0-1, y) against ``value`` (x), e.g.
    :func:`cumulative_curves`. ``kind="histogram"``: bars of width ``bin_step`` stacked by
    colour, ``value`` binned and the ``count`` column summed (counts aggregated in pandas:
    one row per value and group). ``facet=None`` draws one panel.
    """
    colour = (_colour(table, color, palette, legend=True, title=legend_title)
              if color is not None else alt.Undefined)
    if kind == "cumulative":
        chart = alt.Chart(table).mark_line(interpolate="step-after").encode(
            x=alt.X(f"{value}:Q", title=axis_title(value_title, width if facet is not None else None)),
            y=alt.Y(f"{share}:Q", title="share of conversations"),
            color=colour)
    else:
        tips = [f"{color}:N"] if color is not None else []
        chart = alt.Chart(table).mark_bar().encode(
            x=alt.X(f"{value}:Q", bin=alt.Bin(step=bin_step), axis=alt.Axis(format="d"),
                    title=axis_title(value_title, width if facet is not None else None)),
            y=alt.Y(f"sum({count}):Q", title=count_title), color=colour,
            tooltip=[*tips, alt.Tooltip(f"sum({count}):Q", title=count_title)])
    if facet is None:
        return chart
    chart = chart.properties(width=width, height=height)
    return _facet(chart, table, facet, columns=columns, sort=facet_sort, independent="value", value_axis="x")


def bar_chart(
    table: pd.DataFrame,
    value: str,
    category: str,
    *,
    group: str | None = None,
    color: str | None = None,
    palette: Palette = "simulators",
    legend: bool = True,
    legend_title: str | None = None,
    vertical: bool = False,
    category_type: Literal["N", "O"] = "N",
    category_sort: Sort = None,
    category_title: str | None = None,
    value_title: str | None = None,
    value_format: str | None = None,
    domain: tuple[float, float] | None = None,
    facet: str | None = None,
    facet_sort: Sort = None,
    independent: Literal["value", "category"] | None = None,
    columns: int = 2,
    tooltip: Sequence[Any] | None = None,
    width: float | alt.Step | None = None,
    height: float | alt.Step | None = None,
) -> alt.Chart | alt.FacetChart:
    """One bar per row of ``table``: ``value`` (quantitative) per ``category`` (a band on
    the y axis, the x axis when ``vertical``), ``group`` side by side inside the band,
    coloured by ``color`` (default ``group``), faceted by ``facet`` with ``independent``
    axes ("value" or "category") if asked. ``category_sort``: see :data:`Sort` (e.g. the
    name of a rank column). ``domain``: the value axis's range (default: from zero);
    ``value_format``: its d3 format. Default size: 18 px per category band (12 px per
    group) and 200 px of value axis (260 px when ``vertical``). Default tooltip: the named
    columns and ``value``.
    """
    pos, val = (alt.X, alt.Y) if vertical else (alt.Y, alt.X)
    n_groups = max(1, table[group].nunique()) if group is not None and group in table else 1
    band = alt.Step(max(18, 12 * n_groups))
    category_axis = alt.Axis(labelAngle=0) if vertical else alt.Axis(labelLimit=400)
    size = {"width": width if width is not None else (band if vertical else 200),
            "height": height if height is not None else (260 if vertical else band)}
    title = axis_title(value_title, size["height" if vertical else "width"])
    encoding: dict[str, Any] = {
        ("x" if vertical else "y"): pos(f"{category}:{category_type}", sort=_order(table, category, category_sort),
                                        title=category_title, axis=category_axis),
        ("y" if vertical else "x"): val(f"{value}:Q", title=title,
                                        scale=alt.Scale(domain=list(domain)) if domain is not None else alt.Scale(),
                                        axis=whole_number_axis(table, (value,), value_format)),
    }
    if group is not None:
        offset = alt.XOffset if vertical else alt.YOffset
        encoding["xOffset" if vertical else "yOffset"] = offset(f"{group}:N", sort=_order(table, group, None))
    color = color if color is not None else group
    if color is not None:
        encoding["color"] = _colour(table, color, palette, legend=legend, title=legend_title)
    encoding["tooltip"] = list(tooltip) if tooltip is not None else [
        f"{c}:N" for c in dict.fromkeys(c for c in (facet, category, group, color) if c is not None)] + [f"{value}:Q"]
    chart = alt.Chart(table).mark_bar().encode(**encoding).properties(**size)
    return _facet(chart, table, facet, columns=columns, sort=facet_sort, independent=independent,
                  value_axis="y" if vertical else "x")


def dot_chart(
    table: pd.DataFrame,
    value: str,
    category: str,
    *,
    color: str | None = None,
    shape: str | None = None,
    palette: Palette = "theme",
    legend_title: str | None = None,
    shape_title: str | None = None,
    category_sort: Sort = None,
    value_title: str | None = None,
    domain: tuple[float, float] | None = None,
    width: float = 360,
    height: float | None = None,
) -> alt.Chart:
    """One filled point per row of ``table``: ``value`` (x) per ``category`` (y, in
    ``category_sort`` order, default first appearance), coloured by ``color`` and shaped by
    ``shape`` (columns, optional). Default height: 16 px per row."""
    encoding: dict[str, Any] = {
        "x": alt.X(f"{value}:Q", title=value_title, scale=_value_scale(domain)),
        "y": alt.Y(f"{category}:N", sort=_order(table, category, category_sort), title=None),
    }
    if color is not None:
        encoding["color"] = _colour(table, color, palette, legend=True, title=legend_title)
    if shape is not None:
        encoding["shape"] = alt.Shape(f"{shape}:N", title=shape_title)
    return alt.Chart(table).mark_point(filled=True, size=70).encode(**encoding).properties(
        width=width, height=height if height is not None else 16 * max(1, len(table)))


def line_chart(
    table: pd.DataFrame,
    x: str,
    y: str,
    *,
    color: str | None = None,
    palette: Palette = "theme",
    legend_title: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    width: float = 360,
    height: float = 220,
) -> alt.Chart:
    """A line with a point per row of ``table``: ``y`` against ``x`` (both quantitative),
    one line per value of ``color`` (a column, optional)."""
    encoding: dict[str, Any] = {
        "x": alt.X(f"{x}:Q", title=x_title),
        "y": alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=True)),
        "tooltip": [f"{c}" for c in (x, y, color) if c is not None],
    }
    if color is not None:
        encoding["color"] = _colour(table, color, palette, legend=True, title=legend_title)
    return alt.Chart(table).mark_line(point=True).encode(**encoding).properties(width=width, height=height)


def labelled_points(
    table: pd.DataFrame,
    x: str,
    y: str,
    label: str,
    *,
    color: str | None = None,
    palette: Palette = "theme",
    legend_title: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    tooltip: Sequence[Any] | None = None,
    width: float = 420,
    height: float = 260,
) -> alt.LayerChart:
    """A filled point per row of ``table`` (``x`` and ``y`` quantitative, neither axis from
    zero), named by its ``label`` column beside it and coloured by ``color`` (optional).

    Each name is written towards the middle of the plot: right of its point in the left half,
    left of it in the right half, so that no name runs past the plot into the legend."""
    scales = {"scale": alt.Scale(zero=False, padding=20)}
    position = {"x": alt.X(f"{x}:Q", title=x_title, **scales), "y": alt.Y(f"{y}:Q", title=y_title, **scales)}
    encoding: dict[str, Any] = dict(position)
    if color is not None:
        encoding["color"] = _colour(table, color, palette, legend=True, title=legend_title)
    encoding["tooltip"] = list(tooltip) if tooltip is not None else [label, x, y]
    points = alt.Chart(table).mark_point(filled=True, size=80).encode(**encoding)
    values = pd.to_numeric(table[x], errors="coerce")
    in_right_half = values > (values.min() + values.max()) / 2
    names = [alt.Chart(part).mark_text(align=align, dx=dx).encode(**position, text=f"{label}:N")
             for part, align, dx in ((table[~in_right_half], "left", 8), (table[in_right_half], "right", -8))
             if not part.empty]
    return alt.layer(points, *names).properties(width=width, height=height)
