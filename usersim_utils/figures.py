"""The one figure helper every notebook calls: an altair theme, a fixed colour per simulator,
captions, and PNG/SVG export through vl-convert (no browser, offline). The charts themselves
are built by :mod:`usersim_utils.charts`.

Importing this module changes nothing in altair: a notebook calls :func:`use_theme` once in
its import cell (the theme, and :func:`lab_mimebundle` as the renderer: charts that JupyterLab
draws offline); :func:`save` applies the theme to the chart it writes and returns either way,
and writes a :func:`placeholder` instead of a chart with nothing to draw (:func:`empty_reason`).
"""

from __future__ import annotations

import hashlib
import textwrap
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import vl_convert
from altair.utils import update_nested

from . import paths

HUMAN_COLOR = "#000000"
SYNTHETIC_PREFIX = "SYNTHETIC DEMO DATA - "
#: Colour-blind-safe categorical palette (Tableau 10 + darker variants); "human" is black.
PALETTE: tuple[str, ...] = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#bab0ac", "#2b5c8a", "#c4620f", "#a23436", "#3f8a84",
    "#356e2c", "#b39412", "#7d4b6f", "#d16873", "#6b4c3a", "#7f7874",
)
FONT = "DejaVu Sans"
THEME_NAME = "usersim"
RENDERER_NAME = "usersim-lab"
#: The Vega spec type that JupyterLab draws with the Vega it bundles (no network) and counts as
#: safe, so that it draws in a notebook nobody trusted (an executed notebook as opened).
LAB_VEGA_MIME = "application/vnd.vega.v5+json"
#: The chart's Vega-Lite spec as altair wrote it, for docs/build_site.py; JupyterLab has no
#: renderer for Vega-Lite 6 and ignores it (it would fetch Vega 6 from a CDN through HTML).
VEGALITE_MIME = f"application/vnd.vegalite.v{alt.SCHEMA_VERSION.lstrip('v').split('.')[0]}+json"
#: vega-embed options of the lab's charts: SVG (crisp, and its text can be selected), and the
#: export menu only ("Open in Vega Editor" would send the data to another host).
LAB_EMBED_OPTIONS: dict[str, Any] = {
    "renderer": "svg", "actions": {"export": True, "source": False, "compiled": False, "editor": False},
}


def theme() -> alt.theme.ThemeConfig:
    """The ``usersim`` theme: font, default view size, axis and legend sizes, and
    :data:`PALETTE` as the categorical range."""
    return alt.theme.ThemeConfig(
        {
            "config": {
                "font": FONT,
                "view": {"continuousWidth": 420, "continuousHeight": 260, "stroke": None},
                # labelSeparation: tick labels closer than 4 px count as overlapping, so Vega
                # hides every other one instead of printing "0.00.2" (the flush end labels touch).
                "axis": {"labelFontSize": 11, "titleFontSize": 12, "grid": True, "gridOpacity": 0.4,
                         "labelSeparation": 4},
                "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 260},
                "title": {"fontSize": 14, "anchor": "start", "subtitleFontSize": 11,
                          "subtitleColor": "#555555"},
                "range": {"category": list(PALETTE)},
            }
        }
    )


def lab_mimebundle(spec: dict[str, Any], **metadata: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """An altair renderer: ``spec`` (Vega-Lite, as altair hands it over) compiled to Vega by
    vl-convert with altair's own Vega-Lite version, under :data:`LAB_VEGA_MIME`, beside the
    Vega-Lite spec itself under :data:`VEGALITE_MIME`; no HTML (JupyterLab would prefer it).

    JupyterLab draws it with its bundled Vega, interactive (tooltips), with no network and no
    trust needed; compiling costs about 15 ms a chart, against about 235 ms for a static SVG
    (which JupyterLab leaves blank in an untrusted notebook). ``metadata`` (options given to
    ``alt.renderers.enable``) updates :data:`LAB_EMBED_OPTIONS`."""
    vega = vl_convert.vegalite_to_vega(spec, vl_version=alt.SCHEMA_VERSION.rsplit(".", 1)[0])
    options = {**LAB_EMBED_OPTIONS, **metadata}
    return {LAB_VEGA_MIME: vega, VEGALITE_MIME: spec}, {LAB_VEGA_MIME: {"embed_options": options}}


def use_theme() -> None:
    """Enable the ``usersim`` theme and the :func:`lab_mimebundle` renderer for every chart
    drawn from now on (inline ones too), and lift altair's 5,000-row cap (tables are
    aggregated in pandas before charting; the cap only gets in the way). Call it once, in a
    notebook's import cell."""
    alt.theme.register(THEME_NAME, enable=True)(theme)
    alt.renderers.register(RENDERER_NAME, lab_mimebundle)
    alt.renderers.enable(RENDERER_NAME)
    alt.data_transformers.disable_max_rows()


def with_theme(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """A copy of ``chart`` carrying the ``usersim`` theme in its own ``config`` (settings the
    chart already has win), so that it looks the same whether or not the theme is enabled."""
    own = chart.config.to_dict() if chart.config is not alt.Undefined else {}
    themed = chart.copy(deep=False)
    themed.config = alt.Config.from_dict(update_nested(dict(theme()["config"]), own, copy=True))
    return themed


#: Labels that appear together in the shipped notebooks get distinct colours by hand;
#: any other label gets a colour from a hash of its name.
KNOWN_COLORS: dict[str, str] = {
    "human": HUMAN_COLOR,
    "SYNTHETIC-humanlike": PALETTE[0],
    "SYNTHETIC-terse": PALETTE[1],
    "SYNTHETIC-agentlike": PALETTE[4],
    "SYNTHETIC-eager": PALETTE[6],
    "local-smollm2-135m": PALETTE[2],  # the embedded model of notebook 02
}


def color_of(label: str) -> str:
    """The fixed colour of a simulator label (the same in every figure and every run)."""
    if label in KNOWN_COLORS:
        return KNOWN_COLORS[label]
    digest = hashlib.sha256(label.encode()).digest()
    return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]


def color_scale(labels: Iterable[str]) -> alt.Scale:
    """An altair colour scale mapping each label to :func:`color_of`."""
    domain = list(dict.fromkeys(labels))
    return alt.Scale(domain=domain, range=[color_of(x) for x in domain])


def caption_text(caption: str, *, synthetic: bool) -> str:
    """The caption, prefixed ``SYNTHETIC DEMO DATA - `` when the data is synthetic."""
    return f"{SYNTHETIC_PREFIX}{caption}" if synthetic else caption


#: Characters per line of a placeholder's text.
PLACEHOLDER_WIDTH = 70
#: Characters per line of a caption (about 650 px at the subtitle's 11 px): a one-line caption
#: wider than its chart would make the figure wider than the page's column.
CAPTION_WIDTH = 110


def caption_lines(caption: str) -> list[str]:
    """The caption's lines, each wrapped at :data:`CAPTION_WIDTH` characters."""
    return [wrapped for line in caption.split("\n") for wrapped in (textwrap.wrap(line, CAPTION_WIDTH) or [""])]


def placeholder(title: str, reason: str) -> alt.Chart:
    """A labelled empty figure: ``title`` over the words "Nothing to draw" and ``reason``
    (what is undefined and what to do), wrapped. Saved in place of a chart without data."""
    lines = ["Nothing to draw.", *textwrap.wrap(reason, PLACEHOLDER_WIDTH)]
    table = pd.DataFrame({"line": range(len(lines)), "text": lines})
    return alt.Chart(table, title=title).mark_text(align="left", baseline="middle", fontSize=13, x=10).encode(
        y=alt.Y("line:O", axis=None), text="text:N",
    ).properties(width=PLACEHOLDER_WIDTH * 7, height=22 * len(lines))


#: Channels whose quantitative field a mark needs to be drawn at all.
_POSITION_CHANNELS = ("x", "y", "theta", "radius")
#: Keys under which a Vega-Lite view holds further views.
_SUBVIEWS = ("layer", "hconcat", "vconcat", "concat", "spec")


def _drawable_fields(encoding: Any) -> list[str]:
    """The quantitative fields of a view's position channels (not aggregated)."""
    if not isinstance(encoding, dict):
        return []
    channels = (encoding.get(c) for c in _POSITION_CHANNELS)
    return [c["field"] for c in channels
            if isinstance(c, dict) and c.get("type") == "quantitative" and "field" in c and not c.get("aggregate")]


def empty_reason(spec: dict[str, Any]) -> str | None:
    """Why a Vega-Lite spec (``chart.to_dict()``) has nothing to draw, or None.

    A view whose data has no rows, or no row with a value (not null) in every
    quantitative position field of its marks: rendering it gives at best an empty
    frame, and at worst fails ("SVG has an invalid size") when a legend has no entry.
    Views under a ``transform`` are not judged (their rows are computed)."""
    datasets = spec.get("datasets") or {}

    def walk(view: dict[str, Any], rows: list | None, transformed: bool) -> str | None:
        source = view.get("data")
        if isinstance(source, dict):
            rows = datasets.get(source.get("name")) if "name" in source else source.get("values")
        if isinstance(rows, list) and not rows:
            return "a dataset without rows"
        transformed = transformed or bool(view.get("transform"))
        fields = _drawable_fields(view.get("encoding"))
        if fields and isinstance(rows, list) and not transformed and not any(
                isinstance(row, dict) and all(row.get(f) is not None for f in fields) for row in rows):
            return f"no row with a value of {', '.join(fields)}"
        for key in _SUBVIEWS:
            children = view.get(key)
            for child in children if isinstance(children, list) else [children]:
                why = walk(child, rows, transformed) if isinstance(child, dict) else None
                if why is not None:
                    return why
        return None

    return walk(spec, None, False)


def save(
    chart: alt.TopLevelMixin,
    name: str,
    *,
    synthetic: bool,
    caption: str,
    title: str | None = None,
    folder: Path | None = None,
    if_empty: str = "",
) -> alt.TopLevelMixin:
    """Caption ``chart`` (marking synthetic data), write ``<name>.png`` and
    ``<name>.svg`` to ``reports/figures/`` and return the captioned chart.

    A chart with nothing to draw (:func:`empty_reason`, checked before rendering, which
    may fail on it) is replaced by a :func:`placeholder` that says ``if_empty`` (the
    notebook's one line on what is undefined and what to do). The chart written and
    returned carries the theme (:func:`with_theme`), whether or not :func:`use_theme` ran."""
    with warnings.catch_warnings(), alt.data_transformers.disable_max_rows():
        warnings.simplefilter("ignore", UserWarning)  # altair cannot infer a type from an empty column
        empty = empty_reason(chart.to_dict(validate=False))
    if empty is not None:
        chart = placeholder(title or name, if_empty or f"The chart has {empty}.")
    lines = caption_lines(caption_text(caption, synthetic=synthetic))
    if title:
        heading = alt.TitleParams(text=title, subtitle=lines)
    else:  # Vega draws no subtitle under an empty title: the caption becomes the title
        heading = alt.TitleParams(text=lines, fontSize=12, fontWeight="normal")
    chart = with_theme(chart.properties(title=heading))
    folder = folder or paths.FIGURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with alt.data_transformers.disable_max_rows():
        chart.save(str(folder / f"{name}.png"), scale_factor=2)
        chart.save(str(folder / f"{name}.svg"))
    return chart
