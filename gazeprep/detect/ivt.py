"""I-VT: velocity-threshold fixation identification (Salvucci & Goldberg 2000).

A sample belongs to a fixation when the gaze moves slower than a threshold, its speed measured
over a short window centred on it (a slope over several samples, robust to tracker noise at
1-2 kHz); fixations are the maximal streaks of such samples. The kernel is
:func:`gazeprep.detect._kernels.ivt_kernel`.

Example
-------
>>> import numpy as np
>>> t = np.arange(10.0)
>>> x = np.r_[np.zeros(5), np.full(5, 50.0)]
>>> ivt(t, x, np.zeros(10), velocity=1.0, window=0.0, max_gap=5.0)
(array([0, 6]), array([3, 9]))
"""

from __future__ import annotations

import numpy as np


def ivt(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, velocity: float, window: float,
        max_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Fixations of one sample series by I-VT.

    Parameters
    ----------
    t : float64 array (n,)
        Sample times (ms).
    x, y : float64 arrays (n,)
        Gaze position (px); NaN = missing.
    velocity : float
        Speed threshold in px per ms: slower samples are fixation samples.
    window : float
        Width (ms) of the window, centred on each sample, over which its speed is measured (at
        least the direct neighbours).
    max_gap : float
        Longest gap (ms) between consecutive samples inside one fixation.

    Returns
    -------
    first, last : int64 arrays (k,)
        Inclusive sample index range of each fixation, in time order.
    """
    from gazeprep.detect._kernels import ivt_kernel

    return ivt_kernel(t, x, y, velocity, max_gap, window / 2.0)
