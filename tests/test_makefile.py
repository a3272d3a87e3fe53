"""The Makefile's set-up and lab (a newcomer's first commands), run for real in a temporary copy of
the Makefile with stand-in interpreters: a wrong Python is one line naming the version found and
the one needed, before anything is made; a half-made .venv is never trusted; a failed install is
retried. The repository's own .venv is never touched."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from usersim_utils import paths

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")

#: A stand-in Python: it answers the version probe with $FAKE_VERSION, makes a "venv" holding a
#: copy of itself, fails `pip --version` when $FAKE_NO_PIP is set and `pip install` when the file
#: $FAKE_PIP_FAILS exists, and logs every other call to $FAKE_LOG.
FAKE_PYTHON = """#!/bin/bash
case "$*" in
  "-c "*version_info*) echo "${FAKE_VERSION:-3.11}" ;;
  "-m venv "*) mkdir -p "$3/bin" && cp "$0" "$3/bin/python" ;;
  "-m pip --version") [ -z "$FAKE_NO_PIP" ] ;;
  "-m pip install "*) echo "$*" >> "$FAKE_LOG"; [ ! -e "$FAKE_PIP_FAILS" ] ;;
  *) echo "$*" >> "$FAKE_LOG" ;;
esac
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The Makefile and the files its set-up reads, copied into an empty folder."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("Makefile", "pyproject.toml", "constraints.txt"):
        shutil.copy(paths.REPO_ROOT / name, root / name)
    return root


def fake_python(folder: Path, name: str = "python3") -> Path:
    """Write :data:`FAKE_PYTHON` as ``folder/name``, executable."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(FAKE_PYTHON)
    path.chmod(0o755)
    return path


def make(checkout: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``make ARGS`` in ``checkout``, outside any make that runs this test."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "MFLAGS"}
    return subprocess.run(["make", "--no-print-directory", *args], cwd=checkout, capture_output=True, text=True,
                          timeout=120, env={**base, "FAKE_LOG": str(checkout / "calls.log"), **env})


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_a_python_that_does_not_run_is_one_line_and_nothing_is_made(checkout: Path) -> None:
    result = make(checkout, "setup", "PYTHON=/usr/bin/false")
    assert result.returncode != 0
    assert error_lines(result) == [
        "error: PYTHON=/usr/bin/false does not run as Python (no version found); make setup needs Python 3.11 "
        "or newer: pass PYTHON=/path/to/python3.11"]
    assert not (checkout / ".venv").exists()


def test_a_python_too_old_is_named_with_the_version_needed_before_anything_is_made(checkout: Path) -> None:
    old = fake_python(checkout / "bin", "python3.10")
    result = make(checkout, "setup", f"PYTHON={old}", FAKE_VERSION="3.10")
    assert result.returncode != 0
    (line,) = error_lines(result)
    assert f"PYTHON={old} is Python 3.10; make setup needs Python 3.11 or newer" in line
    assert not (checkout / ".venv").exists() and not (checkout / "calls.log").exists()  # no venv, no pip


def test_a_half_made_venv_is_made_again_and_a_failed_install_is_retried(checkout: Path) -> None:
    good = fake_python(checkout / "bin")
    half_made = fake_python(checkout / ".venv" / "bin", "python")  # a venv whose pip is missing
    (checkout / ".venv" / "leftover").write_text("from the interrupted venv")
    failing = checkout / "pip-fails"
    failing.touch()
    result = make(checkout, "setup", f"PYTHON={good}", FAKE_NO_PIP="1", FAKE_PIP_FAILS=str(failing))
    assert result.returncode != 0  # pip install failed
    assert not (checkout / ".venv" / "leftover").exists()  # the half-made venv was removed
    assert half_made.exists()  # ... and made again by PYTHON
    assert not (checkout / ".venv" / ".installed").exists()  # the stamp does not trust a failed install
    failing.unlink()
    result = make(checkout, "setup", f"PYTHON={good}", FAKE_PIP_FAILS=str(failing))
    assert result.returncode == 0, result.stderr
    calls = (checkout / "calls.log").read_text().splitlines()
    assert sum(call.startswith("-m pip install") for call in calls) == 2  # retried
    assert calls[-1] == "-m usersim_utils.rollout.model_check"
    assert (checkout / ".venv" / ".installed").exists()
    assert make(checkout, "setup", "PYTHON=/usr/bin/false").returncode == 0  # set up: PYTHON not needed


def test_a_sound_venv_is_reused_whatever_python_is_given(checkout: Path) -> None:
    """pyproject.toml changed: the install runs again in the venv, which PYTHON did not make."""
    fake_python(checkout / ".venv" / "bin", "python")
    result = make(checkout, "setup", "PYTHON=/usr/bin/false")
    assert result.returncode == 0, result.stderr
    assert (checkout / ".venv" / ".installed").exists()


def test_make_lab_takes_jupyterlab_flags_and_allows_root_when_root(checkout: Path) -> None:
    fake_python(checkout / ".venv" / "bin", "python")
    (checkout / ".venv" / ".installed").touch()
    result = make(checkout, "-n", "lab", "LAB_ARGS=--no-browser --port 8890")
    command = next(line for line in result.stdout.splitlines() if "jupyter lab" in line)
    assert command.split()[-2:] == ["--port", "8890"] and "--no-browser" in command
    assert f"--ServerApp.root_dir={checkout}" in command  # notebooks/ and reports/notebooks/ both in reach
    assert ("--allow-root" in command) == (os.getuid() == 0)
    assert "reports/notebooks/ (executed by make run)" in result.stdout
    help_lines = re.sub(r"\x1b\[[0-9;]*m", "", make(checkout, "help").stdout).splitlines()  # no colours
    assert "LAB_ARGS=" in next(line for line in help_lines if line.split()[0] == "lab")
