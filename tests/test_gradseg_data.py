"""Cache dataset and augmentation: alignment of fields, streaming == in-RAM, seeding."""

import pickle

import torch

from gradseg.augment import AugmentConfig, apply_affine, sample_params
from gradseg.cache import CacheDataset, open_cache
from gradseg.toydata import write_toy_cache


def test_augmentation_is_identical_on_every_field():
    gen = torch.Generator().manual_seed(0)
    mask = torch.zeros(1, 40, 40)
    mask[0, 5:25, 10:30] = 1
    image = torch.cat([mask, torch.rand(2, 40, 40)])
    maps = mask.repeat(3, 1, 1) * 0.7
    for _ in range(10):
        p = sample_params(gen, AugmentConfig(rotation=20))
        out = apply_affine({"image": image, "maps": maps, "mask": mask}, p, 32,
                           binary={"mask"})
        assert out["image"].shape == (3, 32, 32) and out["mask"].shape == (1, 32, 32)
        assert torch.equal(out["image"][0] >= 0.5, out["mask"][0] > 0)
        assert torch.allclose(out["maps"][2], out["image"][0] * 0.7, atol=1e-5)


def test_stream_and_ram_agree_and_seeding_is_reproducible(tmp_path):
    path = tmp_path / "c.zarr"
    write_toy_cache(path, n=6, size=16, levels=2)
    info = open_cache(path)
    fields = ("maps", "pseudo", "mask", "heatmap")
    aug = AugmentConfig()
    stream = CacheDataset(info, [5, 1, 3], fields, 16, aug)
    ram = CacheDataset(info, [5, 1, 3], fields, 16, aug, in_memory=True)
    for key in (0, 2, (1, 123)):
        a, b = stream[key], ram[key]
        assert a["index"] == b["index"]
        for f in ("image", *fields):
            assert torch.equal(a[f], b[f]), f
    assert stream[0]["index"] == 5
    assert torch.equal(stream[(1, 7)]["maps"], stream[(1, 7)]["maps"])
    assert not torch.equal(stream[(1, 7)]["image"], stream[(1, 8)]["image"])
    assert 0 <= float(stream[0]["image"].min()) and float(stream[0]["image"].max()) <= 1
    # A dataset sent to a worker carries no open Zarr handle.
    clone = pickle.loads(pickle.dumps(stream))
    assert clone._arrays is None and torch.equal(clone[1]["image"], stream[1]["image"])


def test_batched_fetch_equals_single_items(tmp_path):
    path = tmp_path / "c.zarr"
    write_toy_cache(path, n=9, size=16, levels=2, shard=4)
    ds = CacheDataset(open_cache(path), [8, 0, 5, 3, 5], ("maps", "pseudo"), 16, AugmentConfig())
    keys = [(4, 11), 0, (2, 5), 4, 1]
    batch = ds.__getitems__(keys)
    assert [b["index"] for b in batch] == [5, 8, 5, 5, 0]
    for key, got in zip(keys, batch, strict=True):
        want = ds[key]
        for f in ("image", "maps", "pseudo"):
            assert torch.equal(got[f], want[f]), (key, f)


def test_resampling_to_another_size(tmp_path):
    path = tmp_path / "c.zarr"
    write_toy_cache(path, n=2, size=16, levels=1)
    ds = CacheDataset(open_cache(path), [0, 1], ("pseudo",), size=32)
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and set(item["pseudo"].unique().tolist()) <= {0, 1}
