"""Unusual studies: every analysis notebook runs on studies that lack
surveys, re-ratings, a second batch, ECE, a shared task or a domain, and figures meet
empty data with a labelled placeholder.

The studies come from the SYNTHETIC demo generator (:data:`usersim_utils.demo.UNUSUAL_SHAPES`).
The notebooks run in child processes that write under a temporary ``$USERSIM_OUTPUT_DIR``
(never the developer's ``data/processed`` or ``reports``), a study's notebooks in order (03
writes the features 04-06 read) in one kernel whose namespace is emptied between notebooks
(tests/notebook_chain.py), two studies at a time.
"""

from __future__ import annotations

import json
import os
import re
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
    pair = alt.hconcat(alt.Chart(rows).mark_point().encode(x="x:Q"), alt.Chart(rows.iloc[:0]).mark_point())
    assert figures.empty_reason(pair.to_dict()) == "a dataset without rows"


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


# --- every analysis notebook on every unusual study -------------------------------------------
#: The analysis notebooks, in the order their hand-over needs (02 runs a model: left out).
NOTEBOOKS = ("01_load_human_study", "03_extract_behavioral_features", "04_derive_user_sim_index",
             "05_compare_feedback", "06_quantify_uncertainty", "07_tell_simulators_from_people",
             "08_calibrate_a_simulator")
#: Small resampling, refit, rescoring and search counts keep the run short; the code paths are
#: the same.
FAST = {"n_boot": 20, "n_perm": 20, "n_refit": 2, "eval_seeds": 5, "rounds": 1, "candidates": 2}
#: Parameters a user would set after reading the notebooks' notes: an airline-only study has at
#: most 150 rollouts per file, which the reference split keeps whole (``run_split="suffix"``);
#: the study without re-ratings is also scored without any difficulty (an empty frozen map: no ECE).
EXTRA = {"airline-only": {"run_split": "suffix"}, "no-reratings": {"difficulty_pool": "frozen:{empty_map}"}}
#: How many studies run at once (each runs its notebooks in order, one kernel at a time).
WORKERS = 2

#: Runs a study's notebooks in order in one kernel (tests/notebook_chain.py).
CHAIN = Path(__file__).with_name("notebook_chain.py")


def _run_study(name: str, study: Path, out: Path, empty_map: Path) -> dict[str, str]:
    """Run the notebooks on ``study`` in a child process writing under ``out``; ``{notebook: error}``."""
    params = {"study_dir": str(study), **FAST,
              **{k: v.format(empty_map=empty_map) for k, v in EXTRA.get(name, {}).items()}}
    env = {**os.environ, paths.OUTPUT_DIR_ENV: str(out), "LITELLM_OFFLINE_MODE": "true", "HF_HUB_OFFLINE": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    env.pop(paths.STUDY_DIR_ENV, None)
    out.mkdir(parents=True)
    done = subprocess.run([sys.executable, str(CHAIN), str(paths.NOTEBOOKS_DIR), str(out), json.dumps(params),
                           *NOTEBOOKS], env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        return {"runner": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, str]]]:
    """``{study: (output folder, {notebook: error})}`` for every unusual study."""
    root = tmp_path_factory.mktemp("unusual")
    empty_map = root / "empty_difficulty.json"
    empty_map.write_text("{}\n")
    studies = {name: demo.write_demo_panel(root / "studies" / f"SYNTHETIC-{name}", shape=shape)
               for name, shape in demo.UNUSUAL_SHAPES.items()}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {name: pool.submit(_run_study, name, study, root / "out" / name, empty_map)
                   for name, study in studies.items()}
        return {name: (root / "out" / name, future.result()) for name, future in futures.items()}


def _printed(out: Path, notebook: str) -> str:
    """Everything a notebook printed (stdout streams of all cells)."""
    nb = nbformat.read(out / f"{notebook}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _placeholders(out: Path) -> set[str]:
    return {p.stem for p in (out / "reports" / "figures").glob("*.svg") if "Nothing to draw." in p.read_text()}


@pytest.mark.slow
@pytest.mark.parametrize("study", sorted(demo.UNUSUAL_SHAPES))
def test_every_analysis_notebook_runs_on_the_study(runs: dict, study: str) -> None:
    out, errors = runs[study]
    assert errors == {}
    assert sorted(p.stem for p in (out / "reports" / "provenance").glob("*.json")) == sorted(NOTEBOOKS)
    # The hand-over stayed in the test's folder: features of the study's files only, none of the
    # rollouts a developer may have under data/processed/rollouts.
    labels = [sim.label for sim in demo.SIMULATORS[:demo.UNUSUAL_SHAPES[study].n_simulators]]
    assert sorted(p.stem for p in (out / "processed" / "features").glob("*.parquet")) == sorted(["human", *labels])


@pytest.mark.slow
def test_the_notebooks_say_what_is_undefined_and_show_the_rest(runs: dict) -> None:
    def printed(study: str, notebook: str) -> str:
        return _printed(runs[study][0], notebook)

    def leaderboard(study: str) -> list[dict]:
        return json.loads((runs[study][0] / "processed" / "usi_leaderboard.json").read_text())

    # Two simulators: too few for a difficulty of their own; the published map gives every row a USI.
    two = printed("two-simulators", "04_derive_user_sim_index")
    assert "uses the published difficulty map instead" in two and "(published map)" in two
    assert all(row["usi"] is not None for row in leaderboard("two-simulators"))
    assert _placeholders(runs["two-simulators"][0]) == set()  # every figure drawn
    # No surveys: Eval is undefined, the rest of the index is there; sections 1-2 of 05 say why.
    assert "so Eval is undefined and USI averages the five other terms" in printed("no-surveys",
                                                                                    "04_derive_user_sim_index")
    assert "sections 1 and 2 are undefined" in printed("no-surveys", "05_compare_feedback")
    assert {"05_answer_distributions", "05_overrating"} <= _placeholders(runs["no-surveys"][0])
    assert "reward vs task_success" in printed("no-surveys", "05_compare_feedback")
    # No re-rating and an empty difficulty map: no Eval ceiling, no ECE, D1-D4 still shown.
    no_rerating = printed("no-reratings", "04_derive_user_sim_index")
    assert "the human ceiling has no Eval term" in no_rerating
    assert "holds no task, so ECE, hence USI, is undefined" in no_rerating
    assert all(row["usi"] is None and row["D1_conv"] is not None for row in leaderboard("no-reratings"))
    assert "Kendall's τ is undefined for every variant" in printed("no-reratings", "06_quantify_uncertainty")
    assert "06_usi_forest" in _placeholders(runs["no-reratings"][0])
    # One batch: no human ceiling, simulators scored against the one batch.
    one = printed("one-batch", "04_derive_user_sim_index")
    assert "the human ceiling is undefined" in one and "1 batch(es)" in one
    assert [row["usi"] is not None for row in leaderboard("one-batch")] == [False, True, True, True, True]
    assert "ceiling relabelled USI undefined" in printed("one-batch", "06_quantify_uncertainty")
    # No shared task: every simulator row is empty, and each says why.
    assert printed("no-shared-task", "04_derive_user_sim_index").count("none of its tasks with user turns") == 4
    # Invalid answers everywhere: counted by notebook 01, the index computed as usual.
    counted = re.search(r"invalid survey answers: (\d+)", printed("invalid-answers", "01_load_human_study"))
    assert counted and int(counted.group(1)) > 0
    assert all(row["usi"] is not None for row in leaderboard("invalid-answers"))
    # Airline only, split by suffix: every simulator matched.
    assert "no row" not in printed("airline-only", "04_derive_user_sim_index")
