"""Pseudo-masks from combined track maps: a threshold, optionally refined against the image
(hole filling, SLIC superpixel vote, or a marker watershed along the image's edges)."""

from __future__ import annotations

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.render.params import RenderParams


def pseudo_source(maps: np.ndarray, params: RenderParams) -> np.ndarray:
    """The map the pseudo-mask thresholds, shape (B, S, S), from maps (B, L, S, S)."""
    if params.pseudo_source == "mean":
        return maps.mean(axis=1)
    return maps[:, params.pseudo_level - 1]


def pseudo_masks(
    maps: np.ndarray,
    params: RenderParams,
    images: np.ndarray | None = None,
    heatmap: np.ndarray | None = None,
    workers: int = 1,
) -> np.ndarray:
    """0/1 pseudo-masks from combined track maps.

    Parameters
    ----------
    maps : ndarray of float, shape (B, L, S, S)
    params : RenderParams
        Uses ``pseudo_source``, ``pseudo_level``, ``pseudo_threshold`` and ``refine``.
    images : ndarray of uint8, shape (B, 3, S, S), optional
        Needed for ``refine`` 'slic' and 'watershed'.
    heatmap : ndarray of float, shape (B, S, S) or (B, 1, S, S), optional
        Needed for ``refine='watershed'`` (background seeds).
    workers : int
        Threads refining images side by side (scikit-image releases the GIL).

    Returns
    -------
    ndarray of uint8, shape (B, 1, S, S)
    """
    from concurrent.futures import ThreadPoolExecutor

    src = pseudo_source(maps, params)
    fg = src > params.pseudo_threshold
    if params.refine == "none" or len(src) == 0:
        return fg[:, None].astype(np.uint8)
    if params.refine in ("slic", "watershed") and images is None:
        raise GazeprepError(f"refine={params.refine!r} needs the images")
    if params.refine == "watershed" and heatmap is None:
        raise GazeprepError("refine='watershed' needs the heatmap")

    def one(i: int) -> np.ndarray:
        if params.refine == "fill":
            from skimage.morphology import remove_small_holes

            return remove_small_holes(fg[i], max_size=int(0.05 * params.size**2))
        if params.refine == "slic":
            return _slic_vote(images[i], src[i], params)
        heat = heatmap[i].reshape(src.shape[1:])
        return watershed_refine(edges(images[i], params), src[i], heat, params)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        refined = list(ex.map(one, range(len(src))))
    return np.stack(refined)[:, None].astype(np.uint8)


def edges(image: np.ndarray, params: RenderParams) -> np.ndarray:
    """Sobel edge strength of the smoothed lightness (CIE L*) of one image (3, S, S) uint8."""
    from skimage.color import rgb2lab
    from skimage.filters import gaussian, sobel

    # float32 in: skimage keeps float32 (half the work of its float64 default), same L* to 1e-4.
    rgb = np.moveaxis(image, 0, -1).astype(np.float32) / np.float32(255.0)
    light = rgb2lab(rgb)[..., 0]
    return sobel(gaussian(light, params.edge_sigma * params.size / 256))


def watershed_refine(
    edge: np.ndarray, src: np.ndarray, heat: np.ndarray, params: RenderParams
) -> np.ndarray:
    """Marker watershed: track seeds grow until they meet background seeds along image edges.

    Parameters
    ----------
    edge : ndarray, shape (S, S)
        Edge strength (see :func:`edges`).
    src : ndarray, shape (S, S)
        Pseudo-mask source map; > ``pseudo_threshold`` seeds the foreground.
    heat : ndarray, shape (S, S)
        Heatmap; <= ``bg_threshold`` seeds the background.
    params : RenderParams

    Returns
    -------
    ndarray of bool, shape (S, S)
    """
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    fg = src > params.pseudo_threshold
    if not fg.any():
        return fg
    bg = heat <= params.bg_threshold
    if not bg.any():
        return fg
    markers = np.zeros(src.shape, dtype=np.int32)
    markers[bg] = 1
    markers[fg] = 2
    # Flood only where labels can change: the unseeded band, the foreground seeds and the
    # background seeds touching them. Seeds deeper in the background never push a pixel, so the
    # result is the unrestricted watershed (tested; pixels of equal edge value may be flooded in
    # another order) at a fraction of the heap work.
    region = ndi.binary_dilation(markers != 1)
    return watershed(edge, markers, mask=region) == 2


def _slic_vote(image: np.ndarray, src: np.ndarray, params: RenderParams) -> np.ndarray:
    """Superpixels whose mean source value exceeds the threshold become foreground."""
    from skimage.segmentation import slic

    if not src.any():
        return np.zeros(src.shape, dtype=bool)
    labels = slic(np.moveaxis(image, 0, -1), n_segments=200, compactness=10, start_label=0)
    sums = np.bincount(labels.ravel(), weights=src.ravel())
    cnts = np.bincount(labels.ravel())
    return (sums / np.maximum(cnts, 1) > params.pseudo_threshold)[labels]
