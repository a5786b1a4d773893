"""The cache as the trainer reads it: the contract's checks, the dataset, the augmentation."""

import pickle

import numpy as np
import pytest
import torch
import zarr

from gazeprep.contract import cache as contract
from gazeprep.contract.errors import InputError
from gradseg.data.augment import AugmentConfig, apply_affine, sample_params
from gradseg.data.cache import CacheDataset, open_cache
from gradseg.errors import GradsegError


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


def test_stream_and_ram_agree_and_seeding_is_reproducible(toy_cache):
    info = open_cache(toy_cache(n=6, size=16, levels=2, seed=0))
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


def test_batched_fetch_equals_single_items(toy_cache):
    path = toy_cache(n=9, size=16, levels=2, seed=0, shard=4)
    ds = CacheDataset(open_cache(path), [8, 0, 5, 3, 5], ("maps", "pseudo"), 16, AugmentConfig())
    keys = [(4, 11), 0, (2, 5), 4, 1]
    batch = ds.__getitems__(keys)
    assert [b["index"] for b in batch] == [5, 8, 5, 5, 0]
    for key, got in zip(keys, batch, strict=True):
        want = ds[key]
        for f in ("image", "maps", "pseudo"):
            assert torch.equal(got[f], want[f]), (key, f)


def test_resampling_to_another_size(toy_cache):
    ds = CacheDataset(open_cache(toy_cache(n=2, size=16, levels=1, seed=0)), [0, 1], ("pseudo",),
                      size=32)
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and set(item["pseudo"].unique().tolist()) <= {0, 1}


def test_values_are_the_stored_bytes_over_the_contracts_scale(toy_cache):
    path = toy_cache()
    info = open_cache(path)
    item = CacheDataset(info, [3], ("maps", "heatmap", "pseudo"))[0]
    g = zarr.open_group(str(path), mode="r")
    for name in ("image", "maps", "heatmap"):
        want = g[name][3].astype(np.float32) / np.float32(contract.UNIT_SCALE)
        assert np.array_equal(item[name].numpy(), want), name
    assert np.array_equal(item["pseudo"].numpy(), g["pseudo"][3].astype(np.float32))


def test_open_cache_is_the_contracts_validate(toy_cache):
    path = toy_cache()
    assert open_cache(path) == contract.validate(path)


def test_cache_of_another_format_version_is_refused_by_name(toy_cache):
    for version in (contract.FORMAT_VERSION - 1, contract.FORMAT_VERSION + 1):
        path = toy_cache(n=4, size=16, levels=2, fresh=True)
        zarr.open_group(str(path), mode="r+").attrs["format_version"] = version
        with pytest.raises(GradsegError) as err:
            open_cache(path)
        assert f"format version {version}, expected {contract.FORMAT_VERSION}" in str(err.value)
        assert isinstance(err.value, InputError)  # callers catching the contract's error too


@pytest.mark.parametrize(("damage", "words"), [
    ("missing", "cache not found"),
    ("plain folder", "gazeprep render"),
    ("incomplete", "incomplete"),
    ("float16 maps", "'maps' is float16, expected uint8"),
    ("no checksums", "row_crc32c['image'] missing"),
])
def test_refusals_say_what_and_how_to_fix(toy_cache, tmp_path, damage, words):
    path = tmp_path / "c.zarr"
    if damage == "plain folder":
        path.mkdir()
    elif damage == "incomplete":
        path = toy_cache(n=4, size=16, levels=2, complete=False)
    elif damage in ("float16 maps", "no checksums"):
        path = toy_cache(n=4, size=16, levels=2, fresh=True)
        g = zarr.open_group(str(path), mode="r+")
        if damage == "float16 maps":
            maps = g["maps"][:]
            del g["maps"]
            g.create_array("maps", shape=maps.shape, dtype="float16", chunks=(1, 2, 16, 16))
        else:
            g.attrs["row_crc32c"] = {}
    with pytest.raises(GradsegError) as err:
        open_cache(path)
    assert words in str(err.value)
    assert "render" in str(err.value)  # how to fix it
