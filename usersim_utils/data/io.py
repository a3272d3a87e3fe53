"""Reading a JSON file of the study, or one line saying what is wrong with it.

:func:`read_json` refuses what a plain ``json.load`` would hang on, crash on or
silently resolve: a FIFO or a device, bytes that are not UTF-8, truncated text,
nesting deeper than the recursion limit, and an object with the same key twice.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import DataError, excerpt, first_clause


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file, or raise a :class:`DataError` saying what is wrong with it:
    missing, not a regular file (a FIFO or a device would block or never end),
    unreadable, not UTF-8, empty, not JSON (with line and column), truncated (the text
    ends before the value is complete), nested too deeply, or an object with the
    same key twice (which a JSON reader would otherwise resolve silently: the last
    one wins)."""
    return parse_json(read_regular_file(path), path)


def parse_json(raw: bytes, path: str | os.PathLike[str]) -> Any:
    """Parse the bytes ``raw`` read from ``path`` (named in the messages), with the checks
    of :func:`read_json`, for a caller that needs the bytes too (their digest)."""
    path = Path(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (bad byte at offset {exc.start})", file=path) from None
    if not text.strip():
        raise DataError("empty file, expected JSON", file=path)
    try:
        return json.loads(text, object_pairs_hook=_object_without_duplicates)
    except json.JSONDecodeError as exc:
        raise _json_error(exc, text, path) from None
    except _DuplicateKey as dup:
        raise _duplicate_key_error(text, path, dup) from None
    except RecursionError:
        raise DataError(
            "nested too deeply: arrays and objects more than about "
            f"{sys.getrecursionlimit()} levels deep", file=path
        ) from None
    except ValueError as exc:  # an integer literal beyond Python's digit limit, for one
        raise DataError(f"not readable as JSON: {first_clause(exc)}", file=path) from None


def read_regular_file(
    path: str | os.PathLike[str], *, max_bytes: int | None = None, expected: str = "a JSON file"
) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``max_bytes``
    bytes (``None``: any size), or a :class:`DataError` naming the file: a FIFO would
    wait forever and ``/dev/zero`` would fill the memory, so neither is read. It is
    opened without blocking and checked on the open file, so nothing swapped in between
    the check and the read gets through. ``expected`` names what should be there, for
    the message ("a JSON file", "a TOML card")."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise DataError("no such file", file=path) from None
    except IsADirectoryError:
        raise DataError(f"is a directory, expected {expected}", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror or exc}", file=path) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise DataError(f"is a directory, expected {expected}", file=path)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as fh:
        try:
            if not stat.S_ISREG(info.st_mode):
                raise DataError(f"not a regular file (a FIFO, device or socket), expected {expected}", file=path)
            if max_bytes is not None and info.st_size > max_bytes:
                too_big = f"{info.st_size:,} bytes, more than the {max_bytes:,} accepted for {expected}"
                raise DataError(too_big, file=path)
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        except OSError as exc:
            raise DataError(f"cannot read the file: {exc.strerror or exc}", file=path) from None
    if max_bytes is not None and len(data) > max_bytes:  # it grew while being read
        raise DataError(f"more than the {max_bytes:,} bytes accepted for {expected}", file=path)
    return data


class _DuplicateKey(Exception):
    """Raised by :func:`_object_without_duplicates`: ``key`` is entry ``first`` and
    ``second`` (0-based) of one JSON object."""

    def __init__(self, key: str, first: int, second: int) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json``'s ``object_pairs_hook``: the object as a dict, or :class:`_DuplicateKey`
    when a key repeats (the default reader keeps the last silently)."""
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: dict[str, int] = {}
        for position, (key, _) in enumerate(pairs):
            if key in seen:
                raise _DuplicateKey(key, seen[key], position)
            seen[key] = position
    return obj


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _line_col(text: str, pos: int) -> str:
    """``line L, column C`` (1-based) of offset ``pos`` in ``text``."""
    line_start = text.rfind("\n", 0, pos) + 1
    return f"line {text.count(chr(10), 0, pos) + 1}, column {pos - line_start + 1}"


def _top_level_entries(text: str) -> Iterator[tuple[str, int]]:
    """``(name, position)`` of each entry of the top-level object (its key) or array
    (``item <i>``), parsing each value with the duplicate check, in text order.
    Only called on text that ``json`` has read up to a duplicate key."""
    decoder = json.JSONDecoder(object_pairs_hook=_object_without_duplicates)

    def skip(i: int) -> int:
        return _JSON_SPACE.match(text, i).end()

    i = skip(0)
    is_object = text.startswith("{", i)
    i, index = skip(i + 1), 0
    while i < len(text) and text[i] not in "]}":
        name, start = f"item {index}", i
        if is_object:
            name, i = json.decoder.scanstring(text, i + 1)
            i = skip(skip(i) + 1)  # past the colon
        yield name, start
        _, i = decoder.raw_decode(text, i)
        i = skip(i)
        if text.startswith(",", i):
            i = skip(i + 1)
        index += 1


def _duplicate_key_error(text: str, path: Path, dup: _DuplicateKey) -> DataError:
    """The error for a key that repeats in one object: a top-level key (an instance id)
    with the line and column of both entries, else the record holding the object."""
    seen: dict[str, int] = {}
    record: str | None = None
    try:
        for record, start in _top_level_entries(text):
            if record in seen:
                return DataError(
                    f"the same key twice in the top-level object, at {_line_col(text, seen[record])} "
                    f"and at {_line_col(text, start)} (a JSON reader keeps only the last)",
                    file=path,
                    record=record,
                )
            seen[record] = start
    except _DuplicateKey as inner:
        return _duplicate_in_record(inner, path, record)
    return _duplicate_in_record(dup, path, None)  # not found again: name no record


def _duplicate_in_record(dup: _DuplicateKey, path: Path, record: str | None) -> DataError:
    return DataError(
        f"the key {excerpt(dup.key)} twice in one object (its entries {dup.first + 1} and "
        f"{dup.second + 1}; a JSON reader keeps only the last)",
        file=path,
        record=record,
    )


def _json_error(exc: json.JSONDecodeError, text: str, path: Path) -> DataError:
    body = text.rstrip()
    end_line = body.count("\n") + 1
    end_col = len(body) - (body.rfind("\n") + 1) + 1
    if exc.msg.startswith("Unterminated string"):
        return DataError(
            f"truncated JSON: a string opened at line {exc.lineno}, column {exc.colno} "
            f"is never closed (the text ends at line {end_line}, column {end_col})",
            file=path,
        )
    if exc.pos >= len(body):
        return DataError(
            f"truncated JSON: the text ends at line {end_line}, column {end_col} "
            f"before the value is complete ({exc.msg})",
            file=path,
        )
    return DataError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", file=path)


def json_type(value: Any) -> str:
    """``value``'s JSON type with an article, for messages ("an array", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def is_number(value: Any) -> bool:
    """True for a JSON number (an int or a float, not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
