"""When ingest reads its input files on worker processes, and what those workers load.

Reading files side by side pays when there are several and they are large: a worker's start
(about a second of one core, spent once in the fork server, :mod:`gazeprep.read._preload`) is
worth it from about :data:`PARALLEL_MIN_BYTES` of input. This module is light (no numpy, no
polars) so that a command can start the workers' fork server before its own heavy imports
(:func:`warm_workers`): the two then overlap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from gazeprep.contract.workers import prestart
from gazeprep.errors import GazeprepError

#: Inputs are read by worker processes only when there are several and they hold at least this
#: many bytes in all: below it, starting the workers costs more than it saves.
PARALLEL_MIN_BYTES = 32 * 2**20
#: Modules the ingest workers' fork server imports once (see :func:`gazeprep.jobs.process_pool`
#: and :mod:`gazeprep.read._preload`).
PRELOAD = ("gazeprep.ingest", "gazeprep.read._preload", "gazeprep.detect._kernels")
#: The (paths, jobs) requests :func:`warm_workers` has handled in this process.
_WARMED: set[tuple[tuple[str, ...], int]] = set()


def use_workers(files: Sequence[Path], jobs: int) -> bool:
    """Whether ``files`` are worth reading on ``jobs`` worker processes."""
    if jobs <= 1 or len(files) < 2:
        return False
    return sum(f.stat().st_size for f in files) >= PARALLEL_MIN_BYTES


def warm_workers(paths: Iterable[str | Path], jobs: int) -> None:
    """Start the workers' fork server now when ingest of ``paths`` will use it; a path that
    cannot be read is left for ingest itself to report. The same request again (gazeprep's
    ``main`` makes it from the raw command line, the command from its options) does not walk
    the folders a second time."""
    from gazeprep.read import find_inputs

    paths = [str(p) for p in paths]
    if (tuple(paths), jobs) in _WARMED:
        return
    _WARMED.add((tuple(paths), jobs))
    try:
        files = find_inputs(paths)
        if use_workers(files, jobs):
            prestart(PRELOAD)
    except (GazeprepError, OSError):
        return
