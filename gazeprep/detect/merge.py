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
    # Python floats and ints: the loop is sequential (a running centroid), and indexing NumPy
    # arrays element by element costs several times more.
    fs, ls, xs, ys = first.tolist(), last.tolist(), np.asarray(mx).tolist(), np.asarray(my).tolist()
    starts, ends = np.asarray(t)[first].tolist(), np.asarray(t)[last].tolist()
    f_out, l_out, end = [fs[0]], [ls[0]], ends[0]
    cx, cy, w = float(xs[0]), float(ys[0]), float(ls[0] - fs[0] + 1)
    for k in range(1, len(fs)):
        wk = float(ls[k] - fs[k] + 1)
        close = math.hypot(xs[k] - cx, ys[k] - cy) <= max_distance
        if close and starts[k] - end <= max_gap:
            l_out[-1], end = ls[k], ends[k]
            cx, cy = (cx * w + xs[k] * wk) / (w + wk), (cy * w + ys[k] * wk) / (w + wk)
            w += wk
        else:
            f_out.append(fs[k])
            l_out.append(ls[k])
            end = ends[k]
            cx, cy, w = float(xs[k]), float(ys[k]), wk
    return np.asarray(f_out, np.int64), np.asarray(l_out, np.int64)
