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

In a gazeprep command or its workers' fork server (no user code shares the process:
:func:`_own_process`), numba is imported and its typing and lowering registries are loaded
(which numba does once per process, on the first call of any compiled function) with scipy and
cffi kept out (:func:`without`). numba imports scipy when it is installed, to check its version
and to find a BLAS for ``np.dot`` and its kin (pulling in ``scipy.linalg`` and ``numpy.f2py``),
and cffi to type cffi functions; no gazeprep kernel uses either, and they were 0.1-0.25 s of
every ``gazeprep ingest`` that runs a detector (``docs/formats/speed.md``) and a quarter of the
ingest workers' fork server's start (:mod:`gazeprep.read._preload`). A library call leaves
numba as it is: the user's own kernels may need them.

This module imports numba: import it (through a ``_kernels`` module) only inside the functions
that run a kernel, never at the top of a module the command line loads.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def without(*names: str) -> Iterator[None]:
    """``import name`` fails inside the block, as if the package were not installed, for each
    of ``names`` not already loaded; it works again afterwards (numba's linear algebra, not
    used by gazeprep's kernels, then imports scipy when a kernel using it compiles)."""
    blocked = [n for n in names if n not in sys.modules]
    for n in blocked:
        sys.modules[n] = None  # the import system's mark for "not importable"
    try:
        yield
    finally:
        for n in blocked:
            if n in sys.modules and sys.modules[n] is None:
                del sys.modules[n]


def _own_process() -> bool:
    """Whether no user code shares this process: it runs a gazeprep command (its ``main``
    called :func:`gazeprep.contract.command.quick_exit`) or is a workers' fork server
    (:mod:`gazeprep.contract._forkserver`, loaded first there) or one of its workers."""
    command = sys.modules.get("gazeprep.contract.command")
    return ((command is not None and command.in_command())
            or "gazeprep.contract._forkserver" in sys.modules)


def _identity(x):
    """The kernel whose first call loads numba's registries (see the module notes)."""
    return x


#: Printed once per process, before the first compilation.
NOTICE = "gazeprep: compiling kernels, first run only (15-30 s) ..."
#: Options shared by every kernel (see the module notes).
OPTIONS = {"cache": True, "fastmath": False, "error_model": "python"}

_LEAN = _own_process()
with without("scipy", "cffi") if _LEAN else contextlib.nullcontext():
    from numba import njit, prange
    from numba.core import event

    if _LEAN:
        njit(**OPTIONS)(_identity)(0.0)


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

jit = njit(**OPTIONS)
jit_inline = njit(inline="always", **OPTIONS)
jit_parallel = njit(parallel=True, **OPTIONS)

__all__ = ["OPTIONS", "jit", "jit_inline", "jit_parallel", "prange"]
