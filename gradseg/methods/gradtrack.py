"""``gradtrack`` (the default): Track Attention U-Net supervised by the track maps.

The final head learns the render's ``pseudo`` mask; the attention of decoder stage k (coarsest
first) learns track map ``stage_order(L, map_order)[k]``, pooled to the stage's resolution.

Two ablations are settings of this method: ``att_weight`` 0 drops the decoder's track-map
supervision (the attention blocks stay, unsupervised), and ``seg_target`` ``heatmap`` trains
the final head on GazeMedSeg's heatmap pseudo-mask (the heatmap >= the first of
``thresholds``, 0.5 by default) instead of the render's pseudo-mask.
"""

from __future__ import annotations

from gradseg.losses import attention_loss, seg_loss
from gradseg.methods.base import SingleNetwork, total
from gradseg.models.unet import UNet
from gradseg.settings import MAP_ORDERS  # map-to-stage orders: stage k <- cache map level


def stage_order(levels: int, map_order: str) -> list[int]:
    """Cache map index that supervises each decoder stage, coarsest stage first.

    ``whole-first``: coarsest stage <- whole track (index 0) ... finest stage <- tail (L-1),
    so spatial detail and target specificity grow together. ``tail-first`` is the reverse.

    Examples
    --------
    >>> stage_order(3, "whole-first"), stage_order(3, "tail-first")
    ([0, 1, 2], [2, 1, 0])
    """
    if map_order not in MAP_ORDERS:
        raise ValueError(f"map order must be one of {MAP_ORDERS}, got {map_order!r}")
    order = list(range(levels))
    return order if map_order == "whole-first" else order[::-1]


class GradTrack(SingleNetwork):
    """seg_weight x seg(final, pseudo) + att_weight x mean_k BCE(A_k, M_order[k])."""

    name = "gradtrack"

    def fields(self):
        return ("maps", self.seg_field())

    def seg_field(self) -> str:
        """The cache array the final head learns from: ``pseudo`` or ``heatmap``."""
        return self.config.get("seg_target", "pseudo")

    def seg_mask(self, batch: dict):
        """The final head's 0/1 target (B, 1, H, W)."""
        if self.seg_field() == "heatmap":
            return (batch["heatmap"] >= self.config["thresholds"][0]).float()
        return batch["pseudo"]

    def build(self):
        c = self.config
        return UNet(depth=int(c["levels"]), base_channels=int(c["base_channels"]),
                    attention=True, heads=1, norm=c.get("norm", "batch"))

    def objective(self, out, batch):
        c = self.config
        order = stage_order(c["levels"], c["map_order"])
        return total({
            "seg": c["seg_weight"] * seg_loss(out["logits"], self.seg_mask(batch)),
            "att": c["att_weight"] * attention_loss(out["attention"], batch["maps"], order),
        })
