"""Fixation detection on gaze samples: I-VT and I-DT as numba kernels.

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
:func:`summarise` turns them into onset/duration/position, with the EyeLink convention
duration = last - first + one sample interval.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _valid(t, x, y):
    """A usable sample: finite time and position (NaN or +-inf: missing)."""
    return math.isfinite(t) and math.isfinite(x) and math.isfinite(y)


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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
    qxmax = np.empty(n, np.int64)
    qxmin = np.empty(n, np.int64)
    qymax = np.empty(n, np.int64)
    qymin = np.empty(n, np.int64)
    k = 0
    for r in range(rs.shape[0]):
        a = rs[r]
        b = re[r]
        i = a
        j = a  # window is [i, j)
        h0 = t0 = h1 = t1 = h2 = t2 = h3 = t3 = 0
        while i < b:
            while j < b and (j == i or t[j - 1] - t[i] < min_span):
                while t0 > h0 and x[qxmax[t0 - 1]] <= x[j]:
                    t0 -= 1
                qxmax[t0] = j
                t0 += 1
                while t1 > h1 and x[qxmin[t1 - 1]] >= x[j]:
                    t1 -= 1
                qxmin[t1] = j
                t1 += 1
                while t2 > h2 and y[qymax[t2 - 1]] <= y[j]:
                    t2 -= 1
                qymax[t2] = j
                t2 += 1
                while t3 > h3 and y[qymin[t3 - 1]] >= y[j]:
                    t3 -= 1
                qymin[t3] = j
                t3 += 1
                j += 1
            if t[j - 1] - t[i] < min_span:
                break
            xmax = x[qxmax[h0]]
            xmin = x[qxmin[h1]]
            ymax = y[qymax[h2]]
            ymin = y[qymin[h3]]
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
                h0 = t0 = h1 = t1 = h2 = t2 = h3 = t3 = 0
            else:
                i += 1
                while h0 < t0 and qxmax[h0] < i:
                    h0 += 1
                while h1 < t1 and qxmin[h1] < i:
                    h1 += 1
                while h2 < t2 and qymax[h2] < i:
                    h2 += 1
                while h3 < t3 and qymin[h3] < i:
                    h3 += 1
    return first[:k].copy(), last[:k].copy()


def px_per_degree(screen_px: tuple[float, float], screen_cm: tuple[float, float],
                  distance_cm: float) -> float:
    """Pixels per degree of visual angle at the screen centre.

    Parameters
    ----------
    screen_px : (width, height)
        Screen resolution (px).
    screen_cm : (width, height)
        Physical screen size (cm).
    distance_cm : float
        Eye-screen distance (cm).

    Returns
    -------
    float
        Mean of the horizontal and vertical px/deg (square pixels assumed).
    """
    cm_per_deg = 2.0 * distance_cm * math.tan(math.radians(0.5))
    px_per_cm = 0.5 * (screen_px[0] / screen_cm[0] + screen_px[1] / screen_cm[1])
    return px_per_cm * cm_per_deg


def sample_interval(t: np.ndarray) -> float:
    """Typical sample interval (ms): the median positive time step (1.0 when unknown)."""
    d = np.diff(t[np.isfinite(t)])
    d = d[d > 0]
    return float(np.median(d)) if d.size else 1.0


def summarise(t, x, y, pupil, first, last, dt: float) -> dict[str, np.ndarray]:
    """Onset, end, duration (EyeLink convention), mean position and pupil of each fixation.

    Parameters
    ----------
    t, x, y, pupil : arrays (n,)
        Samples (pupil NaN where missing).
    first, last : int arrays (k,)
        Inclusive sample ranges from a kernel.
    dt : float
        Sample interval (ms), added to ``t[last] - t[first]``.

    Returns
    -------
    dict
        ``start, end, duration`` (ms), ``x, y, pupil`` (means; pupil NaN-aware).
    """
    def mean(v):
        v = np.asarray(v, np.float64)
        ok = np.isfinite(v)
        c = np.concatenate([[0.0], np.cumsum(np.where(ok, v, 0.0))])
        m = np.concatenate([[0], np.cumsum(ok)])
        cnt = m[last + 1] - m[first]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cnt > 0, (c[last + 1] - c[first]) / np.maximum(cnt, 1), np.nan)

    return {
        "start": t[first], "end": t[last], "duration": t[last] - t[first] + dt,
        "x": mean(x), "y": mean(y), "pupil": mean(pupil),
    }


def merge_adjacent(t, first, last, mx, my, max_gap: float, max_distance: float):
    """Merge consecutive fixations separated by a short, small movement.

    The usual clean-up after I-VT/I-DT (e.g. Tobii's "merge adjacent fixations"): fixation
    k+1 joins k when it starts at most ``max_gap`` ms after k ends and their mean positions
    are at most ``max_distance`` apart.

    Parameters
    ----------
    t : array (n,)
        Sample times (ms).
    first, last : int arrays (k,)
        Inclusive sample ranges, in time order.
    mx, my : arrays (k,)
        Mean position of each fixation.
    max_gap : float
        ms.
    max_distance : float
        Same unit as ``mx, my``.

    Returns
    -------
    first, last : int64 arrays
        The merged ranges.
    """
    if first.size < 2:
        return first, last
    f_out, l_out = [int(first[0])], [int(last[0])]
    cx, cy, w = float(mx[0]), float(my[0]), float(last[0] - first[0] + 1)
    for k in range(1, first.size):
        wk = float(last[k] - first[k] + 1)
        close = math.hypot(mx[k] - cx, my[k] - cy) <= max_distance
        if close and t[first[k]] - t[l_out[-1]] <= max_gap:
            l_out[-1] = int(last[k])
            cx, cy = (cx * w + mx[k] * wk) / (w + wk), (cy * w + my[k] * wk) / (w + wk)
            w += wk
        else:
            f_out.append(int(first[k]))
            l_out.append(int(last[k]))
            cx, cy, w = float(mx[k]), float(my[k]), wk
    return np.asarray(f_out, np.int64), np.asarray(l_out, np.int64)


def detect(detector: str, t, x, y, pupil, *, velocity: float, dispersion: float,
           ivt_window: float, idt_window: float, max_gap: float,
           dt: float | None = None, merge_gap: float = 0.0,
           merge_distance: float = 0.0) -> dict[str, np.ndarray]:
    """Run I-VT or I-DT on one sample series and summarise the fixations.

    Parameters
    ----------
    detector : {"ivt", "idt"}
    t, x, y, pupil : arrays (n,)
        Times (ms), positions (px), pupil (NaN = missing).
    velocity : float
        I-VT threshold (px/ms).
    dispersion : float
        I-DT threshold (px).
    ivt_window, idt_window : float
        I-VT speed window and I-DT minimal duration (ms).
    max_gap : float
        Longest sample gap inside a fixation (ms).
    dt : float, optional
        Sample interval (ms); default the median step of ``t``.
    merge_gap, merge_distance : float
        When ``merge_gap > 0``, :func:`merge_adjacent` with these (ms, px).

    Returns
    -------
    dict
        :func:`summarise` output plus ``first`` and ``last`` (inclusive sample indices).
    """
    t = np.ascontiguousarray(t, np.float64)
    x = np.ascontiguousarray(x, np.float64)
    y = np.ascontiguousarray(y, np.float64)
    dt = sample_interval(t) if dt is None else dt
    if detector == "ivt":
        first, last = ivt_kernel(t, x, y, velocity, max_gap, ivt_window / 2.0)
    elif detector == "idt":
        first, last = idt_kernel(t, x, y, dispersion, max(idt_window - dt, 0.0), max_gap)
    else:
        raise ValueError(f"unknown detector {detector!r}")
    if merge_gap > 0 and first.size > 1:
        s = summarise(t, x, y, pupil, first, last, dt)
        first, last = merge_adjacent(t, first, last, s["x"], s["y"], merge_gap, merge_distance)
    out = summarise(t, x, y, pupil, first, last, dt)
    out["first"] = first
    out["last"] = last
    return out
