"""``gazesup``: the GazeMedSeg recipe (MICCAI 2024) as a baseline.

The ``heatmap`` thresholded at each level (0.5, 0.3) supervises one output head each, with a
cross-level consistency term; the prediction is the mean of the head logits
(:func:`gradseg.models.unet.predict_logits`).
"""

from __future__ import annotations

import torch

from gradseg.losses import consistency_loss, seg_loss
from gradseg.methods.base import SingleNetwork, total
from gradseg.models.unet import UNet


class GazeSup(SingleNetwork):
    """seg_weight x mean_i seg(head_i, heatmap >= t_i) + consistency_weight x consistency."""

    name = "gazesup"

    def fields(self):
        return ("heatmap",)

    def build(self):
        c = self.config
        return UNet(depth=int(c["levels"]), base_channels=int(c["base_channels"]),
                    attention=False, heads=len(c.get("thresholds", [0.5, 0.3])),
                    norm=c.get("norm", "batch"))

    def objective(self, out, batch):
        c = self.config
        logits, heat = out["logits"], batch["heatmap"]
        segs = [seg_loss(logits[:, i: i + 1], (heat >= t).float())
                for i, t in enumerate(c["thresholds"])]
        return total({"seg": c["seg_weight"] * torch.stack(segs).mean(),
                      "cons": c["consistency_weight"] * consistency_loss(logits)})
