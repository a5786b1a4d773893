"""GrabCut (OpenCV): colour models of object and background, a graph cut seeded by the gaze.

Sure foreground: ``src > pseudo_threshold``; sure background: ``heat <= bg_threshold``; the
watershed pseudo-mask (:mod:`.watershed`) splits the rest into probable foreground and probable
background, so GrabCut starts from v1 and moves its border where the colours disagree (OpenCV's
``grabCut``, ``opencv-python-headless``). The image is smoothed first as for the watershed's
edges (``edge_sigma``, pixels at S = 256): +0.3 points Dice on the tuning images.
:mod:`.grabcut_gaze` runs the same cut (:func:`cut`) from seeds that read the gaze more closely.
"""

from __future__ import annotations

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.render.refine.watershed import refine as watershed_refine

#: GrabCut iterations (OpenCV's EM over the colour models + graph cut).
ITERATIONS = 3


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise GazeprepError("--refine grabcut needs OpenCV: pip install "
                            "opencv-python-headless (or render with --refine watershed)") from exc
    cv2.setNumThreads(1)  # images are refined in parallel by the caller
    return cv2


def refine(image: np.ndarray, src: np.ndarray, heat: np.ndarray, params) -> np.ndarray:
    """GrabCut pseudo-mask of one image, shape (S, S) bool (see the module docstring)."""
    fg = src > params.pseudo_threshold
    bg = heat <= params.bg_threshold
    if not fg.any() or not bg.any():
        return fg
    start = watershed_refine(image, src, heat, params)
    return cut(image, fg, bg, start, params)


def smoothed_bgr(image: np.ndarray, params, cv2) -> np.ndarray:
    """(S, S, 3) uint8 BGR of an RGB ``image`` (3, S, S) as the cut sees it: smoothed by
    ``edge_sigma`` (at 256 px, scaled to ``size``) like the watershed's edges, so the colour
    models describe the surfaces, not their grain."""
    bgr = np.ascontiguousarray(np.moveaxis(image, 0, -1)[..., ::-1])
    sigma = params.edge_sigma * params.size / 256
    return cv2.GaussianBlur(bgr, (0, 0), sigma) if sigma > 0 else bgr


def cut(image: np.ndarray, fg: np.ndarray, bg: np.ndarray, probable: np.ndarray,
        params) -> np.ndarray:
    """GrabCut of one image from its seeds, shape (S, S) bool.

    Parameters
    ----------
    image : ndarray of uint8, shape (3, S, S)
        RGB.
    fg, bg : ndarray of bool, shape (S, S)
        Sure foreground and sure background (``fg`` wins where both are set).
    probable : ndarray of bool, shape (S, S)
        Probable foreground; every other pixel starts as probable background.
    params : RenderParams
        ``edge_sigma`` and ``size`` (the smoothing).

    Returns
    -------
    ndarray of bool, shape (S, S)
        ``fg | probable`` where GrabCut has nothing to decide or cannot fit its colour models.
    """
    cv2 = _cv2()
    mask = np.where(probable, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    mask[bg] = cv2.GC_BGD
    mask[fg] = cv2.GC_FGD
    if (mask == cv2.GC_PR_BGD).all() or np.isin(mask, (cv2.GC_BGD, cv2.GC_FGD)).all():
        return fg | probable
    bgr = smoothed_bgr(image, params, cv2)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models by k-means++ from OpenCV's per-thread RNG: reseeding it
    # makes every image's result independent of which images that thread refined before
    # (--jobs, worker threads).
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(bgr, mask, None, bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # a colour model it cannot fit (too few distinct pixels): keep the start
        return fg | probable
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
