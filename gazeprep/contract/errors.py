"""The error a bad input file raises: one line naming the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A failure caused by an input file or the environment, reported as one line (exit 1).

    ``str(err)`` is ``file:line: message`` (``file: message`` without a line, the bare message
    without a file), the form both command-line tools print.

    Parameters
    ----------
    message : str
        What was wrong and what was expected.
    file : str or Path, optional
        The file (or folder) the problem is in.
    line : int, optional
        1-based line number in ``file``.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line

    def __str__(self) -> str:
        # A control character in a file name (a line break) would split the one line.
        where = "".join(c if c.isprintable() else repr(c)[1:-1] for c in self.file or "")
        if self.file is not None and self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.message}" if where else self.message


def reason(exc: BaseException) -> str:
    """``exc``'s message for a one-line error, never empty: libraries raise some errors with
    none (an ``EOFError()``, a ``KeyError('')``), which printed as "cannot read the volume ()"."""
    text = str(exc).strip()
    if not text or text in ("''", '""'):
        return f"{type(exc).__name__} with no message"
    return text


def out_of_space(exc: BaseException, path: str | Path) -> InputError | None:
    """The error to raise instead of ``exc`` when it is a full disk or quota met while writing
    ``path`` (the system's "No space left on device" names no file), else None.

    Call it before the partial file is removed: some writers lose the system's error number
    (polars' Parquet writer can fail with "Invalid thrift: transport error" when the disk fills
    while it writes the footer), so a failed write on a device with no space left counts too.
    """
    if not _is_full_disk(exc, Path(path)):
        return None
    why = getattr(exc, "strerror", None) or "No space left on device"
    return InputError(f"no space left on the device while writing this ({why}); "
                      "free some space or write the output elsewhere", file=path)


def _is_full_disk(exc: BaseException, path: Path) -> bool:
    import errno
    import shutil

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    if "No space left on device" in text or "Disk quota exceeded" in text:
        return True
    if not isinstance(exc, Exception) or isinstance(exc, InputError):
        return False
    folder = path if path.is_dir() else path.parent
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL
    except OSError:
        return False


#: Free bytes below which a failed write is taken for a full disk (a few file-system blocks).
_NEARLY_FULL = 64 * 1024


#: Import name -> the pip package that provides it, for the radiology readers.
_PIP_NAMES = {"pydicom": "pydicom", "nibabel": "nibabel", "nrrd": "pynrrd"}


def require(module: str, what: str):
    """Import an optional reader library, or fail with the one line that says how to get it.

    Parameters
    ----------
    module : str
        Import name (``pydicom``, ``nibabel``, ``nrrd``).
    what : str
        What needs it, for the message (e.g. ``".dcm"``).

    Raises
    ------
    InputError
        ``reading .dcm needs pydicom: pip install 'gazeprep-gradseg[medical]'``.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pip = _PIP_NAMES.get(module, module)
        raise InputError(
            f"reading {what} needs {pip}: pip install 'gazeprep-gradseg[medical]'"
        ) from exc
