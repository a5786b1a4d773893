"""The numba options of every gazeprep kernel, in one place.

Every compiled function in gazeprep is decorated with one of these (``gazeprep.*._kernels``):

- :data:`jit`: a plain compiled function;
- :data:`jit_inline`: a small helper inlined into its callers at the numba IR level (the
  finiteness tests, blank tests and field parsers of the inner loops);
- :data:`jit_parallel`: a kernel whose ``prange`` loop runs on numba's thread pool (threads:
  the command's ``--jobs`` through :func:`gazeprep.jobs.numba_threads`, one per worker
  process in a pool; numba's default, every usable core or ``NUMBA_NUM_THREADS``, for a
  library call; never hard-coded here).

The choices, and why:

- ``cache=True``: the machine code is written beside the module (``__pycache__``), so only the
  first run after an install or an edit pays the compilation.
- ``fastmath=False``: fast-math lets LLVM assume that no value is NaN or infinite and
  reassociate sums. The kernels' safety rests on exactly those checks (a NaN or inf sample is
  missing, a non-finite fixation is skipped), and the tests compare them with plain-Python
  references bit for bit, so IEEE semantics stay.
- ``error_model="python"`` (numba's default for ``njit``): an integer division by zero raises
  ``ZeroDivisionError`` instead of returning garbage; the kernels never divide by an integer
  that can be zero, so the check costs nothing measurable.

The first run after an install or an edit compiles the kernels it calls (15-30 s per command
on 2 cores, README "What it reaches") and says so once, on stderr, when compilation starts:
numba announces a compilation only when a kernel is not in its on-disk cache
(``numba:compile`` events fire on a cache miss), so a warm run prints nothing.

This module imports numba: import it (through a ``_kernels`` module) only inside the functions
that run a kernel, never at the top of a module the command line loads.
"""

from __future__ import annotations

import sys

from numba import njit, prange
from numba.core import event

#: Printed once per process, before the first compilation.
NOTICE = "gazeprep: compiling kernels, first run only (15-30 s) ..."


class _CompileNotice(event.Listener):
    """Prints :data:`NOTICE` at the start of the first compilation in this process."""

    said = False

    def on_start(self, ev) -> None:
        if not _CompileNotice.said:
            _CompileNotice.said = True
            print(NOTICE, file=sys.stderr, flush=True)

    def on_end(self, ev) -> None:
        pass


event.register("numba:compile", _CompileNotice())

#: Options shared by every kernel (see the module notes).
OPTIONS = {"cache": True, "fastmath": False, "error_model": "python"}

jit = njit(**OPTIONS)
jit_inline = njit(inline="always", **OPTIONS)
jit_parallel = njit(parallel=True, **OPTIONS)

__all__ = ["OPTIONS", "jit", "jit_inline", "jit_parallel", "prange"]
