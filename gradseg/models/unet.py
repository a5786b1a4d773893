"""U-Net with Track Attention on its decoder stages.

Decoder stage k (k = 1..L, coarsest first) produces features F_k; Track Attention predicts a
one-channel map A_k = sigmoid(conv(F_k)) and refines the features F_k' = F_k * (1 + A_k), so
attention can only amplify features, never erase them. The same backbone without attention
(and with several heads for ``gazesup``) serves the baselines, so the methods differ only in
their supervision.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


#: Normalisation layers a :class:`UNet` can use.
NORMS = ("batch", "group")
#: Groups of GroupNorm (FGI's U-Nets use 4), reduced to a divisor of the channel count.
GROUPS = 4


def norm_layer(kind: str, channels: int) -> nn.Module:
    """``batch``: BatchNorm2d; ``group``: GroupNorm with gcd(4, channels) groups."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(math.gcd(GROUPS, channels), channels)
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


def _block(cin: int, cout: int, norm: str = "batch") -> nn.Sequential:
    # The Sequential layout (and so the state-dict keys) is the same for every norm.
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), norm_layer(norm, cout), nn.ReLU(True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), norm_layer(norm, cout), nn.ReLU(True),
    )


class TrackAttention(nn.Module):
    """A_k = sigmoid(conv3x3(F_k)); returns (F_k * (1 + A_k), logits of A_k).

    Parameters
    ----------
    channels : int
        Channels of F_k.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logit = self.conv(f)
        return f * (1 + torch.sigmoid(logit)), logit


class UNet(nn.Module):
    """U-Net with ``depth`` down/up-sampling stages and optional Track Attention.

    Parameters
    ----------
    depth : int
        Number of decoder stages (= number of track-map levels L for ``gradtrack``); the input
        side must be divisible by ``2**depth``.
    base_channels : int
        Channels of the full-resolution stage; doubled per level down, capped at 16x.
    attention : bool
        Add Track Attention to every decoder stage.
    heads : int
        Number of 1x1 output heads (one per threshold level for ``gazesup``).
    norm : {'batch', 'group'}
        Normalisation in the convolution blocks (``group``: FGI's GroupNorm, 4 groups).

    Notes
    -----
    ``forward`` returns a dict: ``logits`` (B, heads, H, W) and ``attention``, the list of the
    L attention logits (B, 1, H / 2**(L-k), W / 2**(L-k)) for k = 1..L, coarsest first
    (empty without attention). ``forward(x)`` is ``decode(encode(x))``; callers that need the
    encoder features, or want to change the skip connections (FGI's text fusion), call the two
    halves themselves. ``channels[i]`` is the width of encoder level i (level 0 = full size).
    """

    def __init__(self, depth: int = 4, base_channels: int = 32, attention: bool = True,
                 heads: int = 1, norm: str = "batch"):
        super().__init__()
        if depth < 1:
            raise ValueError("depth must be >= 1")
        ch = [base_channels * min(2**i, 16) for i in range(depth + 1)]
        self.depth = depth
        self.channels = ch
        self.stem = _block(3, ch[0], norm)
        self.down = nn.ModuleList(_block(ch[i], ch[i + 1], norm) for i in range(depth))
        # Decoder stage k (coarsest first) goes from level depth-k+1 up to level depth-k.
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        self.att = nn.ModuleList()
        for k in range(depth):
            lo, hi = depth - k, depth - k - 1
            self.up.append(nn.ConvTranspose2d(ch[lo], ch[hi], 2, stride=2))
            self.dec.append(_block(2 * ch[hi], ch[hi], norm))
            if attention:
                self.att.append(TrackAttention(ch[hi]))
        self.head = nn.Conv2d(ch[0], heads, 1)
        # Inputs are RGB in [0, 1]; normalising inside the model keeps every caller consistent.
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """Run the network on a (B, 3, H, W) RGB batch in [0, 1]; see the class notes."""
        return self.decode(self.encode(x))

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder features of a (B, 3, H, W) batch in [0, 1]: depth + 1 tensors, level i of
        shape (B, channels[i], H / 2**i, W / 2**i); the last one is the bottleneck."""
        skips = [self.stem((x - self.mean) / self.std)]
        for down in self.down:
            skips.append(down(F.max_pool2d(skips[-1], 2)))
        return skips

    def decode(self, skips: list[torch.Tensor]) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """Decoder, Track Attention and head on the encoder features (see :meth:`encode`)."""
        f = skips[-1]
        att_logits = []
        for k in range(self.depth):
            f = self.up[k](f)
            f = self.dec[k](torch.cat([f, skips[self.depth - k - 1]], dim=1))
            if self.att:
                f, a = self.att[k](f)
                att_logits.append(a)
        return {"logits": self.head(f), "attention": att_logits}


def predict_logits(out: dict) -> torch.Tensor:
    """One logit map (B, 1, H, W) from the model outputs: the mean of the head logits."""
    logits = out["logits"]
    return logits.mean(dim=1, keepdim=True) if logits.shape[1] > 1 else logits
