"""A small record/replay store of model calls, and atomic JSON writes.

litellm 1.110 removed its disk cache and its other caches need extra services, so
the runner keeps its own: one JSON file per call under ``<root>/<k[:2]>/<k>.json``,
``k`` being the SHA-256 of the canonical JSON of (model, endpoint, messages,
parameters). Same request -> same file -> the recorded reply, with no model call.
Files are written atomically (temporary file, then ``os.replace``), so a crash never
leaves a half-written entry and concurrent writers of one key cannot corrupt it. A
write that fails (full disk, read-only folder) raises :class:`OutputError`, one line
naming the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from .errors import OutputError
from .redact import redact


def write_json_atomic(path: Path, obj: Any, *, durable: bool = True) -> None:
    """Write ``obj`` as strict UTF-8 JSON to ``path`` so readers see the old file or the
    new one, never a partial one (:func:`usersim_utils.atomic.atomic_write_text`;
    ``durable``: on disk before it is visible), with the environment's secrets and URL
    credentials taken out (:func:`~usersim_utils.rollout.redact.redact`): every file the
    rollout stores is written here. :class:`OutputError` when the file cannot be written;
    ``ValueError`` for a NaN or an infinity (which strict JSON readers refuse)."""
    text = redact(json.dumps(obj, ensure_ascii=False, indent=1, allow_nan=False), bearer=False)
    try:
        atomic_write_text(path, text, durable=durable)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def request_key(request: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON of a request (sorted keys, no spaces)."""
    text = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """Recorded replies, one JSON file per request key under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """File of one key (two-character fan-out keeps folders small)."""
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The recorded reply, or ``None`` when absent. An unreadable entry (edited by
        hand, nested too deep to parse) counts as absent and is overwritten by the next call."""
        try:
            with self.path(key).open(encoding="utf-8") as fh:
                value = json.load(fh)
        except (FileNotFoundError, NotADirectoryError, ValueError, RecursionError):  # ValueError: bad JSON or UTF-8
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, reply: Mapping[str, Any]) -> None:
        """Record a reply (atomically). Not synced to disk: after a power cut an entry may
        be empty, which :meth:`get` reads as absent (the call is made again)."""
        write_json_atomic(self.path(key), dict(reply), durable=False)

    def discard(self, key: str) -> None:
        """Forget a recorded reply (one that turned out unusable), so the next identical
        request calls the model again instead of replaying it."""
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot remove {self.path(key)}: {exc.strerror or exc}") from exc

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.exists() else 0
