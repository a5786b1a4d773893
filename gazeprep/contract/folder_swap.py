"""A folder replaced by a new one in one step: every reader sees the old folder or the new one,
whole, at every instant (nnU-Net's and MONAI's readers know nothing of gazeprep's recovery).

How :func:`replace_folder` runs, for a destination ``<parent>/<name>``:

1. **Build**: the new content is written into the sibling ``<parent>/.<name>.swap-<token>``
   (same file system, so the swap below is a rename). Its first file, :data:`TOKEN_FILE`,
   holds the token: it tells recovery which folder is the new one (it is removed once the
   swap is finished).
2. **Carry**: the entries of the old folder that the writer does not own (the user's own
   files beside an export) get a second name in the new folder: hard links, folders
   recreated, symbolic links copied. No byte is copied and nothing is moved: the old folder
   stays complete. Where a file cannot be linked (another file system below the folder, a
   file system without hard links, a special file), :class:`SwapUnavailable` is raised before
   anything changed.
3. **Swap**: on Linux, ``renameat2(RENAME_EXCHANGE)`` exchanges the two folders atomically;
   elsewhere (or where the file system refuses it) the old folder is renamed to
   ``.<name>.old-<token>`` and the new one renamed in: for the instant between the two
   renames the folder is missing (never half old, half new).
4. **Clean**: a user file that appeared in the old folder during the build (not linked) is
   moved into the new one; then the old folder is deleted.

A kill at any instant leaves the old folder whole (before step 3) or the new one (after);
the next :func:`replace_folder` (or :func:`recover_folder`) deletes an unfinished build,
finishes the cleaning of a swapped one, or renames the new folder in when a kill fell
between the two renames of the fallback, and says what it did in one line.

Tests replace :func:`_fault` (called at every step with the step's name) to interrupt a run
at each step.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from gazeprep.contract.files import fsync_dir, fsync_path

#: The file inside a built folder that names its build (JSON ``{"token": ...}``).
TOKEN_FILE = ".gazeprep-swap"

#: The tokens :func:`replace_folder` makes (a sibling of another name is never touched).
_TOKEN = re.compile(r"g[0-9a-f]{12}")

#: ``owned(top_level_name) -> bool``: whether the writer writes that entry of the folder.
Owned = Callable[[str], bool]


class SwapUnavailable(OSError):
    """The folder cannot be swapped as one: an entry of the user's cannot be hard-linked."""


def _fault(step: str) -> None:
    """Called at every step; tests replace it to interrupt a swap there."""


def real_folder(dest: str | Path) -> Path:
    """The folder to swap: ``dest`` made absolute, or the folder it links to (the link stays
    and then points to the new folder)."""
    return Path(os.path.realpath(dest) if os.path.islink(dest) else os.path.abspath(dest))


def _token(folder: Path) -> str | None:
    try:
        doc = json.loads((folder / TOKEN_FILE).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return doc.get("token") if isinstance(doc, dict) else None


def _siblings(dest: Path, kind: str) -> list[tuple[Path, str]]:
    """``(folder, token)`` of the ``.<name>.<kind>-<token>`` folders beside ``dest``."""
    prefix = f".{dest.name}.{kind}-"
    if not dest.parent.is_dir():
        return []
    return [(p, p.name[len(prefix):]) for p in sorted(dest.parent.iterdir())
            if p.name.startswith(prefix) and _TOKEN.fullmatch(p.name[len(prefix):])
            and p.is_dir() and not p.is_symlink()]


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange folders ``a`` and ``b``; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # a C library older than glibc 2.28
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _tree(entry: Path) -> list[Path]:
    """``entry`` and, for a folder, everything below it (symbolic links not followed), parents
    before their contents."""
    found = [entry]
    if entry.is_dir() and not entry.is_symlink():
        for root, dirs, files in os.walk(entry):
            found += [Path(root) / n for n in sorted(dirs) + sorted(files)]
    return found


def _user_entries(folder: Path, owned: Owned) -> list[Path]:
    return [e for e in sorted(folder.iterdir()) if not (owned(e.name) or e.name == TOKEN_FILE)]


def blocker(dest: str | Path, owned: Owned) -> str | None:
    """Why ``dest`` cannot be swapped as one (a user entry that cannot be hard-linked), or None.

    Checks what :func:`replace_folder` will meet (for a symbolic link, in the folder it links
    to): ``dest`` the current folder (or above it) of this or another process, or a mount
    point, a parent folder that is not writable, special files (pipes, sockets, devices) and
    other file systems mounted below ``dest``.
    """
    dest = real_folder(dest)
    parent = dest.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        return f"the folder holding {dest} is not writable (the new folder is built there)"
    if not dest.is_dir():
        return None
    if Path.cwd() == dest or dest in Path.cwd().parents:
        return f"{dest} holds the current folder (a shell there would be left in the old one)"
    pid = _working_inside(dest)
    if pid is not None:
        return (f"process {pid} works inside {dest} (its current folder; it would be left in "
                "the old one)")
    dev = dest.stat().st_dev
    if dev != parent.stat().st_dev:
        return f"{dest} is a mount point (the new folder would be built on another file system)"
    for entry in _user_entries(dest, owned):
        for p in _tree(entry):
            st = p.lstat()
            if p.is_symlink():
                continue
            if not (p.is_file() or p.is_dir()):
                return f"{p} is neither a file nor a folder and cannot be hard-linked"
            if st.st_dev != dev:
                return f"{p} is on another file system than {dest} and cannot be hard-linked"
    return None


def _working_inside(dest: Path) -> int | None:
    """A process (Linux: from /proc) whose current folder is ``dest`` or below it, else None."""
    me, prefix = os.getpid(), str(dest) + os.sep
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:  # no /proc: nothing known
        return None
    for pid in pids:
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:  # gone, or another user's
            continue
        if pid != me and (cwd == str(dest) or cwd.startswith(prefix)):
            return pid
    return None


def _carry(old: Path, new: Path, owned: Owned) -> None:
    """Give every file of the entries of ``old`` that are not owned a name in ``new``."""
    for entry in _user_entries(old, owned):
        for src in _tree(entry):
            dst = new / src.relative_to(old)
            try:
                if src.is_symlink():
                    os.symlink(os.readlink(src), dst)
                elif src.is_dir():
                    dst.mkdir()
                    shutil.copystat(src, dst)
                elif src.is_file():
                    os.link(src, dst)
                else:
                    raise SwapUnavailable(errno.EPERM, "not a file, folder or link", str(src))
            except SwapUnavailable:
                raise
            except OSError as exc:
                raise SwapUnavailable(exc.errno, exc.strerror, str(src)) from exc


def _same_owner_and_mode(old: Path, new: Path) -> None:
    """Give the new folder the old one's permissions and, where allowed (root, e.g. in a
    container writing to a user's volume), its owner."""
    shutil.copymode(old, new)
    st, mine = old.stat(), new.stat()
    if (st.st_uid, st.st_gid) != (mine.st_uid, mine.st_gid):
        with contextlib.suppress(OSError):
            os.chown(new, st.st_uid, st.st_gid)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samestat(os.lstat(a), os.lstat(b))
    except OSError:
        return False


def _clean_old(old: Path, dest: Path, owned: Owned) -> list[Path]:
    """Delete the swapped-out folder ``old`` without ever deleting the last name of a user file.

    The writer's own old entries are deleted. Of the user's, only names whose file ``dest``
    also holds (the hard links made by :func:`_carry`) are removed; a file that appeared in
    ``old`` meanwhile is moved into ``dest``, or, when ``dest`` has that name already, kept
    (and ``old`` with it). Returns the files kept.
    """
    kept: list[Path] = []
    for entry in sorted(old.iterdir()):
        if owned(entry.name) or entry.name == TOKEN_FILE:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            continue
        tree = _tree(entry)
        for f in [f for f in tree if not f.is_dir() or f.is_symlink()]:
            twin = dest / f.relative_to(old)
            if f.is_symlink() and twin.is_symlink() or _same_file(f, twin):
                f.unlink()
            elif os.path.lexists(twin):
                kept.append(f)
            else:
                twin.parent.mkdir(parents=True, exist_ok=True)
                os.rename(f, twin)
        for d in reversed([d for d in tree if d.is_dir() and not d.is_symlink()]):
            with contextlib.suppress(OSError):  # not empty: a file was added meanwhile
                d.rmdir()
    try:
        old.rmdir()
    except OSError:
        kept += [p for p in old.rglob("*") if p not in kept and not p.is_dir()] or [old]
    fsync_dir(old.parent)
    _fault("cleaned")
    return kept


def recover_folder(dest: str | Path, owned: Owned) -> list[str]:
    """Finish or undo interrupted swaps of ``dest``; one line per leftover handled."""
    dest = real_folder(dest)
    notes = []
    builds = {tok: p for p, tok in _siblings(dest, "swap")}
    for old, tok in _siblings(dest, "old"):  # the fallback swap: old renamed aside
        if not os.path.lexists(dest) and tok in builds and _token(builds[tok]) == tok:
            os.rename(builds.pop(tok), dest)
            notes.append(f"{dest}: finished an interrupted replacement")
        elif not os.path.lexists(dest):
            os.rename(old, dest)
            notes.append(f"{dest}: put back the folder an interrupted replacement moved aside")
            continue
        notes.append(_cleaned(old, dest, owned))
        _untoken(dest)
    for tok, p in builds.items():
        fd = _lock(p)
        if fd is None:
            continue  # a live run's build
        os.close(fd)
        if _token(p) != tok and _token(dest) == tok:  # exchanged: p holds the old folder
            notes.append(_cleaned(p, dest, owned))
            _untoken(dest)
        elif _token(p) == tok or not any(p.iterdir()):  # never swapped in: the old is whole
            shutil.rmtree(p)
            notes.append(f"{dest}: removed the unfinished output of an interrupted run (the "
                         "previous output was kept)")
    return notes


def _cleaned(old: Path, dest: Path, owned: Owned) -> str:
    """:func:`_clean_old`, and one line saying what it did."""
    kept = _clean_old(old, dest, owned)
    if not kept:
        return f"{dest}: removed the previous folder of an interrupted replacement"
    return (f"{old}: left by an interrupted replacement; it holds files of yours that {dest} "
            f"also has under the same name, e.g. {[str(k) for k in kept[:3]]}: check them "
            "and delete it")


def _lock(folder: Path) -> int | None:
    """An open fd holding an exclusive ``flock`` on ``folder``; None when another holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks
        return os.open(folder, os.O_RDONLY)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def replace_folder(dest: str | Path, owned: Owned, notes: list[str] | None = None
                   ) -> Iterator[Path]:
    """Build the new content of folder ``dest`` beside it, then swap it in whole.

    Parameters
    ----------
    dest : str or Path
        The folder to replace (created when missing). For a symbolic link, the folder it links
        to is replaced; the link stays.
    owned : callable
        ``owned(name)``: whether top-level entry ``name`` is the writer's. Every other entry of
        the old folder is carried into the new one (see the module notes).
    notes : list of str, optional
        Receives one line per leftover of an interrupted run that was handled.

    Yields
    ------
    Path
        The empty build folder: write the new owned entries into it. Leaving the block
        normally swaps it in; an exception deletes it and leaves ``dest`` as it was.

    Raises
    ------
    SwapUnavailable
        A user entry of ``dest`` cannot be hard-linked (nothing was changed).
    """
    dest = real_folder(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    found = recover_folder(dest, owned)
    if notes is not None:
        notes.extend(found)
    tok = f"g{secrets.token_hex(6)}"  # (never all digits: older gazeprep used .<name>.old-<pid>)
    build = dest.parent / f".{dest.name}.swap-{tok}"
    build.mkdir()
    fd = _lock(build)  # (recovery leaves a locked build alone: its run is alive)
    try:
        try:
            (build / TOKEN_FILE).write_text(json.dumps({"token": tok}) + "\n")
            yield build
            _fault("built")
            if dest.is_dir():
                _carry(dest, build, owned)
                _same_owner_and_mode(dest, build)
            fsync_path(build)
            _fault("carried")
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        kept = _swap_in(build, dest, tok, owned)
        if kept and notes is not None:
            notes.append(f"{kept[0].parent}: the previous folder was kept: files of yours "
                         f"appeared in it during the export under names {dest} also has, "
                         f"e.g. {[str(k) for k in kept[:3]]}; check them and delete it")
    finally:
        if fd is not None:
            os.close(fd)


def _swap_in(build: Path, dest: Path, tok: str, owned: Owned) -> list[Path]:
    """Swap the finished ``build`` in for ``dest``; the user files kept back in the old one."""
    if not os.path.lexists(dest):
        os.rename(build, dest)
        fsync_dir(dest.parent)
        _fault("renamed")
        _untoken(dest)
        return []
    if _exchange(build, dest):
        old = build
        _fault("exchanged")
    else:
        old = dest.parent / f".{dest.name}.old-{tok}"
        os.rename(dest, old)
        _fault("moved aside")
        os.rename(build, dest)
        _fault("moved in")
    fsync_dir(dest.parent)
    kept = _clean_old(old, dest, owned)
    _untoken(dest)
    return kept


def _untoken(dest: Path) -> None:
    """Remove the token of a finished swap: only recovery needs it (a kill here leaves it,
    harmless: the next swap's build brings its own)."""
    with contextlib.suppress(FileNotFoundError):
        (dest / TOKEN_FILE).unlink()


__all__ = ["TOKEN_FILE", "SwapUnavailable", "blocker", "real_folder", "recover_folder",
           "replace_folder"]
