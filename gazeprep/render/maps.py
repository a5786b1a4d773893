"""Gaze Track Map Generation (GTMG): the multi-level track maps of each image, combined over its
sessions, and their uint8 storage.

Works on plain arrays (one :class:`~gazeprep.tracks.Track` per viewing, grouped per image); the
numba kernels live in :mod:`gazeprep.render._kernels`, the heatmap in
:mod:`gazeprep.render.heatmap`, the pseudo-masks in :mod:`gazeprep.render.pseudo`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gazeprep.contract.cache import UNIT_SCALE
from gazeprep.render.heatmap import track_heatmaps
from gazeprep.render.params import RenderParams
from gazeprep.tracks import Track


def render_memory_bytes(params: RenderParams, batch: int, tracks: int, threads: int,
                        workers: int = 1) -> int:
    """Estimated peak memory (bytes) of rendering one batch
    (:func:`gazeprep.render.writer.render_samples`).

    With P = S^2 pixels, L levels, B images and T tracks (sessions) in the batch: decoded and
    stacked images (2 x 3 B P, uint8), masks (2 B P), the per-track float32 maps and heatmaps
    (4 (L + 1) T P) and, when several sessions are combined, the per-image ones (4 (L + 1) B P),
    their uint8 copies ((L + 1) B P), the pseudo-mask source, foreground and result (7 B P), the
    codec's copy of the largest array (max(3, L) B P), per numba thread a float64 distance and
    heatmap buffer (16 P), per refinement / decoding worker about 100 P (Lab colour, edges,
    watershed markers and heap, float64 resizing).

    Parameters
    ----------
    params : RenderParams
    batch, tracks : int
        Images and tracks rendered together (a shard of the cache).
    threads, workers : int
        numba threads and image worker threads.

    Example
    -------
    >>> render_memory_bytes(RenderParams(size=256), 32, 32, 2, 2) // 2**20
    102
    """
    p, lv = params.size**2, params.levels
    per_image = 6 + 2 + (lv + 1) + 7 + max(3, lv) + (4 * (lv + 1) if tracks > batch else 0)
    total = p * (batch * per_image + 4 * (lv + 1) * tracks + 16 * threads + 100 * workers)
    return int(total)


def fixation_radii(duration_ms: np.ndarray, params: RenderParams) -> np.ndarray:
    """Disk radius of each fixation of one track, in output pixels.

    Parameters
    ----------
    duration_ms : ndarray, shape (n,)
        Durations of the track's fixations (ms).
    params : RenderParams
        Uses ``duration_law``, ``rho`` (fraction of S), ``alpha`` and ``size``.
    """
    dur = np.asarray(duration_ms, dtype=np.float64)
    base = params.rho * params.size
    if params.duration_law == "off" or dur.size == 0:
        return np.zeros(dur.size)
    if params.duration_law == "const":
        return np.full(dur.size, base)
    med = float(np.median(dur))
    if not med > 0:
        return np.full(dur.size, base)
    return base * np.power(np.clip(dur, 0.0, None) / med, params.alpha)


def _pack(tracks: Sequence[Track], params: RenderParams):
    """Concatenate tracks into the kernels' CSR arrays."""
    lens = np.array([len(t.x) for t in tracks], dtype=np.int64)
    offsets = np.zeros(len(tracks) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])

    def cat(parts):
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)

    xs = cat([np.asarray(t.x) for t in tracks])
    ys = cat([np.asarray(t.y) for t in tracks])
    dur = cat([np.asarray(t.duration_ms) for t in tracks])
    radii = cat([fixation_radii(t.duration_ms, params) for t in tracks])
    return xs, ys, dur, radii, offsets


def render_tracks(tracks: Sequence[Track], params: RenderParams) -> tuple[np.ndarray, np.ndarray]:
    """Track maps and GazeMedSeg heatmap of each track (sessions not yet combined).

    Parameters
    ----------
    tracks : sequence of Track
    params : RenderParams

    Returns
    -------
    maps : ndarray of float32, shape (T, L, S, S)
    heatmap : ndarray of float32, shape (T, S, S)
    """
    from gazeprep.render._kernels import track_maps

    xs, ys, dur, radii, offsets = _pack(tracks, params)
    s = params.size
    maps = track_maps(
        xs, ys, radii, offsets, s, np.asarray(params.ratios, dtype=np.float64),
        params.tau * s, params.gamma, params.direction == "reverse", params.segments,
    )
    return maps, track_heatmaps(xs, ys, dur, offsets, params)


def combine_sessions(per_track: np.ndarray, counts: Sequence[int], how: str) -> np.ndarray:
    """Combine the maps of the tracks of each image (numba, parallel over images).

    Parameters
    ----------
    per_track : ndarray, shape (T, ...)
        One map stack per track, the tracks of each image consecutive.
    counts : sequence of int
        Number of tracks of each image, in order (sum = T); 0 gives zeros.
    how : {'mean', 'max'}

    Returns
    -------
    ndarray of float32, shape (len(counts), ...)
    """
    from gazeprep.render._kernels import combine_tracks

    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(np.asarray(counts, dtype=np.int64), out=offsets[1:])
    if offsets[-1] != len(per_track):
        raise ValueError(f"counts sum to {offsets[-1]}, not the {len(per_track)} tracks")
    n_px = int(np.prod(per_track.shape[1:]))
    flat = np.ascontiguousarray(per_track, dtype=np.float32).reshape(len(per_track), n_px)
    out = combine_tracks(flat, offsets, how == "max")
    return out.reshape((len(counts), *per_track.shape[1:]))


def render_images(
    tracks: Sequence[Sequence[Track]], params: RenderParams
) -> tuple[np.ndarray, np.ndarray]:
    """Track maps and heatmap of each image, its sessions combined (``params.combine``).

    Parameters
    ----------
    tracks : sequence of sequence of Track
        The tracks (sessions) of each image; an image without tracks gets zeros.
    params : RenderParams

    Returns
    -------
    maps : ndarray of float32, shape (B, L, S, S)
    heatmap : ndarray of float32, shape (B, 1, S, S)
    """
    flat = [t for ts in tracks for t in ts]
    counts = [len(ts) for ts in tracks]
    per_maps, per_heat = render_tracks(flat, params)
    if len(flat) == len(tracks) and all(c == 1 for c in counts):
        return per_maps, per_heat[:, None]  # one session per image: nothing to combine
    maps = combine_sessions(per_maps, counts, params.combine)
    return maps, combine_sessions(per_heat, counts, params.combine)[:, None]


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Store values in [0, 1] as uint8 (``round(255 x)``; numba, parallel). Any shape."""
    from gazeprep.render._kernels import unit_to_uint8

    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(x.shape[0] if x.ndim else 1, -1)
    return unit_to_uint8(flat).reshape(x.shape)


def from_uint8(q: np.ndarray) -> np.ndarray:
    """Stored uint8 maps back to float32 values in [0, 1]."""
    return np.asarray(q, dtype=np.float32) / np.float32(UNIT_SCALE)
