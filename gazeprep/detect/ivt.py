"""I-VT: velocity-threshold fixation identification (Salvucci & Goldberg 2000).

A sample belongs to a fixation when the gaze moves slower than a threshold, its speed measured
over a short window centred on it (a slope over several samples, robust to tracker noise at
1-2 kHz); fixations are the maximal streaks of such samples within one run of usable samples
(:func:`gazeprep.detect.runs.runs`).

Plain NumPy, not a numba kernel: every step is an array operation, and a command that runs only
I-VT then never starts numba, whose import and registries cost about 0.3 s of each process, more
than the detection itself takes on 200 MB of samples (``docs/formats/speed.md``). The window ends
come from one sorted search over all runs, each checked with the same comparisons a sample-by-
sample loop makes (``t[i] - t[j] <= half_window``), so rounding in the search never changes a
result; the tests compare the function with such a loop bit for bit, hostile inputs included.

Example
-------
>>> import numpy as np
>>> t = np.arange(10.0)
>>> x = np.r_[np.zeros(5), np.full(5, 50.0)]
>>> ivt(t, x, np.zeros(10), velocity=1.0, window=0.0, max_gap=5.0)
(array([0, 6]), array([3, 9]))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gazeprep.detect.runs import runs

#: Samples handled together (whole runs, so a longer run is one batch): bounds the temporary
#: arrays, about 120 bytes per sample, whatever the length of the recording.
BATCH = 1 << 20


def ivt(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, velocity: float, window: float,
        max_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Fixations of one sample series by I-VT.

    Parameters
    ----------
    t : float64 array (n,)
        Sample times (ms).
    x, y : float64 arrays (n,)
        Gaze position (px); NaN = missing.
    velocity : float
        Speed threshold in px per ms: slower samples are fixation samples.
    window : float
        Width (ms) of the window, centred on each sample, over which its speed is measured (at
        least the direct neighbours).
    max_gap : float
        Longest gap (ms) between consecutive samples inside one fixation.

    Returns
    -------
    first, last : int64 arrays (k,)
        Inclusive sample index range of each fixation, in time order.
    """
    t, x, y = (np.ascontiguousarray(v, np.float64) for v in (t, x, y))
    start, end = runs(t, x, y, max_gap)
    long = end - start >= 2  # one sample has no speed
    start, end = start[long], end[long]
    firsts, lasts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    done = np.cumsum(end - start)
    r = 0
    while r < start.size:  # whole runs per batch
        q = max(int(np.searchsorted(done, done[r] - (end[r] - start[r]) + BATCH, "right")), r + 1)
        f, la = _streaks(t, x, y, start[r:q], end[r:q], velocity, window / 2.0)
        firsts.append(f)
        lasts.append(la)
        r = q
    return np.concatenate(firsts), np.concatenate(lasts)


def _streaks(t, x, y, start, end, velocity: float, half: float):
    """First and last sample of each streak of slow samples in the runs ``start``/``end``."""
    n = end - start
    pos0 = np.cumsum(n) - n
    a = np.repeat(start, n)  # each sample's run: [a, b)
    b = np.repeat(end, n)
    i = np.arange(int(n.sum())) + (a - np.repeat(pos0, n))
    lo, hi = _window(t, i, a, b, pos0, n, half)
    dt = t[hi] - t[lo]
    dx = x[hi] - x[lo]
    dy = y[hi] - y[lo]
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 apart: fast, as in a loop
        slow = (dt > 0) & (np.sqrt(dx * dx + dy * dy) < velocity * dt)
    joined = slow[1:] & slow[:-1] & (a[1:] == a[:-1])  # runs are never joined
    first = slow.copy()
    first[1:] &= ~joined
    last = slow.copy()
    last[:-1] &= ~joined
    return i[first], i[last]


def _window(t, i, a, b, pos0, n, half: float) -> tuple[np.ndarray, np.ndarray]:
    """The window's ends of every sample ``i`` of its run ``[a, b)``.

    ``lo``: the first ``j`` of the run with ``t[i] - t[j] <= half``, at most ``i - 1`` (``i``
    itself at the run's start); ``hi``: the last ``j`` with ``t[j] - t[i] <= half``, at least
    ``i + 1`` (``i`` itself at the run's end).
    """
    ti = t[i]
    # One increasing axis over all runs (each run's times from 0, runs spaced further apart than
    # the window), so one search guesses every end; _settle checks each guess exactly.
    with np.errstate(over="ignore", invalid="ignore"):
        rel = ti - t[a]
        span = rel[pos0 + n - 1]
        reach = min(abs(half), float(np.max(span, initial=0.0)))
        gap = np.cumsum(span + 2.0 * reach + 1.0) - (span + 2.0 * reach + 1.0)
        u = rel + np.repeat(gap, n)
        shift = i - np.arange(i.size)
        below = np.searchsorted(u, u - half, "left") + shift
        above = np.searchsorted(u, u + half, "right") + shift
    lo = _settle(lambda j, k: ti[k] - t[j] <= half, below, a, i)
    hi = _settle(lambda j, k: t[j] - ti[k] > half, above, i + 1, b) - 1
    lo = np.where(i == a, i, np.minimum(lo, i - 1))
    hi = np.where(i == b - 1, i, np.maximum(hi, i + 1))
    return lo, hi


def _settle(holds: Callable[[np.ndarray, np.ndarray], np.ndarray], guess: np.ndarray,
            low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The first ``j`` in ``[low, high]`` where ``holds(j, k)`` is true, for each element ``k``.

    ``holds`` is false then true along ``j`` (taken as true at ``high``). ``guess`` is checked at
    its two sides and kept where right; the others (rounding, absurd times) are bisected.
    """
    j = np.clip(guess, low, high)
    k = np.arange(j.size)
    wrong = np.zeros(j.size, bool)
    m = j > low
    wrong[m] = holds(j[m] - 1, k[m])
    m = j < high
    wrong[m] |= ~holds(j[m], k[m])
    k = np.flatnonzero(wrong)
    lo_, hi_ = low[k], high[k]
    while k.size:
        mid = (lo_ + hi_) // 2
        yes = holds(mid, k)
        hi_ = np.where(yes, mid, hi_)
        lo_ = np.where(yes, lo_, mid + 1)
        j[k] = lo_
        open_ = lo_ < hi_
        k, lo_, hi_ = k[open_], lo_[open_], hi_[open_]
    return j
