"""Rollout failures as one line each, with secrets taken out.

Two kinds of failure:

* :class:`RolloutError`: the run cannot start or go on (an unwritable output folder,
  a full disk, an unreachable endpoint, another process on the same label). The
  command prints ``error: <line>`` and its summary line.
* :class:`ReplyError`: one model reply cannot be used (no choices, a null message, a
  survey too deeply nested to parse). Only its conversation fails; the others go on.

Every error that is printed or stored goes through :func:`describe`, which keeps one
line, cuts it to :data:`MAX_ERROR_CHARS` and takes the secrets out
(:func:`usersim_utils.rollout.redact.redact`): a server may echo the API key it was sent
in its error body, and an ``--api-base`` may carry a password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .redact import redact

if TYPE_CHECKING:
    from .summary import RolloutSummary

#: Longest error line printed or stored.
MAX_ERROR_CHARS = 400


class RolloutError(Exception):
    """The run cannot start or go on; ``str(err)`` is one line. ``summary`` is what
    the run had finished when it stopped (``None`` when it never started)."""

    def __init__(self, message: str, *, summary: RolloutSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


class OutputError(RolloutError):
    """A file or folder under the output folder cannot be created or written."""


class EndpointError(RolloutError):
    """A model endpoint (``--api-base``) is malformed or accepts no connection."""


class RunLockedError(RolloutError):
    """Another process is running the same label in the same output folder."""


class ReplyError(Exception):
    """A model reply that cannot be used; fails its conversation only."""


def one_line(text: str, max_chars: int = MAX_ERROR_CHARS) -> str:
    """The first non-empty line of ``text`` without any traceback quoted in it, cut to
    ``max_chars`` characters."""
    text = text.split("Traceback (most recent call last)", 1)[0]
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= max_chars else line[: max_chars - 1] + "…"


def describe(exc: BaseException) -> str:
    """``<ErrorType>: <message>`` of ``exc`` as one redacted, bounded line (a run-level
    :class:`RolloutError` without its type name: its message says it all)."""
    message = str(exc)
    text = message if isinstance(exc, RolloutError) else f"{type(exc).__name__}: {message}"
    # redact before cutting, so that a key cut in half cannot slip through
    return one_line(redact(text))
