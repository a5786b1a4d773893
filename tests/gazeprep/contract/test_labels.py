"""Labels arrays of a cache (gazeprep.contract.labels): atomic writes, reads checked against
their CRC32C, the render's pseudo untouched; gazeprep score, show and export reading them."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import zarr
from PIL import Image
from typer.testing import CliRunner

from gazeprep.cli import app
from gazeprep.contract.cache import validate
from gazeprep.contract.errors import InputError
from gazeprep.contract.labels import (
    array_path,
    labels_info,
    list_labels,
    read_labels,
    write_labels,
)


@pytest.fixture()
def cache(tmp_path):
    from gradseg.toydata import write_toy_cache

    path = tmp_path / "c.zarr"
    write_toy_cache(path, n=5, size=16, levels=2, shard=4)
    return path


def _labels(cache, fill=None):
    g = zarr.open_group(str(cache), mode="r")
    return (g["mask"][...] if fill is None else np.full(g["pseudo"].shape, fill, np.uint8))


def test_write_read_list_and_provenance(cache, tree_digest):
    before = tree_digest(cache)
    truth = _labels(cache)
    write_labels(cache, "v2", truth, {"made_by": "test", "round": 1})
    assert list_labels(cache) == ["v2"] and array_path("v2") == "labels/v2"
    np.testing.assert_array_equal(read_labels(cache, "v2"), truth)
    np.testing.assert_array_equal(read_labels(cache, "v2", [3, 1]), truth[[3, 1]])
    assert labels_info(cache, "v2")["provenance"] == {"made_by": "test", "round": 1}
    after = tree_digest(cache)
    # outside labels/ only the group's consolidated metadata changed (it now lists labels/v2)
    assert {k: v for k, v in after.items() if not k.startswith("labels/")} == {
        **before, "zarr.json": after["zarr.json"]}
    doc = json.loads((cache / "zarr.json").read_text())
    assert "labels/v2" in doc["consolidated_metadata"]["metadata"]
    validate(cache)


def test_refuses_bad_names_shapes_and_existing_labels(cache):
    ones = _labels(cache, 1)
    for bad in ("pseudo", ".hidden", "a/b", ""):
        with pytest.raises(InputError, match="labels name"):
            write_labels(cache, bad, ones, {})
    with pytest.raises(InputError, match="expected uint8 0/1"):
        write_labels(cache, "x", ones[:2], {})
    with pytest.raises(InputError, match="expected uint8 0/1"):
        write_labels(cache, "x", ones * 2, {})
    write_labels(cache, "x", ones, {})
    with pytest.raises(InputError, match="exist already"):
        write_labels(cache, "x", ones * 0, {})
    np.testing.assert_array_equal(read_labels(cache, "x"), ones)
    write_labels(cache, "x", ones * 0, {"second": True}, overwrite=True)
    assert not read_labels(cache, "x").any() and list_labels(cache) == ["x"]
    with pytest.raises(InputError, match="not in the cache"):
        read_labels(cache, "nope")


def test_a_killed_write_leaves_the_cache_whole(cache):
    write_labels(cache, "x", _labels(cache, 1), {})
    # What a writer killed mid-write leaves: a hidden, half-written folder of a dead process.
    dead = cache / "labels" / ".tmp-x-999999999"
    dead.mkdir()
    (dead / "zarr.json").write_text("{")
    assert list_labels(cache) == ["x"]
    assert read_labels(cache, "x").all()
    write_labels(cache, "y", _labels(cache, 0), {})
    assert not dead.exists() and list_labels(cache) == ["x", "y"]
    assert not [p for p in (cache / "labels").iterdir() if p.name.startswith(".tmp-")
                and p.name.endswith(str(os.getpid()))]


def test_damaged_rows_are_named(cache):
    write_labels(cache, "x", _labels(cache, 1), {})
    zarr.open_array(str(cache / "labels" / "x"), mode="r+")[2] = 0
    with pytest.raises(InputError, match=r"row\(s\) \[2\]"):
        read_labels(cache, "x")


def test_score_show_and_export_read_labels(cache, tmp_path):
    res0 = CliRunner().invoke(app, ["show", "toy001", "--cache", str(cache), "--out",
                                    str(tmp_path / "plain.png")])
    assert res0.exit_code == 0
    write_labels(cache, "v2", _labels(cache), {})
    res = CliRunner().invoke(app, ["score", "--cache", str(cache), "--json",
                                   "--out", str(tmp_path / "s.parquet")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["labels/v2_dice"] == 1.0
    png = tmp_path / "show.png"
    res = CliRunner().invoke(app, ["show", "toy001", "--cache", str(cache), "--out", str(png)])
    assert res.exit_code == 0, res.output
    # one more tile than without labels arrays: v1 and v2 side by side
    with Image.open(png) as a, Image.open(tmp_path / "plain.png") as b:
        assert a.width > b.width
    out = tmp_path / "monai"
    res = CliRunner().invoke(app, ["export", "--to", "monai", "--cache", str(cache),
                                   "--out", str(out), "--labels", "v2"])
    assert res.exit_code == 0, res.output
    g = zarr.open_group(str(cache), mode="r")
    record = json.loads((out / "datalist.json").read_text())
    first = record["training"][0]["label"] if "training" in record else None
    assert first is not None
    lab = np.asarray(Image.open(out / first))
    k = g["sample"][:].tolist().index(first.rsplit("/", 1)[-1].split(".")[0])
    np.testing.assert_array_equal(lab, g["mask"][k, 0])
    res = CliRunner().invoke(app, ["export", "--to", "monai", "--cache", str(cache),
                                   "--out", str(tmp_path / "m2"), "--labels", "nope"])
    assert res.exit_code == 1 and "not in the cache" in str(res.exception)
