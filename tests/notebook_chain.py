"""Run notebooks in order in one Jupyter kernel, as a script:

    python tests/notebook_chain.py NOTEBOOKS_DIR OUT_DIR PARAMETERS_JSON NAME...

Each notebook gets its declared parameters from PARAMETERS_JSON (papermill's injected cell, as
``make run`` does) and is written executed to ``OUT_DIR/NAME.ipynb``. Before each notebook the
kernel's namespace is emptied (``%reset -f``), so a notebook sees nothing the previous one
defined; what stays is what a kernel would load anyway (imported modules). One kernel for a
study's seven notebooks instead of seven spares a kernel start and the imports of the
toolkit's modules (about 5 s of CPU each) for every notebook after the first.

Prints ``{name: "cell N: Error: message"}`` for the notebooks that failed, as JSON on its last
line; a failed notebook does not stop the ones after it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import papermill
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from papermill.iorw import load_notebook_node  # papermill's reader: every cell gets its tags list
from papermill.parameterize import parameterize_notebook

#: Empties the namespace and returns to the notebooks' folder before each notebook.
RESET = "%reset -f\nimport os as _os\n_os.chdir({cwd!r})\ndel _os"


def run_chain(notebooks_dir: Path, out: Path, parameters: dict, names: list[str]) -> dict[str, str]:
    """Execute ``names`` in order in one kernel; returns ``{name: error}`` for the failures."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(notebooks_dir))
    control = km.blocking_client()
    control.start_channels()
    errors: dict[str, str] = {}
    try:
        for name in names:
            reply = control.execute_interactive(RESET.format(cwd=str(notebooks_dir)), timeout=60, silent=True)
            assert reply["content"]["status"] == "ok", reply["content"]
            path = notebooks_dir / f"{name}.ipynb"
            declared = papermill.inspect_notebook(str(path))
            nb = parameterize_notebook(load_notebook_node(str(path)),
                                       {k: v for k, v in parameters.items() if k in declared})
            client = NotebookClient(nb, km=km, timeout=900, allow_errors=False)
            try:
                client.execute()
            except CellExecutionError as err:
                count = next((c.get("execution_count") for c in nb.cells
                              if any(o.get("output_type") == "error" for o in c.get("outputs", []))), "?")
                errors[name] = f"cell {count}: {err.ename}: {err.evalue}"
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()
            nbformat.write(nb, out / f"{name}.ipynb")
    finally:
        control.stop_channels()
        km.shutdown_kernel(now=True)
    return errors


if __name__ == "__main__":
    notebooks_dir, out_dir, params = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    print(json.dumps(run_chain(notebooks_dir, out_dir, params, sys.argv[4:])))
