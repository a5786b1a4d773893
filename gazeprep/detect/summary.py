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
