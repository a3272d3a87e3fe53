"""Provenance reads a notebook's parameters from its parameters cell instead of a retyped dict."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import papermill
import pytest

from usersim_utils import paths, provenance

PARAMETERS = 'study_dir: str = ""  # empty: the default\nn_boot: int = 200  # resamples\n'


def test_parameters_cell_names_accepts_only_typed_assignments() -> None:
    assert provenance.parameters_cell_names(PARAMETERS) == ["study_dir", "n_boot"]
    assert provenance.parameters_cell_names('study_dir = "/x"\n') is None  # papermill's injected cell
    assert provenance.parameters_cell_names("import numpy as np\nn: int = 1  # c\n") is None
    assert provenance.parameters_cell_names("") is None
    assert provenance.parameters_cell_names("%time x: int = (") is None


def test_values_come_from_the_namespace_so_injected_parameters_win() -> None:
    history = ["", "import pandas as pd", PARAMETERS, 'study_dir = "/elsewhere"\n', "x: int = 1  # not a parameter?"]
    namespace = {"In": history[:4], "study_dir": "/elsewhere", "n_boot": 200, "pd": object()}
    assert provenance.notebook_parameters(namespace) == {"study_dir": "/elsewhere", "n_boot": 200}


def test_a_parameters_cell_run_again_replaces_the_first() -> None:
    edited = PARAMETERS + "level: float = 0.9  # added\n"
    namespace = {"In": ["", PARAMETERS, "y = 2", edited], "study_dir": "", "n_boot": 200, "level": 0.9}
    assert list(provenance.notebook_parameters(namespace)) == ["study_dir", "n_boot", "level"]


def test_without_a_parameters_cell_or_a_value_it_says_so() -> None:
    with pytest.raises(ValueError, match="no parameters cell"):
        provenance.notebook_parameters({"In": ["", "x = 1"]})
    with pytest.raises(ValueError, match="without a value in this namespace: n_boot"):
        provenance.notebook_parameters({"In": ["", PARAMETERS], "study_dir": ""})


def test_the_names_read_from_a_notebook_file_include_all_papermill_sees() -> None:
    # papermill's own reader skips a line whose comment holds quotes (notebook 02); ast does not
    for notebook in sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")):
        cells = nbformat.read(notebook, as_version=4).cells
        source = next(c.source for c in cells if "parameters" in c.metadata.get("tags", []))
        names = provenance.parameters_cell_names(source)
        assert names and set(papermill.inspect_notebook(str(notebook))) <= set(names), notebook.name
        namespace = dict.fromkeys([*names, "unrelated"], 0)
        assert list(provenance.notebook_parameters(namespace, notebook)) == names, notebook.name


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [
        nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from usersim_utils import provenance\n"
                                  "n_boot_used = n_boot\n"
                                  "provenance.record('tiny', provenance.notebook_parameters(globals()))"),
    ]
    nbformat.write(nb, path)
    return path


def test_a_papermill_run_records_the_injected_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERSIM_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(paths.REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    notebook = _notebook(tmp_path / "tiny.ipynb")
    papermill.execute_notebook(str(notebook), str(tmp_path / "run.ipynb"), parameters={"n_boot": 7},
                               kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    written = json.loads(next((tmp_path / "out").rglob("tiny.json")).read_text())
    assert written["parameters"] == {"study_dir": "", "n_boot": 7}
    assert provenance.notebook_parameters({"study_dir": "", "n_boot": 7}, notebook) == written["parameters"]
