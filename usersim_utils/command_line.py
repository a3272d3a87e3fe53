"""One convention for every console script (``[project.scripts]`` of pyproject.toml): the
usage line names the script, every default is shown, the help ends with an example, and a
usage error is one ``error:`` line with exit status 2, like every other bad input.

The arguments several commands share are defined once where their meaning lives:
:mod:`usersim_utils.data.inputs` (the study's files, ``--difficulty``, ``--json``, ``--seed``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from . import paths

#: The SYNTHETIC demo panel (``make demo``) as the examples name it, from the repository root:
#: every example runs offline.
DEMO_PANEL = paths.DEMO_STUDY_DIR.relative_to(paths.REPO_ROOT).as_posix()
#: A command's exit status after bad input: a usage error, or a file, record or field that is wrong.
EXIT_BAD_INPUT = 2


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """argparse's help with ``(default: X)`` after each option that has a default, and the
    epilog (the example) kept as written.

    A default of ``None`` or ``False`` (an option not given, a flag off) says nothing and is
    not shown; a help text that already says its default (``default`` in it, for a default
    worked out at run time) is left as it is."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return action.help
        return super()._get_help_string(action)


class CommandParser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error: ...`` line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def command_parser(prog: str, description: str, example: str) -> CommandParser:
    """The parser of the console script ``prog``: ``description`` on top, ``example`` (one
    command line starting with ``prog``) at the bottom, defaults shown.

    Raises ``ValueError`` when ``example`` does not start with ``prog``: the example is
    what a reader copies."""
    if not example.startswith(f"{prog} "):
        raise ValueError(f"the example of {prog} must start with {prog!r}, not {example!r}")
    return CommandParser(prog=prog, description=description, epilog=f"example:\n  {example}",
                         formatter_class=HelpFormatter)


def add_subcommand(
    parser: argparse.ArgumentParser, subparsers: Any, name: str, *, help: str, example: str
) -> argparse.ArgumentParser:
    """The subcommand ``name`` of ``parser`` (a :func:`command_parser`; ``subparsers`` is what
    its ``add_subparsers`` returned), with the same conventions and its own example."""
    if not example.startswith(f"{parser.prog} {name}"):
        raise ValueError(f"the example of {parser.prog} {name} must start with it, not {example!r}")
    return subparsers.add_parser(name, help=help, description=help, epilog=f"example:\n  {example}",
                                 formatter_class=HelpFormatter)
