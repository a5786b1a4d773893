"""``full``: the fully supervised upper bound, trained on the ground-truth ``mask``.

The only method that reads masks for training; images without a mask are left out.
"""

from __future__ import annotations

from gradseg.losses import seg_loss
from gradseg.methods.base import SingleNetwork, total
from gradseg.models.unet import UNet


class Full(SingleNetwork):
    """seg_weight x seg(final, mask)."""

    name = "full"
    uses_masks = True

    def fields(self):
        return ("mask",)

    def build(self):
        c = self.config
        return UNet(depth=int(c["levels"]), base_channels=int(c["base_channels"]),
                    attention=False, heads=1, norm=c.get("norm", "batch"))

    def objective(self, out, batch):
        return total({"seg": self.config["seg_weight"] * seg_loss(out["logits"], batch["mask"])})
