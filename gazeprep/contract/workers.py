"""How both packages start their helper processes (ingest's and render's worker pools,
gradseg's DataLoader workers): one home for the fork server, its preload, dying with the
command and the temporary folder's length.

- **Fork server.** Workers are forked from a server started once (:func:`prestart`), which
  imports the caller's ``preload`` modules first, so every worker starts with them loaded.
  The server imports :mod:`gazeprep.contract._forkserver` before anything else: it ignores
  Ctrl-C, dies with the command and makes every worker it forks die with it.
- **Dying with the command.** :func:`die_with_parent` (``prctl(PR_SET_PDEATHSIG)``, Linux).
  The kernel sends the signal when the *thread* that forked the child ends, not the process:
  so the fork server is always started from the main thread (:func:`prestart`), and workers
  are forked by the server's only thread. multiprocessing's resource tracker, started by
  multiprocessing itself, ends on its own once every process holding its pipe (the command,
  the server, the workers) has ended.
- **Temporary folder.** A fork server listens on a Unix socket in a folder it makes under the
  temporary folder (``TMPDIR``): ``<tmp>/pymp-XXXXXXXX/listener-XXXXXXXX``. Linux allows 107
  bytes for that path, so a temporary folder longer than 75 bytes (job schedulers on clusters
  make such folders) made every command that starts workers fail with "AF_UNIX path too
  long". Where the path does not fit (:func:`forkserver_usable`), workers are started with
  ``spawn``: slower to start (each imports what it needs), the same results. Processes also
  pass open files to each other through such sockets (torch's DataLoader sends each batch's
  shared memory that way): with a long ``TMPDIR`` that failed with four tracebacks and the
  command hung. So multiprocessing's own folder (``pymp-*``) is then made under a short
  temporary folder (:func:`short_socket_folder`), in the command and in every worker.

What each stage's workers preload is the stage's own (``gazeprep/read/_preload.py``,
``gazeprep/render/_preload.py``, ``torch`` and ``gradseg.data.cache`` for gradseg).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Sequence
from multiprocessing import context

#: Bytes a Unix socket path may hold on Linux (``sun_path``, 108, less its final NUL).
SOCKET_PATH_MAX = 107
#: What multiprocessing adds to the temporary folder: ``/pymp-`` + 8, ``/listener-`` + 8.
_ADDED = len("/pymp-12345678/listener-12345678")
#: Imported first by every fork server (see the module notes).
SERVER_MODULE = "gazeprep.contract._forkserver"


def forkserver_usable() -> bool:
    """Whether this platform has a fork server and its socket path fits (see the module)."""
    import multiprocessing as mp
    import tempfile

    if "forkserver" not in mp.get_all_start_methods():
        return False
    return len(os.fsencode(tempfile.gettempdir())) + _ADDED <= SOCKET_PATH_MAX


#: Where multiprocessing's folder goes when ``TMPDIR`` is too long for a socket path.
SHORT_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


def short_socket_folder() -> None:
    """Where ``TMPDIR`` leaves no room for a socket path (see the module), make
    multiprocessing's private folder (``pymp-*``, mode 0700, removed at exit by
    multiprocessing) under the first of :data:`SHORT_FOLDERS` that is a writable folder;
    nothing changes otherwise, nor for anything but multiprocessing."""
    import tempfile
    from multiprocessing import process, util

    config = process.current_process()._config
    current = config.get("tempdir") or tempfile.gettempdir()
    if len(os.fsencode(current)) + _ADDED <= SOCKET_PATH_MAX:
        return
    for base in SHORT_FOLDERS:
        if os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            break
    else:
        return
    old = tempfile.tempdir
    config.pop("tempdir", None)
    tempfile.tempdir = base
    try:
        util.get_temp_dir()  # made now, under base, and kept by multiprocessing
    finally:
        tempfile.tempdir = old


def start_method() -> str:
    """``forkserver`` where it can run (:func:`forkserver_usable`), else ``spawn``; either
    way processes can pass files to each other (:func:`short_socket_folder`)."""
    short_socket_folder()
    return "forkserver" if forkserver_usable() else "spawn"


def prestart(preload: Sequence[str]) -> None:
    """Start the fork server now, importing :data:`SERVER_MODULE` then ``preload`` there, so
    that its start overlaps whatever the caller does before it needs workers. A server already
    running is kept (its workers import anything else they need on first use). Nothing is
    started where workers are spawned (:func:`start_method`) or off the main thread (the
    server would die with that thread: see the module notes; the pool starts it later)."""
    import multiprocessing as mp

    if start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    mp.get_context("forkserver").set_forkserver_preload([SERVER_MODULE, *preload])
    if threading.current_thread() is threading.main_thread():
        forkserver.ensure_running()


class _DieNow:
    """Unpickled in a spawned worker as the call of :func:`die_with_parent` with the pid of
    the process that pickled it: a worker whose command ended while it started exits."""

    def __reduce__(self):
        return die_with_parent, (os.getpid(),)


def _rebuild(_die: None, cls: type, state: dict):
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


class DyingSpawnProcess(context.SpawnProcess):
    """A spawned worker that dies with the command from the first thing it unpickles: before
    the imports its task needs (torch: seconds), during which a command killed left it
    running for good (its ``worker_init_fn`` had not run yet)."""

    def __reduce__(self):
        return _rebuild, (_DieNow(), type(self), self.__dict__)


class DyingSpawnContext(context.SpawnContext):
    """The spawn context of :class:`DyingSpawnProcess`."""

    Process = DyingSpawnProcess


def worker_context(preload: Sequence[str]):
    """The multiprocessing context of workers started by a library that takes one (torch's
    DataLoader): the fork server with ``preload`` (:func:`prestart`), else spawn. Its workers
    should call :func:`worker_start` first."""
    import multiprocessing as mp

    if start_method() != "forkserver":
        return DyingSpawnContext()
    prestart(preload)
    return mp.get_context("forkserver")


def _libc(name: str):
    """Function ``name`` of the C library this process already runs, or None where it has none
    (``ctypes.util.find_library`` would fork ``ldconfig``; Windows has no ``dlopen(NULL)``)."""
    import ctypes

    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError, TypeError):
        return None


def die_with_parent(parent: int | None = None) -> bool:
    """Have the kernel kill this process (SIGKILL) when its parent ends, on Linux
    (``prctl(PR_SET_PDEATHSIG)``); elsewhere nothing changes. Returns whether it is set.
    ``parent``: the pid the parent should have (default: the current one); a process whose
    parent has already ended exits at once.

    For the packages' own helper processes (the fork server, the workers): a command killed
    alone (``kill PID``, SIGKILL, a closed terminal) otherwise left them running, workers
    blocked on their results and holding their memory. They only read inputs and return
    results to the command, which writes every file, so ending them abruptly loses nothing.
    """
    parent = os.getppid() if parent is None else parent
    prctl = _libc("prctl")
    if prctl is None:  # not Linux
        return False
    pr_set_pdeathsig = 1  # <linux/prctl.h>
    if prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent ended before the call: no signal will come
        os._exit(1)
    return True


def worker_start(_worker_id: int | None = None) -> None:
    """First call in a worker (torch's ``worker_init_fn``): Ctrl-C is the command's to handle
    (it stops its workers), and the worker ends with its parent: the fork server, which ends
    with the command, or the command itself when spawned."""
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    short_socket_folder()
    server = sys.modules.get(SERVER_MODULE)  # loaded: forked from that server
    die_with_parent(server.SERVER if server is not None else None)


__all__ = ["SERVER_MODULE", "SOCKET_PATH_MAX", "die_with_parent", "forkserver_usable",
           "prestart", "short_socket_folder", "start_method", "worker_context", "worker_start"]
