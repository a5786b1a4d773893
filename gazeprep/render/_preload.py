"""What a render worker process needs, loaded once in the fork server its workers are forked
from (:mod:`gazeprep.render.batches`; :func:`gazeprep.jobs.process_pool`).

Importing this module imports the libraries :func:`gazeprep.render.writer.render_samples` uses
(PIL's JPEG decoder, scikit-image's colour, filter and segmentation modules, scipy.ndimage,
numba and the render kernels) and loads numba's typing and lowering registries, which numba
does once per process on the first call of any compiled function (about half a second, most of
a worker's start). That first call is :func:`~gazeprep.render._kernels.level_counts`, a plain
kernel: a parallel one would start OpenMP here, and GNU OpenMP does not survive a fork.
"""

from __future__ import annotations

import numpy as np
import PIL.Image
import PIL.JpegImagePlugin  # noqa: F401 - registered by PIL.Image.open otherwise, per worker
import scipy.ndimage  # noqa: F401
import skimage.color  # noqa: F401 - skimage loads these lazily on first use
import skimage.filters  # noqa: F401
import skimage.segmentation  # noqa: F401

from gazeprep.render import images, maps, pseudo, writer  # noqa: F401
from gazeprep.render._kernels import level_counts

PIL.Image.init()
level_counts(1, np.ones(1))
