"""Errors a clerk can act on.

A `RowError` names the file, the row (1 is a CSV's header row or a YAML file's first
line; 0 means the file as a whole), the column (`*` for the whole row or file) and a
sentence that says what is wrong and what to do. Errors are values: readers and
validators collect them and report them together, they never raise one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

#: stderr shows at most this many error lines, then the total.
MAX_REPORTED_ERRORS = 100


@dataclass(frozen=True, slots=True, order=True)
class RowError:
    """One refused cell, row or file: `FILE:ROW: COLUMN: message`."""

    file: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.column}: {self.message}"

    def as_json(self) -> dict[str, str | int]:
        return {"file": self.file, "row": self.row, "column": self.column, "message": self.message}


class RefusedError(Exception):
    """The data was refused (exit code 1); carries every error found."""

    def __init__(self, errors: list[RowError]) -> None:
        assert errors, "a refusal names at least one error"
        self.errors = errors
        super().__init__(f"{len(errors)} error(s), first: {errors[0]}")
