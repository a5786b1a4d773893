"""Errors a user can act on: they name the file, the line and what was expected."""

from __future__ import annotations

from gazeprep.contract.errors import InputError


class GazeprepError(InputError):
    """A failure caused by the input or the environment, reported as one line (exit code 1).

    ``str(err)`` is ``file:line: message`` (see :class:`gazeprep.contract.errors.InputError`,
    which the image readers shared with gradseg raise).

    Parameters
    ----------
    message : str
        What was wrong and what was expected.
    file : str or Path, optional
        The file the problem is in.
    line : int, optional
        1-based line number in ``file``.
    """
