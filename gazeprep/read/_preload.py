"""What an ingest worker process needs, loaded once in the fork server its workers are forked
from (:func:`gazeprep.ingest.run_ingest`; :func:`gazeprep.jobs.process_pool`).

Importing this module imports numba and the ASC kernels and loads numba's typing and lowering
registries, which numba does once per process on the first call of any compiled function (about
half a second, most of a worker's start; :mod:`gazeprep._numba` makes that call). Then
:func:`~gazeprep.read.asc._kernels.split_lines` is called on a two-line buffer of the type the
parser passes (read-only uint8): a plain kernel, as a parallel one would start OpenMP here, and
GNU OpenMP does not survive a fork.

Two things make the workers' start shorter:

- scipy and cffi are kept out of numba's import and registries (:mod:`gazeprep._numba`, as in
  every process of gazeprep's own): their imports (scipy.linalg with numpy.f2py; cffi's C
  parser) were a quarter of the fork server's start (0.64 -> 0.48 s on 2 cores, ``python -c
  "import gazeprep.ingest, gazeprep.read._preload"`` timed to the end of its imports).
- everything loaded is then frozen out of the cyclic garbage collector (``gc.freeze``, as the
  Python documentation advises before forking): the workers' collections no longer walk the
  ~130,000 objects of the libraries, nor touch (and so copy) their memory pages.
"""

from __future__ import annotations

import gc

import numpy as np

from gazeprep.read.asc._kernels import split_lines

split_lines(np.frombuffer(b"MSG\t1 a\nEND\t2\n", np.uint8))
gc.freeze()
