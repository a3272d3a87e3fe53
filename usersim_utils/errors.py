"""Bad input, said in one line: errors that stop a read, warnings that do not, and the
short excerpt every message uses when it quotes a value from a file."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Longest quoted value in a message; longer ones are cut (see :func:`excerpt`).
EXCERPT_CHARS = 80
# Containers are shown a few levels and items deep: never the whole of a large or deep value.
_CONTAINER_REPR = reprlib.Repr()
_CONTAINER_REPR.maxlevel = 3
_CONTAINER_REPR.maxstring = EXCERPT_CHARS
_CONTAINER_REPR.maxother = EXCERPT_CHARS


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` for a one-line message, at most ``limit`` characters; a longer
    one is cut and ends with ``…(N chars)``, N being the length of the whole repr.

    ``excerpt("x" * 10**6)`` is the first 80 characters of ``'xxx…`` followed by
    ``…(1,000,002 chars)``; lists and objects show only their first levels and items.
    """
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        text = _CONTAINER_REPR.repr(value)
    else:
        try:
            text = repr(value)
        except ValueError:  # an integer beyond Python's digit limit for str()
            text = f"<an integer of {value.bit_length():,} bits>"
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…({len(text):,} chars)"


#: Deepest list/object nesting accepted inside a survey answer or tool-call arguments:
#: such values are later written out again by recursive code (``json.dumps``), which
#: must never run out of stack. Real ones are a level or two deep.
MAX_NESTING = 32


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """Levels of lists and objects in ``value`` (0 for a scalar, 1 for ``[1]``),
    counted level by level without recursion; stops counting past ``limit``."""
    depth, level = 0, [value]
    while depth <= limit:
        containers = [v for v in level if isinstance(v, (Mapping, list, tuple))]
        if not containers:
            break
        depth += 1
        level = [c for v in containers for c in (v.values() if isinstance(v, Mapping) else v)]
    return depth


def first_clause(exc: BaseException) -> str:
    """The first clause of an exception's message (up to the first ``:`` or new line),
    at most :data:`EXCERPT_CHARS` long: for library errors whose full text gives advice
    meant for programmers (``ValueError: Exceeds the limit (4300 digits) for integer
    string conversion: ...; use sys.set_int_max_str_digits() ...``)."""
    return str(exc).split(":")[0].split("\n")[0][:EXCERPT_CHARS]


def is_finite_number(value: Any) -> bool:
    """True for an int or float (not a bool) that is finite as a float: rejects NaN,
    ±Infinity, ``1e400`` (read as inf) and integers too large for a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range (e.g. 400 digits)
        return False


def _one_line(file: str | Path | None, record: str | None, field: str | None, problem: str) -> str:
    """``file: record 'r': field 'f': problem``, the parts that are known; record and
    field are quoted through :func:`excerpt` (a key may be a megabyte long)."""
    parts = []
    if file is not None:
        parts.append(str(file))
    if record is not None:
        parts.append(f"record {excerpt(record)}")
    if field is not None:
        parts.append(f"field {excerpt(field)}")
    parts.append(problem)
    return ": ".join(parts)


class DataError(ValueError):
    """Bad input: names the file, the record (instance id) and the field.

    ``str(err)`` is a single line such as
    ``data.json: record 'airline_3': field 'conversation[2].role': missing``.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.record = record
        self.field = field
        self.problem = problem
        super().__init__(_one_line(self.file, record, field, problem))

    def in_file(self, file: str | Path) -> DataError:
        """The same error, now naming ``file`` (for errors raised by pure validators)."""
        return DataError(self.problem, file=file, record=self.record, field=self.field)


@dataclass(frozen=True)
class DataWarning:
    """A problem that does not stop the read, such as a survey answer that is not one
    of its item's options: the record is kept and the index counts the answer as
    missing (docs/method.md §7). ``str(warning)`` is one line in :class:`DataError`'s
    format."""

    problem: str
    file: str | Path | None = None
    record: str | None = None
    field: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.file, Path):  # one spelling, so that equal warnings compare equal
            object.__setattr__(self, "file", str(self.file))

    def __str__(self) -> str:
        return _one_line(self.file, self.record, self.field, self.problem)

    def as_error(self) -> DataError:
        """The same problem as an error (``--strict``)."""
        return DataError(self.problem, file=self.file, record=self.record, field=self.field)
