"""The one figure helper: an altair theme, a fixed colour per simulator, and
PNG/SVG export through vl-convert (no browser, works offline).

Importing this module registers and enables the ``usersim`` theme.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import altair as alt

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


@alt.theme.register("usersim", enable=True)
def _theme() -> alt.theme.ThemeConfig:
    return alt.theme.ThemeConfig(
        {
            "config": {
                "font": FONT,
                "view": {"continuousWidth": 420, "continuousHeight": 260, "stroke": None},
                "axis": {"labelFontSize": 11, "titleFontSize": 12, "grid": True, "gridOpacity": 0.4},
                "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 260},
                "title": {"fontSize": 14, "anchor": "start", "subtitleFontSize": 11,
                          "subtitleColor": "#555555"},
                "range": {"category": list(PALETTE)},
            }
        }
    )


# Tables are aggregated in pandas before charting; the row cap only gets in the way.
alt.data_transformers.disable_max_rows()


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


def save(
    chart: alt.TopLevelMixin,
    name: str,
    *,
    synthetic: bool,
    caption: str,
    title: str | None = None,
    folder: Path | None = None,
) -> alt.TopLevelMixin:
    """Caption ``chart`` (marking synthetic data), write ``<name>.png`` and
    ``<name>.svg`` to ``reports/figures/`` and return the captioned chart."""
    lines = caption_text(caption, synthetic=synthetic).split("\n")
    if title:
        heading = alt.TitleParams(text=title, subtitle=lines)
    else:  # Vega draws no subtitle under an empty title: the caption becomes the title
        heading = alt.TitleParams(text=lines, fontSize=12, fontWeight="normal")
    chart = chart.properties(title=heading)
    folder = folder or paths.FIGURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    chart.save(str(folder / f"{name}.png"), scale_factor=2)
    chart.save(str(folder / f"{name}.svg"))
    return chart
