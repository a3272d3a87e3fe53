"""Fixtures shared by the test files.

* ``shared_file``: a file of ``../shared`` beside the checkout (real tau-bench
  trajectories, the spec, the authors' difficulty map; read-only, never copied into the
  repository); the test is skipped when it is absent.
* ``seeded_study`` / ``seeded_study_dir``: the fixed seeded study of
  ``tests/seeded_study.py`` (the golden numbers), in memory and written in the study's
  folder layout.
* ``demo_study``: the SYNTHETIC demo study the notebooks use, loaded.
* ``loopback_only``: outbound connections fail the test (the rollout tests use it).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from usersim_utils import data, paths

from seeded_study import make_study, write_study

#: ``../shared`` beside this checkout: the project's read-only reference material.
SHARED_DIR = paths.REPO_ROOT.parent / "shared"

#: The groups that take minutes (they execute notebooks or play the embedded model), longest
#: first: under pytest-xdist they start first, so no worker is left alone with one at the end.
LONGEST_FIRST = ("tests/test_unusual_studies.py", "tests/test_calibrate.py", "notebooks", "site",
                 "tests/test_rollout.py", "tests/test_distinguish.py")
#: The site's two test modules share one executed sandbox (tests/site_sandbox.py).
SITE_MODULES = ("tests/test_site.py", "tests/test_site_browser.py")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, the embedded model computes with one core's share per worker (it
    and each child process it starts: notebook kernels, commands), unless
    ``$USERSIM_LLAMA_THREADS`` is set. llama.cpp's threads wait for each other at every step,
    so two workers each using every core stall each other: two embedded conversations at once
    took 93 s with 2 threads each and 65 s with 1 on this 2-core machine."""
    from usersim_utils.rollout import local_model

    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")  # set in the workers only
    if workers and workers.isdigit() and int(workers) > 1:
        share = max(1, (os.cpu_count() or 1) // int(workers))
        os.environ.setdefault(local_model.THREADS_ENV, str(share))


def work_unit(nodeid: str) -> str:
    """The group a test runs in under pytest-xdist: its module, so that module- and
    session-scoped fixtures are made once; ``"site"`` for the site's two modules; and
    ``"notebooks"`` for every cell nbval checks, because the notebooks run as one chain, in
    order, each reading what the ones before it wrote."""
    path = nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        return "notebooks"
    return "site" if path in SITE_MODULES else path


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make test``'s scheduler: whole :func:`work_unit` groups to each worker (pytest-xdist's
    own ``--dist loadgroup`` ignores its marks under pytest 9, whose node ids it cannot suffix)."""
    from xdist.scheduler import LoadScopeScheduling  # only under xdist

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The groups of :data:`LONGEST_FIRST` first (xdist hands out groups in this order); the
    order inside each group, and of the rest, is kept (a stable sort)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))


@pytest.fixture(scope="session", autouse=True)
def score_cache_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """usersim-usi's features cache (``data/processed/score_cache`` by default) lives in the
    session's temporary folder: the tests never write into the checkout, and start cold."""
    patch = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("score_cache")
    patch.setenv(data.CACHE_DIR_ENV, str(folder))
    yield folder
    patch.undo()


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


# --- shared by the rollout tests -----------------------------------------------------------


@pytest.fixture()
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail any outbound connection (and the test, afterwards); loopback (the benchmark's
    stub, the fault servers) stays allowed. Yields the connections attempted."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost") and self.family != socket.AF_UNIX:
            attempts.append(address)
            raise OSError(f"test blocked a network connection to {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts
    assert attempts == [], f"code tried the network: {attempts}"
