"""Input perturbations of FGI's cross supervision: uniform noise and CutMix.

Both run on the tensors' device with an optional generator and no host synchronisation: the
CutMix area ratio lambda ~ Beta(a, a) is drawn as the a-th smallest of 2a - 1 uniforms (exact for
integer a; FGI uses a = 4), so even lambda never leaves the device.
"""

from __future__ import annotations

import torch

from gradseg.models.unet import IMAGENET_STD


def input_noise(image: torch.Tensor, amplitude: float,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """``image`` plus uniform noise of half-width ``amplitude`` in normalised-image units.

    FGI adds U(-0.2, 0.2) to the ImageNet-normalised image; gradseg's networks take [0, 1]
    images and normalise inside, so the noise is scaled by the ImageNet std per channel.
    """
    u = torch.rand(image.shape, generator=generator, device=image.device, dtype=image.dtype)
    std = torch.tensor(IMAGENET_STD, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return image + (2 * u - 1) * amplitude * std


def sample_beta(a: int, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """One draw of Beta(a, a) as a 0-d tensor: the a-th order statistic of 2a - 1 uniforms."""
    u = torch.rand(2 * a - 1, generator=generator, device=device)
    return u.sort().values[a - 1]


def cutmix_box(lam: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, h: int,
               w: int) -> torch.Tensor:
    """CutMix boxes (B, 1, H, W) bool around centres (cy, cx) (B,) for area ratio ``lam``.

    The box side is ``floor(side x sqrt(1 - lam))``, rounded down to even, centred on
    (cy, cx) and clipped to the image (FGI's ``rand_bbox``).

    Examples
    --------
    >>> box = cutmix_box(torch.tensor(0.75), torch.tensor([2]), torch.tensor([2]), 4, 4)
    >>> box[0, 0].int().tolist()
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    """
    cut = torch.sqrt(1.0 - lam.float())
    half_h = torch.floor(h * cut).long() // 2
    half_w = torch.floor(w * cut).long() // 2
    y0, y1 = (cy - half_h).clamp(0, h), (cy + half_h).clamp(0, h)
    x0, x1 = (cx - half_w).clamp(0, w), (cx + half_w).clamp(0, w)
    rows = torch.arange(h, device=cy.device)
    cols = torch.arange(w, device=cx.device)
    in_y = (rows >= y0[:, None]) & (rows < y1[:, None])  # (B, H)
    in_x = (cols >= x0[:, None]) & (cols < x1[:, None])  # (B, W)
    return (in_y[:, :, None] & in_x[:, None, :])[:, None]


def apply_cutmix(tensors: list[torch.Tensor], box: torch.Tensor,
                 perm: torch.Tensor) -> list[torch.Tensor]:
    """Inside each sample's box, take the values of sample ``perm[i]``; outside keep sample i.

    Parameters
    ----------
    tensors : list of Tensor (B, C, H, W)
        Mixed with the same boxes and permutation (e.g. image and target logits).
    box : Tensor (B, 1, H, W) bool
    perm : Tensor (B,) int64
    """
    return [torch.where(box, t[perm], t) for t in tensors]


def random_cutmix(tensors: list[torch.Tensor], beta: int = 4,
                  generator: torch.Generator | None = None
                  ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """CutMix a batch with a random permutation of itself.

    One lambda ~ Beta(beta, beta) per call (as FGI), one box centre per sample, uniform over the
    image (FGI draws centres from [side / 8, side), an asymmetry not kept here).

    Returns
    -------
    mixed : list of Tensor, box : Tensor (B, 1, H, W) bool, perm : Tensor (B,)
    """
    ref = tensors[0]
    b, h, w = ref.shape[0], ref.shape[-2], ref.shape[-1]
    dev = ref.device
    lam = sample_beta(beta, generator, dev)
    perm = torch.randperm(b, generator=generator, device=dev)
    cy = torch.randint(0, h, (b,), generator=generator, device=dev)
    cx = torch.randint(0, w, (b,), generator=generator, device=dev)
    box = cutmix_box(lam, cy, cx, h, w)
    return apply_cutmix(tensors, box, perm), box, perm
