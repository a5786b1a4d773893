"""Simulated endoscopy-like images: textured mucosa, folds, one to three polyp-like targets and
their masks."""

from __future__ import annotations

import numpy as np


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to zero mean, unit standard deviation."""
    from skimage.filters import gaussian

    field_ = gaussian(rng.standard_normal(shape), sigma=sigma, mode="wrap")
    return (field_ - field_.mean()) / (field_.std() + 1e-12)


def _blob_polygon(
    rng: np.random.Generator, centre: tuple[float, float], radius: float, n: int = 96
) -> tuple[np.ndarray, np.ndarray]:
    """An irregular closed outline: a circle whose radius carries a few random harmonics.

    Returns the (rows, cols) of the outline vertices in pixels.
    """
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 6):
        r += rng.uniform(0, 0.22 / k**0.7) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r *= radius * rng.uniform(0.85, 1.15, size=1)
    aspect = rng.uniform(0.75, 1.0)
    rot = rng.uniform(0, np.pi)
    dr, dc = r * np.sin(theta) * aspect, r * np.cos(theta)
    rows = centre[0] + dr * np.cos(rot) - dc * np.sin(rot)
    cols = centre[1] + dr * np.sin(rot) + dc * np.cos(rot)
    return rows, cols


def make_image(
    rng: np.random.Generator, size: int, area_median: float = 0.135
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Draw one endoscopy-like image with one to three polyp-like targets.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (the image's own stream).
    size : int
        Image side in pixels.
    area_median : float
        Median total target area as a fraction of the image.

    Returns
    -------
    rgb : (size, size, 3) uint8
        The image.
    mask : (size, size) bool
        Union of the targets (ground truth).
    blobs : list of (size, size) bool
        Each target's own mask, largest first (what the observer scans).
    """
    from skimage.draw import bezier_curve, ellipse, polygon
    from skimage.filters import gaussian

    s = size
    # Mucosa: reddish-pink, textured at three scales, darker towards the corners (vignetting).
    tex = (
        0.55 * _smooth_noise(rng, (s, s), s / 12)
        + 0.3 * _smooth_noise(rng, (s, s), s / 40)
        + 0.15 * _smooth_noise(rng, (s, s), 1.2)
    )
    base = np.array([0.72, 0.36, 0.30]) + rng.uniform(-0.06, 0.06, 3)
    img = base[None, None, :] * (1 + 0.16 * tex[..., None])
    rr, cc = np.mgrid[0:s, 0:s] / (s - 1) - 0.5
    vignette = 1 - 0.9 * np.clip(np.hypot(rr, cc) - 0.25, 0, None) ** 1.5
    # Folds and vessels: a few dark curved lines.
    lines = np.zeros((s, s))
    for _ in range(rng.integers(2, 6)):
        pts = rng.uniform(0, s - 1, size=6).astype(int)
        r_, c_ = bezier_curve(*pts, weight=rng.uniform(0.5, 2.0), shape=(s, s))
        lines[r_, c_] = 1.0
    lines = gaussian(lines, sigma=rng.uniform(1.0, 2.5))
    img = img * (1 - 0.9 * (lines / (lines.max() + 1e-12))[..., None] * rng.uniform(0.1, 0.35))

    n_blobs = rng.choice([1, 2, 3], p=[0.75, 0.2, 0.05])
    # Total target area as a fraction of the image, log-normal like Kvasir-SEG (median ~0.10).
    total = float(np.clip(np.exp(rng.normal(np.log(area_median), 0.8)), 0.015, 0.45))
    shares = np.sort(rng.dirichlet(np.full(n_blobs, 2.0)))[::-1]
    blobs: list[np.ndarray] = []
    mask = np.zeros((s, s), bool)
    for share in shares:
        radius = np.sqrt(total * share / np.pi) * s
        margin = min(radius * 1.1, s / 2 - 2)
        centre = tuple(rng.uniform(margin, s - margin, size=2))
        rows, cols = _blob_polygon(rng, centre, radius)
        br, bc = polygon(rows, cols, shape=(s, s))
        blob = np.zeros((s, s), bool)
        blob[br, bc] = True
        blob &= ~mask  # overlapping targets: each pixel belongs to the first (larger) one
        if blob.sum() < 8:
            continue
        blobs.append(blob)
        mask |= blob

        # Polyp look: paler/orange, dome shading, fine texture, soft edge, varied contrast.
        contrast = rng.uniform(0.3, 1.0)
        colour = np.array([0.86, 0.55, 0.45]) + rng.uniform(-0.08, 0.08, 3)
        alpha = gaussian(blob.astype(float), sigma=rng.uniform(0.8, 2.5))
        yy, xx = np.nonzero(blob)
        cy, cx = yy.mean(), xx.mean()
        d = np.hypot(*(np.mgrid[0:s, 0:s] - np.array([cy, cx])[:, None, None])) / max(radius, 1)
        dome = 1 + 0.25 * np.clip(1 - d**2, 0, None)
        fine = 1 + 0.08 * _smooth_noise(rng, (s, s), rng.uniform(0.8, 2.0))
        target = colour[None, None, :] * (dome * fine)[..., None]
        img = img + (contrast * alpha)[..., None] * (target - img)

    if not blobs:  # every drawn target was too small for this image size: one small disk
        dr_, dc_ = ellipse(s / 2, s / 2, max(s / 10, 2.0), max(s / 10, 2.0), shape=(s, s))
        mask[dr_, dc_] = True
        blobs.append(mask.copy())
        img[mask] = 0.5 * img[mask] + 0.5 * np.array([0.86, 0.55, 0.45])

    # Specular highlights (the endoscope's light), small white spots anywhere.
    for _ in range(rng.integers(3, 12)):
        er, ec = ellipse(*rng.uniform(0, s, 2), *rng.uniform(0.8, 4.0, 2), shape=(s, s))
        img[er, ec] = 1.0
    img = gaussian(img, sigma=0.7, channel_axis=-1) * vignette[..., None]
    img += 0.015 * rng.standard_normal(img.shape)
    rgb = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return rgb, mask, blobs
