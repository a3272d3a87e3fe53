"""What the rollout command reads and takes from its user: cards
and prompt templates that are not regular files or are too large, and values out of
range from a card or a flag, each refused with one ``error:`` line and status 2 before
anything runs."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from usersim_utils.rollout import __main__ as cli
from usersim_utils.rollout import card as card_mod
from usersim_utils.rollout.cache import write_json_atomic

CARD = 'name = "fifo-test"\n[simulator]\nmodel = "scripted/user"\n[agent]\nmodel = "scripted/agent"\n'


def run_bounded(argv: list[str], seconds: float = 20.0) -> int:
    """``cli.main(argv)`` on a thread; fails the test if it has not returned in ``seconds``
    (a FIFO used to block it forever)."""
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(cli.main(argv)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert status, f"still running after {seconds} s: {argv}"
    return status[0]


def one_error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err.strip()


@pytest.fixture()
def fifo(tmp_path: Path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    yield path
    try:  # release a reader an older version left blocked on it (ENXIO: there is none)
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


@pytest.mark.parametrize("where", ["card", "prompt_file", "simulator_prompt_file"])
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_a_fifo_is_refused_at_once(
    where: str, dry_run: bool, fifo: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    card = tmp_path / "card.toml"
    prompt = f'prompt_file = "{fifo.name}"\n' if where == "prompt_file" else ""
    card.write_text(CARD.replace("[agent]", prompt + "[agent]"))
    argv = ["--domains", "retail:0", "--out", str(tmp_path / "out"), "--no-progress"]
    argv += ["--card", str(fifo if where == "card" else card)]
    if where == "simulator_prompt_file":
        argv += ["--simulator-prompt-file", str(fifo)]
    argv += ["--dry-run"] if dry_run else []
    assert run_bounded(argv) == 2
    line = one_error(capsys)
    assert str(fifo) in line and "not a regular file (a FIFO, device or socket)" in line, line
    assert not (tmp_path / "out").exists()


def test_dev_zero_is_refused_without_reading_it(tmp_path: Path) -> None:
    """Before, reading /dev/zero as a card grew the memory without bound (23 GB in 20 s);
    here the child may use at most 2 GB, and must end at once with one line."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    proc = subprocess.run(
        [sys.executable, "-m", "usersim_utils.rollout", "--card", "/dev/zero", "--domains", "retail:0", "--dry-run"],
        capture_output=True, text=True, timeout=60, preexec_fn=limit_memory,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-500:]
    assert proc.stderr == (
        "error: /dev/zero: not a regular file (a FIFO, device or socket), expected a TOML card\n"
    )


def test_a_card_or_template_over_the_cap_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    huge = tmp_path / "huge.txt"
    huge.write_text("{instruction}" + " " * card_mod.MAX_TEXT_FILE_BYTES)
    argv = ["--simulator", "scripted/user", "--agent", "scripted/agent", "--domains", "retail:0", "--dry-run"]
    assert run_bounded([*argv, "--simulator-prompt-file", str(huge)]) == 2
    assert one_error(capsys) == (
        f"error: --simulator-prompt-file: {huge}: 1,000,013 bytes, more than the 1,000,000 accepted "
        "for a prompt template"
    )
    card = tmp_path / "card.toml"
    card.write_text(CARD + "#" * card_mod.MAX_TEXT_FILE_BYTES)
    assert run_bounded(["--card", str(card), "--domains", "retail:0", "--dry-run"]) == 2
    assert "more than the 1,000,000 accepted for a TOML card" in one_error(capsys)


def test_a_directory_and_a_missing_card_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_bounded(["--card", str(tmp_path), "--domains", "retail:0", "--dry-run"]) == 2
    assert one_error(capsys) == f"error: {tmp_path}: is a directory, expected a TOML card"
    assert run_bounded(["--card", str(tmp_path / "no.toml"), "--domains", "retail:0", "--dry-run"]) == 2
    assert one_error(capsys) == f"error: {tmp_path / 'no.toml'}: no such file"


def test_written_json_is_strict(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        write_json_atomic(tmp_path / "a.json", {"temperature": float("nan")})
    assert not (tmp_path / "a.json").exists()
    write_json_atomic(tmp_path / "a.json", {"temperature": 0.5})
    assert json.loads((tmp_path / "a.json").read_text()) == {"temperature": 0.5}


# --- values out of range, from a card or a flag: refused before anything runs ------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "1e308", "2.5"])
@pytest.mark.parametrize("side", ["simulator", "agent"])
def test_a_temperature_flag_out_of_range_is_one_line_up_front(
    value: str, side: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--simulator", "scripted/user", "--agent", "scripted/agent", "--domains", "retail:0"]
    argv += ["--out", str(tmp_path), "--no-progress", f"--{side}-temperature={value}"]
    assert run_bounded(argv) == 2
    assert one_error(capsys) == (
        f"error: field '{side}.temperature' (--{side}-temperature) must be a number from 0 to 2, got {float(value)!r}"
    )
    assert not list(tmp_path.iterdir())  # nothing written, no card with NaN in it


SIM_T = "'simulator.temperature' (--simulator-temperature)"


@pytest.mark.parametrize(
    "table, line, shown",
    [
        ("simulator", "temperature = nan", f"{SIM_T} must be a number from 0 to 2, got nan"),
        ("agent", "temperature = -inf", "'agent.temperature' (--agent-temperature) must be a number from 0 to 2, got -inf"),  # noqa: E501
        ("simulator", "temperature = 1e308", f"{SIM_T} must be a number from 0 to 2, got 1e+308"),
        ("persona", "seed = -1", "'persona.seed' must be an integer from 0 to 4294967295, got -1"),
    ],
)  # fmt: skip
def test_a_card_value_out_of_range_is_one_line_up_front(
    table: str, line: str, shown: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    card = tmp_path / "card.toml"
    text = CARD + '[persona]\nsource = "human-study"\n' if table == "persona" else CARD
    card.write_text(text.replace(f"[{table}]\n", f"[{table}]\n{line}\n"))
    for extra in ([], ["--dry-run"]):
        argv = ["--card", str(card), "--domains", "retail:0", "--out", str(tmp_path / "out"), "--no-progress", *extra]
        assert run_bounded(argv) == 2
        assert one_error(capsys) == f"error: field {shown}"
    assert not (tmp_path / "out").exists()


def test_a_flag_in_range_overrides_a_card_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    card = tmp_path / "card.toml"
    card.write_text(CARD.replace("[simulator]\n", "[simulator]\ntemperature = nan\n"))
    argv = ["--card", str(card), "--simulator-temperature", "0.7", "--domains", "retail:0", "--dry-run"]
    assert run_bounded(argv) == 0
    assert "estimated_calls=" in capsys.readouterr().out


def test_the_removed_processes_flag_is_one_usage_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """One process keeps up (README): ``--processes`` is gone, and an old command line says
    which argument it no longer takes instead of running."""
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--domains", "retail:0", "--processes", "2", "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert one_error(capsys) == "error: unrecognized arguments: --processes 2"
    assert not (tmp_path / "out").exists()
