"""What an ingest worker process needs, loaded once in the fork server its workers are forked
from (:func:`gazeprep.ingest.run_ingest`; :func:`gazeprep.jobs.process_pool`).

Importing this module imports numba and the ASC kernels and loads numba's typing and lowering
registries, which numba does once per process on the first call of any compiled function (about
half a second, most of a worker's start). That first call is
:func:`~gazeprep.read.asc._kernels.split_lines` on a two-line buffer of the type the parser
passes (read-only uint8): a plain kernel, as a parallel one would start OpenMP here, and GNU
OpenMP does not survive a fork.

Two things make the workers' start shorter:

- scipy is kept out of numba's import and registries (:func:`_without_scipy`). numba imports
  scipy when it is installed, only to check its version and to find a BLAS for ``np.dot`` and
  its kin, which no ingest kernel calls; that import (scipy.linalg, and numpy.f2py through it)
  was a fifth of the fork server's start (0.64 -> 0.54 s on 2 cores, ``python -c "import
  gazeprep.ingest, gazeprep.read._preload"`` timed to the end of its imports).
- everything loaded is then frozen out of the cyclic garbage collector (``gc.freeze``, as the
  Python documentation advises before forking): the workers' collections no longer walk the
  ~130,000 objects of the libraries, nor touch (and so copy) their memory pages.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def _without_scipy() -> Iterator[None]:
    """``import scipy`` fails inside the block, as if scipy were not installed, unless it is
    already loaded; it works again afterwards (numba's linear algebra, not used here, then
    imports it when a kernel using it compiles)."""
    if "scipy" in sys.modules:
        yield
        return
    sys.modules["scipy"] = None  # the import system's mark for "not importable"
    try:
        yield
    finally:
        if "scipy" in sys.modules and sys.modules["scipy"] is None:
            del sys.modules["scipy"]


with _without_scipy():
    import numpy as np

    from gazeprep.read.asc._kernels import split_lines

    split_lines(np.frombuffer(b"MSG\t1 a\nEND\t2\n", np.uint8))
gc.freeze()
