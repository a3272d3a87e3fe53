"""Provenance reads a notebook's parameters from its parameters cell instead of a retyped dict."""

from __future__ import annotations

import ast
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


def _run(source: str, namespace: dict) -> dict:
    exec(compile(source, "<cell>", "exec"), namespace)  # a cell, run the way a kernel runs it
    return namespace


def test_the_typed_names_are_the_parameters_and_injected_values_win() -> None:
    namespace: dict = {}
    for cell in ["import math", PARAMETERS, 'study_dir = "/elsewhere"\n', "x = math.pi"]:
        _run(cell, namespace)
    assert provenance.typed_names(namespace) == ["study_dir", "n_boot"]
    assert provenance.notebook_parameters(namespace) == {"study_dir": "/elsewhere", "n_boot": 200}


def test_without_a_parameters_cell_or_a_value_it_says_so() -> None:
    with pytest.raises(ValueError, match="no typed assignment"):
        provenance.notebook_parameters(_run("x = 1", {}))
    with pytest.raises(ValueError, match="without a value in this namespace: n_boot"):
        provenance.notebook_parameters({"__annotations__": {"study_dir": str, "n_boot": int}, "study_dir": ""})


NOTEBOOKS = sorted([*paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"), *paths.NOTEBOOKS_DIR.glob("solutions/*.ipynb")])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_only_the_parameters_cell_assigns_with_a_type(notebook: Path) -> None:
    # what makes typed_names() the parameters: no other cell adds a typed name at the top level
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            assert not any(isinstance(node, ast.AnnAssign) for node in ast.parse(source).body), cell.source[:80]


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
