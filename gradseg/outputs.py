"""Writing gradseg's output files without ever losing a user's file.

A file is replaced only when it is recognisably one that gradseg wrote (``is_ours``) or the
user passed ``--overwrite`` (:func:`check_replaceable`), and it is written whole or not at
all (:func:`atomic_write`: a temporary file in the same folder, flushed, then renamed): the
run folder's ``summary.json``, ``config.json``, ``metrics.jsonl`` (:func:`append_line`),
pictures and checkpoints are each seen old or new whole by any reader, at every instant.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gazeprep.contract.files import atomic_write, check_replaceable  # noqa: F401 - re-exported
from gradseg.errors import GradsegError


def is_parquet_with(columns: set[str]) -> Callable[[Path], bool]:
    """``is_ours`` for a Parquet table holding at least ``columns``."""

    def check(path: Path) -> bool:
        import polars as pl

        try:
            return columns <= set(pl.read_parquet_schema(path))
        except Exception:  # noqa: BLE001 - unreadable: not ours
            return False

    return check


def write_text(path: Path, text: str) -> None:
    """Write a text file whole or not at all."""
    atomic_write(Path(path), lambda tmp: tmp.write_text(text))


def append_line(path: Path, line: str) -> None:
    """Add one line to a text file, whole or not at all: the file is rewritten beside itself
    and renamed over, so a reader (or a kill) never meets a torn last line."""
    path = Path(path)
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = b""
    if old and not old.endswith(b"\n"):  # a torn line of an older version: dropped
        old = old[:old.rfind(b"\n") + 1]
    atomic_write(path, lambda tmp: tmp.write_bytes(old + line.encode() + b"\n"))


#: Files ``gradseg train`` writes into its run folder (--out); other files there are left alone.
RUN_FILES = ("config.json", "split.json", "metrics.jsonl", "summary.json", "val.png",
             "curves.png", "best.pt", "last.pt")


def is_run_config(path: Path) -> bool:
    """Whether ``path`` is the ``config.json`` of a gradseg run."""
    import json

    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(doc, dict) and {"cache", "method", "iterations", "seed"} <= set(doc)


def check_run_folder(out: Path, resume: bool) -> None:
    """Refuse a run folder whose files train would replace but did not write.

    Files named like train's outputs (:data:`RUN_FILES`) are replaced only when ``config.json``
    says the folder is a gradseg run; its checkpoints only with ``--resume``.
    """
    if out.exists() and not out.is_dir():
        raise GradsegError("--out exists and is not a folder", file=out)
    present = [n for n in RUN_FILES if os.path.lexists(out / n)]
    if present and not is_run_config(out / "config.json"):
        raise GradsegError(f"holds {', '.join(present)} not written by gradseg train (no "
                           "config.json of a gradseg run); refusing to replace them: choose "
                           "another --out", file=out)
    if not resume and any(n in present for n in ("best.pt", "last.pt")):
        raise GradsegError("run folder already holds checkpoints; pass --resume to continue "
                           "or choose another --out", file=out)
