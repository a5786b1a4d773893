"""The GazeMedSeg baseline heatmap: duration-weighted Gaussian blobs, min-max normalised.

:func:`track_heatmaps` renders it per track with the numba kernel (what the cache stores);
:func:`gazemedseg_heatmap` is the literal GazeMedSeg recipe (canvas, Gaussian filter, cubic
resize) that the kernel is measured and tested against.
"""

from __future__ import annotations

import numpy as np

from gazeprep.render.params import RenderParams


def track_heatmaps(xs: np.ndarray, ys: np.ndarray, duration_ms: np.ndarray,
                   offsets: np.ndarray, params: RenderParams) -> np.ndarray:
    """The heatmap of each track of a CSR batch (see :mod:`gazeprep.render._kernels`).

    Parameters
    ----------
    xs, ys, duration_ms : float64 arrays (n,)
        Fixations of all tracks, concatenated (normalised positions, ms).
    offsets : int64 array (T + 1,)
        Track t owns ``offsets[t]:offsets[t + 1]``.
    params : RenderParams
        ``size``, ``heatmap_canvas``, ``heatmap_sigma``.

    Returns
    -------
    ndarray of float32, shape (T, S, S), values in [0, 1]
    """
    from gazeprep.render._kernels import gaussian_heatmaps

    return gaussian_heatmaps(xs, ys, duration_ms, offsets, params.size, params.heatmap_canvas,
                             float(params.heatmap_sigma))


def gazemedseg_heatmap(
    x: np.ndarray,
    y: np.ndarray,
    duration_ms: np.ndarray,
    size: int,
    canvas: int = 768,
    sigma: float = 70.0,
) -> np.ndarray:
    """The literal GazeMedSeg heatmap recipe (the speed and agreement anchor, not used by render).

    Duration-weighted impulses at pixels ``floor(x * canvas)`` of a ``canvas`` square, Gaussian
    filter (sigma in canvas pixels, reflect borders, truncated at 4 sigma), min-max normalised,
    cubic resize to ``size``.

    Parameters
    ----------
    x, y : ndarray, shape (n,)
        Normalised fixation coordinates.
    duration_ms : ndarray, shape (n,)
        Impulse weights (fixation durations, ms).
    size : int
        Output side in pixels.
    canvas : int
        Canvas side in pixels.
    sigma : float
        Gaussian sigma in canvas pixels.

    Returns
    -------
    ndarray of float32, shape (size, size), values in [0, 1]
    """
    from skimage.filters import gaussian
    from skimage.transform import resize

    img = np.zeros((canvas, canvas))
    x, y, w = (np.asarray(v, dtype=np.float64) for v in (x, y, duration_ms))
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(w)  # as the kernel: others skipped
    # clip before the integer cast: casting 1e30 (or NaN) to int is undefined
    cols = np.clip(np.floor(x[keep] * canvas), 0, canvas - 1).astype(int)
    rows = np.clip(np.floor(y[keep] * canvas), 0, canvas - 1).astype(int)
    np.add.at(img, (rows, cols), w[keep])
    img = gaussian(img, sigma=sigma, mode="reflect", truncate=4.0, preserve_range=True)
    lo, hi = img.min(), img.max()
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    if size != canvas:
        img = resize(img, (size, size), order=3)
    return np.clip(img, 0.0, 1.0).astype(np.float32)
