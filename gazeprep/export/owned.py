"""Which files in an output folder an export command wrote: the record it leaves beside them.

``gazeprep split`` and ``gazeprep export`` write a small JSON record (the commit record of their
transaction) that names the command and the sha256 of every file it wrote. A later run may
replace a file only when the record says this command wrote it and the file is unchanged since;
anything else of the same name is refused unless ``--overwrite`` is given.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gazeprep.errors import GazeprepError
from gazeprep.outputs import sha256_file


def read_record(path: Path, writer: str) -> dict | None:
    """The record at ``path`` when ``writer`` wrote it, else None."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("written_by") == writer else None


def check_outputs(out: Path, record: str, names: list[str], writer: str,
                  overwrite: bool) -> None:
    """Refuse, before anything is written, to replace an entry of ``out`` the writer did not
    write (or that changed since), unless ``overwrite``.

    Parameters
    ----------
    out : Path
        Output folder.
    record : str
        Name of the writer's record inside ``out``.
    names : list of str
        The entries (files or folders) the writer is about to replace.
    writer : str
        Who writes them (``gazeprep split``).
    overwrite : bool
        Replace whatever is there.

    Raises
    ------
    GazeprepError
        ``out`` is a file, or an entry exists that the record does not vouch for.
    """
    if out.exists() and not out.is_dir():
        raise GazeprepError("--out exists and is not a folder", file=out)
    if overwrite:
        return
    doc = read_record(out / record, writer) or {}
    sums = doc.get("files") or {}
    if os.path.lexists(out / record) and not doc:
        raise GazeprepError(f"{record} exists and was not written by {writer}; refusing to "
                            "replace it (pass --overwrite, or choose another --out)", file=out)
    foreign = [n for n in names if os.path.lexists(out / n) and not _vouched(out, n, sums)]
    if foreign:
        raise GazeprepError(f"{', '.join(foreign[:3])} exist(s) and {writer} did not write "
                            "them, or they changed since; refusing to replace them (pass "
                            "--overwrite, or choose another --out)", file=out)


def _vouched(out: Path, name: str, sums: dict) -> bool:
    """Whether every file of entry ``name`` is one the record lists, unchanged."""
    p = out / name
    files = [p] if p.is_file() else [f for f in p.rglob("*") if not f.is_dir()]
    if p.is_dir() and not p.is_symlink():
        listed = {k for k in sums if k == name or k.startswith(name + "/")}
        if {f.relative_to(out).as_posix() for f in files} != listed:
            return False
    elif not p.is_file():
        return False
    return all(sums.get(f.relative_to(out).as_posix()) == sha256_file(f) for f in files)


def file_sums(root: Path, names: list[str]) -> dict[str, str]:
    """sha256 of every file under the entries ``names`` of ``root``, by relative path."""
    sums = {}
    for name in names:
        p = root / name
        for f in [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file()):
            sums[f.relative_to(root).as_posix()] = sha256_file(f)
    return sums
