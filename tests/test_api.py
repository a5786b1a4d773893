"""The public Python API: every exported name resolves, and the API writes what the CLI writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import gazeprep
import gradseg


@pytest.mark.parametrize("package", [gazeprep, gradseg])
def test_every_exported_name_resolves(package) -> None:
    for name in package.__all__:
        obj = getattr(package, name)
        assert callable(obj), name
        assert obj.__doc__, f"{package.__name__}.{name} has no docstring"
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018


def test_import_stays_light() -> None:
    """``import gazeprep, gradseg`` loads neither torch, polars, numba nor zarr."""
    code = ("import sys, gazeprep, gradseg; heavy = {'torch', 'polars', 'numba', 'zarr'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def _cache_arrays(path: Path) -> dict[str, np.ndarray]:
    import zarr

    g = zarr.open_group(str(path), mode="r")
    return {name: np.asarray(g[name][...]) for name in ("image", "maps", "heatmap", "pseudo",
                                                          "mask", "sample")}


def test_cli_and_api_write_the_same(tmp_path, run_cli) -> None:
    sim = tmp_path / "sim"
    gazeprep.simulate(sim, n_images=6, size=48, seed=3)
    api, cli = tmp_path / "api", tmp_path / "cli"

    summary = gazeprep.ingest(sim / "raw", api / "gaze", images=sim / "images", jobs=1)
    got = run_cli("gazeprep", "ingest", sim / "raw", "--images", sim / "images",
                  "--out", cli / "gaze", "--jobs", "1")
    assert got.returncode == 0, got.stderr
    for name in ("fixations.parquet", "tracks.parquet", "quality.parquet"):
        a, b = pl.read_parquet(api / "gaze" / name), pl.read_parquet(cli / "gaze" / name)
        assert a.equals(b), name
    assert summary.n_fixations == pl.read_parquet(cli / "gaze" / "fixations.parquet").height

    report = gazeprep.render(sim / "images", api / "maps.zarr", gaze=api / "gaze",
                             masks=sim / "masks", size=32, levels=3, jobs=1)
    got = run_cli("gazeprep", "render", "--levels", "3", "--size", "32", "--gaze", cli / "gaze",
                  "--images", sim / "images", "--masks", sim / "masks",
                  "--out", cli / "maps.zarr", "--jobs", "1")
    assert got.returncode == 0, got.stderr
    assert len(report.rendered) == 6
    a, b = _cache_arrays(api / "maps.zarr"), _cache_arrays(cli / "maps.zarr")
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)

    means = gazeprep.score(api / "maps.zarr")
    got = run_cli("gazeprep", "score", "--cache", cli / "maps.zarr", "--json")
    assert got.returncode == 0, got.stderr
    import json

    cli_means = json.loads(got.stdout)
    assert means["pseudo_dice"] == pytest.approx(cli_means["pseudo_dice"])
    assert gazeprep.open_cache(api / "maps.zarr")["image"].shape[0] == 6

    parts = gazeprep.split(api / "maps.zarr", api / "split", counts=(4, 1, 1), seed=0)
    got = run_cli("gazeprep", "split", cli / "maps.zarr", "--out", cli / "split",
                  "--counts", "4,1,1", "--seed", "0")
    assert got.returncode == 0, got.stderr
    for part, ids in parts.items():
        assert (cli / "split" / f"{part}.txt").read_text().split("\n")[1:] \
            == (api / "split" / f"{part}.txt").read_text().split("\n")[1:]
        assert len(ids) == {"train": 4, "val": 1, "test": 1}[part]


def test_train_evaluate_predict(tmp_path, run_cli) -> None:
    from PIL import Image

    from gradseg.toydata import write_toy_cache

    cache = tmp_path / "toy.zarr"
    write_toy_cache(cache)
    run = gradseg.train(cache, tmp_path / "run", iterations=4, batch_size=2, base_channels=4,
                        eval_every=2, seed=0, threads=1, device="cpu")
    assert run["steps"] == 4 and run["method"] == "gradtrack"
    best = tmp_path / "run" / "best.pt"
    _model, config = gradseg.load_checkpoint(best)
    assert config["method"] == "gradtrack"

    summary, rows = gradseg.evaluate(best, cache=cache)
    got = run_cli("gradseg", "eval", "--checkpoint", best, "--cache", cache, "--json",
                  "--device", "cpu", "--out", tmp_path / "eval.parquet")
    assert got.returncode == 0, got.stderr
    import json

    assert summary["dice"] == pytest.approx(json.loads(got.stdout)["dice"])
    assert len(rows) == summary["n_images"]

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for k, (h, w) in enumerate([(40, 50), (33, 33)]):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(images / f"i{k}.png")
    masks = gradseg.predict(best, images)
    got = run_cli("gradseg", "predict", "--checkpoint", best, "--images", images,
                  "--out", tmp_path / "pred", "--device", "cpu")
    assert got.returncode == 0, got.stderr
    assert sorted(masks) == ["i0", "i1"]
    for key, mask in masks.items():
        written = np.asarray(Image.open(tmp_path / "pred" / f"{key}.png")) > 0
        np.testing.assert_array_equal(mask, written)
    assert gradseg.open_cache(cache).ids


def test_api_names_that_are_modules_stay_modules() -> None:
    """``gazeprep.ingest`` is both the function and the module (``gazeprep.ingest.run_ingest``)."""
    import types

    import gazeprep.ingest as ingest_module
    import gradseg.train as train_module

    assert isinstance(ingest_module, types.ModuleType) and callable(ingest_module)
    assert gazeprep.ingest is ingest_module and ingest_module.run_ingest
    assert gradseg.train is train_module and train_module.TrainConfig


@pytest.mark.parametrize("method", ["gradtrack", "full"])
def test_train_default_run_folder_follows_the_method(method, monkeypatch, tmp_path):
    """As ``gradseg train`` does: without ``out``, the run goes to ``runs/<method>``."""
    import gradseg
    import gradseg.train as training

    seen = {}
    monkeypatch.setattr(training, "train", lambda cfg, **_: seen.setdefault("out", cfg.out))
    gradseg.train(tmp_path / "c.zarr", method=method)
    assert seen["out"] == str(Path("runs") / method)
