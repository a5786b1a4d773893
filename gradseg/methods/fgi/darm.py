"""DARM: dynamic masking of the pixels where the strict and loose pseudo-masks disagree.

FGI's rule: uncertain pixels are those where strict and loose differ. Square blocks (side drawn
uniformly from 3..10 px) are placed centred on uncertain pixels taken in a random order until the
summed block area reaches 30 % of the uncertain-pixel count; inside the blocks the image is set to
a fill colour and the loose mask to 0. FGI runs this as a Python loop with a device-to-host copy
each step; here it is a fixed number of tensor operations, with no host synchronisation.

How "until the area reaches 30 %" is realised without a sync
-------------------------------------------------------------
1. A random order of the uncertain pixels: every pixel gets a uniform key, pixels that are not
   uncertain get -1, and ``topk`` takes the K largest keys per sample. K is fixed by the image
   shape alone (below), so no shape depends on the data. The first ``count`` picks of a sample
   are its uncertain pixels in uniformly random order (FGI shuffles them); picks with key -1 are
   not uncertain and are never used.
2. Each pick gets a side s (uniform integer in [min, max]); its block spans rows
   [cy - (s-1)//2, cy - (s-1)//2 + s) and the same for columns, clipped to the image.
3. A block is used when its pick is uncertain and the summed clipped area of the earlier picks is
   still below the target ``floor(ratio x count)`` (an exclusive cumulative sum per sample): the
   same blocks FGI's loop takes, stopping at the first block that reaches the target. Overlaps
   are counted twice, as in FGI, so the summed area S satisfies
   ``target <= S < target + max_side**2`` whenever the count is > 0 (tested).
4. The union of the used blocks is painted with a 2-D difference array (four ``scatter_add``
   entries per block, two cumulative sums), cost O(B K + B H W).

K: every block covers at least ``m`` pixels (the smallest block clipped at a corner), so
K = ceil(ratio x H W / m) picks always suffice; fewer uncertain pixels than K just leaves unused
picks. Differences from FGI's code: the target is per sample, not pooled over the batch (so a
sample's masking does not depend on its batch-mates), and a block of side s spans exactly s
pixels (FGI's spans 2 (s // 2) + 1, i.e. odd sides only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gradseg.models.unet import IMAGENET_MEAN


@dataclass
class DarmPlan:
    """Blocks chosen for a batch (K candidate blocks per sample, in the order they are taken).

    Attributes
    ----------
    centre : Tensor (B, K) int64
        Flat pixel index (y W + x) of each candidate's centre, in the random order.
    valid : Tensor (B, K) bool
        Whether the candidate's centre is uncertain (the first ``count`` candidates).
    y0, y1, x0, x1 : Tensor (B, K) int64
        Clipped block extents (half-open) in pixels.
    active : Tensor (B, K) bool
        Whether each block is used.
    area : Tensor (B,) int64
        Summed clipped area of the used blocks (overlaps counted twice).
    target : Tensor (B,) int64
        floor(ratio x uncertain-pixel count).
    """

    centre: torch.Tensor
    valid: torch.Tensor
    y0: torch.Tensor
    y1: torch.Tensor
    x0: torch.Tensor
    x1: torch.Tensor
    active: torch.Tensor
    area: torch.Tensor
    target: torch.Tensor


@dataclass
class DarmResult:
    """DARM's output: masked image (B, 3, H, W), masked loose mask (B, 1, H, W), the block union
    ``blocks`` (B, 1, H, W) bool, and the plan it came from."""

    image: torch.Tensor
    loose: torch.Tensor
    blocks: torch.Tensor
    plan: DarmPlan


def max_blocks(h: int, w: int, ratio: float, min_side: int) -> int:
    """Number K of candidate blocks per sample that always reaches the target (see notes)."""
    def clipped(n: int) -> int:  # smallest extent of a min_side block inside n pixels
        return max(1, min(min_side - (min_side - 1) // 2, (min_side - 1) // 2 + 1, n))

    return min(h * w, math.ceil(ratio * h * w / (clipped(h) * clipped(w))))


def plan_blocks(uncertain: torch.Tensor, ratio: float, block: tuple[int, int],
                generator: torch.Generator | None = None) -> DarmPlan:
    """Choose DARM blocks for a batch of uncertain-pixel masks, without a host sync.

    Parameters
    ----------
    uncertain : Tensor (B, 1, H, W) or (B, H, W), bool
        Where strict and loose disagree.
    ratio : float
        Target summed block area as a share of the uncertain-pixel count.
    block : (int, int)
        Smallest and largest block side in pixels.
    generator : torch.Generator, optional
        On the tensors' device; the global generator when omitted.
    """
    unc = uncertain.reshape(uncertain.shape[0], -1)
    b = unc.shape[0]
    h, w = uncertain.shape[-2:]
    dev = unc.device
    count = unc.sum(1)
    target = torch.floor(count.float() * ratio).long()
    k = max_blocks(h, w, ratio, block[0])
    keys = torch.rand(unc.shape, generator=generator, device=dev).masked_fill_(~unc, -1.0)
    val, idx = keys.topk(k, dim=1)
    valid = val >= 0
    side = torch.randint(block[0], block[1] + 1, (b, k), generator=generator, device=dev)
    half = (side - 1) // 2
    cy, cx = idx // w, idx % w
    y0, x0 = (cy - half).clamp(min=0), (cx - half).clamp(min=0)
    y1, x1 = (cy - half + side).clamp(max=h), (cx - half + side).clamp(max=w)
    area = (y1 - y0) * (x1 - x0) * valid
    before = area.cumsum(1) - area
    active = valid & (before < target[:, None])
    return DarmPlan(idx, valid, y0, y1, x0, x1, active, (area * active).sum(1), target)


def paint_blocks(plan: DarmPlan, h: int, w: int) -> torch.Tensor:
    """Union of the plan's active blocks as a (B, 1, H, W) bool mask (difference array)."""
    b = plan.active.shape[0]
    act = plan.active.to(torch.int32)
    diff = torch.zeros(b, (h + 1) * (w + 1), dtype=torch.int32, device=act.device)
    for ys, xs, sign in ((plan.y0, plan.x0, 1), (plan.y0, plan.x1, -1),
                         (plan.y1, plan.x0, -1), (plan.y1, plan.x1, 1)):
        diff.scatter_add_(1, ys * (w + 1) + xs, act * sign)
    cover = diff.view(b, h + 1, w + 1).cumsum(1).cumsum(2)[:, :h, :w]
    return (cover > 0)[:, None]


def fill_colour(image: torch.Tensor, fill: str) -> torch.Tensor:
    """(B or 1, 3, 1, 1) colour of masked pixels: ImageNet mean, or each image's mean."""
    if fill == "imagenet":
        return torch.tensor(IMAGENET_MEAN, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    if fill == "image":
        return image.mean(dim=(2, 3), keepdim=True)
    raise ValueError(f"DARM fill must be 'imagenet' or 'image', got {fill!r}")


def darm(image: torch.Tensor, strict: torch.Tensor, loose: torch.Tensor, ratio: float = 0.3,
         block: tuple[int, int] = (3, 10), fill: str = "imagenet",
         generator: torch.Generator | None = None) -> DarmResult:
    """Mask blocks of the strict/loose disagreement in the image and the loose mask.

    Parameters
    ----------
    image : Tensor (B, 3, H, W)
        RGB in [0, 1] (gradseg's networks normalise inside).
    strict, loose : Tensor (B, 1, H, W)
        0/1 pseudo-masks.
    ratio, block, fill, generator
        See :class:`gradseg.methods.fgi.config.FGIConfig` (``darm_*``) and :func:`plan_blocks`.

    Returns
    -------
    DarmResult
        Pixels outside ``blocks`` are unchanged in both the image and the loose mask.

    Examples
    --------
    >>> strict = torch.zeros(1, 1, 32, 32); loose = torch.ones(1, 1, 32, 32)
    >>> gen = torch.Generator().manual_seed(0)
    >>> r = darm(torch.rand(1, 3, 32, 32), strict, loose, generator=gen)
    >>> bool(r.plan.area[0] >= 307)   # 30 % of the 1024 uncertain pixels
    True
    """
    h, w = image.shape[-2:]
    plan = plan_blocks(strict != loose, ratio, block, generator)
    blocks = paint_blocks(plan, h, w)
    out = torch.where(blocks, fill_colour(image, fill), image)
    return DarmResult(out, loose.masked_fill(blocks, 0), blocks, plan)
