"""Segmentation metrics on binary masks: Dice, IoU and HD95, one implementation for both tools.

``gazeprep score`` (pseudo-masks against ground truth) and ``gradseg eval`` (a model against
ground truth) both use these functions, so their numbers mean the same thing.

Conventions:

- An empty reference is never a perfect score. When prediction and reference are both empty,
  Dice, IoU and HD95 are undefined (NaN: nothing to find, nothing found; nnU-Net's convention);
  a prediction on an empty reference scores Dice 0 and IoU 0. Means leave the undefined images
  out and say how many they left out (:func:`mean_defined`): every summary reports that count
  beside the mean, so a model that predicts nothing on images with nothing to find is neither
  rewarded (1.0) nor punished (0.0) for it.
- Dice and IoU are 0 when exactly one mask is empty.
- HD95 is the 95th percentile of the union of both directed boundary distance sets (medpy's
  ``medpy.metric.binary.hd95``; MONAI's ``compute_hausdorff_distance(percentile=95)`` takes the
  larger of the two directed 95th percentiles instead, which is never smaller). Boundaries are
  the foreground pixels with a background 4-neighbour (the image border counts as background).
- Distances are in the units of ``spacing``, the (row, column) pixel pitch: the default (1, 1)
  gives pixels of the masks' own grid. A mask resampled from an original image of H x W pixels
  to S x S gives distances in the original image's pixels with ``spacing=(H / S, W / S)``
  (:func:`original_spacing`), and in millimetres with each factor multiplied by the image's
  pixel spacing in mm.
- HD95 is NaN when both masks are empty; when exactly one is empty it is the image diagonal in
  the same units (``hypot(H * spacing[0], W * spacing[1])``, the largest distance possible in
  the image), a worst-case penalty that keeps means finite.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: (row, column) pixel pitch: pixels of the masks' own grid.
UNIT_SPACING = (1.0, 1.0)


def dice_iou(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dice and IoU of binary masks over their last two axes (NaN when both are empty).

    Parameters
    ----------
    pred, truth : ndarray, shape (..., H, W)
        Binary masks (nonzero is foreground), same shape.

    Returns
    -------
    dice, iou : ndarray of float64, shape (...)

    Examples
    --------
    >>> a = np.zeros((4, 4), bool); a[:2] = True
    >>> b = np.zeros((4, 4), bool); b[:1] = True
    >>> [float(v) for v in dice_iou(a, b)]
    [0.6666666666666666, 0.5]
    """
    pred, truth = np.asarray(pred).astype(bool), np.asarray(truth).astype(bool)
    if pred.shape != truth.shape or pred.ndim < 2:
        raise ValueError(f"expected masks of one shape (..., H, W), got {pred.shape} and "
                         f"{truth.shape}")
    inter = (pred & truth).sum(axis=(-2, -1)).astype(np.float64)
    total = pred.sum(axis=(-2, -1)).astype(np.float64) + truth.sum(axis=(-2, -1))
    union = total - inter
    dice = np.where(total > 0, 2 * inter / np.maximum(total, 1), np.nan)
    iou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
    return dice, iou


def mean_defined(values) -> tuple[float, int]:
    """Mean of the defined (non-NaN) scores and how many there are.

    Returns
    -------
    (mean, n) : (float, int)
        ``mean`` is NaN when no score is defined (every reference and prediction empty).

    Examples
    --------
    >>> mean_defined([1.0, float("nan"), 0.5])
    (0.75, 2)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    ok = v[~np.isnan(v)]
    return (float(ok.mean()) if ok.size else float("nan")), int(ok.size)


def _mask2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {a.shape}")
    return a.astype(bool)


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice coefficient 2|P & R| / (|P| + |R|) of two binary 2-D masks (NaN when both empty)."""
    return float(dice_iou(_mask2d(pred), _mask2d(ref))[0])


def iou(pred: np.ndarray, ref: np.ndarray) -> float:
    """Intersection over union |P & R| / |P | R| of two binary 2-D masks (NaN when both empty)."""
    return float(dice_iou(_mask2d(pred), _mask2d(ref))[1])


def _spacing(spacing: Sequence[float] | None) -> tuple[float, float]:
    sp = UNIT_SPACING if spacing is None else tuple(float(v) for v in spacing)
    if len(sp) != 2 or not all(np.isfinite(v) and v > 0 for v in sp):
        raise ValueError(f"spacing must be two finite positive numbers (row, column), got "
                         f"{spacing!r}")
    return sp


def boundary(mask: np.ndarray) -> np.ndarray:
    """Foreground pixels with a background 4-neighbour (the image border is background)."""
    from scipy import ndimage

    m = _mask2d(mask)
    eroded = ndimage.binary_erosion(m, structure=ndimage.generate_binary_structure(2, 1),
                                    border_value=0)
    return m & ~eroded


def surface_distances(a: np.ndarray, b: np.ndarray,
                      spacing: Sequence[float] | None = None) -> np.ndarray:
    """Distance from each boundary pixel of ``a`` to the nearest boundary pixel of ``b``.

    Parameters
    ----------
    a, b : ndarray of bool, shape (H, W)
        Non-empty binary masks.
    spacing : (float, float), optional
        (row, column) pixel pitch; distances come in its units (default: pixels).

    Returns
    -------
    ndarray of float64, one distance per boundary pixel of ``a``
    """
    from scipy import ndimage

    dt = ndimage.distance_transform_edt(~boundary(b), sampling=_spacing(spacing))
    return dt[boundary(a)]


def hd95(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float] | None = None) -> float:
    """95th percentile symmetric Hausdorff distance between two binary 2-D masks.

    Parameters
    ----------
    pred, ref : ndarray, shape (H, W)
    spacing : (float, float), optional
        (row, column) pixel pitch: the result is in its units (default: pixels). See the
        module notes for the empty-mask conventions.

    Examples
    --------
    >>> a = np.zeros((8, 8), bool); a[2:5, 2:5] = True
    >>> hd95(a, np.roll(a, 2, axis=1)), hd95(a, np.roll(a, 2, axis=1), spacing=(1, 0.5))
    (2.0, 1.0)
    """
    p, r = _mask2d(pred), _mask2d(ref)
    if p.shape != r.shape:
        raise ValueError(f"mask shapes differ: {p.shape} vs {r.shape}")
    sp = _spacing(spacing)
    pe, re_ = not p.any(), not r.any()
    if pe and re_:
        return float("nan")
    if pe or re_:
        return float(np.hypot(p.shape[0] * sp[0], p.shape[1] * sp[1]))
    d = np.concatenate([surface_distances(p, r, sp), surface_distances(r, p, sp)])
    return float(np.percentile(d, 95))


def original_spacing(mask_hw: tuple[int, int], orig_hw: tuple[int, int],
                     mm: Sequence[float] | None = None) -> tuple[float, float]:
    """(row, column) pitch of a mask of ``mask_hw`` pixels resampled from ``orig_hw`` pixels.

    Distances measured with it are in the original image's pixels, or in millimetres when
    ``mm`` (the original image's (row, column) pixel spacing in mm) is given.

    Examples
    --------
    >>> original_spacing((256, 256), (512, 384))
    (2.0, 1.5)
    >>> original_spacing((256, 256), (512, 384), mm=(0.5, 0.5))
    (1.0, 0.75)
    """
    row = orig_hw[0] / mask_hw[0]
    col = orig_hw[1] / mask_hw[1]
    if mm is not None:
        row, col = row * float(mm[0]), col * float(mm[1])
    return float(row), float(col)


def all_metrics(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float] | None = None,
                spacing_mm: Sequence[float] | None = None) -> dict[str, float | None]:
    """Dice, IoU, HD95 (``spacing`` units, default pixels) and HD95 in mm of one prediction.

    Returns
    -------
    dict
        ``dice``, ``iou``, ``hd95`` and ``hd95_mm`` (None when ``spacing_mm`` is None).
    """
    d, j = dice_iou(_mask2d(pred), _mask2d(ref))
    return {"dice": float(d), "iou": float(j), "hd95": hd95(pred, ref, spacing),
            "hd95_mm": None if spacing_mm is None else hd95(pred, ref, spacing_mm)}
