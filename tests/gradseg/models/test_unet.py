"""The U-Net: output and attention shapes for L = 1..5, attention only amplifies."""

import pytest
import torch

from gradseg.models.unet import UNet, predict_logits


@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(("attention", "heads"), [(True, 1), (False, 2), (False, 1)])
def test_shapes(levels, attention, heads):
    torch.manual_seed(0)
    model = UNet(depth=levels, base_channels=4, attention=attention, heads=heads)
    s = 32
    out = model(torch.rand(2, 3, s, s))
    assert out["logits"].shape == (2, heads, s, s)
    assert predict_logits(out).shape == (2, 1, s, s)
    if attention:
        assert len(out["attention"]) == levels
        for k, a in enumerate(out["attention"]):
            side = s // 2 ** (levels - k - 1)  # stage k (coarsest first)
            assert a.shape == (2, 1, side, side)
    else:
        assert out["attention"] == []


def test_several_heads_predict_their_mean():
    out = {"logits": torch.tensor([[[[1.0]], [[3.0]]]]), "attention": []}
    assert predict_logits(out).item() == 2.0


def test_attention_only_amplifies():
    from gradseg.models.unet import TrackAttention

    att = TrackAttention(3)
    f = torch.rand(1, 3, 8, 8)
    g, logit = att(f)
    ratio = g / f
    assert torch.allclose(ratio, 1 + torch.sigmoid(logit).expand_as(f), atol=1e-5)


def test_forward_is_decode_of_encode():
    torch.manual_seed(1)
    model = UNet(depth=3, base_channels=4).eval()
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(model(x)["logits"], model.decode(model.encode(x))["logits"])
