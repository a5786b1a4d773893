"""Pseudo-masks from combined track maps: a threshold, optionally refined against the image by
one of the registered refiners (:data:`gazeprep.render.refine.REFINERS`)."""

from __future__ import annotations

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.render.params import RenderParams

# The watershed's pieces, where tune_render and the tests have always found them.
from gazeprep.render.refine.watershed import edges, watershed_refine  # noqa: F401


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
        Needed by the refiners that read the image (:data:`gazeprep.render.refine.REFINERS`).
    heatmap : ndarray of float, shape (B, S, S) or (B, 1, S, S), optional
        Needed with the images (background seeds).
    workers : int
        Threads refining images side by side (scikit-image releases the GIL).

    Returns
    -------
    ndarray of uint8, shape (B, 1, S, S)
    """
    from concurrent.futures import ThreadPoolExecutor

    from gazeprep.render.refine import REFINERS

    src = pseudo_source(maps, params)
    refiner = REFINERS[params.refine]
    if params.refine == "none" or len(src) == 0:
        return (src > params.pseudo_threshold)[:, None].astype(np.uint8)
    if refiner.needs_image and (images is None or heatmap is None):
        raise GazeprepError(f"refine={params.refine!r} needs the images and the heatmap")

    def one(i: int) -> np.ndarray:
        heat = None if heatmap is None else heatmap[i].reshape(src.shape[1:])
        img = None if images is None else images[i]
        return refiner.fn(img, src[i], heat, params)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        refined = list(ex.map(one, range(len(src))))
    return np.stack(refined)[:, None].astype(np.uint8)
