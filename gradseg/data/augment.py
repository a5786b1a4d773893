"""Geometric augmentation applied identically to an image and its maps and masks.

One random affine transform (flips, random resized crop, small rotation) is drawn per sample
and applied with ``torch.nn.functional.grid_sample`` to every field, so image, track maps,
heatmap and masks stay aligned. Resampling to the model size is the same operation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transform.

    Attributes
    ----------
    scale : (float, float)
        Area fraction of the image kept by the random resized crop.
    ratio : (float, float)
        Aspect-ratio range of the crop (width / height).
    rotation : float
        Maximum absolute rotation in degrees.
    hflip, vflip : float
        Probabilities of horizontal and vertical flips (endoscopy has no canonical orientation).
    """

    scale: tuple[float, float] = (0.5, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    rotation: float = 15.0
    hflip: float = 0.5
    vflip: float = 0.5


def identity_params() -> dict[str, float]:
    """Transform parameters that leave the sample unchanged (apart from resizing)."""
    return {"sx": 1.0, "sy": 1.0, "cx": 0.0, "cy": 0.0, "angle": 0.0, "fx": 1.0, "fy": 1.0}


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def sample_params(gen: torch.Generator, cfg: AugmentConfig) -> dict[str, float]:
    """Draw one random transform.

    Parameters
    ----------
    gen : torch.Generator
        Source of randomness (seeded per sample for reproducibility).
    cfg : AugmentConfig

    Returns
    -------
    dict with crop half-extents ``sx``, ``sy`` and centre ``cx``, ``cy`` in normalised
    coordinates ([-1, 1] spans the image), ``angle`` (radians) and flips ``fx``, ``fy`` (+-1).
    """
    area = _uniform(gen, *cfg.scale)
    log_r = _uniform(gen, math.log(cfg.ratio[0]), math.log(cfg.ratio[1]))
    r = math.exp(log_r)
    sx, sy = min(1.0, math.sqrt(area * r)), min(1.0, math.sqrt(area / r))
    cx = _uniform(gen, -(1 - sx), 1 - sx)
    cy = _uniform(gen, -(1 - sy), 1 - sy)
    angle = math.radians(_uniform(gen, -cfg.rotation, cfg.rotation))
    fx = -1.0 if float(torch.rand((), generator=gen)) < cfg.hflip else 1.0
    fy = -1.0 if float(torch.rand((), generator=gen)) < cfg.vflip else 1.0
    return {"sx": sx, "sy": sy, "cx": cx, "cy": cy, "angle": angle, "fx": fx, "fy": fy}


def _theta(p: dict[str, float]) -> torch.Tensor:
    # Output normalised coords -> input normalised coords: centre + scale @ rotate @ flip.
    c, s = math.cos(p["angle"]), math.sin(p["angle"])
    a = torch.tensor([[c * p["fx"], -s * p["fy"]], [s * p["fx"], c * p["fy"]]])
    a = torch.diag(torch.tensor([p["sx"], p["sy"]])) @ a
    return torch.cat([a, torch.tensor([[p["cx"]], [p["cy"]]])], dim=1)


def apply_affine(fields: dict[str, torch.Tensor], params: dict[str, float], size: int,
                 binary=frozenset()) -> dict[str, torch.Tensor]:
    """Apply one transform to every (C, H, W) tensor of ``fields`` and resample to ``size``.

    Parameters
    ----------
    fields : dict of str -> Tensor (C, H, W), float
    params : dict
        From :func:`sample_params` or :func:`identity_params`.
    size : int
        Output side in pixels.
    binary : set of str
        Fields holding 0/1 masks: resampled bilinearly and thresholded at 0.5, which keeps
        smoother edges than nearest-neighbour sampling.

    Returns
    -------
    dict of Tensor (C, size, size); pixels mapped from outside the source are 0.
    """
    first = next(iter(fields.values()))
    if params == identity_params() and first.shape[-1] == size and first.shape[-2] == size:
        return dict(fields)
    theta = _theta(params).unsqueeze(0)
    grid = F.affine_grid(theta, [1, 1, size, size], align_corners=False)
    out = {}
    for name, t in fields.items():
        r = F.grid_sample(t.unsqueeze(0), grid, mode="bilinear", padding_mode="zeros",
                          align_corners=False)[0]
        out[name] = (r >= 0.5).float() if name in binary else r
    return out
