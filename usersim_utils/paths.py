"""Every location the project reads or writes, resolved from the repository root.

Nothing here depends on the working directory, so notebooks, tests and the
command line find the same files wherever they are started from.
"""

from __future__ import annotations

import os
from pathlib import Path

# The study folder's layout is a convention of the study, defined in usersim_utils.schema;
# the names stay here too, where the code has always found them.
from .schema import EVAL_RESULTS_SUBDIR as EVAL_RESULTS_SUBDIR
from .schema import HUMAN_FILE as HUMAN_FILE
from .schema import SURVEY_SUBDIR as SURVEY_SUBDIR

#: The repository root (the folder holding ``pyproject.toml``); the package is
#: installed editable, so this is the checkout itself.
REPO_ROOT: Path = Path(__file__).resolve().parent.parent
DATA_DIR: Path = REPO_ROOT / "data"
#: Where ``python -m usersim_utils.data download`` puts the gated study data.
RAW_STUDY_DIR: Path = DATA_DIR / "raw" / "tau-usi"
#: The generated SYNTHETIC demo panel (same layout as the real dataset).
DEMO_STUDY_DIR: Path = DATA_DIR / "demo" / "SYNTHETIC-tau-usi"
#: Environment variable that moves everything the notebooks write (``processed/`` and
#: ``reports/``) under one other folder: tests run notebooks there, never over the
#: developer's outputs. Read once, at import.
OUTPUT_DIR_ENV = "USERSIM_OUTPUT_DIR"
_OUTPUT_DIR: Path | None = (Path(os.environ[OUTPUT_DIR_ENV]).expanduser().resolve()
                           if os.environ.get(OUTPUT_DIR_ENV) else None)
#: Intermediate artefacts that one notebook writes and a later one reads.
PROCESSED_DIR: Path = _OUTPUT_DIR / "processed" if _OUTPUT_DIR else DATA_DIR / "processed"
#: Rollouts written by notebook 02 / ``python -m usersim_utils.rollout``.
ROLLOUTS_DIR: Path = PROCESSED_DIR / "rollouts"
#: Per-conversation features tables written by notebook 03 (``<label>.parquet``).
FEATURES_DIR: Path = PROCESSED_DIR / "features"
REPORTS_DIR: Path = _OUTPUT_DIR / "reports" if _OUTPUT_DIR else REPO_ROOT / "reports"
FIGURES_DIR: Path = REPORTS_DIR / "figures"
PROVENANCE_DIR: Path = REPORTS_DIR / "provenance"
NOTEBOOKS_DIR: Path = REPO_ROOT / "notebooks"

#: Environment variable that points the loader at a local copy of ``cmu-lti/tau-usi``.
STUDY_DIR_ENV = "USERSIM_TAU_USI_DIR"


def study_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the real study data: ``explicit``, else ``$USERSIM_TAU_USI_DIR``,
    else ``data/raw/tau-usi``. It may not exist; see :func:`usersim_utils.data.resolve_study`."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(STUDY_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return RAW_STUDY_DIR
