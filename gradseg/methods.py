"""The three training methods: which cache arrays they read and how their loss is formed.

- ``gradtrack``: final head on ``pseudo``; decoder-stage Track Attention on the track ``maps``.
- ``gazesup``: GazeMedSeg recipe: ``heatmap`` thresholded at each level (0.5, 0.3), one head per
  level, cross-level consistency; the prediction is the mean of the level logits.
- ``full``: final head on the ground-truth ``mask`` (upper bound). Only this method reads masks
  for training.
"""

from __future__ import annotations

import torch

from gradseg.losses import attention_loss, consistency_loss, seg_loss

METHODS = ("gradtrack", "gazesup", "full")
#: Cache arrays each method trains on (besides ``image``).
TRAIN_FIELDS = {"gradtrack": ("maps", "pseudo"), "gazesup": ("heatmap",), "full": ("mask",)}
#: Map-to-stage orders: stage k (coarsest first) <- cache map level.
MAP_ORDERS = ("whole-first", "tail-first")


def stage_order(levels: int, map_order: str) -> list[int]:
    """Cache map index that supervises each decoder stage, coarsest stage first.

    ``whole-first``: coarsest stage <- whole track (index 0) ... finest stage <- tail (L-1),
    so spatial detail and target specificity grow together. ``tail-first`` is the reverse.
    """
    if map_order not in MAP_ORDERS:
        raise ValueError(f"map order must be one of {MAP_ORDERS}, got {map_order!r}")
    order = list(range(levels))
    return order if map_order == "whole-first" else order[::-1]


def compute_loss(config: dict, out: dict, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss of one batch and its parts (for logging).

    Parameters
    ----------
    config : dict
        Run configuration: ``method``, ``levels``, ``map_order``, ``att_weight``,
        ``seg_weight``, ``thresholds``, ``consistency_weight``.
    out : dict
        Model outputs (``logits``, ``attention``).
    batch : dict of Tensor
        Fields from :class:`gradseg.cache.CacheDataset`, on the model's device.
    """
    method = config["method"]
    logits = out["logits"]
    parts: dict[str, torch.Tensor] = {}
    if method == "gradtrack":
        parts["seg"] = config["seg_weight"] * seg_loss(logits, batch["pseudo"])
        order = stage_order(config["levels"], config["map_order"])
        parts["att"] = config["att_weight"] * attention_loss(out["attention"], batch["maps"], order)
    elif method == "gazesup":
        heat = batch["heatmap"]
        segs = [seg_loss(logits[:, i: i + 1], (heat >= t).float())
                for i, t in enumerate(config["thresholds"])]
        parts["seg"] = config["seg_weight"] * torch.stack(segs).mean()
        parts["cons"] = config["consistency_weight"] * consistency_loss(logits)
    elif method == "full":
        parts["seg"] = config["seg_weight"] * seg_loss(logits, batch["mask"])
    else:
        raise ValueError(f"unknown method {method!r}")
    total = sum(parts.values())
    return total, {k: float(v.detach()) for k, v in parts.items()}
