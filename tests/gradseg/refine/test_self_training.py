"""gradseg refine: self-training rounds on a tiny generated cache, the labels they write, and
gradseg train --labels reading them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazeprep.contract.cache import validate
from gazeprep.contract.labels import labels_info, list_labels, read_labels
from gazeprep.contract.zarr_io import open_arrays
from gradseg.refine import RefineConfig, fuse, refine

TINY = dict(iterations=6, batch_size=4, base_channels=4, lr=3e-3, warmup=2, threads=1,
            checkpoint_every=100)


def test_fuse_keeps_the_inner_track_and_stays_inside_the_gaze_bound():
    maps = np.zeros((1, 2, 8, 8), np.float32)
    maps[0, 0, 2:6, 2:6] = 0.5  # whole track reaches this square
    maps[0, :, 3:5, 3:5] = 1.0  # the inner track
    prob = np.full((1, 8, 8), 0.9, np.float32)  # the network says "everything"
    prob[0, 3, 3] = 0.0  # ... but not the inner track's pixel
    got = fuse(prob, np.zeros((1, 8, 8), np.uint8), maps, pseudo_threshold=0.7)
    assert got.dtype == np.uint8 and got.shape == (1, 8, 8)
    assert got[0, 3, 3] == 1  # inner track always foreground
    assert got[0].sum() == 16 and got[0, 2:6, 2:6].all()  # bounded by the whole track


def test_fuse_with_an_empty_track_gives_an_empty_mask():
    got = fuse(np.ones((1, 8, 8), np.float32), np.ones((1, 8, 8), np.uint8),
               np.zeros((1, 3, 8, 8), np.float32), pseudo_threshold=0.7)
    assert not got.any()


def test_two_rounds_write_two_labels_arrays_and_keep_pseudo(toy_cache, tmp_path):
    cache = toy_cache(n=8, size=32, levels=3, fresh=True)
    pseudo_before = open_arrays(cache, ["pseudo"])["pseudo"][...].copy()
    records = refine(RefineConfig(cache=str(cache), out=str(tmp_path / "runs"), rounds=2,
                                  exclude_ids=("toy000",), train=TINY), log=lambda *_: None)
    assert [r["name"] for r in records] == ["st-r1", "st-r2"]
    assert list_labels(cache) == ["st-r1", "st-r2"]
    assert labels_info(cache, "st-r2")["provenance"]["trained_on"] == "st-r1"
    for name in ("st-r1", "st-r2"):
        y = read_labels(cache, name)
        assert y.shape == pseudo_before.shape and y.dtype == np.uint8
        assert set(np.unique(y)) <= {0, 1}
    np.testing.assert_array_equal(open_arrays(cache, ["pseudo"])["pseudo"][...], pseudo_before)
    validate(cache)  # still a whole, valid cache


def test_train_reads_the_chosen_labels(toy_cache, tiny, tmp_path):
    from gazeprep.contract.labels import write_labels
    from gradseg.data.cache import CacheDataset
    from gradseg.train import train

    cache = toy_cache(n=8, size=32, levels=3, fresh=True)
    layout = validate(cache)
    ones = np.ones(layout.shape("pseudo"), np.uint8)
    write_labels(cache, "all", ones, {"made_by": "test"})
    ds = CacheDataset(layout, [0, 1], ("pseudo",), labels="all")
    assert all(it["pseudo"].min() == 1 for it in ds.__getitems__([0, 1]))
    plain = CacheDataset(layout, [0, 1], ("pseudo",))
    assert any(it["pseudo"].min() == 0 for it in plain.__getitems__([0, 1]))
    summary = train(tiny(cache, tmp_path / "run", iterations=4, labels="all"), progress=False)
    assert summary["steps"] == 4


def test_train_refuses_unknown_labels(toy_cache, tiny, tmp_path):
    from gradseg.train import train

    with pytest.raises(Exception, match="not in the cache"):
        train(tiny(toy_cache(), tmp_path / "run", iterations=2, labels="nope"), progress=False)


def test_cli_refine_then_train_on_its_labels(toy_cache, gradseg_cli, tmp_path):
    cache = toy_cache(n=8, size=32, levels=3, fresh=True)
    ids = tmp_path / "held.txt"
    ids.write_text("toy000\ntoy001\n")
    code, out, err = gradseg_cli("refine", "--cache", cache, "--out", tmp_path / "st",
                                 "--iterations", "3", "--batch-size", "4", "--base-channels",
                                 "4", "--threads", "1", "--device", "cpu", "--prefix", "v2",
                                 "--exclude-ids", ids)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])[0]["name"] == "v2-r1"
    assert list_labels(cache) == ["v2-r1"]
    code, _, err = gradseg_cli("refine", "--cache", cache, "--out", tmp_path / "st2",
                               "--iterations", "3", "--batch-size", "4", "--base-channels",
                               "4", "--threads", "1", "--device", "cpu", "--prefix", "v2")
    assert code == 1 and "exist already" in err  # never replaced unless asked
    code, _, err = gradseg_cli("train", "--cache", cache, "--out", tmp_path / "run",
                               "--iterations", "2", "--batch-size", "4", "--base-channels", "4",
                               "--threads", "1", "--labels", "v2-r1", "--quiet")
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["labels"] == "v2-r1"
    code, _, err = gradseg_cli("train", "--cache", cache, "--out", tmp_path / "run2",
                               "--iterations", "2", "--labels", "nope", "--quiet")
    assert code == 2 and "not in the cache" in err
