"""Which files in an output folder an export command wrote: the record it leaves beside them.

``gazeprep split`` and ``gazeprep export`` write a small JSON record (the commit record of their
transaction) that names the command and the sha256 of every file it wrote. A later run may
replace a file only when the record says this command wrote it and the file is unchanged since.
Otherwise: ``split`` replaces an id file of its names only with ``--overwrite``
(:func:`check_outputs`); ``export``, whose folders would replace whole sets of files, never
replaces or deletes a file it did not write, and replaces one it wrote that was edited since
only with ``--overwrite`` (:func:`check_export`). :func:`writing` then writes the export's
folder so that every reader sees it whole (:mod:`gazeprep.contract.folder_swap`).
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


def _listing(paths: list[str], n: int = 5) -> str:
    more = f" and {len(paths) - n} more" if len(paths) > n else ""
    return ", ".join(paths[:n]) + more


def check_export(out: Path, record: str, names: list[str], writer: str,
                 overwrite: bool) -> None:
    """Refuse, before anything is written, an export that would replace or delete a file of
    ``out`` it did not write (always), or one it wrote that changed since (without
    ``overwrite``); the message lists them.

    Parameters
    ----------
    out : Path
        The export's folder.
    record : str
        Name of the writer's record inside ``out`` (itself among ``names``).
    names : list of str
        The entries (files or folders) the export replaces as a whole.
    writer, overwrite
        As for :func:`check_outputs`.

    Raises
    ------
    GazeprepError
    """
    if out.exists() and not out.is_dir():
        raise GazeprepError("--out exists and is not a folder", file=out)
    doc = read_record(out / record, writer) or {}
    sums = doc.get("files") or {}
    foreign = [record] if os.path.lexists(out / record) and not doc else []
    edited = []
    for name in (n for n in names if n != record and os.path.lexists(out / n)):
        p = out / name
        files = [p] if p.is_symlink() or not p.is_dir() else sorted(
            f for f in p.rglob("*") if f.is_symlink() or not f.is_dir())
        for f in files:
            rel = f.relative_to(out).as_posix()
            if rel not in sums or f.is_symlink() or not f.is_file():
                foreign.append(rel)
            elif sha256_file(f) != sums[rel]:
                edited.append(rel)
    if foreign:
        raise GazeprepError(
            f"{len(foreign)} file(s) here were not written by {writer} and would be lost if "
            f"the export replaced its entries ({', '.join(names)}): {_listing(foreign)}; "
            "move them out of this folder or choose another --out (--overwrite never "
            "replaces files the export did not write)", file=out)
    if edited and not overwrite:
        raise GazeprepError(
            f"{len(edited)} file(s) {writer} wrote here changed since: {_listing(edited)}; "
            "refusing to replace your edits: pass --overwrite to replace them, or choose "
            "another --out", file=out)


def writing(folder: Path, names: list[str], record: str, notes: list[str]):
    """Write an export's entries ``names`` into ``folder`` so that readers see it whole: a
    context manager yielding the folder to write them into (:func:`gazeprep.outputs.
    replace_whole`: built beside ``folder`` and swapped in with one rename)."""
    from gazeprep.outputs import replace_whole

    return replace_whole(folder, lambda n: n.split("/", 1)[0] in names, record, notes)
