"""Errors a user can act on: they name the file and what was expected."""

from __future__ import annotations

from pathlib import Path


class GradsegError(Exception):
    """A failure caused by the input or the environment, reported as one line (exit code 1).

    Parameters
    ----------
    message : str
        What was wrong and what was expected.
    file : str or Path, optional
        The file or folder the problem is in.
    """

    def __init__(self, message: str, *, file: str | Path | None = None):
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" if self.file else self.message
