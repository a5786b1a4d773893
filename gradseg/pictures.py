"""Pictures for people: validation panels and prediction overlays (numpy + scikit-image)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def to_uint8_rgb(a: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) array in [0, 1] -> uint8 RGB (grey maps are replicated)."""
    a = np.clip(np.asarray(a, dtype=np.float32), 0, 1)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return (a * 255 + 0.5).astype(np.uint8)


def overlay(image: np.ndarray, mask: np.ndarray, color=(0, 230, 255), alpha: float = 0.35):
    """Tint ``mask`` pixels of a uint8 RGB image and draw the mask outline in full colour.

    Parameters
    ----------
    image : ndarray uint8 (H, W, 3)
    mask : ndarray bool (H, W)
    color : RGB triple
        Tint and outline colour; cyan by default because it stands out on reddish tissue.
    alpha : float
        Opacity of the tint inside the mask.
    """
    from skimage.segmentation import find_boundaries

    out = image.astype(np.float32).copy()
    c = np.asarray(color, dtype=np.float32)
    m = mask.astype(bool)
    out[m] = (1 - alpha) * out[m] + alpha * c
    out[find_boundaries(m, mode="inner")] = c
    return out.astype(np.uint8)


def validation_panel(rows: list[dict], path: str | Path) -> None:
    """Save a grid: one row per sample with image | gaze map | target | prediction overlay.

    Parameters
    ----------
    rows : list of dict
        Each with ``image`` (H, W, 3) in [0, 1], ``gaze`` (H, W) in [0, 1], ``target`` and
        ``pred`` (H, W) bool.
    path : str or Path
        PNG file to write.
    """
    from skimage.io import imsave

    lines = []
    for r in rows:
        img = to_uint8_rgb(r["image"])
        gaze = to_uint8_rgb(np.stack([r["gaze"], r["gaze"] * 0.6, 1 - r["gaze"]], axis=-1))
        cells = [img, gaze, to_uint8_rgb(r["target"].astype(np.float32)),
                 overlay(img, r["pred"])]
        sep = np.full((img.shape[0], 2, 3), 255, np.uint8)
        line = [cells[0]]
        for c in cells[1:]:
            line += [sep, c]
        lines.append(np.concatenate(line, axis=1))
        lines.append(np.full((2, lines[-1].shape[1], 3), 255, np.uint8))
    imsave(str(path), np.concatenate(lines[:-1], axis=0), check_contrast=False)
