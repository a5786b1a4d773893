"""Loss terms: segmentation (BCE + soft Dice), attention supervision and cross-level consistency."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per sample, averaged; ``logits`` and ``target`` are (B, 1, H, W)."""
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    return (1 - (2 * inter + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


def seg_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice against a 0/1 target of the same shape."""
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, target) + soft_dice_loss(logits, target)


def pool_to(target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Area-average a (B, C, H, W) map down to ``size`` (the stage's resolution)."""
    if tuple(target.shape[-2:]) == tuple(size):
        return target
    return F.adaptive_avg_pool2d(target, size)


def attention_loss(att_logits: list[torch.Tensor], maps: torch.Tensor,
                   order: list[int]) -> torch.Tensor:
    """Mean BCE of each stage's attention against its (soft, [0, 1]) track map.

    Parameters
    ----------
    att_logits : list of Tensor (B, 1, h_k, w_k)
        Attention logits of decoder stages k = 1..L, coarsest first.
    maps : Tensor (B, L, H, W)
        Track maps, cache order (index 0 = whole track).
    order : list of int
        ``order[k]`` = map index supervising stage k.
    """
    total = maps.new_zeros(())
    for k, a in enumerate(att_logits):
        m = pool_to(maps[:, order[k]: order[k] + 1], a.shape[-2:])
        total = total + F.binary_cross_entropy_with_logits(a.float(), m)
    return total / max(1, len(att_logits))


def consistency_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-level consistency: mean squared gap between each head's probability and their mean.

    ``logits`` is (B, K, H, W) with one channel per threshold level.
    """
    p = torch.sigmoid(logits.float())
    return ((p - p.mean(dim=1, keepdim=True)) ** 2).mean()
