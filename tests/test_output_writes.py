"""Every command writes its --json through one writer whose failure is one line naming the
output file (a full disk gave a traceback in the audit and the two-sample
test, and the baselines named their temporary file). A full disk is simulated by making the
write fail with ENOSPC; an earlier output file is left as it was."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from usersim_utils import atomic, audit, baselines, demo, distinguish, paths, scoring
from usersim_utils.errors import DataError


def _disk_full(*args: object, **kwargs: object) -> int:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_the_writer_names_the_output_and_keeps_what_was_there(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "rows.json"
    out.write_text("[]\n")
    monkeypatch.setattr(atomic.os, "write", _disk_full)
    with pytest.raises(DataError) as caught:
        atomic.write_output(out, '[{"a": 1}]\n')
    assert str(out) in str(caught.value) and "No space left on device" in str(caught.value)
    assert out.read_text() == "[]\n" and list(tmp_path.iterdir()) == [out]  # no temporary file left


@pytest.mark.parametrize("command", ["usi", "audit", "baselines", "distinguish"])
def test_a_full_disk_is_one_error_line_naming_the_output(command: str, tmp_path: Path, monkeypatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    panel = demo.ensure_demo_panel()
    files = [str(p) for p in sorted((panel / paths.EVAL_RESULTS_SUBDIR).glob("*.json"))[:1]]
    out = tmp_path / f"{command}.json"
    argv = {"usi": ["--human", str(panel), "--eval-results", *files, "--json", str(out)],
            "audit": ["--eval-results", *files, "--json", str(out)],
            "baselines": ["--human", str(panel), "--eval-results", *files, "--difficulty", "published",
                          "--json", str(out), "--n-boot", "5"],
            "distinguish": ["--human", str(panel), "--eval-results", *files, "--json", str(out), "--n-refit", "2"],
            }[command]
    main = {"usi": scoring.main, "audit": audit.main, "baselines": baselines.main, "distinguish": distinguish.main}
    monkeypatch.setattr(atomic.os, "write", _disk_full)
    assert main[command](argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1 and str(out) in errors[0] and "No space left on device" in errors[0], err
    assert not out.exists()
