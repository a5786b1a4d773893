"""The numba kernels of fixation detection: runs of valid samples, I-VT and I-DT.

The public wrappers are :func:`gazeprep.detect.ivt.ivt` and :func:`gazeprep.detect.idt.idt`.

Both kernels work on real recordings: timestamps are float milliseconds (any rate, jitter, gaps),
a missing sample is NaN in ``x`` or ``y``. A fixation never spans a missing sample or a gap
between consecutive samples longer than ``max_gap`` ms: the series is cut into *runs* of valid,
close-enough samples and each run is handled on its own.

Hostile samples are defined, not crashes: a sample whose time, x or y is not finite (NaN, +-inf)
counts as missing; time that does not increase (a repeated timestamp, a zero sample interval,
time going back) ends a run, so no fixation spans it; empty and one-sample input give no
fixation. The readers refuse such timestamps earlier with an error naming file and line; these
rules only keep the kernels well-defined on any input.

Kernels return ``(first, last)`` sample indices (inclusive) of each fixation, in time order.
:func:`gazeprep.detect.summary.summarise` turns them into onset/duration/position, with the
EyeLink convention duration = last - first + one sample interval.
"""

from __future__ import annotations

import math

import numpy as np

from gazeprep._numba import jit, jit_inline


@jit_inline
def _valid(t, x, y):
    """A usable sample: finite time and position (NaN or +-inf: missing)."""
    return math.isfinite(t) and math.isfinite(x) and math.isfinite(y)


@jit
def _runs(t, x, y, max_gap):
    """Start/end (exclusive) of the runs of valid samples whose time strictly increases by at
    most max_gap (ms) from one to the next. Any input is safe: a repeated or earlier time (zero
    or negative interval) ends a run, so does a NaN or infinite sample."""
    n = t.shape[0]
    rs = np.empty(n + 1, np.int64)
    re = np.empty(n + 1, np.int64)
    k = 0
    i = 0
    while i < n:
        if not _valid(t[i], x[i], y[i]):
            i += 1
            continue
        j = i + 1
        while (j < n and _valid(t[j], x[j], y[j])
               and t[j] - t[j - 1] <= max_gap and t[j] > t[j - 1]):
            j += 1
        rs[k] = i
        re[k] = j
        k += 1
        i = j
    return rs[:k], re[:k]


@jit
def ivt_kernel(t, x, y, max_velocity, max_gap, half_window):
    """Velocity-threshold identification (I-VT).

    Parameters
    ----------
    t : float64 array (n,)
        Sample times (ms), non-decreasing.
    x, y : float64 arrays (n,)
        Gaze position (px or any unit matching ``max_velocity``); NaN = missing.
    max_velocity : float
        Speed threshold in position units per ms: a sample is a fixation sample when its speed
        is below it.
    max_gap : float
        Longest gap (ms) between consecutive samples inside one fixation.
    half_window : float
        Speed at sample i is the displacement between the furthest samples of the run within
        ``half_window`` ms before and after it (at least the direct neighbours), over their time
        difference.

    Returns
    -------
    first, last : int64 arrays
        Inclusive sample index range of each fixation (maximal streaks of fixation samples).
    """
    rs, re = _runs(t, x, y, max_gap)
    n = t.shape[0]
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    k = 0
    for r in range(rs.shape[0]):
        a = rs[r]
        b = re[r]
        if b - a < 2:
            continue
        open_ = -1
        lo = a
        hi = a
        for i in range(a, b):
            # speed over [t_i - half_window, t_i + half_window] (at least one neighbour each
            # side): a slope over several samples, robust to tracker noise at 1-2 kHz.
            while lo < i - 1 and t[i] - t[lo] > half_window:
                lo += 1
            if lo > i - 1 and i > a:
                lo = i - 1
            if hi < i + 1 and i + 1 < b:
                hi = i + 1
            while hi + 1 < b and t[hi + 1] - t[i] <= half_window:
                hi += 1
            lo_i = lo if i > a else i
            dt = t[hi] - t[lo_i]
            dx = x[hi] - x[lo_i]
            dy = y[hi] - y[lo_i]
            slow = dt > 0 and math.sqrt(dx * dx + dy * dy) < max_velocity * dt
            if slow:
                if open_ < 0:
                    open_ = i
            elif open_ >= 0:
                first[k] = open_
                last[k] = i - 1
                k += 1
                open_ = -1
        if open_ >= 0:
            first[k] = open_
            last[k] = b - 1
            k += 1
    return first[:k].copy(), last[:k].copy()


@jit
def idt_kernel(t, x, y, max_dispersion, min_span, max_gap):
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
    max_dispersion : float
        Threshold in position units.
    min_span : float
        Minimal ``t[last] - t[first]`` of a fixation (ms), i.e. minimal duration minus one sample.
    max_gap : float
        Longest gap (ms) between consecutive samples inside one fixation.

    Returns
    -------
    first, last : int64 arrays
        Inclusive sample index range of each fixation.
    """
    rs, re = _runs(t, x, y, max_gap)
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
    for r in range(rs.shape[0]):
        a = rs[r]
        b = re[r]
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
