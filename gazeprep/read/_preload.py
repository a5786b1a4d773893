"""What an ingest worker process needs, loaded once in the fork server its workers are forked
from (:func:`gazeprep.ingest.run_ingest`; :func:`gazeprep.jobs.process_pool`).

Importing this module imports numba and the ASC kernels and loads numba's typing and lowering
registries, which numba does once per process on the first call of any compiled function (about
half a second, most of a worker's start). That first call is
:func:`~gazeprep.read.asc._kernels.split_lines` on a two-line buffer of the type the parser
passes (read-only uint8): a plain kernel, as a parallel one would start OpenMP here, and GNU
OpenMP does not survive a fork.
"""

from __future__ import annotations

import numpy as np

from gazeprep.read.asc._kernels import split_lines

split_lines(np.frombuffer(b"MSG\t1 a\nEND\t2\n", np.uint8))
