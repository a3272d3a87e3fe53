"""The scoring command's cache: the features table of each input file and the Eval cells
of each (human, survey) pair of files, so that rescoring the same files (another
``--difficulty``, a subset of the simulators, the calibration loop) skips reading,
validating and extracting them again.

An entry is keyed by the SHA-256 of the bytes of the files it was computed from, the
file's name (it decides the label and which kinds of file are refused), the options
that change it, the package version and a digest of the lexicons: a changed file,
lexicon or version is a different key, so a stale entry is never found. An entry is
written only after its file was read and validated without error, atomically; one that
cannot be read back whole (truncated, garbled, another entry's) is recomputed and
replaced, never trusted. Entries hold features of gated rows: they live under
``data/processed/`` (:data:`DEFAULT_DIR`, git-ignored), never anywhere committed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__, features, paths
from ..atomic import atomic_write, atomic_write_text

#: Where ``usersim-usi`` keeps its cache unless ``--cache-dir`` (or ``$`` :data:`CACHE_DIR_ENV`) says otherwise.
DEFAULT_DIR: Path = paths.PROCESSED_DIR / "score_cache"
#: Environment variable that moves the cache (tests point it at a temporary folder).
CACHE_DIR_ENV = "USERSIM_SCORE_CACHE_DIR"
#: Bumped when the layout of an entry changes.
LAYOUT_VERSION = 1
_KEY_ATTR = "usersim_cache_key"


def default_dir() -> Path:
    """``$USERSIM_SCORE_CACHE_DIR`` when set, else :data:`DEFAULT_DIR`."""
    return Path(os.environ[CACHE_DIR_ENV]) if os.environ.get(CACHE_DIR_ENV) else DEFAULT_DIR


def digest(raw: bytes) -> str:
    """SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(raw).hexdigest()


def lexicon_digest(lexicons: Mapping[str, str] | None = None) -> str:
    """SHA-256 of the lexicons (:data:`usersim_utils.features.LEXICONS` by default)."""
    return digest(json.dumps(dict(features.LEXICONS if lexicons is None else lexicons), sort_keys=True).encode())


class ScoreCache:
    """Features tables and Eval cells on disk, in ``folder``, for package ``version`` and
    ``lexicons`` (the current ones by default, read when the cache is made)."""

    def __init__(self, folder: str | os.PathLike[str], *, version: str | None = None,
                 lexicons: Mapping[str, str] | None = None) -> None:
        self.folder = Path(folder)
        self._salt = [LAYOUT_VERSION, __version__ if version is None else version, lexicon_digest(lexicons)]

    def key(self, kind: str, *parts: str | None) -> str:
        """The entry name of ``kind`` (``"features"``, ``"eval"``, ``"ceiling"``) computed from
        ``parts`` (file digests, names, options)."""
        return f"{kind}-" + digest(json.dumps([*self._salt, kind, *parts]).encode())

    def table(self, key: str, columns: list[str]) -> pd.DataFrame | None:
        """The features table stored under ``key``, or ``None`` when absent or not whole
        (unreadable, another entry's, other ``columns``)."""
        path = self.folder / f"{key}.parquet"
        if not path.is_file():
            return None
        try:
            table = pd.read_parquet(path)
        except Exception:  # noqa: BLE001 (any failure to read an entry means: recompute it)
            return None
        if table.attrs.get(_KEY_ATTR) != key or list(table.columns) != columns:
            return None
        table.attrs = {}
        return table

    def store_table(self, key: str, table: pd.DataFrame) -> None:
        """Store ``table`` under ``key``, atomically."""
        stored = table.copy(deep=False)
        stored.attrs = {_KEY_ATTR: key}
        atomic_write(self.folder / f"{key}.parquet", lambda tmp: stored.to_parquet(tmp, index=False))

    def cell(self, key: str) -> tuple[bool, tuple[float, float] | None]:
        """``(found, cell)``: the Eval cell stored under ``key`` (``None`` is a stored
        "undefined"); ``found`` is False when absent or not whole."""
        try:
            entry = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False, None
        if not isinstance(entry, dict) or entry.get("key") != key or "cell" not in entry:
            return False, None
        cell = entry["cell"]
        if cell is None:
            return True, None
        if _is_cell(cell):
            return True, (float(cell[0]), float(cell[1]))
        return False, None

    def store_cell(self, key: str, cell: tuple[float, float] | None) -> None:
        """Store an Eval cell (or ``None``) under ``key``, atomically (floats round-trip exactly)."""
        payload = {"key": key, "cell": None if cell is None else [cell[0], cell[1]]}
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.folder / f"{key}.json", json.dumps(payload) + "\n")


def _is_cell(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, float) and math.isfinite(v) for v in value))
