"""One error type for bad input, so that users see one clear line, not a traceback."""

from __future__ import annotations

from pathlib import Path


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
        parts = []
        if self.file is not None:
            parts.append(self.file)
        if record is not None:
            parts.append(f"record {record!r}")
        if field is not None:
            parts.append(f"field {field!r}")
        parts.append(problem)
        super().__init__(": ".join(parts))

    def in_file(self, file: str | Path) -> "DataError":
        """The same error, now naming ``file`` (for errors raised by pure validators)."""
        return DataError(self.problem, file=file, record=self.record, field=self.field)
