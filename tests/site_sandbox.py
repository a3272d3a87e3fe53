"""Execute the notebooks and build the report site inside a throw-away copy of the repository.

The notebooks write to fixed places under the repository (``data/processed``, ``reports``;
see usersim_utils.paths), so a test that runs them works in a copy: the package, the
notebooks, ``data/external`` and ``docs`` are copied into a folder, and ``PYTHONPATH`` makes
the kernel import the copy, whose ``paths.REPO_ROOT`` is that folder. The real checkout's
``data/processed`` and ``reports`` are never touched.

Notebook 02 is not run: it plays new conversations with the embedded model (minutes of CPU)
and reads no row of the study. Resampling counts are cut down so a run takes about a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from usersim_utils import demo, paths

REPO = paths.REPO_ROOT
JS_MODULES = REPO / "docs" / "js" / "node_modules"
SKIPPED_NOTEBOOKS = ("02_run_simulator_rollouts",)
#: Small resampling counts; a notebook without such a parameter ignores it.
FAST_PARAMETERS = {"n_boot": 20, "n_perm": 20, "include_rollouts": False}


def ensure_site_js() -> str | None:
    """Install the site's pinned npm packages (docs/js) when missing; returns why it cannot,
    or None when they are there."""
    if (JS_MODULES / ".package-lock.json").is_file():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed: the site's JavaScript (docs/js) cannot be installed"
    result = subprocess.run([npm, "ci", "--prefix", str(REPO / "docs" / "js"), "--no-audit", "--no-fund",
                             "--ignore-scripts", "--loglevel=error"], capture_output=True, text=True)
    if result.returncode != 0:
        return f"npm ci in docs/js failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}"
    return None


def make_sandbox(dest: Path) -> Path:
    """Copy what the notebooks and the site builder need into ``dest``; returns ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "node_modules")
    for part in ("usersim_utils", "notebooks", "docs", "data/external"):
        shutil.copytree(REPO / part, dest / part, ignore=ignore)
    return dest


def sandbox_env(sandbox: Path) -> dict[str, str]:
    """The environment of every process run in the sandbox: its own package, offline."""
    env = dict(os.environ)
    env.update(PYTHONPATH=str(sandbox), LITELLM_OFFLINE_MODE="true", HF_HUB_OFFLINE="1",
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    env.pop(paths.STUDY_DIR_ENV, None)
    return env


def run_notebooks(sandbox: Path, study_dir: Path) -> list[Path]:
    """Execute the sandbox's notebooks (except :data:`SKIPPED_NOTEBOOKS`) on ``study_dir`` into
    ``sandbox/reports/notebooks``, as ``make run`` does; returns the executed notebooks."""
    out_dir = sandbox / "reports" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = []
    for notebook in sorted((sandbox / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if notebook.stem in SKIPPED_NOTEBOOKS:
            continue
        parameters = {"study_dir": str(study_dir), **FAST_PARAMETERS}
        command = [sys.executable, "-m", "papermill", "--cwd", str(sandbox / "notebooks"), "--kernel", "python3",
                   "--no-progress-bar", str(notebook), str(out_dir / notebook.name)]
        for name, value in parameters.items():
            command += ["-p", name, str(value)]  # papermill reads "20" as int and "False" as bool
        result = subprocess.run(command, cwd=sandbox, env=sandbox_env(sandbox), capture_output=True, text=True)
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"{notebook.name} failed in the sandbox:\n{tail}")
        executed.append(out_dir / notebook.name)
    return executed


def build_site(sandbox: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Run the sandbox's docs/build_site.py over its reports; returns (site folder, process)."""
    site = sandbox / "reports" / "site"
    command = [sys.executable, str(sandbox / "docs" / "build_site.py"), "--reports", str(sandbox / "reports"),
               "--out", str(site), "--js", str(JS_MODULES)]
    result = subprocess.run(command, cwd=sandbox, env=sandbox_env(sandbox), capture_output=True, text=True)
    return site, result


def demo_site(base: Path) -> Path:
    """The site of the notebooks run on the SYNTHETIC demo panel, built once under ``base``
    (pytest's session folder) and shared by the tests that read it; skips when the site's
    JavaScript cannot be installed."""
    sandbox = base / "demo-site-checkout"
    site = sandbox / "reports" / "site"
    if (site / "site.json").is_file():
        return site
    why_not = ensure_site_js()
    if why_not:
        pytest.skip(why_not)
    if sandbox.exists():  # an earlier attempt failed half-way
        shutil.rmtree(sandbox)
    make_sandbox(sandbox)
    run_notebooks(sandbox, Path(demo.ensure_demo_panel()))
    site, result = build_site(sandbox)
    if result.returncode != 0:
        raise RuntimeError(f"the site build failed:\n{result.stderr}")
    return site
