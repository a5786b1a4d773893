"""FGI's text fusion and projection blocks, at any input size and any text width or length.

Text fusion at one encoder scale (FGI): the feature map's pixels become tokens, a positional
embedding is added, the tokens cross-attend (multi-head) to ``Linear(width -> C)(text)``, and the
result is ``LayerNorm(tokens + attention)`` back in map layout. FGI's positional embedding is a
learned table of exactly (H/2^k) x (W/2^k) tokens, so any input but 224 px crashes; here it is a
learned ``pos_grid`` x ``pos_grid`` grid (same init, truncated normal std 0.02) resampled
bilinearly to the feature map's size, so any size works and 224 px is not special.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gradseg.models.unet import norm_layer


def head_count(channels: int, wanted: int) -> int:
    """Largest divisor of ``channels`` that is <= ``wanted`` (attention needs C % heads == 0)."""
    return max(h for h in range(1, min(wanted, channels) + 1) if channels % h == 0)


class TextFusion(nn.Module):
    """Image tokens (+ positional embedding) cross-attending to projected text tokens.

    Parameters
    ----------
    channels : int
        Channels C of the feature map.
    text_dim : int
        Width D of the text token embeddings.
    heads : int
        Wanted attention heads (FGI: 8), reduced to a divisor of C.
    pos_grid : int
        Side of the learned positional-embedding grid.

    Notes
    -----
    ``forward(f, text, pad)``: ``f`` (B, C, h, w), ``text`` (B, T, D), ``pad`` (B, T) bool, True
    at padding tokens (or None); returns (B, C, h, w). Each sample needs >= 1 real token.
    """

    def __init__(self, channels: int, text_dim: int, heads: int = 8, pos_grid: int = 16):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, channels, pos_grid, pos_grid))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.text_proj = nn.Linear(text_dim, channels)
        self.attn = nn.MultiheadAttention(channels, head_count(channels, heads), batch_first=True)
        self.norm = nn.LayerNorm(channels)

    def position(self, h: int, w: int) -> torch.Tensor:
        """Positional embedding (1, C, h, w) for an h x w feature map."""
        if self.pos.shape[-2:] == (h, w):
            return self.pos
        return F.interpolate(self.pos, size=(h, w), mode="bilinear", align_corners=False)

    def forward(self, f: torch.Tensor, text: torch.Tensor,
                pad: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = f.shape
        tokens = (f + self.position(h, w).to(f.dtype)).flatten(2).transpose(1, 2)  # (B, hw, C)
        kv = self.text_proj(text.to(self.text_proj.weight.dtype))
        att, _ = self.attn(tokens, kv, kv, key_padding_mask=pad, need_weights=False)
        fused = self.norm(tokens + att)
        return fused.transpose(1, 2).reshape(b, c, h, w)


class Projection(nn.Sequential):
    """FGI's projection block: 1x1 conv, norm, ReLU, 1x1 conv, norm (C -> C)."""

    def __init__(self, channels: int, norm: str = "batch"):
        super().__init__(nn.Conv2d(channels, channels, 1), norm_layer(norm, channels),
                         nn.ReLU(True), nn.Conv2d(channels, channels, 1),
                         norm_layer(norm, channels))


class Adapter(nn.Sequential):
    """FGI's student adapter: 1x1 conv to the teacher's width, norm, ReLU."""

    def __init__(self, cin: int, cout: int, norm: str = "batch"):
        super().__init__(nn.Conv2d(cin, cout, 1), norm_layer(norm, cout), nn.ReLU(True))
