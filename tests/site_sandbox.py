"""Execute the notebooks and build the report site inside a throw-away copy of the repository.

The notebooks write to fixed places under the repository (``data/processed``, ``reports``;
see usersim_utils.paths), so a test that runs them works in a copy: the package, the
notebooks, ``cards``, ``data/external`` and ``docs`` are copied into a folder, and ``PYTHONPATH`` makes
the kernel import the copy, whose ``paths.REPO_ROOT`` is that folder. The real checkout's
``data/processed`` and ``reports`` are never touched.

Notebook 02 is not run: it plays new conversations with the embedded model (minutes of CPU)
and reads no row of the study. Resampling, refit and search counts are cut down to keep the run short.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from usersim_utils import demo, paths

#: A tag that fetches a script, a stylesheet, a font, an image or a frame from another host.
REMOTE_RESOURCE = re.compile(
    r"<(?:script|img|iframe|source|embed|object)\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//",
    re.IGNORECASE,
)
REMOTE_CSS = re.compile(r"url\(\s*[\"']?(?:https?:)?//|@import\s+[\"']?(?:url\()?[\"']?(?:https?:)?//", re.IGNORECASE)

REPO = paths.REPO_ROOT
JS_MODULES = REPO / "docs" / "js" / "node_modules"
SKIPPED_NOTEBOOKS = ("02_run_simulator_rollouts",)
#: Notebooks from this one on read only what the earlier ones wrote (03: the features tables),
#: not each other's files: they run two at a time.
PARALLEL_FROM = "04"
#: Small resampling counts; ``show_examples`` makes notebook 05 print example sessions even
#: for real data, as a user may do locally: the site must still not show them. A notebook
#: without such a parameter ignores it.
RUN_PARAMETERS = {"n_boot": 20, "n_perm": 20, "n_refit": 2, "eval_seeds": 5, "rounds": 1, "candidates": 2,
                  "include_rollouts": False, "show_examples": True}


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
    for part in ("usersim_utils", "notebooks", "docs", "cards", "data/external"):
        shutil.copytree(REPO / part, dest / part, ignore=ignore)
    return dest


def sandbox_env(sandbox: Path) -> dict[str, str]:
    """The environment of every process run in the sandbox: its own package, offline."""
    env = dict(os.environ)
    env.update(PYTHONPATH=str(sandbox), LITELLM_OFFLINE_MODE="true", HF_HUB_OFFLINE="1",
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    for name in (paths.STUDY_DIR_ENV, "USERSIM_OUTPUT_DIR"):  # the sandbox's own folders, nothing else
        env.pop(name, None)
    return env


def run_notebooks(sandbox: Path, study_dir: Path) -> list[Path]:
    """Execute the sandbox's notebooks (except :data:`SKIPPED_NOTEBOOKS`) on ``study_dir`` into
    ``sandbox/reports/notebooks``, as ``make run`` does; returns the executed notebooks."""
    out_dir = sandbox / "reports" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)

    def execute(notebook: Path) -> Path:
        parameters = {"study_dir": str(study_dir), **RUN_PARAMETERS}
        command = [sys.executable, "-m", "papermill", "--cwd", str(sandbox / "notebooks"), "--kernel", "python3",
                   "--no-progress-bar", str(notebook), str(out_dir / notebook.name)]
        for name, value in parameters.items():
            command += ["-p", name, str(value)]  # papermill reads "20" as int and "False" as bool
        result = subprocess.run(command, cwd=sandbox, env=sandbox_env(sandbox), capture_output=True, text=True)
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"{notebook.name} failed in the sandbox:\n{tail}")
        return out_dir / notebook.name

    notebooks = [nb for nb in sorted((sandbox / "notebooks").glob("[0-9][0-9]_*.ipynb"))
                 if nb.stem not in SKIPPED_NOTEBOOKS]
    first = [nb for nb in notebooks if nb.stem < PARALLEL_FROM]
    executed = [execute(nb) for nb in first]
    with ThreadPoolExecutor(max_workers=2) as pool:
        executed += list(pool.map(execute, [nb for nb in notebooks if nb not in first]))
    return executed


def build_site(sandbox: Path, reports: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Run the sandbox's docs/build_site.py over ``reports``; returns (``reports/site``, process)."""
    site = reports / "site"
    command = [sys.executable, str(sandbox / "docs" / "build_site.py"), "--reports", str(reports),
               "--out", str(site), "--js", str(JS_MODULES)]
    result = subprocess.run(command, cwd=sandbox, env=sandbox_env(sandbox), capture_output=True, text=True)
    return site, result


def plant_markers(study: Path, marker: str) -> dict[str, str]:
    """Write unique markers into a copy of a study: at the start of a human user turn, as a
    human free-text survey answer, and into a simulator's turn. Returns ``{where: marker}``."""
    markers = {where: f"{marker}{where.upper()}" for where in ("turn", "answer", "rollout")}
    human_path = study / paths.HUMAN_FILE
    records = json.loads(human_path.read_text())
    for record in records.values():
        turns = [m for m in record["conversation"] if m["role"] == "user" and not m["content"].startswith("\\")]
        if record.get("keep", True) is not False and turns:
            turns[0]["content"] = f"{markers['turn']} {turns[0]['content']}"
            record["survey"]["specific_examples"] = {"question": "Specific examples?",
                                                     "answer": f"{markers['answer']} the agent asked twice"}
            break
    human_path.write_text(json.dumps(records))
    rollout_path = sorted((study / paths.EVAL_RESULTS_SUBDIR).glob("eval_results_*.json"))[0]
    rollouts = json.loads(rollout_path.read_text())
    first = next(iter(rollouts.values()))
    next(m for m in first["conversation"] if m["role"] == "user")["content"] += f" {markers['rollout']}"
    rollout_path.write_text(json.dumps(rollouts))
    return markers


@dataclass(frozen=True)
class SiteRun:
    """One run of the notebooks on a study that counts as real, and the two sites built from it.

    ``study`` is a copy of the demo panel (stamp included) under a folder whose name contains
    SYNTHETIC, with ``markers`` planted (:func:`plant_markers`): real data by the stamp's proof;
    ``real_site`` is what `make site` builds from it (the
    build's stderr in ``real_stderr``). ``demo_site`` is built from the same executed notebooks
    with their provenance marked synthetic, which is what the data is: the site a default
    `make run && make site` gives, banner included, without a second run of the notebooks.
    """

    sandbox: Path
    study: Path
    markers: dict[str, str]
    real_site: Path
    real_returncode: int
    real_stderr: str
    demo_site: Path


def _synthetic_copy(reports: Path, dest: Path) -> Path:
    """``reports`` copied to ``dest`` with every provenance file's data marked synthetic and read
    from the demo panel (the site checks that the folder is proven demo data, not only the flag)."""
    for part in ("notebooks", "figures", "provenance"):
        shutil.copytree(reports / part, dest / part)
    for path in (dest / "provenance").glob("*.json"):
        info = json.loads(path.read_text())
        if isinstance(info.get("data"), dict):
            info["data"].update(synthetic=True, root=str(demo.ensure_demo_panel()))
            path.write_text(json.dumps(info, indent=2))
    return dest


def site_run(base: Path) -> SiteRun:
    """The :class:`SiteRun` under ``base`` (pytest's session folder), made on first use and
    shared by the test modules; skips when the site's JavaScript cannot be installed."""
    root = base / "site-run"
    record = root / "run.json"
    if record.is_file():
        facts = json.loads(record.read_text())
        return SiteRun(**{k: Path(v) if k in ("sandbox", "study", "real_site", "demo_site") else v
                          for k, v in facts.items()})
    why_not = ensure_site_js()
    if why_not:
        pytest.skip(why_not)
    if root.exists():  # an earlier attempt failed half-way
        shutil.rmtree(root)
    sandbox = make_sandbox(root / "checkout")
    # The attack of a folder whose name says SYNTHETIC, with the demo's stamp copied along:
    # the planted markers change the files, so the stamp no longer proves them demo data.
    study = root / "real-data-NOT-SYNTHETIC" / "tau-usi"
    shutil.copytree(demo.ensure_demo_panel(), study)
    markers = plant_markers(study, f"GATEDMARKER{uuid.uuid4().hex}")
    run_notebooks(sandbox, study)
    real_site, real = build_site(sandbox, sandbox / "reports")
    demo_site, built = build_site(sandbox, _synthetic_copy(sandbox / "reports", root / "demo-reports"))
    if built.returncode != 0:
        raise RuntimeError(f"the site build failed:\n{built.stderr}")
    run = SiteRun(sandbox, study, markers, real_site, real.returncode, real.stderr, demo_site)
    record.write_text(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in run.__dict__.items()}))
    return run


def remote_resources(site: Path) -> list[str]:
    """``["file: tag"]`` for every script, style, font or image the site would fetch from another host."""
    found = []
    for path in site.rglob("*"):
        if path.suffix == ".html":
            found += [f"{path.relative_to(site)}: {m.group(0)}" for m in REMOTE_RESOURCE.finditer(path.read_text())]
        elif path.suffix == ".css":
            found += [f"{path.relative_to(site)}: {m.group(0)}" for m in REMOTE_CSS.finditer(path.read_text())]
    return found
