"""The refiners that need no image edges: plain threshold, hole filling, SLIC vote."""

from __future__ import annotations

import numpy as np

#: ``fill``: largest hole filled, as a fraction of the image area.
MAX_HOLE = 0.05
#: ``slic``: superpixels per image and their compactness (scikit-image's ``slic``).
N_SEGMENTS = 200
COMPACTNESS = 10


def threshold(image, src: np.ndarray, heat, params) -> np.ndarray:
    """``src > pseudo_threshold`` (image and heatmap unused)."""
    return src > params.pseudo_threshold


def fill(image, src: np.ndarray, heat, params) -> np.ndarray:
    """The threshold with holes smaller than :data:`MAX_HOLE` of the image filled."""
    from skimage.morphology import remove_small_holes

    return remove_small_holes(src > params.pseudo_threshold,
                              max_size=int(MAX_HOLE * src.size))


def slic_vote(image: np.ndarray, src: np.ndarray, heat, params) -> np.ndarray:
    """Superpixels whose mean source value exceeds the threshold become foreground."""
    from skimage.segmentation import slic

    if not (src > params.pseudo_threshold).any():
        return np.zeros(src.shape, dtype=bool)
    labels = slic(np.moveaxis(image, 0, -1), n_segments=N_SEGMENTS, compactness=COMPACTNESS,
                  start_label=0)
    sums = np.bincount(labels.ravel(), weights=src.ravel())
    cnts = np.bincount(labels.ravel())
    return (sums / np.maximum(cnts, 1) > params.pseudo_threshold)[labels]
