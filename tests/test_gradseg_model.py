"""Model and loss shapes for every method and L = 1..5."""

import pytest
import torch

from gradseg.methods import compute_loss, stage_order
from gradseg.model import build_model, predict_logits


def _config(method, levels):
    return {"method": method, "levels": levels, "base_channels": 4, "thresholds": [0.5, 0.3],
            "map_order": "whole-first", "att_weight": 0.5, "seg_weight": 1.0,
            "consistency_weight": 1.0}


@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("method", ["gradtrack", "gazesup", "full"])
def test_shapes_and_loss(method, levels):
    torch.manual_seed(0)
    cfg = _config(method, levels)
    model = build_model(cfg)
    s = 32
    x = torch.rand(2, 3, s, s)
    out = model(x)
    heads = 2 if method == "gazesup" else 1
    assert out["logits"].shape == (2, heads, s, s)
    assert predict_logits(out).shape == (2, 1, s, s)
    if method == "gradtrack":
        assert len(out["attention"]) == levels
        for k, a in enumerate(out["attention"]):
            side = s // 2 ** (levels - k - 1)  # stage k (coarsest first)
            assert a.shape == (2, 1, side, side)
    else:
        assert out["attention"] == []
    batch = {"maps": torch.rand(2, levels, s, s), "pseudo": (torch.rand(2, 1, s, s) > 0.5).float(),
             "heatmap": torch.rand(2, 1, s, s), "mask": (torch.rand(2, 1, s, s) > 0.5).float()}
    loss, parts = compute_loss(cfg, out, batch)
    loss.backward()
    assert torch.isfinite(loss) and loss.ndim == 0
    assert ("att" in parts) == (method == "gradtrack")
    assert ("cons" in parts) == (method == "gazesup")


def test_stage_order():
    assert stage_order(4, "whole-first") == [0, 1, 2, 3]
    assert stage_order(4, "tail-first") == [3, 2, 1, 0]


def test_attention_only_amplifies():
    from gradseg.model import TrackAttention

    att = TrackAttention(3)
    f = torch.rand(1, 3, 8, 8)
    g, logit = att(f)
    ratio = g / f
    assert torch.allclose(ratio, 1 + torch.sigmoid(logit).expand_as(f), atol=1e-5)
