"""Build the report site from the executed notebooks: ``make site`` runs

    python docs/build_site.py [--reports reports] [--out reports/site] [--js docs/js/node_modules]

It reads only what ``make run`` wrote under ``reports/`` (executed notebooks, figures,
provenance JSON), stages a Sphinx source folder (``reports/.site-src``) and builds it with
Sphinx + myst-nb (docs/conf.py says why) into ``reports/site``. The site works offline:

* every altair chart of the executed notebooks (its Vega-Lite spec, which
  ``usersim_utils.figures`` puts beside the Vega that JupyterLab draws; older runs' HTML,
  which loads Vega from a CDN, is read too) is replaced by a ``<div>`` that
  docs/_static/charts.js draws with vega-embed; Vega, Vega-Lite, vega-embed and MathJax are
  copied from the npm packages pinned in docs/js;
* when any notebook ran on the SYNTHETIC demo panel, every page carries a banner.

Whether a study is the demo panel is proven by the generator's stamp
(:func:`usersim_utils.demo.is_demo_data`), checked again here for every folder the
provenance names: a folder's name, or a provenance flag, never lets the site quote a study.

A failed run is never published: an executed notebook that failed (papermill's mark, or an
error output) or that is older than one before it in the chain (it finished before an earlier
notebook started, so it cannot have read what that one wrote: a newer run stopped half-way)
stops the build with one line naming it; ``--allow-stale`` lets an older one through.

Gated data: built from the real study, the site must hold aggregates only. Every output
that quotes the study (the first characters of any message or free-text survey answer) is
withheld and named on stderr, and the finished site is searched again: a quote left
anywhere fails the build. Bad input ends with one ``error:`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat

from usersim_utils import demo, paths, survey
from usersim_utils import usi as usi_mod

DOCS = Path(__file__).resolve().parent
REPO_ROOT = DOCS.parent
#: Files taken from the npm packages of docs/js/package.json: (package file, site path).
VENDOR_FILES: tuple[tuple[str, str], ...] = (
    ("vega/build/vega.min.js", "npm/vega.min.js"),
    ("vega-lite/build/vega-lite.min.js", "npm/vega-lite.min.js"),
    ("vega-embed/build/vega-embed.min.js", "npm/vega-embed.min.js"),
    ("mathjax/es5/tex-svg-full.js", "npm/mathjax/tex-svg-full.js"),
)
#: Pages copied from docs/ as they are.
STATIC_PAGES: tuple[str, ...] = ("method.md", "teaching.md")
#: Figures shown on the landing page, in this order, when the notebooks wrote them.
HEADLINE_FIGURES: tuple[str, ...] = ("04_usi_breakdown", "06_usi_forest", "06_rank_uncertainty")
LEADERBOARD_NOTEBOOK = "04_derive_user_sim_index"
#: A quote of the study is this many characters of a message or free-text answer (white
#: space collapsed); shorter texts ("yes please") are too common to tell anything.
QUOTE_CHARS = 40
_QUOTE_KEY_CHARS = 12
#: Study texts that are not the participants' own: the platform's greeting.
_NOT_A_QUOTE = ("Hi! How can I help you today?",)
_CHART_SCRIPT = re.compile(r"\}\)\(\s*(?=\{)")
_VEGA_MIME = re.compile(r"^application/vnd\.vega(?:lite)?\.v\d+\+json$")
_SPACE = re.compile(r"\s+")
SYNTHETIC_BANNER = (
    "SYNTHETIC DEMO DATA: every number and chart on this site comes from the generated demo "
    "panel, not from the human study. It shows that the method runs end to end; it says "
    "nothing about real users or real simulators."
)


class SiteError(Exception):
    """A problem that stops the build; its message is one line."""


# --------------------------------------------------------------------------- reading
def executed_notebooks(reports: Path) -> list[Path]:
    """The executed notebooks ``reports/notebooks/NN_*.ipynb``, in order."""
    found = sorted((reports / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise SiteError(f"{reports / 'notebooks'}: no executed notebooks; run `make run` first")
    return found


#: Tag of a cell whose error is expected (nbval and papermill run on past it).
RAISES_TAG = "raises-exception"


def failure(nb: nbformat.NotebookNode) -> str | None:
    """Why an executed notebook did not run to its end ("cell N: Error: message"), or None.

    Papermill marks a failed run in the notebook's metadata and stops at the failing cell;
    any error output of a cell not tagged :data:`RAISES_TAG` counts too, and so does a
    notebook none of whose code cells ran."""
    code = [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    for index, cell in code:
        if RAISES_TAG in cell.get("metadata", {}).get("tags", ()):
            continue
        for output in cell.get("outputs", ()):
            if output.get("output_type") == "error":
                name = output.get("ename") or "error"
                first_line = (str(output.get("evalue", "")).strip().splitlines() or [""])[0][:160]
                return f"cell {index}: {name}: {first_line}" if first_line else f"cell {index}: {name}"
    if (nb.metadata.get("papermill") or {}).get("exception"):
        return "papermill recorded an exception"
    if code and all(cell.get("execution_count") is None for _, cell in code):
        return "no code cell was executed"
    return None


@dataclass(frozen=True)
class RunTimes:
    """When an executed notebook ran: papermill's start and end times, else the file's mtime."""

    start: datetime
    end: datetime


def run_times(nb: nbformat.NotebookNode, path: Path) -> RunTimes:
    """The :class:`RunTimes` of the notebook read from ``path``."""
    recorded = nb.metadata.get("papermill") or {}
    try:
        start, end = (datetime.fromisoformat(recorded[key]) for key in ("start_time", "end_time"))
    except (KeyError, TypeError, ValueError):
        mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        return RunTimes(mtime, mtime)
    return RunTimes(*(t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end)))  # comparable with mtimes


def check_publishable(executed: Sequence[tuple[Path, nbformat.NotebookNode]], *, allow_stale: bool) -> None:
    """Raise :class:`SiteError` (one line naming the notebook) for the first executed notebook,
    in chain order, that failed (:func:`failure`) or, unless ``allow_stale``, that ended before
    a notebook earlier in the chain started: it comes from an older run. Notebooks that ran
    side by side (overlapping times) are not stale."""
    latest_start: tuple[datetime, Path] | None = None
    for path, nb in executed:
        why = failure(nb)
        if why is not None:
            raise SiteError(f"{path}: the run failed ({why}); a failed run is never published: "
                            "fix it and run `make run` again")
        times = run_times(nb, path)
        if not allow_stale and latest_start is not None and times.end < latest_start[0]:
            raise SiteError(f"{path}: older than {latest_start[1].name}, which comes before it (it ended "
                            f"{times.end:%Y-%m-%d %H:%M:%S}, {latest_start[1].name} started "
                            f"{latest_start[0]:%Y-%m-%d %H:%M:%S}); run `make run` again, or pass --allow-stale")
        if latest_start is None or times.start > latest_start[0]:
            latest_start = (times.start, path)


def read_provenance(reports: Path) -> dict[str, dict[str, Any]]:
    """``{notebook name: provenance JSON}`` of ``reports/provenance/*.json``."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((reports / "provenance").glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise SiteError(f"{path}: not readable JSON ({err})") from None
    return out


def data_states(provenance: Mapping[str, Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The ``data`` blocks (study root, synthetic flag, file digests) of the notebooks that read the study."""
    return [p["data"] for p in provenance.values() if isinstance(p.get("data"), Mapping)]


def _read_roots(provenance: Mapping[str, Mapping[str, Any]]) -> list[Path]:
    """The study folders the notebooks read, as their provenance records them."""
    states = data_states(provenance)
    if not states:
        raise SiteError("reports/provenance: no notebook recorded which data it read; run `make run` first")
    return sorted({Path(str(state.get("root"))) for state in states})


def real_roots(provenance: Mapping[str, Mapping[str, Any]]) -> list[Path]:
    """The study folders read that are not proven demo data now (:func:`usersim_utils.demo.is_demo_data`):
    a provenance file's ``synthetic`` flag alone never lets the site quote a study."""
    return [root for root in _read_roots(provenance) if not demo.is_demo_data(root)]


def is_synthetic(provenance: Mapping[str, Mapping[str, Any]]) -> bool:
    """True when any notebook ran on the SYNTHETIC demo panel, proven by its stamp (the banner then
    goes on every page)."""
    states = data_states(provenance)
    proven = set(_read_roots(provenance)) - set(real_roots(provenance))
    return any(bool(s.get("synthetic")) and Path(str(s.get("root"))) in proven for s in states)


# --------------------------------------------------------------------------- charts
def chart_spec_from_html(text: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(spec, embed options)`` of an altair HTML output, or None for any other HTML.

    Altair's HTML renderer ends with ``})(SPEC, EMBED_OPTIONS);`` inside a script that loads
    Vega from a CDN; only the two JSON values are kept.
    """
    if "vega-embed" not in text and "vegaEmbed" not in text:
        return None
    decoder = json.JSONDecoder()
    for match in reversed(list(_CHART_SCRIPT.finditer(text))):
        try:
            spec, end = decoder.raw_decode(text, match.end())
            rest = text[end:].lstrip()
            options = decoder.raw_decode(rest[1:].lstrip())[0] if rest.startswith(",") else {}
        except json.JSONDecodeError:
            continue
        if isinstance(spec, dict) and isinstance(options, dict):
            return spec, options
    return None


def chart_html(spec: Mapping[str, Any], chart_id: str) -> str:
    """The site's markup of one chart: an empty div and its spec as inert JSON."""
    payload = json.dumps(spec, ensure_ascii=False).replace("</", "<\\/")
    return (
        f'<div class="usersim-chart" data-spec="{chart_id}"></div>\n'
        f'<script type="application/json" id="{chart_id}">{payload}</script>\n'
    )


def output_chart_spec(output: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Vega(-Lite) spec shown by a notebook output, from a vega MIME bundle or altair HTML.
    A Vega-Lite spec wins over a Vega one in the same bundle (figures.lab_mimebundle gives
    both): it is the chart as written, and the smaller."""
    data = output.get("data") or {}
    specs = sorted((mime for mime, value in data.items() if _VEGA_MIME.match(mime) and isinstance(value, dict)),
                   key=lambda mime: "vegalite" not in mime)
    if specs:
        return data[specs[0]]
    text = data.get("text/html")
    if text is None:
        return None
    found = chart_spec_from_html("".join(text) if isinstance(text, list) else text)
    return found[0] if found else None


# --------------------------------------------------------------------------- gated data
def _normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _record_texts(record: Mapping[str, Any]) -> Iterator[str]:
    """Every message of a record's conversation, and every survey answer that is not one of
    the listed options (free text, or a simulator's invalid answer)."""
    for message in record.get("conversation") or ():
        if isinstance(message, Mapping) and isinstance(message.get("content"), str):
            yield message["content"]
    answers = record.get("survey")
    for item, entry in answers.items() if isinstance(answers, Mapping) else ():
        answer = entry.get("answer") if isinstance(entry, Mapping) else entry
        if isinstance(answer, str) and answer not in survey.SURVEY_OPTIONS.get(item, {}):
            yield answer


def study_quotes(root: Path) -> set[str]:
    """The first :data:`QUOTE_CHARS` characters (white space collapsed) of every message and
    every free-text answer of the study in ``root``: the human sessions, the simulators'
    rollouts and surveys. The site must never contain one of them."""
    files = [root / paths.HUMAN_FILE, *sorted((root / paths.EVAL_RESULTS_SUBDIR).glob("*.json")),
             *sorted((root / paths.SURVEY_SUBDIR).glob("*.json"))]
    quotes: set[str] = set()
    for path in files:
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise SiteError(f"{path}: cannot read the study to check the site for quotes ({err})") from None
        for record in records.values() if isinstance(records, Mapping) else ():
            if isinstance(record, Mapping):
                quotes.update(_normalise(text)[:QUOTE_CHARS] for text in _record_texts(record))
    return {q for q in quotes if len(q) == QUOTE_CHARS and not any(q in n or n in q for n in _NOT_A_QUOTE)}


def study_finder(provenance: Mapping[str, Mapping[str, Any]]) -> QuoteFinder | None:
    """A finder of quotes of every study the notebooks read that is not proven demo data;
    None when all of them are the SYNTHETIC demo panel."""
    roots = real_roots(provenance)
    return QuoteFinder(q for root in roots for q in study_quotes(root)) if roots else None


@dataclass
class QuoteFinder:
    """Finds any of a set of fixed-length quotes in a text in one pass (dictionary on a prefix)."""

    quotes: Iterable[str]
    _by_key: dict[str, list[str]] = field(init=False, default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for quote in self.quotes:
            self._by_key[quote[:_QUOTE_KEY_CHARS]].append(quote)

    def find(self, text: str) -> str | None:
        """The first quote found in ``text`` (white space collapsed, HTML entities decoded), or None."""
        if not self._by_key:
            return None
        for candidate in {_normalise(text), _normalise(html.unescape(text))}:
            for i in range(len(candidate) - _QUOTE_KEY_CHARS + 1):
                for quote in self._by_key.get(candidate[i:i + _QUOTE_KEY_CHARS], ()):
                    if candidate.startswith(quote, i):
                        return quote
        return None


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _output_text(output: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if "text" in output:
        parts.append("".join(output["text"]) if isinstance(output["text"], list) else str(output["text"]))
    for value in (output.get("data") or {}).values():
        if isinstance(value, (dict, list)) and not all(isinstance(v, str) for v in value):
            parts.append(json.dumps(value, ensure_ascii=False))
        else:
            parts.append("".join(value) if isinstance(value, list) else str(value))
    spec = output_chart_spec(output)
    if spec is not None:  # altair escapes non-ASCII text inside its HTML: read the spec's strings
        parts.extend(_strings(spec))
    parts.extend(str(output.get(k, "")) for k in ("ename", "evalue"))
    parts.extend(output.get("traceback") or ())
    return "\n".join(parts)


WITHHELD_NOTICE = (
    "**Output withheld from the site:** it quotes the human study (a conversation or a survey "
    "answer), which the site never shows. Run the notebook locally to see it."
)


# --------------------------------------------------------------------------- notebooks
@dataclass
class NotebookReport:
    """What preparing one notebook changed."""

    charts: int = 0
    withheld: list[str] = field(default_factory=list)  # "cell N" of each withheld output


def prepare_notebook(nb: nbformat.NotebookNode, stem: str, finder: QuoteFinder | None) -> NotebookReport:
    """Make an executed notebook fit for the site, in place: each chart becomes the site's
    chart markup; with ``finder`` (real data), each output quoting the study is withheld."""
    report = NotebookReport()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            if finder is not None and finder.find(_output_text(output)) is not None:
                report.withheld.append(f"cell {index}")
                outputs.append(nbformat.v4.new_output("display_data", {"text/markdown": WITHHELD_NOTICE}))
                continue
            spec = output_chart_spec(output)
            if spec is not None:
                report.charts += 1
                markup = chart_html(spec, f"chart-{stem}-{report.charts}")
                output = nbformat.v4.new_output("display_data", {"text/html": markup})
            outputs.append(output)
        cell["outputs"] = outputs
    return report


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first Markdown heading of a notebook, without its ``#`` marks."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


# --------------------------------------------------------------------------- pages
def _banner_admonition() -> str:
    """The SYNTHETIC warning as a red admonition (the theme's banner also tops every page)."""
    title, _, body = SYNTHETIC_BANNER.partition(": ")
    return f":::{{admonition}} {title}\n:class: danger\n{body[0].upper()}{body[1:]}\n:::\n\n"


def _cell(cell: Any, digits: int) -> str:
    if not isinstance(cell, Sequence) or len(cell) != 2 or cell[0] is None:
        return "–"
    return f"{cell[0]:.{digits}f} ± {cell[1]:.{digits}f}"


LEADERBOARD_METRICS: tuple[tuple[str, str, int], ...] = (
    ("usi", "USI", 1), ("D1_conv", "D1 style", 1), ("D2_info", "D2 info", 1),
    ("D3_clarif", "D3 clarif.", 1), ("D4_react", "D4 reaction", 1), ("eval_agree", "Eval", 1),
    ("ece", "ECE", 3),
)


#: Interval columns a notebook may record for USI, in order of preference: (low, high, kind).
INTERVAL_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("centred_low", "centred_high", "centred bootstrap"), ("low", "high", "bootstrap"),
)


def _interval_lookup(provenance: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, tuple[float, float]], str]:
    """``({simulator: (low, high)}, column title)`` of the USI bootstrap interval recorded by
    a notebook's provenance as ``usi_intervals`` rows (notebook 06); empty when none is."""
    for info in provenance.values():
        rows = [r for r in info.get("usi_intervals") or () if isinstance(r, Mapping) and "name" in r]
        for low, high, kind in INTERVAL_COLUMNS:
            found = {str(r["name"]): (float(r[low]), float(r[high])) for r in rows
                     if isinstance(r.get(low), (int, float)) and isinstance(r.get(high), (int, float))}
            if found:
                level = float((info.get("parameters") or {}).get("level", 0.95))
                return found, f"USI {level:.0%} interval ({kind})"
    return {}, ""


def _index_of(row: Mapping[str, Any]) -> str | None:
    """The row's index (``USI6``, ``USI5`` without a survey term, ``None`` without a USI)."""
    usi = row.get("usi")
    if not (isinstance(usi, Sequence) and len(usi) == 2 and isinstance(usi[0], (int, float))):
        return None
    return usi_mod.index_variant({"usi": usi, "eval_agree": row.get("eval_agree")})


def _rank_key(row: Mapping[str, Any]) -> tuple[int, int, float, str]:
    """Human ceiling first, then each index ranked on its own (six-term rows before five-term
    ones, which are not comparable with them), by USI, highest first; rows without USI last."""
    index = _index_of(row)
    group = 0 if row.get("name") == "human" else 1 + (index is None)
    order = usi_mod.INDEX_VARIANTS.index(index) if index else 0
    return group, order, -row["usi"][0] if index else 0.0, str(row.get("name"))


def leaderboard_markdown(provenance: Mapping[str, Mapping[str, Any]]) -> str:
    """The leaderboard recorded by notebook 04 as a Markdown table (mean ± std over human
    batches), with the bootstrap interval of USI when notebook 06 recorded one."""
    rows = (provenance.get(LEADERBOARD_NOTEBOOK) or {}).get("leaderboard")
    if not rows:
        return "*No leaderboard yet: notebook 04 has not recorded one (run `make run`).*\n"
    intervals, interval_title = _interval_lookup(provenance)
    # Rows of both indexes: each row says which, and a note says why they are ranked apart.
    mixed = len({_index_of(row) for row in rows} - {None}) > 1
    header = ["simulator", *(label for _, label, _ in LEADERBOARD_METRICS)]
    if intervals:
        header.insert(2, interval_title)
    if mixed:
        header.insert(1, "index")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in sorted(rows, key=_rank_key):
        cells = [str(row.get("name", "?")).replace("|", "/")]
        cells += [_cell(row.get(metric), digits) for metric, _, digits in LEADERBOARD_METRICS]
        if intervals:
            low_high = intervals.get(str(row.get("name")))
            cells.insert(2, f"[{low_high[0]:.1f}, {low_high[1]:.1f}]" if low_high else "–")
        if mixed:
            cells.insert(1, _index_of(row) or "–")
        lines.append("| " + " | ".join(cells) + " |")
    note = ("\nUSI5 rows average five terms (no survey, so no Eval) and are ranked apart from the "
            "six-term USI6 rows: the two indexes are not comparable.\n") if mixed else ""
    return "\n".join(lines) + "\n" + note


def _short_title(title: str) -> str:
    """A notebook's title up to its first colon, for the navigation bar."""
    return title.split(":", 1)[0].strip().replace("<", "").replace(">", "")


def headline_figures(folder: Path) -> list[str]:
    """The landing page's figures: :data:`HEADLINE_FIGURES` that exist, else notebook 04's."""
    preferred = [name for name in HEADLINE_FIGURES if (folder / f"{name}.svg").is_file()]
    return preferred or sorted(p.stem for p in folder.glob("04_*.svg"))


def landing_page(notebooks: Sequence[tuple[str, str]], provenance: Mapping[str, Mapping[str, Any]],
                 figures: Sequence[str], synthetic: bool) -> str:
    """``index.md``: what the study is, the leaderboard, the headline figures, the pages."""
    banner = _banner_admonition() if synthetic else ""
    figure_md = "".join(f"```{{image}} figures/{name}.svg\n:alt: {name}\n:width: 100%\n```\n\n" for name in figures)
    toc = "\n".join(["Method <method>", *(f"{_short_title(title)} <notebooks/{stem}>" for stem, title in notebooks),
                     "Data and provenance <provenance>", "Teaching <teaching>"])
    listing = "\n".join(f"{i}. [{title}](notebooks/{stem})" for i, (stem, title) in enumerate(notebooks, 1))
    return f"""# How human-like is your user simulator?

{banner}LLM *user simulators* stand in for people when a tool-using agent is tested over many turns. The
study *Mind the Sim2Real Gap in User Simulation for Agentic Tasks* (Zhou et al., 2026) had 451
people and 31 LLM simulators play the same 165 tau-bench tasks (airline and retail) against the
same agent, and scored each simulator with the **User-Sim Index** (USI, 0-100): how closely its
writing, its task outcomes and its answers to a post-conversation survey match those of people.
People agree with each other at 92.9; the best simulator reaches 76.0. This site shows the
notebooks of this repository, executed, and what they found.

## Leaderboard

Each cell is the mean ± standard deviation over the three human batches (for the human row,
over the three pairs of batches). ECE is lower-is-better; every other term is 0-100,
higher-is-better. [The method](method.md) defines every term.

:::{{container}} usersim-leaderboard
{leaderboard_markdown(provenance)}:::

## Headline figures

{figure_md or '*No figure yet: run `make run`.*'}
## The notebooks

{listing}

The [data and provenance](provenance.md) page says which code, data and parameters produced
every number here; the [teaching](teaching.md) page is for classes.

```{{toctree}}
:hidden:
:maxdepth: 1

{toc}
```
"""


def _parameters_md(parameters: Mapping[str, Any]) -> str:
    if not parameters:
        return "(none)"
    return ", ".join(f"`{k}` = `{json.dumps(v)}`" for k, v in parameters.items())


def provenance_page(provenance: Mapping[str, Mapping[str, Any]], synthetic: bool) -> str:
    """``provenance.md``: commit, package versions, parameters and data digests of every notebook."""
    lines = ["# Data and provenance", ""]
    if synthetic:
        lines += [_banner_admonition()]
    else:
        lines += [
            "The human data is the gated dataset `cmu-lti/tau-usi` (CC-BY-NC-4.0 with extra terms: "
            "research and evaluation only, no training of language models, no re-identification, "
            "cite the paper). This site holds aggregates of it only, never a conversation or a "
            "survey answer.", "",
        ]
    lines += ["## The notebooks' runs", "",
              "| notebook | created (UTC) | commit | Python | parameters |", "|---|---|---|---|---|"]
    for name, info in provenance.items():
        git = info.get("git") or {}
        commit = (git.get("commit") or "not in git")[:12] + (" (uncommitted changes)" if git.get("dirty") else "")
        lines.append(f"| {name} | {info.get('created_utc', '?')} | `{commit}` | {info.get('python', '?')} | "
                     f"{_parameters_md(info.get('parameters') or {})} |")
    packages: dict[str, str] = {}
    for info in provenance.values():
        for package, version in (info.get("packages") or {}).items():
            packages.setdefault(package, str(version))
    if packages:
        lines += ["", "## Package versions", "", "| package | version |", "|---|---|"]
        lines += [f"| {p} | {v} |" for p, v in sorted(packages.items())]
    digests: dict[str, str] = {}
    for state in data_states(provenance):
        for file, digest in (state.get("files") or {}).items():
            digests.setdefault(file, digest)
    lines += ["", "## Data files (SHA-256)", ""]
    if digests:
        lines += ["| file | sha256 |", "|---|---|"] + [f"| `{f}` | `{d}` |" for f, d in sorted(digests.items())]
    else:
        lines.append("No notebook recorded data digests.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the build
def _site_files(site: Path) -> Iterator[Path]:
    """Every file of the site except ``_static`` (theme and vendored code, never data)."""
    for path in site.rglob("*"):
        if path.is_file() and path.relative_to(site).parts[0] != "_static":
            yield path


def find_quotes_in_site(site: Path, finder: QuoteFinder) -> list[str]:
    """``["<file>: <quote>"]`` for every file of the built site that quotes the study."""
    found = []
    for path in _site_files(site):
        quote = finder.find(path.read_text(encoding="utf-8", errors="replace"))
        if quote is not None:
            found.append(f"{path.relative_to(site)}: {quote!r}")
    return found


def stage(reports: Path, staging: Path, js_modules: Path, finder: QuoteFinder | None,
          executed: Sequence[tuple[Path, nbformat.NotebookNode]]) -> dict[str, Any]:
    """Write the Sphinx source folder from the ``executed`` notebooks (path, notebook);
    returns the facts of the build (``site.json``). ``finder`` (real data only) withholds
    every output that quotes the study."""
    provenance = read_provenance(reports)
    synthetic = is_synthetic(provenance)
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "notebooks").mkdir(parents=True)
    static = staging / "_static"
    shutil.copytree(DOCS / "_static", static)
    for source, target in VENDOR_FILES:
        if not (js_modules / source).is_file():
            raise SiteError(f"{js_modules / source}: missing; run `make site` (it installs docs/js with npm ci)")
        (static / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(js_modules / source, static / target)
    shutil.copy2(DOCS / "conf.py", staging / "conf.py")
    for page in STATIC_PAGES:
        shutil.copy2(DOCS / page, staging / page)
    notebooks, withheld, charts = [], {}, {}
    for path, nb in executed:
        report = prepare_notebook(nb, path.stem, finder)
        nbformat.write(nb, staging / "notebooks" / path.name)
        notebooks.append((path.stem, notebook_title(nb, path.stem)))
        charts[path.stem] = report.charts
        if report.withheld:
            withheld[path.stem] = report.withheld
    figures = headline_figures(reports / "figures")
    (staging / "figures").mkdir()
    for name in figures:
        shutil.copy2(reports / "figures" / f"{name}.svg", staging / "figures" / f"{name}.svg")
    (staging / "index.md").write_text(landing_page(notebooks, provenance, figures, synthetic), encoding="utf-8")
    (staging / "provenance.md").write_text(provenance_page(provenance, synthetic), encoding="utf-8")
    facts = {
        "synthetic": synthetic,
        "banner_html": html.escape(SYNTHETIC_BANNER) if synthetic else "",
        "notebooks": [stem for stem, _ in notebooks],
        "charts": charts,
        "withheld": withheld,
    }
    (staging / "site.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    return facts


def build(reports: Path, out: Path, js_modules: Path, *, staging: Path | None = None,
          allow_stale: bool = False) -> dict[str, Any]:
    """Stage and build the site into ``out`` (replaced); returns the facts of the build.
    A failed or (unless ``allow_stale``) stale notebook stops it before anything is written
    (:func:`check_publishable`)."""
    executed = [(path, nbformat.read(path, as_version=4)) for path in executed_notebooks(reports)]
    check_publishable(executed, allow_stale=allow_stale)
    staging = staging or reports / ".site-src"
    finder = study_finder(read_provenance(reports))
    facts = stage(reports, staging, js_modules, finder, executed)
    for stem, cells in facts["withheld"].items():
        print(f"warning: {stem}: withheld outputs that quote the human study ({', '.join(cells)})", file=sys.stderr)
    if out.exists():
        shutil.rmtree(out)
    doctrees = staging.parent / ".site-doctrees"
    command = [sys.executable, "-m", "sphinx", "-q", "-b", "html", "-d", str(doctrees), str(staging), str(out)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise SiteError(f"sphinx-build failed: {last}")
    if finder is not None:
        leaks = find_quotes_in_site(out, finder)
        if leaks:
            shutil.rmtree(out)
            raise SiteError(f"the site quoted the human study and was removed: {leaks[0]}")
    (out / "site.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    return facts


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python docs/build_site.py", description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=Path, default=REPO_ROOT / "reports", help="what `make run` wrote")
    parser.add_argument("--out", type=Path, default=None, help="site folder (default: REPORTS/site)")
    parser.add_argument("--js", type=Path, default=DOCS / "js" / "node_modules", help="installed npm packages")
    parser.add_argument("--allow-stale", action="store_true",
                        help="publish a notebook older than one before it in the chain (a failed one never)")
    args = parser.parse_args(argv)
    out = args.out or args.reports / "site"
    try:
        facts = build(args.reports, out, args.js, allow_stale=args.allow_stale)
    except SiteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    kind = "SYNTHETIC demo panel" if facts["synthetic"] else "real study (aggregates only)"
    print(f"site: {out / 'index.html'} ({len(facts['notebooks'])} notebooks, "
          f"{sum(facts['charts'].values())} interactive charts, {kind})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
