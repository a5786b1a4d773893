"""FGI's CutMix, input noise, confidence filter, distillation and ramp-up on hand-made tensors."""

import math

import pytest
import torch
from torch.nn import functional as F

from gradseg.methods.fgi.losses import confidence_cps, feature_distillation, rampup, supervised_loss
from gradseg.methods.fgi.mixing import (
    apply_cutmix,
    cutmix_box,
    input_noise,
    random_cutmix,
    sample_beta,
)
from gradseg.models.unet import IMAGENET_STD


def _logit(p):
    return torch.log(torch.as_tensor(p, dtype=torch.float64) / (1 - torch.as_tensor(p))).float()


# --- CutMix -------------------------------------------------------------------------------

def test_cutmix_box_hand_made():
    lam = torch.tensor(0.75)  # side x sqrt(0.25) = 2 -> half-size 1
    box = cutmix_box(lam, torch.tensor([2, 0]), torch.tensor([2, 3]), 4, 4)[:, 0].int()
    assert box[0].tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    # Centre (0, 3): rows [-1, 1) and columns [2, 4), clipped to the image.
    assert box[1].tolist() == [[0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    # lam = 1: no box; lam = 0: a box of the image's side.
    assert not cutmix_box(torch.tensor(1.0), torch.tensor([2]), torch.tensor([2]), 4, 4).any()
    assert cutmix_box(torch.tensor(0.0), torch.tensor([2]), torch.tensor([2]), 4, 4).all()


def test_apply_cutmix_hand_made():
    x = torch.stack([torch.arange(16.0), 100 + torch.arange(16.0)]).view(2, 1, 4, 4)
    t = torch.tensor([1.0, -1.0]).view(2, 1, 1, 1).expand(2, 1, 4, 4)
    box = cutmix_box(torch.tensor(0.75), torch.tensor([2, 0]), torch.tensor([2, 3]), 4, 4)
    mx, mt = apply_cutmix([x, t], box, torch.tensor([1, 0]))
    assert mx[0, 0].tolist() == [[0, 1, 2, 3], [4, 105, 106, 7], [8, 109, 110, 11],
                                 [12, 13, 14, 15]]
    assert mx[1, 0].tolist() == [[100, 101, 2, 3], [104, 105, 106, 107], [108, 109, 110, 111],
                                 [112, 113, 114, 115]]
    assert mt[0, 0].tolist() == [[1, 1, 1, 1], [1, -1, -1, 1], [1, -1, -1, 1], [1, 1, 1, 1]]
    assert mt[1, 0].tolist() == [[-1, -1, 1, 1]] + [[-1] * 4] * 3


def test_random_cutmix_mixes_all_tensors_with_one_box():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 16, 16, generator=g)
    y = torch.rand(4, 1, 16, 16, generator=g)
    (mx, my), box, perm = random_cutmix([x, y], 4, torch.Generator().manual_seed(1))
    assert sorted(perm.tolist()) == [0, 1, 2, 3]
    assert torch.equal(mx, torch.where(box, x[perm], x))
    assert torch.equal(my, torch.where(box, y[perm], y))
    # Each box is a rectangle: its rows x its columns.
    for b in box[:, 0]:
        rows, cols = b.any(1), b.any(0)
        assert torch.equal(b, rows[:, None] & cols[None, :])


def test_beta_order_statistic_matches_beta_moments():
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_beta(4, g) for _ in range(20000)])
    # Beta(4, 4): mean 1/2, variance ab / ((a + b)^2 (a + b + 1)) = 1/36.
    assert abs(float(draws.mean()) - 0.5) < 0.005
    assert abs(float(draws.var()) - 1 / 36) < 0.001
    assert float(draws.min()) > 0 and float(draws.max()) < 1


def test_input_noise_is_uniform_in_normalised_units():
    image = torch.full((2, 3, 64, 64), 0.5)
    noisy = input_noise(image, 0.2, torch.Generator().manual_seed(0))
    z = (noisy - image) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert float(z.abs().max()) <= 0.2 + 1e-6
    assert float(z.abs().max()) > 0.19
    assert abs(float(z.mean())) < 0.005
    assert abs(float(z.var()) - 0.4 ** 2 / 12) < 0.001  # U(-a, a) variance (2a)^2 / 12


# --- confidence-filtered cross supervision -----------------------------------------------

def test_confidence_cps_hand_made():
    # Other network's foreground probability q and this network's p, per pixel.
    q = [0.9, 0.5, 0.15, 0.7]
    p = [0.8, 0.3, 0.4, 0.6]
    z = _logit(p).view(1, 1, 1, 4)
    t = _logit(q).view(1, 1, 1, 4)
    # Default thresholds: pixels 0 (q >= 0.8, label 1) and 2 (q <= 0.2, label 0) count, the
    # positive term with weight = confidence, the complementary term with 1 - confidence.
    pos = (0.9 * -math.log(0.8) + 0.85 * -math.log(0.6)) / 2
    neg = (0.1 * -math.log(0.8) + 0.15 * -math.log(0.6)) / 2
    assert float(confidence_cps(z, t)) == pytest.approx(pos + neg, rel=1e-5)
    # pos = 0.6 also admits pixel 3 (q = 0.7, label 1) to the positive term only.
    pos = (0.9 * -math.log(0.8) + 0.85 * -math.log(0.6) + 0.7 * -math.log(0.6)) / 3
    assert float(confidence_cps(z, t, pos=0.6)) == pytest.approx(pos + neg, rel=1e-5)
    # No confident pixel: 0, not NaN.
    assert float(confidence_cps(z, torch.zeros_like(t))) == 0.0


def fgi_crc_reference(inputs, targets, threshold=0.8, neg_threshold=0.2):
    """FGI's two-channel loss, written with softmax and boolean indexing as its code does."""
    tp = F.softmax(targets, dim=1)
    pos_w, neg_w = tp.max(1)[0], tp.min(1)[0]
    pos_m, neg_m = pos_w >= threshold, neg_w < neg_threshold
    y = torch.argmax(targets, dim=1)
    pos = torch.tensor(0.0)
    if pos_m.any():
        pos = (F.nll_loss(F.log_softmax(inputs, 1), y, reduction="none") * pos_w)[pos_m].mean()
    neg = torch.tensor(0.0)
    if neg_m.any():
        inv = torch.clamp(1 - F.softmax(inputs, dim=1), min=1e-6, max=1.0)
        neg = (F.nll_loss(inv.log(), 1 - y, reduction="none") * neg_w)[neg_m].mean()
    return pos + neg


@pytest.mark.parametrize("seed", range(4))
def test_confidence_cps_equals_fgi_two_channel_loss(seed):
    g = torch.Generator().manual_seed(seed)
    z = 4 * torch.randn(3, 1, 9, 7, generator=g, dtype=torch.float64)
    t = 4 * torch.randn(3, 1, 9, 7, generator=g, dtype=torch.float64)
    # A two-channel softmax over (0, z) is sigmoid(z).
    two = lambda v: torch.cat([torch.zeros_like(v), v], 1)  # noqa: E731
    want = fgi_crc_reference(two(z), two(t))
    assert float(confidence_cps(z, t)) == pytest.approx(float(want), rel=1e-5)


def test_confidence_cps_has_no_gradient_into_the_target():
    z = torch.randn(1, 1, 4, 4, requires_grad=True)
    t = (torch.randn(1, 1, 4, 4) * 5).requires_grad_(True)
    confidence_cps(z, t).backward()
    assert z.grad is not None and t.grad is None


# --- distillation, ramp-up, supervised loss ----------------------------------------------

def test_feature_distillation_hand_made():
    a = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1).expand(2, 2, 3, 3)
    b = torch.tensor([0.0, 1.0]).view(1, 2, 1, 1).expand(2, 2, 3, 3)
    assert float(feature_distillation([a], [a])) == pytest.approx(0.0, abs=1e-6)
    assert float(feature_distillation([a], [-a])) == pytest.approx(2.0)
    assert float(feature_distillation([a], [b])) == pytest.approx(1.0)
    # Mean over scales (shapes may differ between scales).
    small = torch.ones(2, 4, 1, 1)
    assert float(feature_distillation([a, small], [-a, small])) == pytest.approx(1.0)
    s = a.clone().requires_grad_(True)
    t = b.clone().requires_grad_(True)
    feature_distillation([s], [t]).backward()
    assert s.grad is not None and t.grad is None


def test_rampup_values():
    assert rampup(0, 4000) == 0.0
    assert rampup(1, 4000) == pytest.approx(math.exp(-5 * (1 - 1 / 4000) ** 2))
    assert rampup(2000, 4000) == pytest.approx(math.exp(-1.25))
    assert rampup(4000, 4000) == 1.0 and rampup(9000, 4000) == 1.0
    assert rampup(1, 0) == 1.0


def test_supervised_loss_is_bce_by_hand():
    p = torch.tensor([0.9, 0.2, 0.6]).view(1, 1, 1, 3)
    y = torch.tensor([1.0, 0.0, 0.0]).view(1, 1, 1, 3)
    want = -(math.log(0.9) + math.log(0.8) + math.log(0.4)) / 3
    assert float(supervised_loss(_logit(p), y)) == pytest.approx(want, rel=1e-5)
    assert float(supervised_loss(_logit(p), y, "bce+dice")) > want
    with pytest.raises(ValueError):
        supervised_loss(p, y, "focal")
