"""The published training protocol of the field, as one preset of :class:`TrainConfig` settings.

Every published number on Kvasir-SEG with GazeMedSeg gaze (GazeSup 77.80, FGI 80.78,
GradTrack 81.01, the fully supervised U-Net 82.12 Dice) comes from one protocol: 224 x 224
inputs, a U-Net of 64 to 1024 channels with GroupNorm, 15,000 iterations of batch 8, random
flips, SGD (Nesterov, weight decay 4e-4) with the learning rate going from 1e-2 to 1e-4 on a
cosine, and Dice at each test image's own resolution (the logits resized to the mask before
thresholding: ``gradseg eval --images --masks``).

``gradseg train --protocol paper`` applies :data:`PAPER` to every setting not given on the
command line; ``pipelines/paper.py`` runs every method under it. This module imports nothing
heavy.
"""

from __future__ import annotations

#: The published protocol, as TrainConfig settings. ``base_channels`` 64 with the cache's 4
#: levels gives the 64-128-256-512-1024 U-Net (widths double per level, capped at 16x).
PAPER: dict[str, object] = {
    "size": 224,
    "base_channels": 64,
    "norm": "group",
    "iterations": 15_000,
    "batch_size": 8,
    "augmentation": "flips",
    "optimizer": "sgd",
    "lr": 1e-2,
    "lr_min": 1e-4,
    "weight_decay": 4e-4,
    "warmup": 0,
    "grad_clip": 0.0,
}

#: Presets by their ``--protocol`` name.
PROTOCOLS: dict[str, dict[str, object]] = {"paper": PAPER}


def apply_protocol(name: str | None, settings: dict, given: set[str]) -> dict:
    """``settings`` with the preset ``name`` filled in for every key not in ``given``.

    Examples
    --------
    >>> s = apply_protocol("paper", {"lr": 1e-3, "size": 128}, given={"size"})
    >>> s["lr"], s["size"], s["optimizer"]
    (0.01, 128, 'sgd')
    """
    if name is None:
        return dict(settings)
    preset = PROTOCOLS[name]
    return {**settings, **{k: v for k, v in preset.items() if k not in given}}
