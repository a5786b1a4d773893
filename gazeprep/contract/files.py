"""Files written whole or not at all, and never over a file the writer did not write.

Both packages' outputs go through here: :func:`atomic_write` (a temporary file beside the
target, flushed, renamed over it, the folder flushed) and :func:`check_replaceable` (refuse to
replace a file that is not recognisably the writer's, unless ``--overwrite``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from gazeprep.contract.errors import InputError, out_of_space


def fsync_path(path: Path) -> None:
    """Flush a file, or every file and folder of a tree, to disk."""
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            for name in files:
                fsync_file(Path(root) / name)
            for name in dirs:
                fsync_dir(Path(root) / name)
        fsync_dir(path)
    else:
        fsync_file(path)


def fsync_file(path: Path) -> None:
    """Flush one file to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    """Make renames inside ``path`` durable (not possible on every platform: then a no-op)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (:func:`atomic_write`)."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, flush it, rename it to ``path``.

    The temporary name keeps the suffix, for writers that choose a format from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        full = out_of_space(exc, path)
        if full is not None:
            raise full from exc
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def naming_full_disk(path: Path):
    """Inside, a full disk is an :class:`InputError` naming ``path`` (or the file the system
    error names) instead of the writer's own text, which names no file or, for polars'
    Parquet writer, no disk ("Invalid thrift: transport error")."""
    try:
        yield
    except Exception as exc:
        full = out_of_space(exc, getattr(exc, "filename", None) or path)
        if full is not None:
            raise full from exc
        raise


def check_replaceable(path: Path, is_ours: Callable[[Path], bool], writer: str,
                      overwrite: bool = False) -> None:
    """Refuse to replace ``path`` unless it is missing, written by ``writer``, or ``overwrite``.

    Raises
    ------
    InputError
        ``path`` is a folder, or a file ``writer`` did not write (without ``overwrite``).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"is a folder; expected a file name for the {writer} output",
                            file=path)
    if os.path.lexists(path) and not overwrite and not is_ours(path):
        raise InputError(f"exists and was not written by {writer}; refusing to replace it "
                            "(pass --overwrite to replace it, or choose another --out)",
                            file=path)
