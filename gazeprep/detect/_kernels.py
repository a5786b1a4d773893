"""The numba kernel of fixation detection: I-DT.

The public wrapper is :func:`gazeprep.detect.idt.idt`; I-VT is array operations
(:mod:`gazeprep.detect.ivt`), since nothing in it is sequential.

The kernel works on real recordings: timestamps are float milliseconds (any rate, jitter, gaps),
a missing sample is NaN in ``x`` or ``y``. A fixation lies inside one *run* of valid,
close-enough samples (:func:`gazeprep.detect.runs.runs`, which also defines what hostile
samples mean), each run handled on its own; empty and one-sample input give no fixation.

The kernel returns ``(first, last)`` sample indices (inclusive) of each fixation, in time order.
:func:`gazeprep.detect.summary.summarise` turns them into onset/duration/position, with the
EyeLink convention duration = last - first + one sample interval.
"""

from __future__ import annotations

import numpy as np

from gazeprep._numba import jit


@jit
def idt_kernel(t, x, y, start, end, max_dispersion, min_span):
    """Dispersion-threshold identification (I-DT, Salvucci & Goldberg 2000).

    A window starting at sample ``i`` is grown until it spans ``min_span`` ms; if its dispersion
    ``(max x - min x) + (max y - min y)`` is at most ``max_dispersion`` it grows sample by sample
    while the dispersion stays within the threshold and becomes a fixation, the next window
    starting after it; otherwise the window start moves on by one sample. Window minima/maxima
    are kept in monotonic deques, so the kernel is O(n).

    Parameters
    ----------
    t : float64 array (n,)
        Sample times (ms).
    x, y : float64 arrays (n,)
        Gaze position; NaN = missing.
    start, end : int64 arrays (k,)
        The runs of usable samples (:func:`gazeprep.detect.runs.runs`): a fixation lies in one.
    max_dispersion : float
        Threshold in position units.
    min_span : float
        Minimal ``t[last] - t[first]`` of a fixation (ms), i.e. minimal duration minus one sample.

    Returns
    -------
    first, last : int64 arrays
        Inclusive sample index range of each fixation.
    """
    n = t.shape[0]
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    # Four monotonic deques of sample indices over the window [i, j): the front of each is the
    # index of the window's largest x, smallest x, largest y, smallest y. Each is an array with
    # a head (front) and a tail (one past the back) position.
    xmax_q = np.empty(n, np.int64)
    xmin_q = np.empty(n, np.int64)
    ymax_q = np.empty(n, np.int64)
    ymin_q = np.empty(n, np.int64)
    k = 0
    for r in range(start.shape[0]):
        a = start[r]
        b = end[r]
        i = a
        j = a  # window is [i, j)
        xmax_head = xmax_tail = xmin_head = xmin_tail = 0
        ymax_head = ymax_tail = ymin_head = ymin_tail = 0
        while i < b:
            while j < b and (j == i or t[j - 1] - t[i] < min_span):
                while xmax_tail > xmax_head and x[xmax_q[xmax_tail - 1]] <= x[j]:
                    xmax_tail -= 1
                xmax_q[xmax_tail] = j
                xmax_tail += 1
                while xmin_tail > xmin_head and x[xmin_q[xmin_tail - 1]] >= x[j]:
                    xmin_tail -= 1
                xmin_q[xmin_tail] = j
                xmin_tail += 1
                while ymax_tail > ymax_head and y[ymax_q[ymax_tail - 1]] <= y[j]:
                    ymax_tail -= 1
                ymax_q[ymax_tail] = j
                ymax_tail += 1
                while ymin_tail > ymin_head and y[ymin_q[ymin_tail - 1]] >= y[j]:
                    ymin_tail -= 1
                ymin_q[ymin_tail] = j
                ymin_tail += 1
                j += 1
            if t[j - 1] - t[i] < min_span:
                break
            xmax = x[xmax_q[xmax_head]]
            xmin = x[xmin_q[xmin_head]]
            ymax = y[ymax_q[ymax_head]]
            ymin = y[ymin_q[ymin_head]]
            if (xmax - xmin) + (ymax - ymin) <= max_dispersion:
                while j < b:
                    nxmax = max(xmax, x[j])
                    nxmin = min(xmin, x[j])
                    nymax = max(ymax, y[j])
                    nymin = min(ymin, y[j])
                    if (nxmax - nxmin) + (nymax - nymin) > max_dispersion:
                        break
                    xmax = nxmax
                    xmin = nxmin
                    ymax = nymax
                    ymin = nymin
                    j += 1
                first[k] = i
                last[k] = j - 1
                k += 1
                i = j
                xmax_head = xmax_tail = xmin_head = xmin_tail = 0
                ymax_head = ymax_tail = ymin_head = ymin_tail = 0
            else:
                i += 1
                while xmax_head < xmax_tail and xmax_q[xmax_head] < i:
                    xmax_head += 1
                while xmin_head < xmin_tail and xmin_q[xmin_head] < i:
                    xmin_head += 1
                while ymax_head < ymax_tail and ymax_q[ymax_head] < i:
                    ymax_head += 1
                while ymin_head < ymin_tail and ymin_q[ymin_head] < i:
                    ymin_head += 1
    return first[:k].copy(), last[:k].copy()
