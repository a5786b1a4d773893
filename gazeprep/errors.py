"""Errors a user can act on: they name the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path


class GazeprepError(Exception):
    """A failure caused by the input or the environment, reported as one line (exit code 1).

    Parameters
    ----------
    message : str
        What was wrong and what was expected.
    file : str or Path, optional
        The file the problem is in.
    line : int, optional
        1-based line number in ``file``.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line

    def __str__(self) -> str:
        where = self.file or ""
        if self.file is not None and self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.message}" if where else self.message
