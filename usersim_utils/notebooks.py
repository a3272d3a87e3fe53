"""House rules for the committed notebooks, checked and enforced.

    python -m usersim_utils.notebooks strip notebooks/*.ipynb   # before committing
    python -m usersim_utils.notebooks check notebooks/*.ipynb   # what the tests assert
    python -m usersim_utils.notebooks refresh notebooks/03_*.ipynb  # re-run, keep checked outputs

Committed notebooks carry no outputs except cells tagged ``nbval-check-output``
(a few rounded numbers that ``pytest --nbval-lax`` compares), and exactly one
``parameters`` cell made of typed, commented literal assignments.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

CHECKED_TAG = "nbval-check-output"
PARAMETERS_TAG = "parameters"
NAME_RE = re.compile(r"^\d\d_[a-z]+(_[a-z]+)+\.ipynb$")


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def strip_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop outputs and execution counts of every code cell not tagged ``nbval-check-output``,
    and the run metadata papermill adds. Returns the same notebook, modified."""
    for cell in nb.cells:
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("metadata", {}).get("tags") == []:
            del cell.metadata["tags"]
        if cell.cell_type != "code":
            continue
        if CHECKED_TAG not in _tags(cell):
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("papermill", None)
    return nb


def parameter_problems(source: str) -> list[str]:
    """Why a parameters cell breaks the rules: each statement must be an annotated
    assignment of a literal (``name: type = literal  # comment``)."""
    problems = []
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in tree.body:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            problems.append(f"line {node.lineno}: not a typed assignment")
            continue
        try:
            ast.literal_eval(node.value) if node.value is not None else None
        except ValueError:
            problems.append(f"line {node.lineno}: {node.target.id} is not a literal")
        if node.value is None:
            problems.append(f"line {node.lineno}: {node.target.id} has no value")
        if "#" not in lines[node.end_lineno - 1]:
            problems.append(f"line {node.lineno}: {node.target.id} has no comment")
    return problems


def check_notebook(path: Path) -> list[str]:
    """Every house-rule violation of one committed notebook (empty when clean)."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    if not NAME_RE.match(path.name):
        problems.append("name is not NN_verb_object.ipynb")
    params = [c for c in nb.cells if c.cell_type == "code" and PARAMETERS_TAG in _tags(c)]
    if len(params) != 1:
        problems.append(f"{len(params)} parameters cells (expected 1)")
    else:
        problems += [f"parameters {p}" for p in parameter_problems(params[0].source)]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("outputs") and CHECKED_TAG not in _tags(cell):
            problems.append(f"cell {i} has outputs but is not tagged {CHECKED_TAG}")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append("kernelspec is not python3")
    return [f"{path.name}: {p}" for p in problems]


def refresh_notebook(path: Path) -> None:
    """Execute ``path`` with its default parameters and keep only the outputs of the
    ``nbval-check-output`` cells: how the checked numbers are updated on purpose."""
    import papermill

    executed = papermill.execute_notebook(str(path), None, cwd=str(path.parent), kernel_name="python3",
                                          progress_bar=False)
    nbformat.write(strip_notebook(executed), path)


def main(argv: Sequence[str] | None = None) -> int:
    """``strip``, ``check`` or ``refresh`` the given notebooks."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] not in ("strip", "check", "refresh"):
        print("usage: python -m usersim_utils.notebooks {strip|check|refresh} NOTEBOOK...", file=sys.stderr)
        return 2
    problems: list[str] = []
    for name in args[1:]:
        path = Path(name)
        if args[0] == "strip":
            nbformat.write(strip_notebook(nbformat.read(path, as_version=4)), path)
        elif args[0] == "refresh":
            refresh_notebook(path)
        else:
            problems += check_notebook(path)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
