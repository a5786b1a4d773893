"""How many cores a command uses (``--jobs``), and the worker processes that use them.

- :func:`cores`: the CPUs this process may run on (its affinity mask, not the machine's count:
  a container or ``taskset`` limits it); ``--jobs`` defaults to it and is checked by
  :func:`check_jobs` (1 to 4 x cores).
- :func:`numba_threads`: numba's thread count for the kernels run in this process.
- :func:`process_pool` and :func:`ordered`: worker processes and an in-order, bounded map over
  them. Workers come from a fork server (``spawn`` where there is none;
  :mod:`gazeprep.contract.workers`, with their start-up) that imports the modules named by the
  caller once; each worker is then a cheap fork of it. A plain ``fork`` of
  the caller is never used: the caller may hold OpenMP (numba's parallel kernels) or polars
  thread pools, which a forked child inherits broken.

Results never depend on the number of jobs: the callers split work into independent items
and put the results back in input order.

Example
-------
>>> with process_pool(2, ["gazeprep.ingest"]) as pool:          # doctest: +SKIP
...     sizes = list(ordered(pool, os.path.getsize, [(p,) for p in paths], ahead=4))
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from gazeprep.contract.workers import _libc, prestart, start_method, worker_start
from gazeprep.errors import GazeprepError

if TYPE_CHECKING:  # the process machinery is imported when a pool is made, not by every command
    from concurrent.futures import Executor, ProcessPoolExecutor

#: --jobs may ask for up to this many workers per usable core (I/O-bound inputs gain from more).
JOBS_PER_CORE = 4


def cores() -> int:
    """Number of CPUs this process may run on (``os.sched_getaffinity``, else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def max_jobs() -> int:
    """The largest ``--jobs`` accepted: :data:`JOBS_PER_CORE` per usable core."""
    return JOBS_PER_CORE * cores()


def check_jobs(jobs: int | None) -> int:
    """``--jobs``: None means every usable core; else an integer from 1 to :func:`max_jobs`.

    Raises
    ------
    ValueError
        Outside that range, with a message that states it.
    """
    if jobs is None:
        return cores()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= max_jobs():
        raise ValueError(f"{jobs!r} is not a number of jobs from 1 to {max_jobs()} "
                         f"({JOBS_PER_CORE} x the {cores()} usable cores)")
    return jobs


@contextlib.contextmanager
def numba_threads(n: int) -> Iterator[None]:
    """Run numba's parallel kernels in this thread on ``n`` threads (at most numba's own limit,
    ``NUMBA_NUM_THREADS``), restoring the previous count afterwards.

    numba is not imported for this (work that runs no kernel should not pay for it): when it is
    not loaded yet and ``NUMBA_NUM_THREADS`` is not set, that variable is set to ``n`` for the
    time of the block, and numba, if the block imports it, takes it as its limit.
    """
    import sys

    numba = sys.modules.get("numba")
    if numba is None:
        if "NUMBA_NUM_THREADS" in os.environ:
            yield
            return
        os.environ["NUMBA_NUM_THREADS"] = str(max(1, int(n)))
        try:
            yield
        finally:
            # numba re-reads the variable whenever it compiles and refuses a new value once its
            # threads run: if the block imported numba, the variable stays as numba read it
            if "numba" not in sys.modules:
                os.environ.pop("NUMBA_NUM_THREADS", None)
        return
    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def keep_freed_memory() -> bool:
    """Make this process keep the memory it frees for its next allocations (glibc's malloc;
    elsewhere nothing changes). Returns whether the setting took.

    By default glibc serves every allocation above a threshold (128 KiB, adapting up to 32 MiB)
    with fresh pages from the system and gives freed memory back: each large array of a new
    item then costs a page fault per 4 KiB page when first written. Ingesting one 45 MB ASC
    file allocates ~140 MB of such arrays (35,000 faults, a fifth of its time): with freed
    memory kept, the second and later files fault almost never (0.37 -> 0.31 s per file on one
    core, ``resource.getrusage`` around :func:`gazeprep.ingest.ingest_file`). The price: a
    worker holds on to its peak memory until it exits, which it would reach again on its next
    item anyway. Only for processes gazeprep owns (its workers), never a caller's.
    """
    mallopt = _libc("mallopt")
    if mallopt is None:  # not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    int_max = (1 << 31) - 1  # mallopt takes a C int
    # arrays above 1 GiB still get their own pages; free memory is returned only above 2 GiB
    return bool(mallopt(m_mmap_threshold, 1 << 30)) and bool(mallopt(m_trim_threshold, int_max))


def _start_worker(threads: int, initializer: Callable | None, initargs: tuple) -> None:
    """First call in every worker: Ctrl-C is the parent's to handle and the worker ends with
    the command (:func:`gazeprep.contract.workers.worker_start`), numba's kernels get
    ``threads`` threads each, and freed memory is kept for the next item
    (:func:`keep_freed_memory`)."""
    import sys

    worker_start()
    numba = sys.modules.get("numba")
    if numba is not None:  # loaded by the fork server: its thread limit is fixed
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    else:  # read when numba is imported; never changed afterwards (see numba_threads)
        os.environ["NUMBA_NUM_THREADS"] = str(threads)
    keep_freed_memory()
    if initializer is not None:
        initializer(*initargs)


def process_pool(jobs: int, preload: Sequence[str], initializer: Callable | None = None,
                 initargs: tuple = (), threads: int = 1) -> ProcessPoolExecutor:
    """``jobs`` worker processes (see the module notes), each with ``threads`` numba threads.

    Parameters
    ----------
    jobs : int
        Number of worker processes.
    preload : sequence of str
        Modules the fork server imports once for every worker.
    initializer, initargs : callable and its arguments, optional
        Run once in each worker after the start-up.
    threads : int
        numba threads per worker.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    method = start_method()
    if method == "forkserver":
        prestart(preload)
    return ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context(method),
                               initializer=_start_worker,
                               initargs=(threads, initializer, initargs))


class RemoteTraceback(Exception):
    """The traceback of an error raised in a worker process, as text (``__cause__`` of it)."""


def keep_traceback(exc: BaseException) -> BaseException:
    """Record ``exc``'s traceback as text on it, so that it survives the trip from a worker
    (an exception is pickled without its traceback); :func:`restore_traceback` puts it back."""
    import traceback

    exc.remote_traceback = "".join(traceback.format_exception(exc))
    return exc


def restore_traceback(exc):
    """Chain the traceback :func:`keep_traceback` recorded in a worker to ``exc`` (``--verbose``
    then shows where it was raised). Anything else is returned as it is."""
    text = getattr(exc, "remote_traceback", None) if isinstance(exc, BaseException) else None
    if text and exc.__traceback__ is None:
        exc.__cause__ = RemoteTraceback(f"in a worker process:\n{text}")
    return exc


def unguarded_script() -> str | None:
    """The path of the Python script this process runs when it has no ``if __name__ ==
    "__main__":`` (worker processes start by importing it, so its top-level calls run in each
    of them and kill them), else None (a command, ``python -m``, an interpreter)."""
    import sys

    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not path or not path.endswith(".py") or os.path.basename(path) == "__main__.py":
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    return None if "__main__" in text else path


def ordered(executor: Executor, fn: Callable, items: Iterable[tuple], ahead: int) -> Iterator:
    """``fn(*item)`` for every item, yielded in input order; at most ``ahead`` are submitted
    and not yet yielded, which bounds the memory the results hold. A failure is raised when
    its item's turn comes; the items after it that were not started are cancelled. A worker
    that dies (killed, out of memory, or a script without a main guard:
    :func:`unguarded_script`) is a :class:`~gazeprep.errors.GazeprepError`."""
    from concurrent.futures.process import BrokenProcessPool

    pending: deque = deque()
    try:
        for item in items:
            pending.append(executor.submit(fn, *item))
            if len(pending) >= max(1, ahead):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool as exc:
        script = unguarded_script()
        if script is not None:
            raise GazeprepError(
                f"worker processes import {script} again and it calls gazeprep at its top "
                "level; expected the calls under if __name__ == \"__main__\":") from exc
        raise GazeprepError("a worker process stopped abruptly (killed, e.g. for lack of "
                            "memory); expected it to finish: run again with a smaller --jobs"
                            ) from exc
    finally:
        for fut in pending:
            fut.cancel()


__all__ = ["JOBS_PER_CORE", "RemoteTraceback", "check_jobs", "cores",
           "keep_freed_memory", "keep_traceback", "max_jobs", "numba_threads", "ordered",
           "process_pool", "restore_traceback"]
