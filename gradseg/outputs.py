"""Writing gradseg's output files without ever losing a user's file.

A file is replaced only when it is recognisably one that gradseg wrote (``is_ours``) or the
user passed ``--overwrite`` (:func:`check_replaceable`), and it is written whole or not at
all (:func:`atomic_write`: a temporary file in the same folder, flushed, then renamed).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gradseg.errors import GradsegError


def check_replaceable(path: Path, is_ours: Callable[[Path], bool], writer: str,
                      overwrite: bool = False) -> None:
    """Refuse to replace ``path`` unless it is missing, ours, or ``overwrite`` is given.

    Raises
    ------
    GradsegError
        ``path`` is a folder, or a file ``writer`` did not write (without ``overwrite``).
    """
    path = Path(path)
    if path.is_dir():
        raise GradsegError(f"is a folder; expected a file name for the {writer} output",
                           file=path)
    if os.path.lexists(path) and not overwrite and not is_ours(path):
        raise GradsegError(f"exists and was not written by {writer}; refusing to replace it "
                           "(pass --overwrite to replace it, or choose another --out)", file=path)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, flush it, rename it to ``path``.

    The temporary name keeps the suffix, for writers that choose a format from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_parquet_with(columns: set[str]) -> Callable[[Path], bool]:
    """``is_ours`` for a Parquet table holding at least ``columns``."""

    def check(path: Path) -> bool:
        import polars as pl

        try:
            return columns <= set(pl.read_parquet_schema(path))
        except Exception:  # noqa: BLE001 - unreadable: not ours
            return False

    return check
