"""Merging of adjacent fixations after I-VT / I-DT."""

from __future__ import annotations

import math

import numpy as np


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
