"""DARM: coverage of the uncertain pixels, locality, and agreement with FGI's plain loop."""

from pathlib import Path

import numpy as np
import pytest
import torch

from gradseg.methods.fgi.darm import darm, fill_colour, max_blocks, paint_blocks, plan_blocks
from gradseg.models.unet import IMAGENET_MEAN


def real_heatmaps(fixations: Path, n: int = 6, size: int = 96) -> torch.Tensor:
    """GazeMedSeg-style heatmaps (n, 1, size, size) of the first n Kvasir images' real gaze.

    Duration-weighted impulses on a size x size canvas, a Gaussian of sigma 70/768 of the side
    (GazeMedSeg's), min-max normalised: what DARM sees, without importing gazeprep.
    """
    import polars as pl
    from skimage.filters import gaussian

    df = pl.read_csv(fixations)
    names = df["IMAGE"].unique(maintain_order=True).to_list()[:n]
    heats = []
    for name in names:
        g = df.filter(pl.col("IMAGE") == name)
        canvas = np.zeros((size, size))
        cols = np.clip((g["CURRENT_FIX_X"].to_numpy() * size).astype(int), 0, size - 1)
        rows = np.clip((g["CURRENT_FIX_Y"].to_numpy() * size).astype(int), 0, size - 1)
        np.add.at(canvas, (rows, cols), g["CURRENT_FIX_DURATION"].to_numpy())
        h = gaussian(canvas, sigma=70 / 768 * size, mode="reflect")
        heats.append((h - h.min()) / max(h.max() - h.min(), 1e-12))
    return torch.from_numpy(np.stack(heats))[:, None].float()


def reference_darm(uncertain, plan, ratio, h, w):
    """FGI's loop on the plan's candidate order: blocks until the summed area reaches the target."""
    b, k = plan.valid.shape
    blocks = np.zeros((b, h, w), bool)
    active = np.zeros((b, k), bool)
    for i in range(b):
        target = int(np.floor(np.float32(uncertain[i].sum()) * np.float32(ratio)))
        done = 0
        for j in range(k):
            centre = int(plan.centre[i, j])
            if not uncertain[i].reshape(-1)[centre] or done >= target:
                continue
            y0, y1 = int(plan.y0[i, j]), int(plan.y1[i, j])
            x0, x1 = int(plan.x0[i, j]), int(plan.x1[i, j])
            blocks[i, y0:y1, x0:x1] = True
            active[i, j] = True
            done += (y1 - y0) * (x1 - x0)
    return blocks, active


def check_darm(image, strict, loose, ratio=0.3, block=(3, 10), seed=0, fill="imagenet"):
    gen = torch.Generator().manual_seed(seed)
    r = darm(image, strict, loose, ratio, block, fill, gen)
    unc = (strict != loose)[:, 0].numpy()
    h, w = image.shape[-2:]
    plan = r.plan
    # The candidates that count are uncertain pixels, each at most once, and their block
    # contains its centre with the drawn side (clipped to the image).
    for i in range(unc.shape[0]):
        cent = plan.centre[i][plan.valid[i]].numpy()
        assert unc[i].reshape(-1)[cent].all()
        assert len(set(cent.tolist())) == len(cent) == min(unc[i].sum(), len(plan.valid[i]))
    cy, cx = plan.centre // w, plan.centre % w
    assert ((plan.y0 <= cy) & (cy < plan.y1) & (plan.x0 <= cx) & (cx < plan.x1)).all()
    sides = torch.maximum(plan.y1 - plan.y0, plan.x1 - plan.x0)
    assert ((sides <= block[1]) & (plan.y1 - plan.y0 >= 1)).all()
    # Coverage: summed block area reaches floor(ratio x count) and overshoots by < one block.
    count = torch.from_numpy(unc.reshape(unc.shape[0], -1).sum(1))
    target = torch.floor(count.float() * ratio).long()
    assert torch.equal(plan.target, target)
    assert (plan.area >= target).all()
    assert (plan.area < target + block[1] ** 2).all()
    assert (plan.area[target == 0] == 0).all()
    # Same blocks as FGI's loop taking the same candidates in the same order.
    ref_blocks, ref_active = reference_darm(unc, plan, ratio, h, w)
    assert np.array_equal(plan.active.numpy(), ref_active)
    assert np.array_equal(r.blocks[:, 0].numpy(), ref_blocks)
    # Locality: outside the blocks nothing changes; inside, the fill colour and loose = 0.
    outside = ~r.blocks
    assert torch.equal(r.image * outside, image * outside)
    assert torch.equal(r.loose * outside, loose * outside)
    colour = fill_colour(image, fill).expand_as(image)
    inside = r.blocks.expand_as(image)
    assert torch.equal(r.image[inside], colour[inside])
    assert (r.loose[r.blocks] == 0).all()
    return r


def test_darm_on_real_gaze_heatmaps(shared_data):
    heat = real_heatmaps(shared_data("gazemedseg", "kvasir_fixation.csv"))
    strict, loose = (heat >= 0.5).float(), (heat >= 0.3).float()
    assert (strict != loose).any()
    gen = torch.Generator().manual_seed(1)
    image = torch.rand(heat.shape[0], 3, *heat.shape[-2:], generator=gen)
    for seed in range(3):
        r = check_darm(image, strict, loose, seed=seed)
        count = (strict != loose).flatten(1).sum(1).float()
        assert (count > 0).all()
        # The stated share: summed block area / uncertain count in [0.3, 0.3 + 100 / count).
        share = r.plan.area.float() / count
        assert ((share >= 0.3 - 1 / count) & (share < 0.3 + 100 / count)).all()


@pytest.mark.parametrize("shape", [(4, 32, 32), (3, 17, 45), (2, 5, 5), (2, 2, 3), (1, 64, 64)])
@pytest.mark.parametrize("density", [0.0, 0.01, 0.3, 1.0])
def test_darm_random_masks(shape, density):
    b, h, w = shape
    g = torch.Generator().manual_seed(h * w)
    strict = (torch.rand(b, 1, h, w, generator=g) < 0.4).float()
    flip = torch.rand(b, 1, h, w, generator=g) < density
    loose = torch.where(flip, 1 - strict, strict)
    image = torch.rand(b, 3, h, w, generator=g)
    check_darm(image, strict, loose, seed=h + w)
    check_darm(image, strict, loose, ratio=0.9, block=(1, 4), fill="image")


def test_darm_no_uncertainty_or_zero_ratio_changes_nothing():
    image = torch.rand(2, 3, 16, 16)
    mask = (torch.rand(2, 1, 16, 16) > 0.5).float()
    r = darm(image, mask, mask.clone())
    assert torch.equal(r.image, image) and torch.equal(r.loose, mask) and not r.blocks.any()
    r = darm(image, mask, 1 - mask, ratio=0.0)
    assert torch.equal(r.image, image) and not r.blocks.any()


def test_darm_fill_imagenet_is_zero_after_normalisation():
    # FGI zeroes the ImageNet-normalised image: the ImageNet mean colour in [0, 1] units.
    image = torch.rand(1, 3, 8, 8)
    c = fill_colour(image, "imagenet")
    assert torch.allclose(c.flatten(), torch.tensor(IMAGENET_MEAN))
    assert torch.allclose(fill_colour(image, "image").flatten(), image.mean((2, 3)).flatten())


def test_paint_blocks_matches_slicing():
    g = torch.Generator().manual_seed(3)
    unc = torch.rand(3, 1, 20, 30, generator=g) < 0.2
    plan = plan_blocks(unc, 0.5, (2, 9), g)
    got = paint_blocks(plan, 20, 30)[:, 0]
    want = torch.zeros(3, 20, 30, dtype=torch.bool)
    for i in range(3):
        for j in plan.active[i].nonzero().flatten().tolist():
            want[i, plan.y0[i, j]: plan.y1[i, j], plan.x0[i, j]: plan.x1[i, j]] = True
    assert torch.equal(got, want)


def test_max_blocks_always_suffices():
    # Worst case: every uncertain pixel is a corner, where a 3-px block keeps only 2 x 2 pixels.
    assert max_blocks(64, 64, 0.3, 3) == int(np.ceil(0.3 * 64 * 64 / 4))
    assert max_blocks(2, 2, 1.0, 3) == 1  # any block of side >= 3 covers a 2 x 2 image
    assert max_blocks(5, 5, 1.0, 3) == 7
    unc = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    plan = plan_blocks(unc, 1.0, (3, 3), torch.Generator().manual_seed(0))
    assert int(plan.area[0]) >= 16


def test_darm_is_deterministic_per_generator():
    strict = torch.zeros(2, 1, 24, 24)
    loose = torch.ones(2, 1, 24, 24)
    image = torch.rand(2, 3, 24, 24)
    a = darm(image, strict, loose, generator=torch.Generator().manual_seed(5))
    b = darm(image, strict, loose, generator=torch.Generator().manual_seed(5))
    c = darm(image, strict, loose, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a.blocks, b.blocks) and not torch.equal(a.blocks, c.blocks)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_darm_does_not_synchronise_on_cuda():
    strict = (torch.rand(4, 1, 128, 128, device="cuda") > 0.5).float()
    loose = torch.maximum(strict, (torch.rand_like(strict) > 0.7).float())
    image = torch.rand(4, 3, 128, 128, device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    torch.cuda.set_sync_debug_mode("error")
    try:
        r = darm(image, strict, loose, generator=gen)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert r.blocks.any()
