"""FGI networks: text fusion at any width/length/size, teacher and student shapes, the pair."""

import pytest
import torch

from gradseg.methods.fgi.config import FGIConfig
from gradseg.methods.fgi.method import build_fgi
from gradseg.methods.fgi.step import fgi_predict
from gradseg.models.fgi import FGIPair
from gradseg.models.fusion import TextFusion, head_count
from gradseg.models.unet import UNet


@pytest.mark.parametrize("width", [16, 768])
@pytest.mark.parametrize("tokens", [1, 7])
def test_fusion_any_width_and_length(width, tokens):
    torch.manual_seed(0)
    fus = TextFusion(32, width, heads=8).eval()
    f = torch.randn(3, 32, 6, 10)
    text = torch.randn(3, tokens, width)
    out = fus(f, text)
    assert out.shape == f.shape and torch.isfinite(out).all()
    # LayerNorm over channels: every token has mean 0 and variance 1 (before the affine).
    assert torch.allclose(out.mean(1), torch.zeros(3, 6, 10), atol=1e-5)
    # The text matters.
    assert not torch.allclose(out, fus(f, torch.randn(3, tokens, width)))


@pytest.mark.parametrize("width", [16, 768])
def test_fusion_padded_batch_equals_each_sample_alone(width):
    torch.manual_seed(1)
    fus = TextFusion(16, width, heads=4).eval()
    f = torch.randn(2, 16, 5, 5)
    a, b = torch.randn(1, 7, width), torch.randn(1, 3, width)
    text = torch.cat([a, torch.cat([b, torch.randn(1, 4, width)], 1)])  # b padded with junk
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[1, 3:] = True
    both = fus(f, text, pad)
    assert torch.allclose(both[0], fus(f[:1], a)[0], atol=1e-5)
    assert torch.allclose(both[1], fus(f[1:], b)[0], atol=1e-5)
    # Without the mask the junk tokens would change the result.
    assert not torch.allclose(fus(f, text)[1], both[1], atol=1e-4)


def test_fusion_positional_embedding_at_any_size():
    fus = TextFusion(8, 4, pos_grid=16)
    assert fus.position(16, 16) is fus.pos
    for h, w in [(1, 1), (7, 3), (56, 56), (112, 90)]:
        assert fus.position(h, w).shape == (1, 8, h, w)
        assert fus(torch.randn(1, 8, h, w), torch.randn(1, 2, 4)).shape == (1, 8, h, w)


def test_head_count_divides_channels():
    assert head_count(64, 8) == 8 and head_count(12, 8) == 6 and head_count(7, 8) == 7
    assert head_count(10, 8) == 5 and head_count(3, 2) == 1


@pytest.mark.parametrize("size", [64, 96])
@pytest.mark.parametrize("levels", [2, 3, 4, 5])
@pytest.mark.parametrize("method", ["fgi", "gradtrack+fgi"])
def test_teacher_and_student_shapes(size, levels, method):
    if size % 2**levels:
        pytest.skip("size not divisible by 2**levels")
    torch.manual_seed(0)
    text_dim = 16 if levels % 2 else None  # text and image-only teachers both covered
    cfg = FGIConfig(method=method, levels=levels, base_channels=2, text_dim=text_dim)
    pair = build_fgi(cfg)
    x = torch.rand(2, 3, size, size)
    text = None if text_dim is None else torch.randn(2, 5, text_dim)
    t = pair.teacher(x, text)
    s = pair.student(x)
    t_ch = pair.teacher.net.channels
    assert pair.student.net.channels == [c // 2 for c in t_ch]
    for out in (t, s):
        assert out["logits"].shape == (2, 1, size, size)
        assert len(out["features"]) == levels
        for k, f in enumerate(out["features"], start=1):
            assert f.shape == (2, t_ch[k], size // 2**k, size // 2**k)
        att = out["attention"]
        assert len(att) == (levels if method == "gradtrack+fgi" else 0)
        for k, a in enumerate(att):
            side = size // 2 ** (levels - k - 1)
            assert a.shape == (2, 1, side, side)


def test_group_norm_option_and_checkpoint_keys():
    net = UNet(depth=2, base_channels=4, norm="group")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    # Same layout as the BatchNorm U-Net: only the running statistics are absent.
    bn_keys = {k for k in UNet(depth=2, base_channels=4).state_dict()
               if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    assert set(net.state_dict()) == bn_keys
    pair = build_fgi(FGIConfig(levels=2, base_channels=2, text_dim=8))
    prefixes = {k.split(".")[0] for k in pair.state_dict()}
    assert prefixes == {"teacher", "student"}


def test_teacher_text_errors():
    with_text = build_fgi(FGIConfig(levels=2, base_channels=2, text_dim=8)).teacher
    image_only = build_fgi(FGIConfig(levels=2, base_channels=2)).teacher
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="trained with text"):
        with_text(x)
    with pytest.raises(ValueError, match="width 9"):
        with_text(x, torch.randn(1, 2, 9))
    with pytest.raises(ValueError, match="without text"):
        image_only(x, torch.randn(1, 2, 8))
    assert image_only.fusion is None and with_text.fusion is not None


def test_pair_inference_modes():
    torch.manual_seed(0)
    pair: FGIPair = build_fgi(FGIConfig(levels=2, base_channels=2, text_dim=8)).eval()
    x = torch.rand(2, 3, 16, 16)
    text = torch.randn(2, 3, 8)
    s = fgi_predict(pair, x)
    t = fgi_predict(pair, x, text, which="teacher")
    e = fgi_predict(pair, x, text, which="ensemble")
    assert torch.equal(s, pair.student(x)["logits"])
    assert torch.equal(t, pair.teacher(x, text)["logits"])
    assert torch.allclose(e, (s + t) / 2)
    assert pair.infer == "student" and torch.equal(pair(x)["logits"], s)
    with pytest.raises(ValueError, match="trained with text"):
        fgi_predict(pair, x, which="teacher")


def test_bf16_autocast_forward_on_cpu():
    pair = build_fgi(FGIConfig(levels=2, base_channels=2, text_dim=8))
    x = torch.rand(2, 3, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        t = pair.teacher(x, torch.randn(2, 3, 8))
        s = pair.student(x)
    assert t["logits"].dtype == torch.bfloat16 and torch.isfinite(t["logits"].float()).all()
    assert torch.isfinite(s["logits"].float()).all()


@pytest.mark.slow
def test_compiled_student_matches_eager():
    torch.manual_seed(0)
    pair = build_fgi(FGIConfig(levels=2, base_channels=2)).eval()
    x = torch.rand(2, 3, 32, 32)
    compiled = torch.compile(pair.student)
    with torch.no_grad():
        got = compiled(x, features=False)["logits"]
        want = pair.student(x, features=False)["logits"]
    assert torch.allclose(got, want, atol=1e-4)
