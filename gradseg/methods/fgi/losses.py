"""FGI's loss terms: supervised BCE, confidence-filtered cross supervision, feature distillation
and the ramp-up weight.

gradseg's networks output one logit z per pixel where FGI's output two channels (z0, z1) read
through a 2-way softmax; a 2-way softmax is sigmoid(z1 - z0), so one logit carries the same
probability. (FGI supervises z1 alone with BCE and z1 - z0 with the softmax terms; with one
logit both act on the same quantity.) All losses compute in float32 whatever the autocast dtype.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from gradseg.losses import seg_loss


def supervised_loss(logits: torch.Tensor, target: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """BCE (FGI) or BCE + soft Dice (gradseg's ``seg_loss``) against a 0/1 (B, 1, H, W) mask."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())
    if kind == "bce+dice":
        return seg_loss(logits, target.float())
    raise ValueError(f"supervised loss must be 'bce' or 'bce+dice', got {kind!r}")


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # Mean over the selected pixels, 0 when none: no data-dependent shape, so no host sync.
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum().clamp(min=1.0)


def confidence_cps(logits: torch.Tensor, target_logits: torch.Tensor, pos: float = 0.8,
                   neg: float = 0.2, eps: float = 1e-6) -> torch.Tensor:
    """Confidence-filtered cross pseudo supervision (FGI's ``crc_loss`` for two classes).

    With q = sigmoid(target) the other network's foreground probability, c = max(q, 1 - q) its
    confidence and y = [q > 0.5] its hard label (ties go to background, as ``argmax`` does):

    - positive term: mean over pixels with c >= pos of c x BCE(logits, y), i.e. pixels with
      q >= 0.8 learn foreground and pixels with q <= 0.2 background, weighted by confidence;
    - negative (complementary-label) term: mean over pixels with 1 - c < neg of
      (1 - c) x -log(max(p_y, eps)), p_y the probability ``logits`` give to y. For two classes
      "not the other class" is y itself, so this is the same cross-entropy with the small weight
      1 - c, kept because FGI's loss has it.

    Each mean is 0 when no pixel qualifies. ``target_logits`` is used without gradient.

    Parameters
    ----------
    logits, target_logits : Tensor (B, 1, H, W)
    pos, neg : float
        FGI's 0.8 and 0.2.
    eps : float
        FGI's clamp of the complementary probability.
    """
    z = logits.float()
    q = torch.sigmoid(target_logits.detach().float())
    conf = torch.maximum(q, 1 - q)
    y = (q > 0.5).float()
    ce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    positive = _masked_mean(ce * conf, conf >= pos)
    p_y = torch.where(y > 0, torch.sigmoid(z), torch.sigmoid(-z))
    negative = _masked_mean(-torch.log(p_y.clamp(eps, 1.0)) * (1 - conf), (1 - conf) < neg)
    return positive + negative


def feature_distillation(student: list[torch.Tensor], teacher: list[torch.Tensor],
                         eps: float = 1e-6) -> torch.Tensor:
    """Mean over scales of mean(1 - cosine similarity over channels), teacher without gradient.

    ``student[k]`` and ``teacher[k]`` are (B, C_k, h_k, w_k) (the student already lifted to the
    teacher's widths). FGI scales this by 0.5 (``feat_beta``).
    """
    if len(student) != len(teacher) or not student:
        raise ValueError("feature distillation needs the same number (>= 1) of scales")
    terms = [(1 - F.cosine_similarity(s.float(), t.detach().float(), dim=1, eps=eps)).mean()
             for s, t in zip(student, teacher, strict=True)]
    return torch.stack(terms).mean()


def rampup(t: int, length: int, gain: float = 5.0) -> float:
    """FGI's ramp-up weight: exp(-gain (1 - t / length)^2) for 0 < t <= length, 1 after, 0 at
    t <= 0; ``t`` counts iterations from 1 (FGI increments its counter before the step)."""
    if t <= 0:
        return 0.0
    if length <= 0 or t >= length:
        return 1.0
    return math.exp(-gain * (1.0 - t / length) ** 2)
