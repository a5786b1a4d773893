"""Per-image segmentation metrics on binary masks: Dice, IoU and HD95 (pixels).

Empty-mask conventions (so that means over a data set stay finite and comparable):

- Dice and IoU are 1 when prediction and reference are both empty, 0 when exactly one is.
- HD95 is 0 when both are empty; when exactly one is empty it is the image diagonal
  ``sqrt(h**2 + w**2)`` (the largest distance possible in the image), a worst-case penalty.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _binary(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {a.shape}")
    return a.astype(bool)


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice coefficient 2|P & R| / (|P| + |R|) of two binary 2-D masks (1.0 when both empty)."""
    p, r = _binary(pred), _binary(ref)
    total = int(p.sum()) + int(r.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(p, r).sum()) / total


def iou(pred: np.ndarray, ref: np.ndarray) -> float:
    """Intersection over union |P & R| / |P | R| of two binary 2-D masks (1.0 when both empty)."""
    p, r = _binary(pred), _binary(ref)
    union = int(np.logical_or(p, r).sum())
    if union == 0:
        return 1.0
    return int(np.logical_and(p, r).sum()) / union


def _surface(m: np.ndarray) -> np.ndarray:
    # Inner boundary with 4-connectivity, as in medpy's hd95: foreground pixels with a
    # background 4-neighbour (the image border counts as background).
    eroded = ndimage.binary_erosion(m, structure=ndimage.generate_binary_structure(2, 1),
                                    border_value=0)
    return m & ~eroded


def surface_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances (pixels) from each boundary pixel of ``a`` to the nearest boundary pixel of ``b``.

    Parameters
    ----------
    a, b : ndarray of bool, shape (H, W)
        Non-empty binary masks.

    Returns
    -------
    ndarray of float64, one distance per boundary pixel of ``a``.
    """
    sa, sb = _surface(a), _surface(b)
    dt = ndimage.distance_transform_edt(~sb)
    return dt[sa]


def hd95(pred: np.ndarray, ref: np.ndarray) -> float:
    """95th percentile symmetric Hausdorff distance in pixels between two binary 2-D masks.

    The 95th percentile is taken over the union of both directed boundary distance sets
    (medpy convention). See the module docstring for the empty-mask conventions.
    """
    p, r = _binary(pred), _binary(ref)
    if p.shape != r.shape:
        raise ValueError(f"mask shapes differ: {p.shape} vs {r.shape}")
    pe, re_ = not p.any(), not r.any()
    if pe and re_:
        return 0.0
    if pe or re_:
        return float(np.hypot(*p.shape))
    d = np.concatenate([surface_distances(p, r), surface_distances(r, p)])
    return float(np.percentile(d, 95))


def all_metrics(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Dice, IoU and HD95 (pixels) of one prediction against its reference, as a dict."""
    return {"dice": dice(pred, ref), "iou": iou(pred, ref), "hd95": hd95(pred, ref)}
