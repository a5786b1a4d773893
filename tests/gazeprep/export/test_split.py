"""`gazeprep split`: seeded id files from a cache, a gaze folder or an image folder; safe writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gazeprep.cli import app
from gazeprep.contract.ids import read_ids_file
from gazeprep.export.split import counts_from_fractions, split_ids

ROOT = Path(__file__).resolve().parents[3]


def _old_kvasir_split(ids: list[str]) -> tuple[list[str], list[str]]:
    """pipelines/kvasir_split.py as it was before it used gazeprep split (the reference)."""
    ids = sorted(ids)
    perm = np.random.default_rng(20240601).permutation(len(ids))
    return sorted(ids[i] for i in perm[100:]), sorted(ids[i] for i in perm[:100])


def test_split_is_a_seeded_partition_independent_of_input_order():
    ids = [f"id{i:03d}" for i in range(57)]
    a = split_ids(ids, (40, 9, 8), seed=3)
    assert [len(a[p]) for p in ("train", "val", "test")] == [40, 9, 8]
    assert sorted(a["train"] + a["val"] + a["test"]) == ids
    assert all(a[p] == sorted(a[p]) for p in a)
    assert split_ids(ids[::-1], (40, 9, 8), seed=3) == a  # listing order does not matter
    assert split_ids(ids, (40, 9, 8), seed=4) != a
    # the test part is the head of the permutation: growing val never moves a test id
    assert split_ids(ids, (30, 19, 8), seed=3)["test"] == a["test"]
    with pytest.raises(ValueError, match="add up"):
        split_ids(ids, (40, 9, 9), 0)
    with pytest.raises(ValueError, match="distinct"):
        split_ids(["a", "a"], (2, 0, 0), 0)


def test_counts_from_fractions():
    assert counts_from_fractions(880, (0.8, 0.1, 0.1)) == (704, 88, 88)
    assert counts_from_fractions(10, (1, 0, 0)) == (10, 0, 0)
    for bad in [(0.5, 0.5), (0.8, 0.1, 0.2), (-0.1, 0.6, 0.5), (float("nan"), 0.5, 0.5)]:
        with pytest.raises(ValueError):
            counts_from_fractions(10, bad)


def test_kvasir_split_is_gazeprep_split(shared_data):
    sys.path.insert(0, str(ROOT / "pipelines"))
    from kvasir_split import split_ids as kvasir

    synthetic = [f"img{i:04d}" for i in range(880)]
    assert kvasir(synthetic) == _old_kvasir_split(synthetic)
    images = shared_data("kvasir-seg", "images")
    real = [p.stem for p in images.glob("*.jpg")]
    assert len(real) >= 880
    train, test = kvasir(real)
    assert (train, test) == _old_kvasir_split(real)
    assert len(test) == 100 and not set(train) & set(test)


def test_cli_split_of_a_cache_reads_back_and_reruns(tmp_path, tree_digest):
    from gradseg.data.split import read_ids_file as gradseg_read
    from gradseg.toydata import write_toy_cache

    ids = write_toy_cache(tmp_path / "c.zarr", n=20, size=8, levels=2)
    out = tmp_path / "split"
    args = ["split", str(tmp_path / "c.zarr"), "--out", str(out), "--seed", "7"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    want = split_ids(ids, counts_from_fractions(20, (0.8, 0.1, 0.1)), 7)
    for part in ("train", "val", "test"):
        assert read_ids_file(out / f"{part}.txt") == want[part]
        assert gradseg_read(out / f"{part}.txt") == want[part]
    record = json.loads((out / "split.json").read_text())
    assert record["seed"] == 7 and record["counts"] == {"train": 16, "val": 2, "test": 2}
    assert record["source_kind"] == "cache" and record["written_by"] == "gazeprep split"
    first = tree_digest(out)
    # a rerun with another seed replaces only its own files
    (out / "notes.md").write_text("mine\n")
    res = CliRunner().invoke(app, [*args[:-1], "8", "--counts", "10,5,5"])
    assert res.exit_code == 0, res.output
    assert (out / "notes.md").read_text() == "mine\n"
    assert len(read_ids_file(out / "val.txt")) == 5 and tree_digest(out) != first


def test_cli_split_refuses_files_it_did_not_write(tmp_path, tree_digest):
    from gradseg.toydata import write_toy_cache

    write_toy_cache(tmp_path / "c.zarr", n=10, size=8, levels=2)
    out = tmp_path / "split"
    out.mkdir()
    (out / "test.txt").write_text("my hand-picked test set\n")
    before = tree_digest(out)
    args = ["split", str(tmp_path / "c.zarr"), "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1 and "did not write" in str(res.exception)
    assert tree_digest(out) == before
    # a file it wrote, edited by hand since, is not replaced either
    assert CliRunner().invoke(app, [*args, "--overwrite"]).exit_code == 0
    (out / "val.txt").write_text("edited\n")
    edited = tree_digest(out)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1 and "changed since" in str(res.exception)
    assert tree_digest(out) == edited


def test_cli_split_of_gaze_and_image_folders(render_dataset):
    runner = CliRunner()
    gaze_out, img_out = render_dataset / "s1", render_dataset / "s2"
    res = runner.invoke(app, ["split", str(render_dataset / "gaze"), "--out", str(gaze_out),
                              "--counts", "3,1,1"])
    assert res.exit_code == 0, res.output
    got = sorted(sum((read_ids_file(gaze_out / f"{p}.txt") for p in ("train", "val", "test")),
                     []))
    assert got == ["ghost", "im0", "im1", "im2", "im3"]  # every id with gaze (im4 has none)
    res = runner.invoke(app, ["split", str(render_dataset / "images"), "--out", str(img_out),
                              "--fractions", "0.6,0.2,0.2"])
    assert res.exit_code == 0, res.output
    assert json.loads((img_out / "split.json").read_text())["counts"] == {
        "train": 3, "val": 1, "test": 1}


@pytest.mark.parametrize("bad", [["--fractions", "0.8,0.1"], ["--fractions", "0.8,0.3,0.1"],
                                 ["--counts", "1,1,1"], ["--fractions", "a,b,c"],
                                 ["--fractions", "0.8,0.1,0.1", "--counts", "8,1,1"]])
def test_cli_split_bad_sizes_are_usage_errors(tmp_path, bad):
    from gradseg.toydata import write_toy_cache

    write_toy_cache(tmp_path / "c.zarr", n=10, size=8, levels=2)
    res = CliRunner().invoke(app, ["split", str(tmp_path / "c.zarr"), "--out",
                                   str(tmp_path / "s"), *bad])
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "s").exists()


def test_split_interrupted_leaves_nothing_then_reruns(tmp_path, monkeypatch):
    from gazeprep import outputs
    from gazeprep.export.split import write_split

    parts = split_ids([f"x{i}" for i in range(10)], (8, 1, 1), 0)

    class Killed(Exception):
        pass

    def fault(step):
        if step == "staged val.txt":
            raise Killed

    monkeypatch.setattr(outputs, "_fault", fault)
    with pytest.raises(Killed):
        write_split(tmp_path / "s", parts, {})
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == []
    monkeypatch.setattr(outputs, "_fault", lambda step: None)
    files = write_split(tmp_path / "s", parts, {})
    assert [read_ids_file(f) for f in files] == [parts["train"], parts["val"], parts["test"]]
