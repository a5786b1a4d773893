"""Errors a user can act on: they name the file, or the option, and what was expected."""

from __future__ import annotations

from pathlib import Path

from gazeprep.contract.errors import InputError


class GradsegError(InputError):
    """A failure caused by the input or the environment, reported as one line (exit code 1).

    A subclass of the contract's :class:`~gazeprep.contract.errors.InputError`, so a caller
    catching either sees every bad-input error of gradseg.

    Parameters
    ----------
    message : str
        What was wrong and what was expected.
    file : str or Path, optional
        The file or folder the problem is in.
    """

    def __init__(self, message: str, *, file: str | Path | None = None):
        super().__init__(message, file=file)


def usage_error(option: str, message: str) -> Exception:
    """A usage error about ``option``: the command line exits with code 2 and says why.

    Example: ``raise usage_error("--val-target", "mask: the cache has no masks")``.
    """
    import typer

    return typer.BadParameter(message, param_hint=f"'{option}'")


def one_line(exc: BaseException) -> str:
    """The error's message on one line.

    A DataLoader worker's error comes back as "Caught X in DataLoader worker process N." plus
    the worker's traceback; its last line holds the original message.
    """
    text = str(exc)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and "Original Traceback" in text:
        import re

        return re.sub(r"^[\w.]+: ", "", lines[-1], count=1)
    return " ".join(ln.strip() for ln in lines)
