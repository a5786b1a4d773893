"""The 8-bit window rule: how samples that are not already 8-bit become 0..255."""

from __future__ import annotations

import numpy as np

#: Percentiles of the volume's finite values that bound the automatic window.
AUTO_PERCENTILES = (0.5, 99.5)

Window = tuple[float, float] | str  # (center, width), "auto" or "minmax"


def window_to_uint8(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map values to 0..255 through a linear window (DICOM's LINEAR_EXACT VOI function).

    ``y = 255 * clip((x - (center - width / 2)) / width, 0, 1)``, rounded to the nearest
    integer: values at or below ``center - width/2`` become 0, at or above ``center + width/2``
    255, nothing wraps around. NaN becomes 0.

    Parameters
    ----------
    values : ndarray
        Any real dtype (Hounsfield units, 16-bit counts, float intensities), any shape.
    center, width : float
        Window centre and width in the units of ``values``; ``width > 0``.

    Returns
    -------
    ndarray of uint8, the shape of ``values``

    Examples
    --------
    >>> window_to_uint8(np.array([-1000.0, 40.0, 80.0, 3000.0]), 40, 80)  # CT soft tissue
    array([  0, 128, 255, 255], dtype=uint8)
    >>> window_to_uint8(np.arange(256.0), 127.5, 255)[[0, 1, 254, 255]]  # identity on 0..255
    array([  0,   1, 254, 255], dtype=uint8)
    """
    x = np.asarray(values, dtype=np.float64)
    y = (x - (center - width / 2.0)) / width
    y = np.rint(np.clip(y, 0.0, 1.0) * 255.0)
    return np.nan_to_num(y, nan=0.0).astype(np.uint8)


def auto_window(values: np.ndarray, how: str = "auto") -> tuple[float, float]:
    """(center, width) spanning the finite values of a volume: percentiles or min-max.

    Parameters
    ----------
    values : ndarray
        All samples of the volume the window is for.
    how : {"auto", "minmax"}
        ``auto``: the :data:`AUTO_PERCENTILES` (0.5th and 99.5th, numpy's default linear
        interpolation, computed in float64 whatever the dtype, so equal values in any format give
        an equal window); ``minmax``: min and max.

    Returns
    -------
    (center, width) : (float, float)
        A constant volume gets a window whose bottom is its value (it shows black).
    """
    flat = np.array(values, copy=True).reshape(-1)  # one copy, partitioned in place
    if flat.dtype.kind == "f":
        finite = np.isfinite(flat)
        if not finite.all():
            flat = flat[finite]
    if flat.size == 0:
        return 0.5, 1.0
    if how == "minmax":
        lo, hi = float(flat.min()), float(flat.max())
    else:
        lo, hi = _percentiles(flat, AUTO_PERCENTILES)
    if not hi > lo:
        return lo + 0.5, 1.0
    return (lo + hi) / 2.0, hi - lo


def _percentiles(flat: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Linear-interpolated percentiles of a 1-D array, partitioning it in place."""
    n = flat.size
    pos = [q / 100.0 * (n - 1) for q in qs]
    lower = [int(np.floor(p)) for p in pos]
    flat.partition(sorted({k for f in lower for k in (f, min(f + 1, n - 1))}))
    out = []
    for p, f in zip(pos, lower, strict=True):
        a, b = float(flat[f]), float(flat[min(f + 1, n - 1)])
        out.append(a + (p - f) * (b - a))
    return out


def parse_window(text: str | None) -> Window:
    """Parse ``--window``: ``C,W`` (numbers, W > 0), ``auto`` or ``minmax``.

    Raises
    ------
    ValueError
        With a message the command line shows as a usage error.
    """
    if text is None or text.strip().lower() in ("", "auto"):
        return "auto"
    if text.strip().lower() == "minmax":
        return "minmax"
    parts = text.split(",")
    try:
        center, width = (float(v) for v in parts)
    except ValueError:
        raise ValueError(
            f"expected CENTER,WIDTH (e.g. 40,400), auto or minmax, got {text!r}") from None
    if not (np.isfinite(center) and np.isfinite(width) and width > 0):
        raise ValueError(f"window center must be finite and width > 0, got {text!r}")
    return center, width
