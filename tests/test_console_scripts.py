"""Every console script of pyproject.toml follows one convention (learn one, know all): ``--help``
exits 0 with a usage line naming the script, every default is shown, the help ends with an
example that the command's own parser accepts, and no help names a module that is gone."""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from usersim_utils import paths

SCRIPTS: dict[str, str] = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def parser_of(script: str) -> argparse.ArgumentParser:
    """The parser of a console script: ``build_parser()`` beside its entry point (the module
    that defines the ``main`` pyproject names)."""
    module, _, function = SCRIPTS[script].partition(":")
    entry_point = getattr(importlib.import_module(module), function)
    return sys.modules[entry_point.__module__].build_parser()


def parsers_with_subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and the parser of each of its subcommands."""
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser, *(p for action in subcommands for p in action.choices.values())]


def example_of(parser: argparse.ArgumentParser) -> str:
    """The command line under ``example:`` at the end of the help."""
    epilog = parser.epilog or ""
    assert epilog.startswith("example:\n"), f"{parser.prog}: no example in its help"
    return epilog.removeprefix("example:\n").strip()


def test_every_script_of_pyproject_has_a_parser() -> None:
    assert len(SCRIPTS) >= 9
    for script in SCRIPTS:
        assert parser_of(script).prog == script


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_exits_0_and_the_usage_names_the_script(script: str) -> None:
    installed = Path(sys.executable).parent / script
    assert installed.is_file(), f"{installed} is missing: reinstall (make setup)"
    result = subprocess.run([str(installed), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {script} "), result.stdout[:200]
    assert "python -m" not in result.stdout.splitlines()[0]
    assert "usersim_utils.usi" not in result.stdout  # the old command, gone
    assert f"example:\n  {script} " in result.stdout


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_each_example_is_accepted_by_the_command_itself(script: str) -> None:
    parser = parser_of(script)
    for each in parsers_with_subcommands(parser):
        words = shlex.split(example_of(each))
        assert words[0] == script
        parser.parse_args(words[1:])  # a usage error would exit 2 here


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_default_is_shown(script: str) -> None:
    for each in parsers_with_subcommands(parser_of(script)):
        formatter = each._get_formatter()
        for action in each._actions:
            if action.help == argparse.SUPPRESS or action.default in (None, False, argparse.SUPPRESS):
                continue
            shown = formatter._expand_help(action) if action.help else ""
            assert "default" in shown, f"{each.prog} {action.option_strings}: default {action.default!r} not shown"


#: The options several commands share: each is optional or required, and defaults, the same way everywhere.
SHARED_OPTIONS = ("--human", "--eval-results", "--survey-dir", "--difficulty", "--json", "--seed", "--domain",
                  "--run-split")


def test_shared_options_behave_one_way_everywhere() -> None:
    kinds: dict[str, set[tuple[bool, object]]] = {}
    for script in SCRIPTS:
        for each in parsers_with_subcommands(parser_of(script)):
            for action in each._actions:
                for option in set(action.option_strings) & set(SHARED_OPTIONS):
                    if (script, option) != ("usersim-audit", "--human"):  # the audit also runs without people
                        kinds.setdefault(option, set()).add((action.required, action.default))
    assert kinds["--json"] == {(False, None)}  # optional: the table is printed either way
    assert kinds["--difficulty"] == {(False, None)}  # all, or published for new rollouts: one rule
    assert {option for option, seen in kinds.items() if len(seen) > 1} == set()


def test_the_rollout_names_its_tasks_as_calibrate_and_notebook_02_do() -> None:
    """``--tasks`` (notebook 02's ``tasks``, usersim-calibrate's ``--tasks``); ``--domains``, the
    flag's first name, still reads the same."""
    parser = parser_of("usersim-rollout")
    assert parser.parse_args(["--tasks", "retail:0-4"]).tasks == "retail:0-4"
    assert parser.parse_args(["--domains", "retail:0-4"]).tasks == "retail:0-4"
    assert "--tasks SPEC" in parser.format_usage()


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_each_example_runs_offline_on_the_demo_panel(script: str, tmp_path: Path) -> None:
    """The examples as a reader pastes them, from a folder that sees the repository's data/ and
    cards/ (the SYNTHETIC demo panel, made if absent); the download example needs the Hub."""
    from usersim_utils import demo

    demo.ensure_demo_panel()
    for name in ("data", "cards"):
        (tmp_path / name).symlink_to(paths.REPO_ROOT / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "LITELLM_OFFLINE_MODE": "true", "HF_HUB_OFFLINE": "1"}
    for each in parsers_with_subcommands(parser_of(script)):
        example = example_of(each)
        if example.startswith("usersim-data download"):
            continue
        result = subprocess.run(["bash", "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                                env=env)
        assert result.returncode == 0, f"{example}\n{result.stderr[-2000:]}"
