"""`gazeprep export --to nnunet|monai`: the files read back equal the cache; safe writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from PIL import Image
from typer.testing import CliRunner

from gazeprep.cli import app


@pytest.fixture()
def cache(tmp_path):
    from gradseg.toydata import write_toy_cache

    path = tmp_path / "c.zarr"
    write_toy_cache(path, n=6, size=16, levels=2, shard=4)
    g = zarr.open_group(str(path), mode="r+")
    g["has_mask"][:] = [True, True, False, True, True, True]  # one image without a mask
    return path


def _export(*args):
    return CliRunner().invoke(app, ["export", *map(str, args)])


def _png(path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def test_nnunet_layout_reads_back_as_the_cache(cache, tmp_path):
    raw = tmp_path / "nnUNet_raw"
    res = _export("--to", "nnunet", "--cache", cache, "--out", raw, "--dataset-id", "7",
                  "--name", "Polyp")
    assert res.exit_code == 0, res.output
    d = raw / "Dataset007_Polyp"
    g = zarr.open_group(str(cache), mode="r")
    ids = g["sample"][:].tolist()
    meta = json.loads((d / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "R", "1": "G", "2": "B"}
    assert meta["labels"] == {"background": 0, "foreground": 1}
    assert meta["numTraining"] == 6 and meta["file_ending"] == ".png"
    assert sorted(p.name for p in (d / "imagesTr").iterdir()) == [f"{i}_0000.png" for i in ids]
    assert sorted(p.name for p in (d / "labelsTr").iterdir()) == [f"{i}.png" for i in ids]
    for k, key in enumerate(ids):
        img = _png(d / "imagesTr" / f"{key}_0000.png")
        assert img.shape == (16, 16, 3) and img.dtype == np.uint8  # RGB, as NaturalImage2DIO
        np.testing.assert_array_equal(img, np.moveaxis(g["image"][k], 0, -1))
        lab = _png(d / "labelsTr" / f"{key}.png")
        assert lab.ndim == 2 and set(np.unique(lab)) <= {0, 1}
        np.testing.assert_array_equal(lab, g["pseudo"][k, 0])
    assert g["pseudo"][:].any()


def test_mask_labels_subset_ids_and_monai_layout(cache, tmp_path):
    ids_file = tmp_path / "train.txt"
    ids_file.write_text("# two of them\ntoy001\ntoy002\ntoy004\n")
    out = tmp_path / "monai"
    res = _export("--to", "monai", "--cache", cache, "--out", out, "--labels", "mask",
                  "--ids", ids_file)
    assert res.exit_code == 0, res.output
    assert "without a mask" in res.output  # toy002 has none
    g = zarr.open_group(str(cache), mode="r")
    datalist = json.loads((out / "datalist.json").read_text())
    assert datalist == {"training": [
        {"image": f"images/{k}.png", "label": f"labels/{k}.png"} for k in ("toy001", "toy004")]}
    for k in (1, 4):
        np.testing.assert_array_equal(_png(out / "labels" / f"toy00{k}.png"), g["mask"][k, 0])
        np.testing.assert_array_equal(_png(out / "images" / f"toy00{k}.png"),
                                      np.moveaxis(g["image"][k], 0, -1))
    assert _export("--to", "monai", "--cache", cache, "--out", tmp_path / "x", "--ids",
                   tmp_path / "nope.txt").exit_code == 1
    (tmp_path / "bad.txt").write_text("toy001\nnot_there\n")
    res = _export("--to", "monai", "--cache", cache, "--out", tmp_path / "x", "--ids",
                  tmp_path / "bad.txt")
    assert res.exit_code == 1 and "not_there" in str(res.exception)
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_monai_reads_the_datalist(cache, tmp_path):
    monai_data = pytest.importorskip("monai.data", reason="monai not installed")
    out = tmp_path / "monai"
    assert _export("--to", "monai", "--cache", cache, "--out", out).exit_code == 0
    items = monai_data.load_decathlon_datalist(str(out / "datalist.json"), is_segmentation=True,
                                               data_list_key="training")
    assert len(items) == 6
    g = zarr.open_group(str(cache), mode="r")
    for k, item in enumerate(items):
        assert item["image"] == str(out / "images" / f"toy{k:03d}.png")
        np.testing.assert_array_equal(_png(item["label"]), g["pseudo"][k, 0])


def test_export_replaces_only_its_own_entries(cache, tmp_path, tree_digest):
    raw = tmp_path / "raw"
    d = raw / "Dataset501_Gaze"
    assert _export("--to", "nnunet", "--cache", cache, "--out", raw).exit_code == 0
    (d / "imagesTs").mkdir()
    (d / "imagesTs" / "case_0000.png").write_bytes(b"the user's test image")
    mine = tree_digest(d / "imagesTs")
    ids = tmp_path / "ids.txt"
    ids.write_text("toy000\n")
    res = _export("--to", "nnunet", "--cache", cache, "--out", raw, "--ids", ids)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (d / "labelsTr").iterdir()) == ["toy000.png"]
    assert json.loads((d / "dataset.json").read_text())["numTraining"] == 1
    assert tree_digest(d / "imagesTs") == mine
    # a file added to an exported folder, or a dataset folder it did not write: refused
    (d / "labelsTr" / "extra.png").write_bytes(b"added by hand")
    before = tree_digest(d)
    res = _export("--to", "nnunet", "--cache", cache, "--out", raw)
    assert res.exit_code == 1 and "did not write" in str(res.exception)
    assert tree_digest(d) == before
    other = tmp_path / "theirs"
    (other / "images").mkdir(parents=True)
    (other / "images" / "a.png").write_bytes(b"theirs")
    (other / "datalist.json").write_text("{}")
    before = tree_digest(other)
    res = _export("--to", "monai", "--cache", cache, "--out", other)
    assert res.exit_code == 1 and tree_digest(other) == before
    # --overwrite replaces only what export wrote: never someone's own images or datalist
    res = _export("--to", "monai", "--cache", cache, "--out", other, "--overwrite")
    assert res.exit_code == 1 and tree_digest(other) == before
    assert "images/a.png" in str(res.exception) and "datalist.json" in str(res.exception)
    (other / "images" / "a.png").rename(tmp_path / "a.png")
    (other / "datalist.json").unlink()
    assert _export("--to", "monai", "--cache", cache, "--out", other).exit_code == 0
    assert len(json.loads((other / "datalist.json").read_text())["training"]) == 6


def test_export_without_masks_and_bad_names(tmp_path):
    from gradseg.toydata import write_toy_cache

    write_toy_cache(tmp_path / "c.zarr", n=2, size=8, levels=2, with_mask=False)
    res = _export("--to", "nnunet", "--cache", tmp_path / "c.zarr", "--out", tmp_path / "o",
                  "--labels", "mask")
    assert res.exit_code == 1 and "no ground-truth masks" in str(res.exception)
    for bad in (["--name", "a/b"], ["--dataset-id", "1000"], ["--to", "coco"]):
        args = ["--to", "nnunet", "--cache", tmp_path / "c.zarr", "--out", tmp_path / "o", *bad]
        if bad[0] == "--to":
            args = args[2:]
        assert _export(*args).exit_code == 2, bad
    assert not (tmp_path / "o").exists()


def test_export_names_a_damaged_sample(cache, tmp_path):
    from gazeprep.contract.zarr_io import open_arrays

    shard = cache / "image" / "c" / "0" / "0" / "0" / "0"
    data = bytearray(shard.read_bytes())
    data[40] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert open_arrays(cache, ["image"])  # still opens
    res = _export("--to", "monai", "--cache", cache, "--out", tmp_path / "o")
    assert res.exit_code == 1 and "array 'image'" in str(res.exception)
    assert not (tmp_path / "o" / "datalist.json").exists()


def test_monai_split_gives_training_validation_and_test_lists(cache, tmp_path):
    monai_data = pytest.importorskip("monai.data", reason="monai not installed")
    split, out = tmp_path / "split", tmp_path / "monai"
    res = CliRunner().invoke(app, ["split", str(cache), "--out", str(split), "--counts", "3,1,2",
                                   "--seed", "0"])
    assert res.exit_code == 0, res.output
    res = _export("--to", "monai", "--cache", cache, "--out", out, "--split", split)
    assert res.exit_code == 0, res.output
    parts = {p: (split / f"{s}.txt").read_text().split("\n")[1:-1]
             for s, p in (("train", "training"), ("val", "validation"), ("test", "test"))}
    for key, ids in parts.items():
        items = monai_data.load_decathlon_datalist(str(out / "datalist.json"),
                                                   is_segmentation=key != "test",
                                                   data_list_key=key)
        assert [item["image"] for item in items] == [str(out / "images" / f"{i}.png")
                                                     for i in ids]
        assert all(("label" in item) == (key != "test") for item in items)
    bad = _export("--to", "nnunet", "--cache", cache, "--out", tmp_path / "raw", "--split", split)
    assert bad.exit_code == 2 and "--split is for --to monai" in bad.output
