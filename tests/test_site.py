"""The report site (`make site`, docs/build_site.py): built from executed notebooks, offline,
the SYNTHETIC banner on every page of a demo build, and, built from a real study, aggregates
only: a marker planted in a conversation and in a survey answer appears nowhere in it."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import altair as alt
import nbformat
import pytest

from usersim_utils import data, figures, paths

import site_sandbox

_spec = importlib.util.spec_from_file_location("build_site", paths.REPO_ROOT / "docs" / "build_site.py")
build_site = importlib.util.module_from_spec(_spec)
sys.modules["build_site"] = build_site  # dataclasses look their module up by name
_spec.loader.exec_module(build_site)

def _altair_html(chart: alt.TopLevelMixin) -> str:
    """The HTML output a notebook cell shows for ``chart`` (altair's HTML renderer)."""
    with alt.renderers.enable("html"):
        bundle = chart._repr_mimebundle_(None, None)
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    return bundle["text/html"]


def _chart() -> alt.Chart:
    return alt.Chart(alt.Data(values=[{"x": 1, "y": 2}, {"x": 2, "y": 3}])).mark_bar().encode(x="x:O", y="y:Q")


# --------------------------------------------------------------------------- pieces
def test_chart_spec_is_read_back_from_altair_html() -> None:
    chart = _chart()
    spec, options = build_site.chart_spec_from_html(_altair_html(chart))
    assert spec == chart.to_dict()
    assert options == {"mode": "vega-lite"}
    assert build_site.chart_spec_from_html("<table><tr><td>1</td></tr></table>") is None


def test_chart_spec_is_read_from_the_lab_bundle_as_vega_lite() -> None:
    """What a notebook shows since figures.use_theme() (Vega for JupyterLab beside the
    Vega-Lite spec) gives the site the Vega-Lite spec; a vega bundle alone still counts."""
    chart = _chart()
    data, metadata = figures.lab_mimebundle(chart.to_dict())
    output = nbformat.v4.new_output("display_data", {**data, "text/plain": "chart"}, metadata=metadata)
    assert build_site.output_chart_spec(output) == chart.to_dict()
    vega_only = nbformat.v4.new_output("display_data", {figures.LAB_VEGA_MIME: data[figures.LAB_VEGA_MIME]})
    assert build_site.output_chart_spec(vega_only) == data[figures.LAB_VEGA_MIME]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("chart", outputs=[output])]
    assert build_site.prepare_notebook(nb, "09_x", None).charts == 1
    assert list(nb.cells[0].outputs[0]["data"]) == ["text/html"]


def test_chart_markup_keeps_the_spec_inert_and_local() -> None:
    spec = {"title": "a </script><script>alert(1)</script> title", "mark": "bar"}
    markup = build_site.chart_html(spec, "chart-x-1")
    assert "</script><script>" not in markup
    assert markup.count("</script>") == 1
    payload = re.search(r'<script type="application/json" id="chart-x-1">(.*)</script>', markup).group(1)
    assert json.loads(payload) == spec
    assert "http" not in markup


def test_quote_finder_sees_through_white_space_and_html_entities() -> None:
    quote = "I need to cancel my reservation & get a refund for it"[: build_site.QUOTE_CHARS]
    finder = build_site.QuoteFinder([quote])
    assert finder.find("<td>I need to cancel my\n   reservation &amp; get a refund for it now</td>") == quote
    assert finder.find("I need to cancel my order") is None
    assert build_site.QuoteFinder([]).find("anything") is None


def test_study_quotes_cover_messages_free_text_and_invalid_answers_only(tmp_path: Path) -> None:
    long_turn = "Please cancel reservation ABC123 because my mother is in hospital"
    free_text = "The agent kept asking for my zip code again and again, very slow"
    records = {"airline_1": {
        "conversation": [{"role": "user", "content": long_turn}, {"role": "user", "content": "yes please"},
                         {"role": "assistant", "content": "Hi! How can I help you today? I can look that up."}],
        "survey": {"specific_examples": {"question": "q", "answer": free_text},
                   "task_success": {"question": "q",
                                    "answer": "No - Due to a policy issue, which the agent clearly explained"},
                   "efficiency": {"question": "q", "answer": "an invalid answer that is long enough to quote"}},
    }}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tau_bench_tasks_unified.json").write_text(json.dumps(records))
    quotes = build_site.study_quotes(tmp_path)
    n = build_site.QUOTE_CHARS
    assert quotes == {long_turn[:n], free_text[:n], "an invalid answer that is long enough to quote"[:n]}


def test_prepare_notebook_replaces_charts_and_withholds_quotes() -> None:
    quote = "My booking reference is Q7X2 and I want a full refund"
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("chart")
    cell.outputs = [
        nbformat.v4.new_output("display_data", {"text/html": _altair_html(_chart()), "text/plain": "chart"}),
        nbformat.v4.new_output("stream", name="stdout", text=f"example: {quote}\n"),
        nbformat.v4.new_output("stream", name="stdout", text="42 sessions\n"),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# 09 · A title"), cell]
    report = build_site.prepare_notebook(nb, "09_x", build_site.QuoteFinder([quote[: build_site.QUOTE_CHARS]]))
    assert (report.charts, report.withheld) == (1, ["cell 1"])
    chart, withheld, kept = nb.cells[1].outputs
    assert list(chart["data"]) == ["text/html"] and 'data-spec="chart-09_x-1"' in chart["data"]["text/html"]
    assert "cdn" not in chart["data"]["text/html"]
    assert quote not in json.dumps(nb) and "withheld" in withheld["data"]["text/markdown"]
    assert kept["text"] == "42 sessions\n"
    assert build_site.notebook_title(nb, "x") == "09 · A title"


def test_leaderboard_table_shows_cells_and_intervals() -> None:
    provenance = {
        "04_derive_user_sim_index": {"leaderboard": [
            {"name": "human", "usi": [92.9, 0.9], "ece": [0.069, 0.022], "eval_agree": None},
            {"name": "sim|a", "usi": [70.0, 1.2], "ece": [0.2, 0.01]},
            {"name": "no-usi", "usi": None},
            {"name": "b-best", "usi": [75.0, 0.5]},
        ]},
        "06_quantify_uncertainty": {"parameters": {"level": 0.9}, "usi_intervals": [
            {"name": "sim|a", "estimate": 70.0, "centred_low": 68.0, "centred_high": 71.5, "percentile_low": 1.0}]},
    }
    table = build_site.leaderboard_markdown(provenance)
    assert "| human | 92.9 ± 0.9 | – |" in table
    assert "| sim/a | 70.0 ± 1.2 | [68.0, 71.5] |" in table
    assert "0.069 ± 0.022" in table and "USI 90% interval (centred bootstrap)" in table
    order = [line.split(" | ")[0].lstrip("| ") for line in table.splitlines()[2:]]
    assert order == ["human", "b-best", "sim/a", "no-usi"]
    assert "No leaderboard" in build_site.leaderboard_markdown({})


def test_five_term_rows_are_labelled_and_ranked_apart_from_six_term_rows() -> None:
    provenance = {"04_derive_user_sim_index": {"leaderboard": [
        {"name": "human", "usi": [92.9, 0.9], "eval_agree": [90.0, 1.0]},
        {"name": "five-terms", "usi": [80.0, 1.0], "eval_agree": None},
        {"name": "six-terms", "usi": [70.0, 1.0], "eval_agree": [60.0, 1.0]},
        {"name": "no-usi", "usi": None},
    ]}}
    table = build_site.leaderboard_markdown(provenance)
    order = [line.split(" | ")[0].lstrip("| ") for line in table.splitlines()[2:6]]
    assert order == ["human", "six-terms", "five-terms", "no-usi"]
    assert "| six-terms | USI6 |" in table and "| five-terms | USI5 |" in table and "not comparable" in table
    six_only = {"04_derive_user_sim_index": {"leaderboard": provenance["04_derive_user_sim_index"]["leaderboard"][::2]}}
    assert "USI6" not in build_site.leaderboard_markdown(six_only)  # one index: no column, no note


def test_remote_resources_are_found_and_plain_links_allowed(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<a href="https://arxiv.org/abs/2603.11245">paper</a>'
                                     '<script src="_static/npm/vega.min.js"></script>')
    assert site_sandbox.remote_resources(tmp_path) == []
    (tmp_path / "b.html").write_text('<script defer src="https://cdn.example/vega.js"></script>'
                                     '<link rel="stylesheet" href="//fonts.example/css">')
    (tmp_path / "c.css").write_text("@font-face { src: url('https://fonts.example/x.woff2'); }")
    assert len(site_sandbox.remote_resources(tmp_path)) == 3


def test_build_refuses_without_executed_notebooks(tmp_path: Path) -> None:
    with pytest.raises(build_site.SiteError, match="run `make run` first"):
        build_site.executed_notebooks(tmp_path)
    (tmp_path / "provenance").mkdir()
    (tmp_path / "provenance" / "01_x.json").write_text("{}")
    with pytest.raises(build_site.SiteError, match="no notebook recorded which data"):
        build_site.is_synthetic(build_site.read_provenance(tmp_path))


def _executed(reports: Path, name: str, start: str, end: str, *, error: bool = False) -> Path:
    """An executed notebook ``reports/notebooks/<name>.ipynb`` with papermill's run times
    (``HH:MM`` on one day) and, if ``error``, a failed cell as papermill leaves it."""
    cell = nbformat.v4.new_code_cell("x = 1", execution_count=1)
    if error:
        cell.outputs = [nbformat.v4.new_output("error", ename="FileNotFoundError",
                                               evalue="/nonexistent: no such study", traceback=["..."])]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}"), cell])
    nb.metadata["papermill"] = {"start_time": f"2026-12-01T{start}:00+00:00", "end_time": f"2026-12-01T{end}:00+00:00",
                                "exception": True if error else None}
    path = reports / "notebooks" / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _refusal(reports: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> list[str]:
    """The error lines of `make site` (docs/build_site.py) over ``reports``; fails if it built."""
    status = build_site.main(["--reports", str(reports), "--out", str(reports / "site"),
                              "--js", str(reports / "no-js"), *flags])
    assert status == 2 and not (reports / "site").exists()
    return capsys.readouterr().err.strip().splitlines()


def test_site_refuses_a_failed_notebook_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _executed(tmp_path, "01_a", "09:00", "09:01")
    failed = _executed(tmp_path, "02_b", "09:01", "09:02", error=True)
    lines = _refusal(tmp_path, capsys, "--allow-stale")  # the flag lets old notebooks through, never failed ones
    assert len(lines) == 1 and lines[0].startswith(f"error: {failed}: the run failed")
    assert "cell 1: FileNotFoundError: /nonexistent: no such study" in lines[0]


def test_site_refuses_a_notebook_older_than_one_before_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A newer run replaced 01 and stopped: 02 is left from the run before, and refused unless
    --allow-stale. Notebooks that ran side by side (04 and 05 in the test sandbox) pass."""
    _executed(tmp_path, "01_a", "10:00", "10:05")
    stale = _executed(tmp_path, "02_b", "09:05", "09:09")
    lines = _refusal(tmp_path, capsys)
    assert len(lines) == 1 and lines[0].startswith(f"error: {stale}: older than 01_a.ipynb")
    assert "--allow-stale" in lines[0]
    executed = [(p, nbformat.read(p, as_version=4)) for p in build_site.executed_notebooks(tmp_path)]
    build_site.check_publishable(executed, allow_stale=True)
    _executed(tmp_path, "02_b", "10:05", "10:20")
    _executed(tmp_path, "03_c", "10:06", "10:12")  # beside 02, ended first
    executed = [(p, nbformat.read(p, as_version=4)) for p in build_site.executed_notebooks(tmp_path)]
    build_site.check_publishable(executed, allow_stale=False)


def test_a_notebook_papermill_failed_is_recognised(tmp_path: Path) -> None:
    """The marks papermill really leaves on a failed run (the Makefile's `make run` keeps
    such a notebook in reports/.partial; one copied into reports/notebooks is refused)."""
    papermill = pytest.importorskip("papermill")
    source = tmp_path / "01_fails.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('study_dir /nonexistent')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), source)
    out = tmp_path / "01_fails.out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError):
        papermill.execute_notebook(str(source), str(out), kernel_name="python3", progress_bar=False)
    why = build_site.failure(nbformat.read(out, as_version=4))
    assert why is not None and "ValueError: study_dir /nonexistent" in why


# --------------------------------------------------------------------------- whole sites
@pytest.fixture(scope="session")
def site_run(tmp_path_factory: pytest.TempPathFactory) -> site_sandbox.SiteRun:
    """The notebooks run once on a marked study that counts as real, and the sites built from
    that run (shared with the browser test)."""
    return site_sandbox.site_run(tmp_path_factory.getbasetemp())


@pytest.mark.slow
def test_demo_site_is_complete_offline_and_bannered(site_run: site_sandbox.SiteRun) -> None:
    site = site_run.demo_site
    facts = json.loads((site / "site.json").read_text())
    assert facts["synthetic"] is True
    pages = sorted(p for p in site.rglob("*.html") if p.relative_to(site).parts[0] != "_static")
    names = {p.relative_to(site).as_posix() for p in pages}
    assert {"index.html", "method.html", "provenance.html", "teaching.html"} <= names
    assert facts["notebooks"] and all(f"notebooks/{stem}.html" in names for stem in facts["notebooks"])
    assert sum(facts["charts"].values()) >= 5
    for page in pages:
        assert build_site.SYNTHETIC_BANNER.split(":")[0] in page.read_text(), f"{page.name} has no SYNTHETIC banner"
    assert site_sandbox.remote_resources(site) == []
    provenance = (site / "provenance.html").read_text()
    assert re.search(r"[0-9a-f]{64}", provenance), "no data digest on the provenance page"
    assert "study_dir" in provenance
    assert "interval (centred bootstrap)" in (site / "index.html").read_text()


@pytest.mark.slow
def test_no_gated_rows_in_site(site_run: site_sandbox.SiteRun) -> None:
    """A copy of the demo panel outside any SYNTHETIC folder counts as the real study: the site
    built from it holds aggregates only, so the markers planted in a conversation turn, a
    survey free-text answer and a simulator's turn appear nowhere in it, although notebook 05
    ran with ``show_examples=True`` and printed example sessions (the builder withholds them)."""
    study = data.load_study(site_run.study)
    assert study.synthetic is False
    assert any(site_run.markers["answer"] in json.dumps(r["survey"]) for r in study.records.values())
    assert site_run.real_returncode == 0, site_run.real_stderr
    site = site_run.real_site
    facts = json.loads((site / "site.json").read_text())
    assert facts["synthetic"] is False and facts["notebooks"]
    assert len(list(site.glob("notebooks/*.html"))) == len(facts["notebooks"]) >= 5
    for path in site.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for where, marker in site_run.markers.items():
                assert marker.encode() not in content, f"{path.relative_to(site)} holds a {where} of the study"
