"""Geometric augmentation applied identically to an image and its maps and masks.

One random affine transform (flips, random resized crop, small rotation; or flips only) is
drawn per sample and applied with ``torch.nn.functional.grid_sample`` to every field, so image,
track maps, heatmap and masks stay aligned. Resampling to the model size is the same operation.

Two ways to apply it, with the same result (``tests/gradseg/data/test_gpu_augment.py``):

- per sample on the CPU (:func:`apply_affine`, the reference; evaluation and validation);
- per batch on the training device (:func:`transform_batch`): the DataLoader workers only read
  uint8 rows and draw each sample's transform as a 2 x 3 matrix (:func:`sample_theta`, seeded
  per sample); the device converts to float and resamples the whole batch in one
  ``grid_sample`` call (flips alone, at the cache size, are exact flips, no resampling).
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
    kind : {'affine', 'flips'}
        ``flips``: the flips alone (the published protocol), the other ranges unused.
    """

    scale: tuple[float, float] = (0.5, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    rotation: float = 15.0
    hflip: float = 0.5
    vflip: float = 0.5
    kind: str = "affine"


#: What a transform may do: ``affine`` (flips, random resized crop, rotation) or ``flips``.
KINDS = ("affine", "flips")


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


def identity_theta() -> torch.Tensor:
    """The (2, 3) matrix of the identity transform."""
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def sample_theta(gen: torch.Generator, cfg: AugmentConfig) -> torch.Tensor:
    """One random transform as its (2, 3) float32 matrix (output -> input normalised coords).

    ``affine``: :func:`sample_params` as a matrix; ``flips``: diag(fx, fy), fx, fy = +-1.
    """
    p = draw_params(gen, cfg)
    if cfg.kind == "flips":
        return torch.tensor([[p["fx"], 0.0, 0.0], [0.0, p["fy"], 0.0]])
    return _theta(p).float()


def draw_params(gen: torch.Generator, cfg: AugmentConfig) -> dict[str, float]:
    """One random transform of ``cfg.kind``: :func:`sample_params` for ``affine``; for
    ``flips``, the identity with random flips (two draws)."""
    if cfg.kind == "flips":
        fx = -1.0 if float(torch.rand((), generator=gen)) < cfg.hflip else 1.0
        fy = -1.0 if float(torch.rand((), generator=gen)) < cfg.vflip else 1.0
        return {**identity_params(), "fx": fx, "fy": fy}
    if cfg.kind != "affine":
        raise ValueError(f"augmentation kind must be one of {KINDS}, got {cfg.kind!r}")
    return sample_params(gen, cfg)


def to_float(fields: dict[str, torch.Tensor], unit=frozenset(), scale: float = 255.0
             ) -> dict[str, torch.Tensor]:
    """uint8 cache rows as float32: fields in ``unit`` divided by ``scale``, the others as is."""
    out = {}
    for name, t in fields.items():
        x = t.float()
        out[name] = x.div_(scale) if name in unit else x
    return out


def _flip(x: torch.Tensor, flip: torch.Tensor, dim: int) -> torch.Tensor:
    # Per-sample flip without a host sync: where(flag, flipped, x).
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(dim), x)


def transform_batch(fields: dict[str, torch.Tensor], theta: torch.Tensor | None, size: int,
                    binary=frozenset(), flips_only: bool = False) -> dict[str, torch.Tensor]:
    """Apply each sample's transform to every field of a batch and resample to ``size``.

    Parameters
    ----------
    fields : dict of str -> Tensor (B, C, H, W), float
        On any device; every field has the same H, W.
    theta : Tensor (B, 2, 3) or None
        Each sample's matrix (:func:`sample_theta`); None: the identity.
    size : int
        Output side in pixels.
    binary : set of str
        0/1 fields: resampled bilinearly, then thresholded at 0.5 (as :func:`apply_affine`).
    flips_only : bool
        Every theta is diag(+-1, +-1) (``kind="flips"``): at ``size`` == H == W the batch is
        flipped exactly instead of resampled.

    Returns
    -------
    dict of Tensor (B, C, size, size), float32. Nothing is read back to the host.
    """
    first = next(iter(fields.values()))
    b, (h, w) = first.shape[0], first.shape[-2:]
    same = h == w == size
    if theta is None and same:
        return dict(fields)
    if flips_only and same:
        theta = theta.to(first.device)
        fx, fy = theta[:, 0, 0] < 0, theta[:, 1, 1] < 0
        return {k: _flip(_flip(t, fx, -1), fy, -2) for k, t in fields.items()}
    if theta is None:
        theta = identity_theta().expand(b, 2, 3)
    theta = theta.to(device=first.device, dtype=torch.float32)
    grid = F.affine_grid(theta, [b, 1, size, size], align_corners=False)
    names = list(fields)
    widths = [fields[k].shape[1] for k in names]
    stacked = torch.cat([fields[k].float() for k in names], dim=1)  # one resampling call
    r = F.grid_sample(stacked, grid, mode="bilinear", padding_mode="zeros",
                      align_corners=False)
    out = dict(zip(names, r.split(widths, dim=1), strict=True))
    return {k: (v >= 0.5).float() if k in binary else v.contiguous() for k, v in out.items()}
