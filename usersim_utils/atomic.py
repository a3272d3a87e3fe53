"""Atomic file writes: a crash never leaves a half-written file behind."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from .errors import DataError


def _temporary(dest: Path) -> Path:
    """The temporary file beside ``dest``: named for the process and thread, so that
    concurrent writers of one file never share it."""
    return dest.parent / f".{dest.name}.{os.getpid()}-{threading.get_ident()}.tmp"


def atomic_write(dest: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``dest``, then rename it to ``dest``
    (permissions 0644, on disk before the rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(dest)
    try:
        write(tmp)
        with open(tmp, "rb+") as written:  # on disk before the rename makes it visible
            os.fsync(written.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(dest: Path, text: str, *, durable: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``dest`` atomically, with permissions 0644, creating its
    folder if needed. ``durable``: the bytes reach the disk (``fsync``) before the rename
    makes them visible; without it a power cut may leave an empty or torn file (which
    readers of a cache treat as absent), never a crash.

    One open and no folder check unless the folder is missing: the rollout client
    writes one file per model call."""
    data = text.encode("utf-8")
    tmp = _temporary(dest)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileNotFoundError:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o644)
    try:
        try:
            os.fchmod(fd, 0o644)  # whatever the umask, like the files atomic_write makes
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_output(dest: str | os.PathLike[str], text: str) -> Path:
    """A command's output file, written atomically (:func:`atomic_write_text`): the one writer
    of every command's ``--json``. A write that fails (disk full, read-only folder) raises
    :class:`~usersim_utils.errors.DataError` naming ``dest``, for the command's one ``error:``
    line; the temporary file is removed and an earlier ``dest`` is left as it was."""
    dest = Path(dest)
    try:
        atomic_write_text(dest, text)
    except OSError as exc:
        raise DataError(f"cannot write the output: {exc.strerror or exc}", file=dest) from None
    return dest
