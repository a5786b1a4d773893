"""Numba kernels of the render stage: gaze-track distance maps and the Gaussian heatmap.

All kernels take a batch of tracks in CSR form: fixation arrays concatenated over tracks and
``offsets`` (length ``T + 1``) such that track ``t`` owns ``offsets[t]:offsets[t + 1]``.
Coordinates are normalised (0 = left/top, 1 = right/bottom); output pixel ``(i, j)`` has its
centre at ``((j + 0.5) / S, (i + 0.5) / S)``. Each kernel is parallel over tracks.

Any input is safe: pixel indices are computed in floating point and clamped to the output
before they become integers, a fixation whose position (or radius, or weight) is not a finite
number, or whose normalised position lies beyond +-:data:`MAX_NORMALISED`, is skipped, values
that are not numbers are stored as 0, and CSR arrays that do not fit together are refused
(ValueError) before any is read. The callers refuse such inputs earlier with an error naming
the file (see :mod:`gazeprep.limits`); these rules only make sure that no input can ever read
or write out of bounds.
"""

from __future__ import annotations

import math

import numpy as np

from gazeprep._numba import jit, jit_inline, jit_parallel, prange
from gazeprep.contract.cache import UNIT_SCALE

#: The storage scale as a float (a global: numba compiles it in as a constant).
_SCALE = float(UNIT_SCALE)

# Tolerance on r * N before ceil, so that e.g. 0.1 * 30 = 3.0000000000000004 keeps 3 fixations.
_CEIL_EPS = 1e-9
#: Fixations with a normalised |x| or |y| beyond this are skipped like non-finite ones: float64
#: cannot place a segment from so far away to within a pixel (callers only pass [0, 1]).
MAX_NORMALISED = 1e6


@jit
def level_counts(n: int, ratios: np.ndarray) -> np.ndarray:
    """Fixations kept per level: ``ceil(r_k * n)`` clamped to ``[1, n]`` (0 when ``n == 0``).

    A ratio that is not > 0 (NaN included) keeps 1 fixation, one >= 1 keeps all.

    Parameters
    ----------
    n : int
        Number of fixations in the track.
    ratios : ndarray of float64, shape (L,)
        Kept fraction per level, in (0, 1].

    Returns
    -------
    ndarray of int64, shape (L,)
    """
    out = np.zeros(ratios.shape[0], dtype=np.int64)
    if n <= 0:
        return out
    for k in range(ratios.shape[0]):
        r = ratios[k]
        if r >= 1.0:
            out[k] = n
        elif r > 0.0:
            # r * n < n here: the float never exceeds the int64 range
            out[k] = min(max(int(math.ceil(r * n - _CEIL_EPS)), 1), n)
        else:
            out[k] = 1
    return out


@jit_inline
def _usable(x, y, r):
    """A fixation the kernels draw: finite, normalised position within +-MAX_NORMALISED."""
    return (abs(x) <= MAX_NORMALISED and abs(y) <= MAX_NORMALISED and math.isfinite(r))


@jit_inline
def _first_index(v, s):
    """Smallest pixel index >= v, clamped to [0, s] (s: none); any float, NaN gives 0."""
    if not v > 0.0:
        return 0
    if v >= s:
        return s
    return int(math.ceil(v))


@jit_inline
def _last_index(v, s):
    """Largest pixel index <= v, clamped to [-1, s - 1] (-1: none); NaN gives s - 1."""
    if not v < s - 1:
        return s - 1
    if v < 0.0:
        return -1
    return int(math.floor(v))


@jit
def _stamp_disk(dmin, cx, cy, rad, reach):
    """Lower ``dmin`` with the distance to the disk (cx, cy, rad), inside its bbox + reach (px).

    Skipped when cx, cy or rad is not finite; a negative radius counts as 0.
    """
    if not (math.isfinite(cx) and math.isfinite(cy) and math.isfinite(rad)):
        return
    rad = max(rad, 0.0)
    s = dmin.shape[0]
    j0 = _first_index(cx - rad - reach - 0.5, s)
    j1 = _last_index(cx + rad + reach - 0.5, s)
    i0 = _first_index(cy - rad - reach - 0.5, s)
    i1 = _last_index(cy + rad + reach - 0.5, s)
    for i in range(i0, i1 + 1):
        py = i + 0.5 - cy
        for j in range(j0, j1 + 1):
            px = j + 0.5 - cx
            d = math.sqrt(px * px + py * py) - rad
            if d < 0.0:
                d = 0.0
            if d < dmin[i, j]:
                dmin[i, j] = d


@jit
def _stamp_segment(dmin, ax, ay, bx, by, reach):
    """Lower ``dmin`` with the distance to segment a-b, inside its bbox widened by reach (px).

    Skipped when an end point is not finite.
    """
    if not (math.isfinite(ax) and math.isfinite(ay) and math.isfinite(bx)
            and math.isfinite(by)):
        return
    s = dmin.shape[0]
    j0 = _first_index(min(ax, bx) - reach - 0.5, s)
    j1 = _last_index(max(ax, bx) + reach - 0.5, s)
    i0 = _first_index(min(ay, by) - reach - 0.5, s)
    i1 = _last_index(max(ay, by) + reach - 0.5, s)
    ux = bx - ax
    uy = by - ay
    uu = ux * ux + uy * uy
    for i in range(i0, i1 + 1):
        py = i + 0.5 - ay
        for j in range(j0, j1 + 1):
            px = j + 0.5 - ax
            t = 0.0
            if uu > 0.0:
                t = (px * ux + py * uy) / uu
                if t < 0.0:
                    t = 0.0
                elif t > 1.0:
                    t = 1.0
            dx = px - t * ux
            dy = py - t * uy
            d = math.sqrt(dx * dx + dy * dy)
            if d < dmin[i, j]:
                dmin[i, j] = d


@jit
def _falloff(dmin, tau, gamma, out):
    """``out = max(0, 1 - dmin / tau) ** gamma`` (float32), clipped to [0, 1]; NaN gives 0."""
    s = dmin.shape[0]
    for i in range(s):
        for j in range(s):
            v = 1.0 - dmin[i, j] / tau
            r = v**gamma if v > 0.0 else 0.0
            if not r >= 0.0:
                r = 0.0
            elif r > 1.0:
                r = 1.0
            out[i, j] = r


@jit
def _check_csr(offsets, n_items):
    """Refuse offsets that are not non-decreasing from 0 within ``n_items`` rows."""
    if offsets.shape[0] < 1 or offsets[0] != 0:
        raise ValueError("offsets must start at 0")
    for t in range(offsets.shape[0] - 1):
        if offsets[t + 1] < offsets[t]:
            raise ValueError("offsets must be non-decreasing")
    if offsets[offsets.shape[0] - 1] > n_items:
        raise ValueError("offsets point beyond the fixation arrays")


@jit_parallel
def track_maps(
    xs: np.ndarray,
    ys: np.ndarray,
    radii: np.ndarray,
    offsets: np.ndarray,
    size: int,
    ratios: np.ndarray,
    tau: float,
    gamma: float,
    reverse: bool,
    segments: bool,
) -> np.ndarray:
    """Multi-level truncated distance maps ``M_k = max(0, 1 - d_k / tau) ** gamma``.

    ``d_k`` is the distance (pixels) to the union of the kept fixations' disks and, when
    ``segments``, the saccade segments joining consecutive kept fixations. The levels are nested
    tails (``reverse``) or heads of the track, so one pass from the kept end adds fixations one at
    a time and snapshots each level when its count is reached.

    Parameters
    ----------
    xs, ys : ndarray of float64, shape (F,)
        Normalised fixation coordinates of all tracks, concatenated in temporal order.
    radii : ndarray of float64, shape (F,)
        Disk radius of each fixation, in output pixels (0 = a point).
    offsets : ndarray of int64, shape (T + 1,)
        Track boundaries in the fixation arrays.
    size : int
        Output side S in pixels.
    ratios : ndarray of float64, shape (L,)
        Kept fraction of the track per level (level index 0 is usually 1.0 = whole track).
    tau : float
        Fall-off distance in pixels (> 0).
    gamma : float
        Fall-off exponent (> 0).
    reverse : bool
        Keep the last ``ceil(r N)`` fixations (True) or the first (False, forward ablation).
    segments : bool
        Include the saccade segments (True) or only the fixation disks (False).

    Returns
    -------
    ndarray of float32, shape (T, L, S, S)
        Values in [0, 1]; all zeros for a track with no fixations. A fixation whose radius is
        not finite or whose position is not within +-MAX_NORMALISED (NaN and inf included) is
        skipped, and so are the segments to and from it.
    """
    if ys.shape[0] != xs.shape[0]:
        raise ValueError("xs and ys differ in length")
    if radii.shape[0] != xs.shape[0]:
        raise ValueError("radii and xs differ in length")
    if size < 0:
        raise ValueError("size must be >= 0")
    _check_csr(offsets, xs.shape[0])
    n_tracks = offsets.shape[0] - 1
    n_levels = ratios.shape[0]
    out = np.zeros((n_tracks, n_levels, size, size), dtype=np.float32)
    for t in prange(n_tracks):
        start = offsets[t]
        n = offsets[t + 1] - start
        if n == 0:
            continue
        counts = level_counts(n, ratios)
        dmin = np.full((size, size), np.inf)
        for c in range(1, n + 1):
            j = start + (n - c if reverse else c - 1)
            ok = _usable(xs[j], ys[j], radii[j])  # else skipped, with its segments
            cx = xs[j] * size
            cy = ys[j] * size
            if ok:
                _stamp_disk(dmin, cx, cy, radii[j], tau)
            if segments and c > 1 and ok:
                p = j + 1 if reverse else j - 1
                if _usable(xs[p], ys[p], radii[p]):
                    _stamp_segment(dmin, xs[p] * size, ys[p] * size, cx, cy, tau)
            for k in range(n_levels):
                if counts[k] == c:
                    _falloff(dmin, tau, gamma, out[t, k])
    return out


@jit_parallel
def combine_tracks(per_track: np.ndarray, offsets: np.ndarray, use_max: bool) -> np.ndarray:
    """Mean (or maximum) of the flattened maps of consecutive tracks, per image.

    Parameters
    ----------
    per_track : ndarray of float32, shape (T, P)
        One flattened map stack per track.
    offsets : ndarray of int64, shape (B + 1,)
        Image ``i`` owns tracks ``offsets[i]:offsets[i + 1]`` (none: zeros).
    use_max : bool
        Maximum instead of mean.

    Returns
    -------
    ndarray of float32, shape (B, P)
    """
    _check_csr(offsets, per_track.shape[0])
    n_images = offsets.shape[0] - 1
    n_px = per_track.shape[1]
    out = np.zeros((n_images, n_px), dtype=np.float32)
    for i in prange(n_images):
        a = offsets[i]
        b = offsets[i + 1]
        if b == a:
            continue
        for j in range(n_px):
            out[i, j] = per_track[a, j]
        for t in range(a + 1, b):
            for j in range(n_px):
                v = per_track[t, j]
                if use_max:
                    if v > out[i, j]:
                        out[i, j] = v
                else:
                    out[i, j] += v
        if not use_max and b - a > 1:
            inv = np.float32(1.0 / (b - a))
            for j in range(n_px):
                out[i, j] *= inv
    return out


@jit_parallel
def unit_to_uint8(x: np.ndarray) -> np.ndarray:
    """``floor(UNIT_SCALE * clip(x, 0, 1) + 0.5)`` as uint8 (UNIT_SCALE = 255, the cache
    contract's), rows in parallel; NaN gives 0.

    Parameters
    ----------
    x : ndarray of float32, shape (B, P)
        Values meant to lie in [0, 1].

    Returns
    -------
    ndarray of uint8, shape (B, P)
    """
    out = np.empty(x.shape, dtype=np.uint8)
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            if not v > 0.0:
                v = 0.0  # also NaN
            elif v > 1.0:
                v = 1.0
            out[i, j] = np.uint8(int(v * _SCALE + 0.5))
    return out


@jit_parallel
def gaussian_heatmaps(
    xs: np.ndarray,
    ys: np.ndarray,
    weights: np.ndarray,
    offsets: np.ndarray,
    size: int,
    canvas: int,
    sigma: float,
) -> np.ndarray:
    """GazeMedSeg heatmaps evaluated directly at S x S, min-max normalised per track.

    Equivalent to: weighted impulses at integer pixels ``floor(x * canvas)`` of a ``canvas`` square,
    Gaussian filter of ``sigma`` canvas pixels with mirror ('reflect') borders and truncation at
    4 sigma, sampled at the S-grid pixel centres (so no 768-pixel canvas is ever materialised;
    mirror images of the impulses reproduce the reflect borders exactly).

    Parameters
    ----------
    xs, ys : ndarray of float64, shape (F,)
        Normalised fixation coordinates.
    weights : ndarray of float64, shape (F,)
        Impulse weight per fixation (duration in ms, or 1 without duration weighting).
    offsets : ndarray of int64, shape (T + 1,)
        Track boundaries.
    size : int
        Output side S in pixels.
    canvas : int
        Side of the reference canvas in pixels (768 in GazeMedSeg).
    sigma : float
        Gaussian sigma in canvas pixels (70 in GazeMedSeg).

    Returns
    -------
    ndarray of float32, shape (T, S, S)
        Values in [0, 1]; all zeros for an empty track or a constant map. A fixation whose
        weight is not finite or whose position is not within +-MAX_NORMALISED is skipped; a
        position beyond the canvas lands on its border pixel (as GazeMedSeg's clip does).
    """
    if ys.shape[0] != xs.shape[0] or weights.shape[0] != xs.shape[0]:
        raise ValueError("xs, ys and weights differ in length")
    if size < 0 or canvas < 1:
        raise ValueError("size must be >= 0 and canvas >= 1")
    _check_csr(offsets, xs.shape[0])
    n_tracks = offsets.shape[0] - 1
    out = np.zeros((n_tracks, size, size), dtype=np.float32)
    scale = canvas / size
    cut = 4.0 * sigma + 0.5
    for t in prange(n_tracks):
        start = offsets[t]
        n = offsets[t + 1] - start
        if n == 0:
            continue
        gx = np.zeros(size)
        gy = np.zeros(size)
        acc = np.zeros((size, size))
        for f in range(start, start + n):
            if not _usable(xs[f], ys[f], weights[f]):
                continue
            col = _last_index(math.floor(xs[f] * canvas), canvas)
            row = _last_index(math.floor(ys[f] * canvas), canvas)
            col = max(col, 0)  # below the canvas: its first pixel
            row = max(row, 0)
            _gauss_profile(gx, col, canvas, scale, sigma, cut)
            _gauss_profile(gy, row, canvas, scale, sigma, cut)
            w = weights[f]
            for i in range(size):
                if gy[i] == 0.0:
                    continue
                wy = w * gy[i]
                for j in range(size):
                    acc[i, j] += wy * gx[j]
        lo = acc.min()
        hi = acc.max()
        if hi > lo:
            for i in range(size):
                for j in range(size):
                    v = (acc[i, j] - lo) / (hi - lo)
                    out[t, i, j] = min(v, 1.0) if v > 0.0 else 0.0  # NaN (inf / inf) gives 0
    return out


@jit
def _gauss_profile(g, c, canvas, scale, sigma, cut):
    """1-D Gaussian of an impulse at canvas pixel c (+ its mirror images) at the S-grid centres."""
    for j in range(g.shape[0]):
        u = (j + 0.5) * scale - 0.5
        v = 0.0
        # 'reflect' borders: the impulse mirrored about -0.5 and canvas - 0.5.
        for m in (c, -1 - c, 2 * canvas - 1 - c):
            d = u - m
            if abs(d) <= cut:
                v += math.exp(-0.5 * d * d / (sigma * sigma))
        g[j] = v
