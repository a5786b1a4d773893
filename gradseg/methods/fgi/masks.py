"""The strict and loose pseudo-masks FGI trains on, from the cache fields the trainer loads.

Sources
-------
``heatmap`` (FGI's own, the default for ``fgi``): the GazeMedSeg heatmap thresholded at each of
``thresholds`` (>= 2 levels; FGI's 0.5 and 0.3, ``heatmap >= t`` as gradseg's gazesup does).

``tracks`` (the default for ``gradtrack+fgi``): two masks from the track-map cache,

- ``pseudo``, the render's pseudo-mask: the tuned mask (mean track map > 0.7 by default, grown
  along image edges by the watershed), the best single mask the cache holds; and
- ``pseudo | (mean(maps) > track_loose)``: the same mask plus every pixel whose mean over the
  L track maps exceeds a lower level (0.3). Because the mean over levels rewards pixels near the
  tail of the track, which most levels keep, this adds the neighbourhood of the part of the track
  the annotator spent longest on, the way FGI's 0.3 heatmap level loosens its 0.5 level. The
  union keeps loose >= strict pixel by pixel, so DARM's uncertain region is exactly the band the
  two sources disagree about, never pixels the tuned mask has but the loose one lacks.

In both cases, per sample, the mask with the smaller area is **strict** and the one with the
larger area **loose** (FGI's rule; of equal areas the first is strict, the last loose). With more
than two heatmap levels, the smallest-area and the largest-area masks are used.
"""

from __future__ import annotations

import torch

from gradseg.methods.fgi.config import FGIConfig

#: Cache fields each source reads (besides ``image``).
SOURCE_FIELDS = {"heatmap": ("heatmap",), "tracks": ("maps", "pseudo")}


def fgi_fields(cfg: FGIConfig) -> tuple[str, ...]:
    """Cache arrays a run of ``cfg`` trains on (gradtrack+fgi also needs the track maps)."""
    out = list(SOURCE_FIELDS[cfg.mask_source])
    if cfg.attention and "maps" not in out:
        out.append("maps")
    return tuple(out)


def candidate_masks(batch: dict, cfg: FGIConfig) -> torch.Tensor:
    """The K >= 2 candidate 0/1 masks (B, K, H, W) of the configured source, float."""
    if cfg.mask_source == "heatmap":
        heat = batch["heatmap"]
        return torch.cat([(heat >= t).to(heat.dtype) for t in cfg.thresholds], dim=1)
    pseudo = batch["pseudo"]
    wide = (batch["maps"].mean(dim=1, keepdim=True) > cfg.track_loose).to(pseudo.dtype)
    return torch.cat([pseudo, torch.maximum(pseudo, wide)], dim=1)


def order_by_area(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, the smallest-area (strict) and largest-area (loose) of K masks.

    Parameters
    ----------
    masks : Tensor (B, K, H, W)
        0/1 masks.

    Returns
    -------
    strict, loose : Tensor (B, 1, H, W)

    Examples
    --------
    >>> a = torch.zeros(1, 2, 2, 2); a[0, 0] = 1; a[0, 1, 0, 0] = 1
    >>> s, lo = order_by_area(a)
    >>> int(s.sum()), int(lo.sum())
    (1, 4)
    """
    area = masks.flatten(2).sum(-1)  # (B, K)
    k = area.shape[1]
    # Equal areas: strict is the first such mask, loose the last, so two masks of equal area
    # stay (first, second) as FGI leaves them (it swaps only when the first is larger).
    last_max = k - 1 - area.flip(1).argmax(1)
    idx = torch.stack([area.argmin(1), last_max], dim=1)  # (B, 2)
    h, w = masks.shape[-2:]
    picked = masks.gather(1, idx[:, :, None, None].expand(-1, -1, h, w))
    return picked[:, :1], picked[:, 1:]


def strict_loose(batch: dict, cfg: FGIConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The strict and loose pseudo-masks (B, 1, H, W) of a batch; see the module notes."""
    return order_by_area(candidate_masks(batch, cfg))
