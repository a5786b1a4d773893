"""Runs of usable samples: the stretches a fixation may lie in.

A fixation never spans a missing sample or a gap between consecutive samples longer than
``max_gap`` ms, so both detectors cut the series into *runs* first and handle each on its own.

Hostile samples are defined, not crashes: a sample whose time, x or y is not finite (NaN,
+-inf) is missing; time that does not increase (a repeated timestamp, time going back) ends a
run. The readers refuse such timestamps earlier with an error naming file and line; these rules
only keep the detectors well-defined on any input.

Example
-------
>>> import numpy as np
>>> t = np.array([0.0, 1.0, 2.0, 50.0, 51.0, 51.0])
>>> runs(t, np.zeros(6), np.zeros(6), max_gap=5.0)
(array([0, 3, 5]), array([3, 5, 6]))
"""

from __future__ import annotations

import numpy as np


def runs(t: np.ndarray, x: np.ndarray, y: np.ndarray,
         max_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of every run of valid samples whose time strictly increases by
    at most ``max_gap`` from one sample to the next.

    Parameters
    ----------
    t, x, y : float64 arrays (n,)
        Sample times (ms) and positions; NaN or +-inf = missing.
    max_gap : float
        Longest step (ms) between consecutive samples of one run.

    Returns
    -------
    start, end : int64 arrays (k,)
        Run ``r`` is the samples ``start[r]`` to ``end[r] - 1``, in time order.
    """
    valid = np.isfinite(t) & np.isfinite(x) & np.isfinite(y)
    step = np.diff(t)
    with np.errstate(invalid="ignore"):  # inf - inf: a missing sample anyway
        linked = valid[1:] & valid[:-1] & (step > 0) & (step <= max_gap)
    start, end = streak_ends(valid, linked)
    return np.flatnonzero(start), np.flatnonzero(end) + 1


def streak_ends(member: np.ndarray, linked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first and the last element of every streak, as two bool masks of ``member``'s shape.

    Parameters
    ----------
    member : bool array (n,)
        Elements that belong to some streak.
    linked : bool array (n - 1,)
        ``linked[i]``: elements ``i`` and ``i + 1`` are in one streak (both members).
    """
    first = member.copy()
    first[1:] &= ~linked
    last = member.copy()
    last[:-1] &= ~linked
    return first, last
