"""tests/notebook_chain.py, which the unusual studies' test runs: one kernel, the namespace
emptied between notebooks, parameters injected, failures reported without stopping the chain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat

CHAIN = Path(__file__).with_name("notebook_chain.py")


def _notebook(folder: Path, name: str, *sources: str, parameters: str | None = None) -> None:
    cells = []
    if parameters is not None:
        cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), folder / f"{name}.ipynb")


def test_a_chain_shares_a_kernel_but_not_a_namespace(tmp_path: Path) -> None:
    notebooks, out = tmp_path / "nb", tmp_path / "out"
    notebooks.mkdir()
    out.mkdir()
    _notebook(notebooks, "a", "import os\nleft_behind = 1\nprint(n * 2, os.getcwd(), os.getpid())",
              parameters="n: int = 1")
    _notebook(notebooks, "b", "left_behind")  # a name notebook a defined
    _notebook(notebooks, "c", "import os\nprint(os.getpid())", "1 / 0")
    _notebook(notebooks, "d", "print('after a failure', m)", parameters="m: str = 'x'")
    done = subprocess.run([sys.executable, str(CHAIN), str(notebooks), str(out), json.dumps({"n": 21, "other": 1}),
                           "a", "b", "c", "d"], capture_output=True, text=True, timeout=120, check=True)
    errors = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(errors) == {"b", "c"}
    assert errors["b"].endswith("NameError: name 'left_behind' is not defined")
    # papermill's numbering: its injected-parameters cell comes first, as in the written notebook
    assert errors["c"] == "cell 3: ZeroDivisionError: division by zero"

    def printed(name: str) -> list[str]:
        nb = nbformat.read(out / f"{name}.ipynb", as_version=4)
        return [o["text"] for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout"]

    doubled, cwd, pid = printed("a")[0].split()
    assert doubled == "42" and cwd == str(notebooks)  # the injected n; the notebooks' folder
    assert printed("c") == [f"{pid}\n"]  # the same kernel process as notebook a
    assert printed("d") == ["after a failure x\n"]  # its own default: m was not passed
