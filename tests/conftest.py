"""Fixtures shared by the test files.

* ``shared_file``: a file of ``../shared`` beside the checkout (real tau-bench
  trajectories, the spec, the authors' difficulty map; read-only, never copied into the
  repository); the test is skipped when it is absent.
* ``seeded_study`` / ``seeded_study_dir``: the fixed seeded study of
  ``tests/seeded_study.py`` (the golden numbers), in memory and written in the study's
  folder layout.
* ``demo_study``: the SYNTHETIC demo study the notebooks use, loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from usersim_utils import data, paths

from seeded_study import make_study, write_study

#: ``../shared`` beside this checkout: the project's read-only reference material.
SHARED_DIR = paths.REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_file() -> Callable[[str], Path]:
    """``locate(relative)``: the path of ``../shared/<relative>``; skips the calling test
    when it is absent (the suite runs without ``../shared``)."""

    def locate(relative: str) -> Path:
        path = SHARED_DIR / relative
        if not path.exists():
            pytest.skip(f"../shared/{relative} is absent")
        return path

    return locate


@pytest.fixture(scope="session")
def seeded_study() -> dict[str, dict]:
    """The seeded study's records: ``{"human", "rerating", "sims", "surveys"}``
    (:func:`seeded_study.make_study`). Shared: tests must not change it."""
    return make_study()


@pytest.fixture(scope="session")
def seeded_study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded study written in the study's folder layout (read-only for the tests)."""
    return write_study(tmp_path_factory.mktemp("seeded") / "tau-usi")


@pytest.fixture(scope="session")
def demo_study() -> data.Study:
    """The SYNTHETIC demo study (``data/demo/SYNTHETIC-tau-usi``, generated when missing), loaded."""
    from usersim_utils import demo  # here: only the tests that use the demo study import its generator

    return data.resolve_study(demo.ensure_demo_panel())
