"""`pipelines/paper.py --smoke`: the published protocol's whole recipe, every method and both
ablations, on a synthetic dataset, as a subprocess (as CI runs it); and the loader benchmark's
comparison loader."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ["gradtrack", "gazesup", "fgi", "full", "gradtrack-no-track-supervision",
            "gradtrack-heatmap-target"]


def _paper(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "pipelines" / "paper.py"), *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.mark.slow
def test_paper_smoke_writes_one_table_of_every_method(tmp_path):
    out = tmp_path / "paper"
    proc = _paper("--smoke", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "paper.json").read_text())
    table = result["table"]
    assert list(table) == ["fgi", *[v for v in VARIANTS if v != "fgi"]]  # costliest first
    for name, row in table.items():
        assert row["seeds"] == [0, 1] and row["n_test"] == 6, name
        for which in ("best", "last"):
            for metric in ("dice", "iou"):
                cell = row[which][metric]
                assert all(0 <= v <= 1 for v in cell["values"]) and cell["sd"] is not None
            assert all(v >= 0 for v in row[which]["hd95"]["values"])
        assert row["train_seconds"]["mean"] > 0 and row["peak_memory_mb"] > 0
    md = (out / "paper.md").read_text()
    assert md.count("\n| ") == 1 + len(VARIANTS) and "Command: `python pipelines/paper.py" in md

    def config(variant: str, seed: int = 0) -> dict:
        return json.loads((out / "runs" / variant / f"seed{seed}" / "config.json").read_text())

    for variant in VARIANTS:  # the protocol, shrunk by --smoke
        c = config(variant)
        assert (c["optimizer"], c["lr"], c["lr_min"], c["weight_decay"], c["warmup"]) == (
            "sgd", 1e-2, 1e-4, 4e-4, 0)
        assert (c["augmentation"], c["iterations"], c["size"]) == ("flips", 12, 32)
        assert c["norm"] == "group" or variant == "fgi"
    assert config("fgi")["base_channels"] == 2 and config("gradtrack")["base_channels"] == 4
    assert config("fgi")["fgi"]["rampup_iters"] == 3  # 4,000 x 12 / 15,000
    assert config("gradtrack-no-track-supervision")["att_weight"] == 0.0
    assert config("gradtrack-heatmap-target")["seg_target"] == "heatmap"
    run = out / "runs" / "gradtrack" / "seed1"
    steps = [torch.load(run / f"{w}.pt", weights_only=True)["step"] for w in ("best", "last")]
    assert steps[1] == 12 and steps[0] in (6, 12)
    # a second call reuses the finished runs
    stamp = (run / "result.json").stat().st_mtime_ns
    again = _paper("--smoke", "--out", str(out))
    assert again.returncode == 0, again.stderr[-3000:]
    assert (run / "result.json").stat().st_mtime_ns == stamp
    assert json.loads((out / "paper.json").read_text())["table"]["gradtrack"]["best"] == \
        table["gradtrack"]["best"]


def test_paper_needs_its_inputs(tmp_path):
    proc = _paper("--out", str(tmp_path / "p"))
    assert proc.returncode == 2 and "--cache" in proc.stderr
    assert not (tmp_path / "p").exists()


def _bench_loader():
    sys.path.insert(0, str(ROOT / "pipelines"))
    spec = importlib.util.spec_from_file_location("bench_loader",
                                                  ROOT / "pipelines" / "bench_loader.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_loader_compares_both_loaders_on_the_same_samples(tmp_path):
    import zarr
    from PIL import Image

    from gazeprep.contract.cache import read_sample_table
    from gradseg.toydata import write_toy_cache

    bl = _bench_loader()
    cache = tmp_path / "toy.zarr"
    write_toy_cache(cache, n=12, size=32, levels=3, seed=1)
    g = zarr.open_group(str(cache), mode="r")
    ids = [str(i) for i in read_sample_table(cache)["sample"]]
    images = tmp_path / "images"
    images.mkdir()
    for k, key in enumerate(ids):  # the cache's images at a larger "native" size
        Image.fromarray(g["image"][k].transpose(1, 2, 0)).resize((50, 40)).save(
            images / f"{key}.jpg", quality=95)
    result = bl.main([str(cache), "--images", str(images), "--labels", str(tmp_path / "lab"),
                      "--n", "8", "--batches", "4", "--batch-size", "2", "--workers", "0",
                      "--size", "32", "--repeat", "1", "--out", str(tmp_path / "bl")])
    assert set(result["loaders"]) == {"cache", "jpeg-per-step", "cache + CPU device step"}
    for r in result["loaders"].values():
        assert r["samples"] == 8 and r["samples_s"] > 0 and r["samples_per_cpu_s"] > 0
    assert "| jpeg-per-step |" in (tmp_path / "bl.md").read_text()
    # the comparison loader: full-size files, resized to --size, flipped by the sample's seed
    ds = bl.JpegPerStep(ids[:8], bl.find_images(images, ids[:8]),
                        tmp_path / "lab", 3, 32)
    a, b = ds[(1, 5)], ds[(1, 5)]
    assert a["image"].shape == (3, 32, 32) and a["maps"].shape == (3, 32, 32)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert set(np.unique(a["pseudo"].numpy()).tolist()) <= {0.0, 1.0}
    assert 0 <= float(a["image"].min()) and float(a["image"].max()) <= 1
    assert (tmp_path / "lab" / "toy001_2.jpg").is_file()
