"""Sphinx configuration of the report site (``make site``; see docs/build_site.py).

Why Sphinx + myst-nb + the PyData theme: it is the stack of pymc-examples, the reference
notebook collection of the scientific Python ecosystem; myst-nb renders executed notebooks
as they are (``nb_execution_mode = "off"``: the site shows what ``make run`` computed, it
never re-executes), reads Markdown pages such as docs/method.md directly, and the PyData
theme ships its fonts and icons inside the package. The whole build is a plain Python
install that works offline. Jupyter Book 2 (mystmd) was the alternative: it is a Node
application whose site theme is downloaded when the site is built, which an offline build
cannot do, and Jupyter Book 1 is a thin layer over this same stack.

This file is copied into the staging folder that docs/build_site.py prepares; it reads the
facts of the build (synthetic data or not, the banner) from ``site.json`` beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

_SITE = json.loads((Path(__file__).parent / "site.json").read_text(encoding="utf-8"))

project = "User-Sim Index: how human-like is your user simulator?"
author = "usersim_utils contributors"
copyright = "the usersim_utils contributors (code: MIT; study data: CC-BY-NC-4.0, see the data page)"

extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3  # GitHub-style anchors for "docs/method.md §N" headings
nb_execution_mode = "off"  # render the notebooks that `make run` executed, never re-run them
nb_output_stderr = "remove"  # kernel warnings are for the terminal, not for readers
exclude_patterns = ["_build", "**.ipynb_checkpoints", "site.json"]
suppress_warnings = ["myst.header"]  # notebook outputs may start at any heading level

html_theme = "pydata_sphinx_theme"
html_title = "User-Sim Index"
html_static_path = ["_static"]
html_css_files = ["site.css"]
# Vega, Vega-Lite and vega-embed from the npm packages pinned in docs/js (no CDN).
html_js_files = ["npm/vega.min.js", "npm/vega-lite.min.js", "npm/vega-embed.min.js", "charts.js"]
mathjax_path = "npm/mathjax/tex-svg-full.js"  # relative to _static: MathJax from docs/js too
html_copy_source = False  # the notebooks' sources stay out of the site
html_show_sourcelink = False
html_last_updated_fmt = None
html_sidebars = {"**": []}  # no left sidebar: the navigation bar lists every page, charts get the width
html_theme_options = {
    "announcement": _SITE["banner_html"],  # shown on every page; empty for the real study
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 9,
    "icon_links": [],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_context = {"default_mode": "light"}
