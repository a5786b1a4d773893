"""Errors a user can act on: they name the file and what was expected."""

from __future__ import annotations

from pathlib import Path

from gazeprep.contract.errors import InputError


class GradsegError(InputError):
    """A failure caused by the input or the environment, reported as one line (exit code 1).

    Parameters
    ----------
    message : str
        What was wrong and what was expected.
    file : str or Path, optional
        The file or folder the problem is in.
    """

    def __init__(self, message: str, *, file: str | Path | None = None):
        super().__init__(message, file=file)
