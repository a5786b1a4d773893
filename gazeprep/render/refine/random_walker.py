"""Random walker (scikit-image) on the image's CIE Lab colours, seeded by the gaze.

Sure foreground: ``src > pseudo_threshold``; sure background: ``heat <= bg_threshold``; every
other pixel goes to the seed a random walk from it most likely reaches first, walks crossing
strong colour changes being unlikely (Grady 2006).
"""

from __future__ import annotations

import numpy as np

#: Penalty of colour differences between neighbours (scikit-image's ``beta``).
BETA = 130.0


def refine(image: np.ndarray, src: np.ndarray, heat: np.ndarray, params) -> np.ndarray:
    """Random-walker pseudo-mask of one image, shape (S, S) bool."""
    from skimage.color import rgb2lab
    from skimage.segmentation import random_walker

    fg = src > params.pseudo_threshold
    bg = heat <= params.bg_threshold
    if not fg.any() or not bg.any():
        return fg
    rgb = np.moveaxis(image, 0, -1).astype(np.float32) / np.float32(255.0)
    lab = rgb2lab(rgb) / np.array([100.0, 128.0, 128.0], dtype=np.float32)
    seeds = np.zeros(src.shape, dtype=np.int32)
    seeds[bg] = 1
    seeds[fg] = 2
    if (seeds > 0).all() or float(lab.std()) == 0.0:  # nothing to walk, or a flat image
        return fg
    labels = random_walker(lab, seeds, beta=BETA, mode="cg_j", tol=1e-3, channel_axis=-1)
    return labels == 2
