"""I-VT: velocity-threshold fixation identification (Salvucci & Goldberg 2000).

A sample belongs to a fixation when the gaze moves slower than a threshold, its speed measured
over a short window centred on it (a slope over several samples, robust to tracker noise at
1-2 kHz); fixations are the maximal streaks of such samples within one run of usable samples
(:func:`gazeprep.detect.runs.runs`).

Plain NumPy, not a numba kernel: every step is an array operation, and a command that runs only
I-VT then never starts numba, whose import and registries cost about 0.3 s of each process
(``docs/formats/speed.md``). The window's ends are guessed from the mean sample interval and
each guess is checked with the comparisons a sample-by-sample loop makes (``t[i] - t[j] <=
half_window``), the wrong ones searched exactly, so the result is the loop's; the tests compare
the function with such a loop bit for bit, hostile inputs included.

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

from gazeprep.detect.runs import runs, streak_ends

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
    with np.errstate(over="ignore", invalid="ignore"):  # absurd times: the guess is just poor
        step = float(np.sum(t[end - 1] - t[start]) / max(int(n.sum()) - n.size, 1))
    lo, hi = _window(t, i, a, b, half, step)
    dt = t[hi] - t[lo]
    dx = x[hi] - x[lo]
    dy = y[hi] - y[lo]
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 apart: fast, as in a loop
        slow = (dt > 0) & (np.sqrt(dx * dx + dy * dy) < velocity * dt)
    joined = slow[1:] & slow[:-1] & (a[1:] == a[:-1])  # runs are never joined
    first, last = streak_ends(slow, joined)
    return i[first], i[last]


def _window(t, i, a, b, half: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """The window's ends of every sample ``i`` of its run ``[a, b)``.

    ``lo``: the first ``j`` of the run with ``t[i] - t[j] <= half``, at most ``i - 1`` (``i``
    itself at the run's start); ``hi``: the last ``j`` with ``t[j] - t[i] <= half``, at least
    ``i + 1`` (``i`` itself at the run's end). ``step``: the mean sample interval, which guesses
    how many samples a half window holds; :func:`_settle` makes every guess exact.
    """
    ti = t[i]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        reach = half / step if step > 0 else 0.0
    k = int(min(reach, i.size)) if np.isfinite(reach) else i.size
    last = t.size - 1  # b may be one past the series: never read there

    def near(j, m):  # j's time within half a window before i's
        return (ti if m is None else ti[m]) - t[j] <= half

    def beyond(j, m):  # j's time more than half a window after i's
        return t[np.minimum(j, last)] - (ti if m is None else ti[m]) > half

    lo = _settle(near, i - k, a, i)
    hi = _settle(beyond, i + k + 1, i + 1, b) - 1
    lo = np.where(i == a, i, np.minimum(lo, i - 1))
    hi = np.where(i == b - 1, i, np.maximum(hi, i + 1))
    return lo, hi


#: How far from its guess :func:`_settle` first looks for an answer (jitter moves it by one or
#: two samples) before it searches the whole range.
NEAR = 4


def _settle(holds: Callable[[np.ndarray, np.ndarray | None], np.ndarray], guess: np.ndarray,
            low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The first ``j`` in ``[low, high]`` where ``holds(j, m)`` is true, for each element ``m``.

    ``holds(j, m)`` (``m`` None: every element) is false then true along ``j``, taken as true at
    ``high`` (never called with ``j`` beyond it but harmlessly clipped). ``guess`` is checked at
    its two sides and kept where right; the others are bisected, within :data:`NEAR` of the
    guess where the answer lies there (irregular sampling), else over the whole range (gaps,
    absurd times).
    """
    def right_at(j, m, lo_end):
        """Whether the answer is at or after ``j``: ``j`` is ``lo_end`` or ``holds(j - 1)`` is
        false (``m`` None: every element)."""
        return (j <= lo_end) | ~holds(np.maximum(j - 1, lo_end), m)

    def left_at(j, m, hi_end):
        """Whether the answer is at or before ``j``: ``j`` is ``hi_end`` or ``holds(j)``."""
        return (j >= hi_end) | holds(j, m)

    j = np.clip(guess, low, high)
    m = np.flatnonzero(~(right_at(j, None, low) & left_at(j, None, high)))
    lo_, hi_ = np.maximum(j[m] - NEAR, low[m]), np.minimum(j[m] + NEAR, high[m])
    far = ~(right_at(lo_, m, low[m]) & left_at(hi_, m, high[m]))
    lo_[far], hi_[far] = low[m[far]], high[m[far]]
    while m.size:
        mid = (lo_ + hi_) // 2
        yes = left_at(mid, m, hi_)  # mid < hi_ here: holds(mid) itself
        hi_ = np.where(yes, mid, hi_)
        lo_ = np.where(yes, lo_, mid + 1)
        j[m] = lo_
        open_ = lo_ < hi_
        m, lo_, hi_ = m[open_], lo_[open_], hi_[open_]
    return j
