"""Crash-safe replacement of a named set of outputs inside a folder the user may share.

A command owns a few names inside its output folder (``ingest``: ``fixations.parquet``,
``tracks.parquet``, ``ingest.json``; ``render``: the cache arrays and ``zarr.json``). It may
replace or remove those and nothing else: other files in the folder belong to the user.

How one replacement runs (:func:`transaction`):

1. **Recover** leftovers of an interrupted run (:func:`recover`, below).
2. **Stage**: the new files are written into the hidden folder ``<out>/.gazeprep-staging``
   (same file system as their destination, so the renames below are atomic); each staged entry
   is flushed to disk (``fsync``) when it is added.
3. **Commit**: the list of entries to put and to remove is written to ``COMMITTED`` inside the
   staging folder, atomically (temporary file, ``fsync``, rename, ``fsync`` of the folder).
   Before this instant the old output is untouched; after it the new one is bound to appear.
4. **Swap**: each staged entry is renamed over its destination (``os.replace``; a folder
   is first moved into the staging folder's trash), the entries to remove are moved to the
   trash, and the *commit record* (the file that describes the set: ``ingest.json``, the group's
   ``zarr.json``) is renamed last.
5. **Clean**: the staging folder (with the trash, i.e. the replaced old entries) is deleted.

Recovery, done at the start of the next run and by readers that open the folder:

- a staging folder **with** ``COMMITTED`` is *rolled forward*: the renames not yet done are
  done (each step is idempotent), then the staging folder is deleted;
- a staging folder **without** it is deleted, but only after checking that it holds nothing
  but names the command itself writes; anything else there is reported and left alone.

Either case is reported in one line. A process that is writing holds an exclusive ``flock`` on
its staging folder, so recovery never touches the staging folder of a live run (in the instant
between its creation and its lock, a concurrent recovery may remove it: the writing run then
fails, its previous output intact).

A kill at any instant thus leaves at ``<out>`` the complete old output (up to step 3) or the
complete new one (from step 3 on, once recovered). Readers must still never silently use a set
whose swap is half done: the commit record carries the sha256 of the other files, and readers
check it (:func:`gazeprep.tracks.read_tracks`).

Tests replace :func:`_fault` (called at every step with the step's name) to interrupt a run
at each step.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from gazeprep.contract.cache import COMMITTED as MARKER
from gazeprep.contract.cache import STAGING
from gazeprep.contract.files import (  # noqa: F401 - re-exported for gazeprep's writers
    atomic_write,
    atomic_write_bytes,
    check_replaceable,
    fsync_dir,
    fsync_file,
    fsync_path,
    sha256_file,
)
from gazeprep.errors import GazeprepError

# STAGING (the hidden staging folder inside an output folder) and MARKER (the commit marker
# inside it) are the cache contract's: gradseg refuses a cache whose swap is half done.
#: Where replaced and removed entries go inside the staging folder until it is deleted.
TRASH = ".trash"

#: ``owned(relative_posix_path) -> bool``: whether the command itself writes that path.
Owned = Callable[[str], bool]


def _fault(step: str) -> None:
    """Called at every step of a replacement; tests replace it to interrupt a run there."""


def _lock(path: Path, blocking: bool = True):
    """An exclusive ``flock`` on folder ``path``; None where flock is unavailable or held."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; recovery then trusts the marker alone
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:
        os.close(fd)
        raise
    return fd


def _unlock(fd) -> None:
    if fd is not None:
        os.close(fd)


def _files(root: Path) -> list[str]:
    """Relative posix paths of every file under ``root``."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir())


def recover(out: str | Path, owned: Owned) -> str | None:
    """Finish or undo an interrupted replacement in ``out``; one line saying what was done.

    Returns
    -------
    str or None
        What was found and done, None when there was nothing to do.

    Raises
    ------
    GazeprepError
        Another process is writing to ``out``, or an uncommitted staging folder holds files
        the command does not write (they are left alone), or the folder cannot be written.
    """
    out = Path(out)
    staging = out / STAGING
    if not staging.is_dir():
        return None
    try:
        fd = _lock(staging, blocking=False)
    except BlockingIOError as exc:
        raise GazeprepError(f"another run is writing to this folder ({STAGING} is locked); "
                            "wait for it to finish", file=out) from exc
    except OSError as exc:
        raise GazeprepError(f"cannot open {STAGING} left by an interrupted run "
                            f"({exc.strerror})", file=out) from exc
    try:
        if (staging / MARKER).is_file():
            plan = json.loads((staging / MARKER).read_text())
            _swap(out, staging, plan)
            _remove_staging(staging)
            return (f"{out}: finished an interrupted replacement (rolled forward "
                    f"{len(plan['put']) + len(plan['drop'])} entries)")
        foreign = [f for f in _files(staging)
                   if not (owned(f) or f.startswith(MARKER))]
        if foreign:
            raise GazeprepError(
                f"{STAGING} (left by an interrupted run) holds files gazeprep did not write, "
                f"e.g. {foreign[:3]}; move them out of it and run again", file=out)
        n = len(_files(staging))
        _remove_staging(staging)
        return (f"{out}: removed the unfinished output of an interrupted run "
                f"({n} staged file(s); the previous output was kept)")
    except PermissionError as exc:
        raise GazeprepError(f"an interrupted run left {STAGING} here and this folder is not "
                            f"writable ({exc.strerror}); rerun the command that writes it",
                            file=out) from exc
    finally:
        _unlock(fd)


def _remove_staging(staging: Path) -> None:
    shutil.rmtree(staging)
    _fault("cleaned")


def _to_trash(out: Path, staging: Path, name: str) -> None:
    """Move ``out/name`` into the trash (a unique slot: a name may be trashed twice)."""
    trash = staging / TRASH
    trash.mkdir(exist_ok=True)
    k = len(list(trash.iterdir()))
    os.replace(out / name, trash / f"{k}")


def _swap(out: Path, staging: Path, plan: dict) -> None:
    """Do the renames of a committed ``plan``; every step may already have been done."""
    record = plan["record"]
    parents: set[Path] = set()
    for name in [n for n in plan["put"] if n != record]:
        _put(out, staging, name, parents)
    for name in plan["drop"]:
        if os.path.lexists(out / name):
            _to_trash(out, staging, name)
            parents.add((out / name).parent)
            _fault(f"dropped {name}")
    for p in sorted(parents):
        fsync_dir(p)
    if record in plan["put"]:
        _put(out, staging, record, set())
        fsync_dir((out / record).parent)


def _put(out: Path, staging: Path, name: str, parents: set[Path]) -> None:
    src, dst = staging / name, out / name
    if not os.path.lexists(src):
        return  # renamed by an earlier (interrupted) swap
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_dir() and not dst.is_symlink():
        _to_trash(out, staging, name)  # os.replace cannot replace a non-empty folder
    os.replace(src, dst)
    parents.add(dst.parent)
    _fault(f"replaced {name}")


class Staging:
    """The staging folder of one replacement; see :func:`transaction`.

    Attributes
    ----------
    path : Path
        ``<out>/.gazeprep-staging``: write new entries here, under their final relative names.
    """

    def __init__(self, out: Path, owned: Owned):
        self.out = out
        self.owned = owned
        self.path = out / STAGING
        self.put: list[str] = []
        self.drop: list[str] = []
        self.committed = False

    def file(self, name: str) -> Path:
        """Where to write entry ``name`` (its parent folders are created)."""
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def add(self, name: str) -> None:
        """Entry ``name`` (a file or folder) is written: flush it and put it in the set."""
        if not self.owned(name):
            raise ValueError(f"{name!r} is not an output this command owns")
        fsync_path(self.path / name)
        self.put.append(name)
        _fault(f"staged {name}")

    def remove(self, name: str) -> None:
        """Have ``out/name`` (an output of an earlier run) removed when the set is committed."""
        if not self.owned(name):
            raise ValueError(f"{name!r} is not an output this command owns")
        self.drop.append(name)

    def commit(self, record: str) -> None:
        """Write the commit marker, then swap every entry in (``record`` last)."""
        if record not in self.put:
            raise ValueError(f"the commit record {record!r} was not staged")
        if set(self.put) & set(self.drop):
            raise ValueError("an entry cannot be both put and removed")
        plan = {"put": self.put, "drop": self.drop, "record": record}
        tmp = self.path / f"{MARKER}.tmp"
        tmp.write_text(json.dumps(plan))
        fsync_file(tmp)
        os.replace(tmp, self.path / MARKER)
        fsync_dir(self.path)
        self.committed = True
        _fault("committed")
        _swap(self.out, self.path, plan)
        _remove_staging(self.path)


@contextlib.contextmanager
def transaction(out: str | Path, owned: Owned, notes: list[str] | None = None
                ) -> Iterator[Staging]:
    """Replace a set of entries of ``out`` all at once, crash-safely.

    Parameters
    ----------
    out : str or Path
        The output folder (created when missing). Only entries ``owned`` accepts are written.
    owned : callable
        ``owned(relative_path) -> bool``: the names this command writes.
    notes : list of str, optional
        Receives one line per leftover of an interrupted run that was recovered.

    Yields
    ------
    Staging
        Write each entry under ``staging.file(name)``, call ``staging.add(name)``, list
        outputs to delete with ``staging.remove(name)``, then ``staging.commit(record)``.
        Leaving the block without committing discards the staged entries.

    Examples
    --------
    >>> with transaction(out, lambda n: n in ("a.txt", "index.json")) as st:  # doctest: +SKIP
    ...     st.file("a.txt").write_text("new")
    ...     st.add("a.txt")
    ...     st.file("index.json").write_text("{}")
    ...     st.add("index.json")
    ...     st.commit("index.json")
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    note = recover(out, owned)
    if note and notes is not None:
        notes.append(note)
    _fault("begin")
    st = Staging(out, owned)
    try:
        st.path.mkdir()
    except FileExistsError as exc:
        raise GazeprepError(f"another run is writing to this folder ({STAGING} appeared); wait "
                            "for it to finish", file=out) from exc
    fd = _lock(st.path)
    try:
        yield st
        if not st.committed:
            raise RuntimeError("transaction left without commit()")
    except BaseException:
        with contextlib.suppress(Exception):
            if st.committed:  # the new set is bound to appear: finish it now...
                _swap(out, st.path, json.loads((st.path / MARKER).read_text()))
            # ...and only then drop the staging folder; if finishing failed, the next run does.
            shutil.rmtree(st.path)
        raise
    finally:
        _unlock(fd)


@contextlib.contextmanager
def replace_whole(out: str | Path, owned: Owned, record: str, notes: list[str]
                  ) -> Iterator[Path]:
    """Replace every owned entry of folder ``out`` so that readers see the old set or the new
    one whole, other tools' readers included (they know nothing of :func:`recover`).

    Yields the folder to write the new owned entries into, under their final names (``record``
    among them). Normally a sibling of ``out`` swapped in with one rename, the user's entries
    carried over as hard links (:func:`gazeprep.contract.folder_swap.replace_folder`); owned
    entries the new set lacks disappear with the old folder. Where an entry of the user's
    cannot be hard-linked, the entries are replaced one by one (:func:`transaction`) and a
    note says so.
    """
    from gazeprep.contract.folder_swap import SwapUnavailable, blocker, replace_folder

    out = Path(out)
    if out.is_dir():  # an interrupted entry-by-entry replacement: finish it first
        note = recover(out, owned)
        if note:
            notes.append(note)
    why = blocker(out, lambda n: owned(n) or n == STAGING)
    if why is None:
        try:
            with replace_folder(out, owned, notes) as root:
                yield root
        except SwapUnavailable as exc:
            raise GazeprepError(f"cannot hard-link a file of yours into the new output "
                                f"({exc.strerror}); move it out of {out}",
                                file=exc.filename) from exc
        return
    notes.append(f"{why}: the outputs were replaced one by one (a reader of {out} may see a "
                 "mix of old and new for an instant)")
    with transaction(out, owned, notes) as st:
        yield st.path
        new = {p.name for p in st.path.iterdir() if owned(p.name)}
        for name in sorted(new):
            st.add(name)
        for p in sorted(out.iterdir()):
            if owned(p.name) and p.name not in new:
                st.remove(p.name)
        st.commit(record)
