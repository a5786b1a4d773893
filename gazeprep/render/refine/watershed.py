"""Marker watershed: the gaze's foreground seeds grow along the image's edges (pseudo-masks v1)."""

from __future__ import annotations

import numpy as np


def edges(image: np.ndarray, params) -> np.ndarray:
    """Sobel edge strength of the smoothed lightness (CIE L*) of one image (3, S, S) uint8."""
    from skimage.color import rgb2lab
    from skimage.filters import gaussian, sobel

    # float32 in: skimage keeps float32 (half the work of its float64 default), same L* to 1e-4.
    rgb = np.moveaxis(image, 0, -1).astype(np.float32) / np.float32(255.0)
    light = rgb2lab(rgb)[..., 0]
    return sobel(gaussian(light, params.edge_sigma * params.size / 256))


def refine(image: np.ndarray, src: np.ndarray, heat: np.ndarray, params) -> np.ndarray:
    """The watershed pseudo-mask of one image (see :func:`watershed_refine`)."""
    return watershed_refine(edges(image, params), src, heat, params)


def watershed_refine(edge: np.ndarray, src: np.ndarray, heat: np.ndarray, params) -> np.ndarray:
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
