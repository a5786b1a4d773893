"""From a detector's sample ranges to fixations: onset, duration, mean position and pupil."""

from __future__ import annotations

import numpy as np


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
    # Sums over each range [first, last] (reduceat's even slots; any ranges, even overlapping):
    # one pass over the samples, without the digits that differences of running sums over a
    # long recording lose.
    bounds = np.empty(2 * len(first), np.int64)
    bounds[0::2] = first
    bounds[1::2] = np.asarray(last) + 1

    def sums(v: np.ndarray) -> np.ndarray:
        if not bounds.size:
            return np.zeros(0, v.dtype)
        padded = np.zeros(v.size + 1, v.dtype)  # last + 1 may be n
        padded[:-1] = v
        return np.add.reduceat(padded, bounds)[0::2]

    def mean(v):
        v = np.asarray(v, np.float64)
        ok = np.isfinite(v)
        cnt = sums(ok.astype(np.int64))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cnt > 0, sums(np.where(ok, v, 0.0)) / np.maximum(cnt, 1), np.nan)

    return {
        "start": t[first], "end": t[last], "duration": t[last] - t[first] + dt,
        "x": mean(x), "y": mean(y), "pupil": mean(pupil),
    }
