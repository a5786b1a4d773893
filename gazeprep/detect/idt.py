"""I-DT: dispersion-threshold fixation identification (Salvucci & Goldberg 2000).

A window of at least the minimal fixation duration whose dispersion ``(max x - min x) +
(max y - min y)`` stays within a threshold is a fixation, grown sample by sample while the
dispersion allows; otherwise the window's start moves on by one sample. The kernel
(:func:`gazeprep.detect._kernels.idt_kernel`) keeps the window's extremes in monotonic deques,
so it is O(n).

Example
-------
>>> import numpy as np
>>> t = np.arange(10.0)
>>> x = np.r_[np.zeros(5), np.full(5, 50.0)]
>>> idt(t, x, np.zeros(10), dispersion=1.0, window=3.0, max_gap=5.0, dt=1.0)
(array([0, 5]), array([4, 9]))
"""

from __future__ import annotations

import numpy as np

from gazeprep.detect.runs import runs


def idt(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, dispersion: float, window: float,
        max_gap: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Fixations of one sample series by I-DT.

    Parameters
    ----------
    t : float64 array (n,)
        Sample times (ms).
    x, y : float64 arrays (n,)
        Gaze position (px); NaN = missing.
    dispersion : float
        Largest ``(max x - min x) + (max y - min y)`` of a fixation (px).
    window : float
        Shortest fixation (ms), counted EyeLink's way: ``t[last] - t[first]`` plus one sample
        interval ``dt``.
    max_gap : float
        Longest gap (ms) between consecutive samples inside one fixation.
    dt : float
        Sample interval (ms).

    Returns
    -------
    first, last : int64 arrays (k,)
        Inclusive sample index range of each fixation, in time order.
    """
    from gazeprep.detect._kernels import idt_kernel

    t, x, y = (np.ascontiguousarray(v, np.float64) for v in (t, x, y))
    start, end = runs(t, x, y, max_gap)
    return idt_kernel(t, x, y, start, end, dispersion, max(window - dt, 0.0))
