"""The numba kernels of Tobii's I-VT filter: gap fill-in, angular velocity, fixation streaks.

The public wrapper is :func:`gazeprep.detect.tobii.classify`; the tests hold a plain-Python
reference of each kernel. Any input is defined: a sample whose time or any coordinate is not
finite is missing; time that does not increase ends a run.
"""

from __future__ import annotations

import math

import numpy as np

from gazeprep._numba import jit, jit_inline


@jit_inline
def _ok(t, v, i):
    """Sample i has a finite time and finite values in every column of v."""
    if not math.isfinite(t[i]):
        return False
    for k in range(v.shape[1]):
        if not math.isfinite(v[i, k]):
            return False
    return True


@jit
def gap_fill(t, v, max_gap):
    """Linear interpolation of missing samples across gaps of at most ``max_gap`` ms.

    Parameters
    ----------
    t : float64 array (n,)
        Sample times (ms).
    v : float64 array (n, k)
        Values per sample (a row with a NaN is missing).
    max_gap : float
        Longest gap (ms) between the valid samples either side that is filled.

    Returns
    -------
    float64 array (n, k)
        A copy of ``v`` with the short gaps filled.
    """
    out = v.copy()
    n = t.shape[0]
    prev = -1
    for i in range(n):
        if not _ok(t, v, i):
            continue
        if prev >= 0 and i - prev > 1:
            span = t[i] - t[prev]
            if 0 < span <= max_gap:
                for j in range(prev + 1, i):
                    if not math.isfinite(t[j]):
                        continue
                    w = (t[j] - t[prev]) / span
                    if 0 <= w <= 1:
                        for k in range(v.shape[1]):
                            out[j, k] = v[prev, k] + w * (v[i, k] - v[prev, k])
        prev = i
    return out


@jit
def angular_velocity(t, eye, gaze, half, max_gap):
    """Angular speed (deg/s) of each sample, Tobii's velocity calculator.

    The speed at sample i is the angle between the gaze vectors (gaze point minus sample i's
    eye position) of the samples ``half`` steps before and after it, over their time
    difference; near a run's ends the window is cut to the run (at least one neighbour).
    Runs: consecutive valid samples whose time increases by at most ``max_gap`` ms.

    Parameters
    ----------
    t : float64 array (n,)
        Sample times (ms).
    eye, gaze : float64 arrays (n, 3)
        Eye position and gaze point (mm, one frame of reference).
    half : int
        Samples each side (``round(window / 2 / sample interval)``, at least 1).
    max_gap : float
        ms.

    Returns
    -------
    float64 array (n,)
        deg/s; NaN for missing samples and samples alone in their run.
    """
    n = t.shape[0]
    out = np.full(n, np.nan)
    i = 0
    while i < n:
        if not (_ok(t, eye, i) and _ok(t, gaze, i)):
            i += 1
            continue
        b = i + 1
        while (b < n and _ok(t, eye, b) and _ok(t, gaze, b) and t[b] > t[b - 1]
               and t[b] - t[b - 1] <= max_gap):
            b += 1
        a = i
        for c in range(a, b):
            lo = max(c - half, a)
            hi = min(c + half, b - 1)
            if hi <= lo:
                continue
            ax = gaze[lo, 0] - eye[c, 0]
            ay = gaze[lo, 1] - eye[c, 1]
            az = gaze[lo, 2] - eye[c, 2]
            bx = gaze[hi, 0] - eye[c, 0]
            by = gaze[hi, 1] - eye[c, 1]
            bz = gaze[hi, 2] - eye[c, 2]
            cx = ay * bz - az * by
            cy = az * bx - ax * bz
            cz = ax * by - ay * bx
            ang = math.degrees(math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz),
                                          ax * bx + ay * by + az * bz))
            out[c] = ang / (t[hi] - t[lo]) * 1000.0
        i = b
    return out


@jit
def streaks(t, speed, threshold, max_gap):
    """Maximal runs of consecutive samples slower than ``threshold`` (deg/s), never across a
    missing speed or a time step that is not in (0, max_gap] ms.

    Returns
    -------
    first, last : int64 arrays (k,)
        Inclusive sample ranges, in time order.
    """
    n = t.shape[0]
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    k = 0
    open_ = -1
    for i in range(n):
        slow = math.isfinite(speed[i]) and speed[i] < threshold
        cont = open_ >= 0 and t[i] > t[i - 1] and t[i] - t[i - 1] <= max_gap
        if slow and cont:
            continue
        if open_ >= 0:
            first[k] = open_
            last[k] = i - 1
            k += 1
            open_ = -1
        if slow:
            open_ = i
    if open_ >= 0:
        first[k] = open_
        last[k] = n - 1
        k += 1
    return first[:k].copy(), last[:k].copy()
