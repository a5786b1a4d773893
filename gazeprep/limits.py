"""Limits on the numbers gazeprep accepts, in one place (quoted by the errors and the README).

Ingest checks every number it reads against these before anything is computed from it, render
checks ``tracks.parquet`` again (people edit it by hand), and the command options have their
own limits (:mod:`gazeprep.commands.options`). The numba kernels are safe on any input as
well, but no caller hands them a number outside these limits.

Example
-------
>>> rect_problem((0.0, 0.0, 0.0, 768.0))
'width 0 is not > 0'
"""

from __future__ import annotations

import math

import numpy as np

#: float64 holds every whole millisecond up to here; beyond, distinct times collapse.
MAX_TIME_MS = 2.0**53
#: Largest |coordinate| of a gaze sample or an image placement on screen, in pixels.
MAX_COORD_PX = 1e6
#: Largest image width / height (and on-screen rectangle side), in pixels.
MAX_SIDE_PX = 1_000_000
#: Longest fixation: one day (a longer one is a broken record, not a fixation).
MAX_DURATION_MS = 86_400_000.0
#: Highest sampling rate, in Hz.
MAX_RATE_HZ = 1e6


def time_problem(t: float, dt: float | None = None) -> str | None:
    """Why timestamp ``t`` (ms) is unusable, or None.

    Parameters
    ----------
    t : float
        Timestamp in ms.
    dt : float, optional
        Sampling interval (ms) of the series ``t`` belongs to: float64 must resolve half of it,
        else consecutive samples collapse onto one value.
    """
    if not math.isfinite(t):
        return f"time {t} is not a finite number"
    if abs(t) > MAX_TIME_MS:
        return (f"time {t:.6g} ms is beyond 2**53 ms, where float64 no longer holds whole "
                "milliseconds (expected |time| <= 2**53 ms; subtract the recording start)")
    if dt is not None and float(np.spacing(abs(t))) > dt / 2:
        return (f"time {t:.17g} ms: float64 resolution there is {float(np.spacing(abs(t))):g} ms, "
                f"coarser than half the sampling interval ({dt:g} ms), so consecutive samples "
                "collapse (expected smaller timestamps; subtract the recording start)")
    return None


def coarse_times(t: np.ndarray, dt: float | np.ndarray) -> np.ndarray:
    """Mask of finite timestamps that :func:`time_problem` refuses (beyond 2**53 ms or too
    coarse for the sampling interval ``dt``, a scalar or one value per sample)."""
    a = np.abs(np.asarray(t, np.float64))
    with np.errstate(invalid="ignore"):
        return np.isfinite(a) & ((a > MAX_TIME_MS) | (np.spacing(a) > np.asarray(dt) / 2))


def rect_problem(rect) -> str | None:
    """Why an on-screen image rectangle ``(x, y, w, h)`` (px) is unusable, or None."""
    for name, v in zip(("x", "y"), rect[:2], strict=True):
        if not (math.isfinite(v) and abs(v) <= MAX_COORD_PX):
            return f"{name} {v:g} is not a finite number within +-{MAX_COORD_PX:g} px"
    for name, v in zip(("width", "height"), rect[2:], strict=True):
        if not math.isfinite(v):
            return f"{name} {v} is not a finite number"
        if not v > 0:
            return f"{name} {v:g} is not > 0"
        if v > MAX_SIDE_PX:
            return f"{name} {v:g} exceeds {MAX_SIDE_PX} px"
    return None


def size_problem(width: float, height: float) -> str | None:
    """Why an image size in pixels is unusable (not a whole number in 1..MAX_SIDE_PX), or None."""
    for name, v in (("width", width), ("height", height)):
        if not (math.isfinite(v) and v == round(v) and 1 <= v <= MAX_SIDE_PX):
            return f"image {name} {v:g} is not a whole number of pixels in 1..{MAX_SIDE_PX}"
    return None
