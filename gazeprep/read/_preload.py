"""What an ingest worker process needs, loaded once in the fork server its workers are forked
from (:func:`gazeprep.ingest.run_ingest`; :func:`gazeprep.jobs.process_pool`).

Importing this module imports numba and the ASC kernels and loads numba's typing and lowering
registries, which numba does once per process on the first call of any compiled function (about
half a second, most of a worker's start). That first call is
:func:`~gazeprep.read.asc._kernels.split_lines` on a two-line buffer of the type the parser
passes (read-only uint8): a plain kernel, as a parallel one would start OpenMP here, and GNU
OpenMP does not survive a fork.

Two things make the workers' start shorter:

- scipy and cffi are kept out of numba's import and registries (:func:`_without`). numba
  imports scipy when it is installed, only to check its version and to find a BLAS for
  ``np.dot`` and its kin, and cffi to type cffi functions; no ingest kernel uses either, and
  their imports (scipy.linalg with numpy.f2py; cffi's C parser) were a quarter of the fork
  server's start (0.64 -> 0.48 s on 2 cores, ``python -c "import gazeprep.ingest,
  gazeprep.read._preload"`` timed to the end of its imports).
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
def _without(*names: str) -> Iterator[None]:
    """``import name`` fails inside the block, as if the package were not installed, for each
    of ``names`` not already loaded; it works again afterwards (numba's linear algebra, not
    used here, then imports scipy when a kernel using it compiles)."""
    blocked = [n for n in names if n not in sys.modules]
    for n in blocked:
        sys.modules[n] = None  # the import system's mark for "not importable"
    try:
        yield
    finally:
        for n in blocked:
            if n in sys.modules and sys.modules[n] is None:
                del sys.modules[n]


with _without("scipy", "cffi"):
    import numpy as np

    from gazeprep.read.asc._kernels import split_lines

    split_lines(np.frombuffer(b"MSG\t1 a\nEND\t2\n", np.uint8))
gc.freeze()
