"""The batched device augmentation against the per-sample CPU reference, and the raw loader.

The trainer's workers hand over uint8 rows and each sample's transform; the device converts and
resamples the whole batch (:func:`transform_batch`). These tests check that this equals the
per-sample reference (:func:`apply_affine`, the path of earlier versions and of validation)
on the same draws, field by field, with and without resizing, and that flips alone are exact.
"""

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from gazeprep.contract.cache import BINARY, UNIT, UNIT_SCALE
from gradseg.data.augment import (
    AugmentConfig,
    apply_affine,
    identity_theta,
    sample_params,
    sample_theta,
    to_float,
    transform_batch,
)
from gradseg.data.cache import CacheDataset, open_cache
from gradseg.data.sampler import EpochSampler, RunBatches


def _fields(b: int, side: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    mask = (torch.rand(b, 1, side, side, generator=gen) > 0.6).float()
    return {"image": torch.rand(b, 3, side, side, generator=gen),
            "maps": torch.rand(b, 2, side, side, generator=gen), "mask": mask}


def _agree(got: dict, want: dict, binary=("mask",)) -> None:
    for k in want:
        assert got[k].shape == want[k].shape, k
        if k in binary:
            # a pixel may flip only where the reference's interpolated value is ~0.5
            assert set(torch.unique(got[k]).tolist()) <= {0.0, 1.0}
            assert (got[k] != want[k]).float().mean() < 1e-3, k
        else:
            torch.testing.assert_close(got[k], want[k], rtol=0, atol=1e-5)


@pytest.mark.parametrize(("side", "size"), [(24, 24), (40, 32), (20, 28)])
def test_batched_affine_equals_the_per_sample_reference(side, size):
    fields = _fields(6, side)
    cfg = AugmentConfig(rotation=25)
    gens = [torch.Generator().manual_seed(100 + i) for i in range(6)]
    params = [sample_params(g, cfg) for g in gens]
    thetas = torch.stack([sample_theta(torch.Generator().manual_seed(100 + i), cfg)
                          for i in range(6)])
    got = transform_batch(fields, thetas, size, binary={"mask"})
    for i in range(6):
        want = apply_affine({k: v[i] for k, v in fields.items()}, params[i], size,
                            binary={"mask"})
        _agree({k: v[i] for k, v in got.items()}, want)


def test_flips_alone_are_exact_flips():
    fields = _fields(8, 16, seed=3)
    cfg = AugmentConfig(kind="flips")
    thetas = torch.stack([sample_theta(torch.Generator().manual_seed(i), cfg) for i in range(8)])
    got = transform_batch(fields, thetas, 16, binary={"mask"}, flips_only=True)
    seen = set()
    for i in range(8):
        fx, fy = float(thetas[i, 0, 0]), float(thetas[i, 1, 1])
        assert {abs(fx), abs(fy)} == {1.0} and float(thetas[i, :, 2].abs().sum()) == 0
        dims = [d for d, f in ((-1, fx), (-2, fy)) if f < 0]
        seen.add(tuple(dims))
        for k, v in fields.items():
            want = v[i].flip(dims) if dims else v[i]
            assert torch.equal(got[k][i], want), (i, k)
        # and the resampling path (another size) agrees with the reference on the same flips
        resized = transform_batch({k: v[i:i + 1] for k, v in fields.items()}, thetas[i:i + 1],
                                  12, binary={"mask"})
        want = apply_affine({k: v[i] for k, v in fields.items()},
                            {"sx": 1.0, "sy": 1.0, "cx": 0.0, "cy": 0.0, "angle": 0.0,
                             "fx": fx, "fy": fy}, 12, binary={"mask"})
        _agree({k: v[0] for k, v in resized.items()}, want)
    assert len(seen) >= 3  # the draws cover several flip combinations


def test_identity_leaves_values_and_resizes_like_the_reference():
    fields = _fields(3, 20)
    same = transform_batch(fields, None, 20, binary={"mask"})
    assert all(torch.equal(same[k], fields[k]) for k in fields)
    got = transform_batch(fields, identity_theta().expand(3, 2, 3), 16, binary={"mask"})
    for i in range(3):
        want = apply_affine({k: v[i] for k, v in fields.items()},
                            {"sx": 1.0, "sy": 1.0, "cx": 0.0, "cy": 0.0, "angle": 0.0,
                             "fx": 1.0, "fy": 1.0}, 16, binary={"mask"})
        _agree({k: v[i] for k, v in got.items()}, want)


def test_to_float_is_the_contracts_scale():
    rows = {"image": torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16),
            "pseudo": torch.ones(1, 1, 16, 16, dtype=torch.uint8)}
    out = to_float(rows, UNIT, float(UNIT_SCALE))
    assert out["image"].dtype == torch.float32
    assert np.array_equal(out["image"].numpy().ravel(),
                          np.arange(256, dtype=np.float32) / np.float32(UNIT_SCALE))
    assert torch.equal(out["pseudo"], torch.ones(1, 1, 16, 16))


@pytest.mark.parametrize("kind", ["affine", "flips"])
@pytest.mark.parametrize("size", [16, 24])
def test_raw_rows_on_the_device_equal_the_cpu_dataset(toy_cache, kind, size):
    """The trainer's path (uint8 rows, collated, then float + transform on the device) gives
    what the per-item float dataset gives for the same (index, seed) keys."""
    info = open_cache(toy_cache(n=6, size=16, levels=2, seed=0))
    fields = ("maps", "pseudo", "mask", "heatmap")
    aug = AugmentConfig(kind=kind)
    raw = CacheDataset(info, [5, 1, 3, 0], fields, size, aug, raw=True)
    ref = CacheDataset(info, [5, 1, 3, 0], fields, size, aug)
    keys = [(0, 11), (2, 12), (1, 13), 3]
    batch = default_collate(raw.__getitems__(keys))
    assert batch["image"].dtype == torch.uint8 and batch["image"].shape[-1] == 16
    assert batch["theta"].shape == (4, 2, 3)
    got = transform_batch(to_float({f: batch[f] for f in raw.fields}, UNIT, float(UNIT_SCALE)),
                          batch["theta"], size, BINARY, flips_only=kind == "flips")
    for j, key in enumerate(keys):
        want = ref[key]
        assert int(batch["index"][j]) == want["index"]
        _agree({f: got[f][j] for f in raw.fields}, {f: want[f] for f in raw.fields},
               binary=BINARY)


def test_run_batches_cross_epochs_like_the_epoch_sampler():
    n, bs, spe = 11, 3, 3  # 11 // 3 = 3 batches per epoch, 2 samples left out each epoch
    flat = []
    for epoch in range(4):
        items = EpochSampler(n, bs, 5, epoch, 0, 1).items
        flat += [items[i:i + bs] for i in range(0, len(items), bs)]
    assert list(RunBatches(n, bs, 5, 0, 1, 0, 12, spe)) == flat
    resumed = RunBatches(n, bs, 5, 0, 1, 4, 10, spe)  # steps 5..10, from inside epoch 1
    assert len(resumed) == 6 and list(resumed) == flat[4:10]
    assert list(RunBatches(n, bs, 5, 0, 1, 7, 7, spe)) == []
