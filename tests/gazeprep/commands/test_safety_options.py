"""Absurd option values are usage errors (exit 2) that state the limit, before any work.

Covers ``gazeprep ingest``, ``gazeprep render`` (including the memory and disk estimate of
``--size``) and ``gradseg train``. Every case also checks that the user's files are untouched
and that no output appeared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from skimage.io import imsave


def run(main, args: list[str]) -> int:
    with pytest.raises(SystemExit) as ex:
        main(args)
    return 0 if ex.value.code is None else int(ex.value.code)


@pytest.fixture()
def user(tmp_path) -> Path:
    """A report, two images and an ingest output, as a user would have them."""
    root = tmp_path / "user"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for iid in ("a", "b"):
        imsave(root / "images" / f"{iid}.png", rng.integers(0, 255, (20, 30, 3), np.uint8),
               check_contrast=False)
    (root / "fix.csv").write_text("IMAGE,X,Y,DURATION\na.png,0.1,0.2,100\nb.png,0.5,0.5,300\n")
    (root / "gaze").mkdir()
    pl.DataFrame({"image": ["a"], "session": ["s"], "x": [[0.2, 0.6]], "y": [[0.5, 0.4]],
                  "duration_ms": [[200.0, 300.0]]}).write_parquet(root / "gaze" /
                                                                  "tracks.parquet")
    return root


@pytest.fixture()
def usage_error(capsys, tree_digest):

    def usage_error_(user: Path, main, args: list[str], *words: str) -> str:
        before = tree_digest(user)
        assert run(main, args) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        flat = " ".join(err.replace("│", " ").split())
        for w in words:
            assert w in flat, (w, flat)
        assert tree_digest(user) == before and not (user.parent / "out").exists()
        return flat

    return usage_error_


INGEST = [
    (["--sample-rate", "0"], "--sample-rate", "> 0"),
    (["--sample-rate", "-250"], "--sample-rate", "> 0"),
    (["--sample-rate", "nan"], "--sample-rate", "finite"),
    (["--sample-rate", "inf"], "--sample-rate", "finite"),
    (["--min-duration", "-1"], "--min-duration", ">= 0"),
    (["--min-duration", "nan"], "--min-duration", "finite"),
    (["--min-duration", "inf"], "--min-duration", "finite"),
    (["--screen-px", "0", "1080"], "--screen-px", "> 0"),
    (["--screen-px", "1920", "-5"], "--screen-px", "> 0"),
    (["--screen-size-cm", "0", "30"], "--screen-size-cm", "> 0"),
    (["--screen-size-cm", "53", "nan"], "--screen-size-cm", "finite"),
    (["--distance-cm", "0"], "--distance-cm", "> 0"),
    (["--distance-cm", "inf"], "--distance-cm", "finite"),
    (["--ivt-velocity", "0"], "--ivt-velocity", "> 0"),
    (["--ivt-velocity", "nan"], "--ivt-velocity", "finite"),
    (["--ivt-window", "-5"], "--ivt-window", ">= 0"),
    (["--idt-dispersion", "-1"], "--idt-dispersion", "> 0"),
    (["--idt-dispersion", "inf"], "--idt-dispersion", "finite"),
    (["--idt-window", "0"], "--idt-window", "> 0"),
    (["--max-gap", "0"], "--max-gap", "> 0"),
    (["--merge-gap", "-1"], "--merge-gap", ">= 0"),
    (["--merge-distance", "nan"], "--merge-distance", "finite"),
    (["--image-rect", "0", "0", "0", "0"], "--image-rect", "W"),
    (["--image-rect", "0", "0", "100", "-1"], "--image-rect", "H"),
    (["--image-rect", "nan", "0", "100", "100"], "--image-rect", "finite"),
    (["--image-rect", "0", "0", "inf", "100"], "--image-rect", "finite"),
]


@pytest.mark.parametrize(("extra", "name", "limit"), INGEST)
def test_ingest_options(user, capsys, extra, name, limit, usage_error):
    from gazeprep.cli import main

    usage_error(user, main,
                ["ingest", str(user / "fix.csv"), "--out", str(user.parent / "out"), *extra],
                name, limit)


RENDER = [
    (["--size", "4"], "--size", "8"),
    (["--size", "100000"], "--size", "32768"),
    (["--levels", "0"], "--levels", "1"),
    (["--levels", "1000000000"], "--levels", "32"),
    (["--tau", "0"], "--tau", "> 0"),
    (["--tau", "nan"], "--tau", "finite"),
    (["--tau", "inf"], "--tau", "finite"),
    (["--gamma", "0"], "--gamma", "> 0"),
    (["--gamma", "-1"], "--gamma", "> 0"),
    (["--gamma", "nan"], "--gamma", "finite"),
    (["--rho", "-0.1"], "--rho", ">= 0"),
    (["--rho", "nan"], "--rho", "finite"),
    (["--alpha", "inf"], "--alpha", "finite"),
    (["--ratios", "1,nan,0.5,0.25"], "--ratios", "(0, 1]"),
    (["--ratios", "1,0,0.5,0.25"], "--ratios", "(0, 1]"),
    (["--ratios", "1,2,0.5,0.25"], "--ratios", "(0, 1]"),
    (["--ratios", "1,inf,0.5,0.25"], "--ratios", "(0, 1]"),
    (["--ratios", "1,0.5"], "--ratios", "4"),
    (["--pseudo-threshold", "nan"], "--pseudo-threshold", "finite"),
    (["--bg-threshold", "inf"], "--bg-threshold", "finite"),
    (["--edge-sigma", "-1"], "--edge-sigma", ">= 0"),
    (["--shard", "0"], "--shard", "1"),
]


@pytest.mark.parametrize(("extra", "name", "limit"), RENDER)
def test_render_options(user, capsys, extra, name, limit, usage_error):
    from gazeprep.cli import main

    usage_error(user, main,
                ["render", "--gaze", str(user / "gaze"), "--images", str(user / "images"),
                 "--out", str(user.parent / "out"), *extra], name, limit)


def test_render_size_that_does_not_fit_in_memory(user, capsys, monkeypatch, usage_error):
    """--size whose working memory exceeds RAM is refused with the estimate (RAM: 1 GiB)."""
    from gazeprep.cli import main

    real = __import__("os").sysconf
    monkeypatch.setattr("os.sysconf", lambda name: 262144 if name == "SC_PHYS_PAGES"
                        else 4096 if name == "SC_PAGE_SIZE" else real(name))
    msg = usage_error(user, main,
                      ["render", "--gaze", str(user / "gaze"), "--images", str(user / "images"),
                       "--out", str(user.parent / "out"), "--size", "8192"],
                      "--size", "memory", "GiB")
    assert "1.0 GiB" in msg  # the RAM it was compared with


def test_render_size_that_does_not_fit_on_disk(user, capsys, monkeypatch, usage_error):
    from collections import namedtuple

    from gazeprep.cli import main

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("shutil.disk_usage", lambda path: usage(10**9, 10**9 - 10**6, 10**6))
    usage_error(user, main,
                ["render", "--gaze", str(user / "gaze"), "--images", str(user / "images"),
                 "--out", str(user.parent / "out"), "--size", "1024"],
                "--size", "disk", "MiB")


def test_render_estimate_counts_what_render_allocates():
    """The estimate grows with S^2, L, the batch and the tracks, and exceeds the float maps."""
    from gazeprep.render.maps import render_memory_bytes
    from gazeprep.render.params import RenderParams

    p = RenderParams(size=256)
    one = render_memory_bytes(p, batch=32, tracks=32, threads=2)
    assert one > 32 * 4 * 256 * 256 * 4  # at least the float32 maps of the batch
    assert render_memory_bytes(RenderParams(size=512), 32, 32, 2) > 3.9 * one
    assert render_memory_bytes(p, 32, 64, 2) > one
    assert render_memory_bytes(p, 32, 32, 16) > one


def test_render_accepts_sane_options(user, capsys):
    from gazeprep.cli import main

    out = user.parent / "out"
    assert run(main, ["render", "--gaze", str(user / "gaze"), "--images", str(user / "images"),
                      "--out", str(out), "--size", "16", "--tau", "0.1",
                      "--ratios", "1,0.75,0.5,0.25"]) == 0
    assert (out / "zarr.json").is_file()


# -- gradseg train -----------------------------------------------------------------------------

TRAIN = [
    (["--size", "0"], "--size", "8"),
    (["--size", "100000"], "--size", "16384"),
    (["--batch-size", "0"], "--batch-size", "1"),
    (["--iterations", "-5"], "--iterations", "1"),
    (["--iterations", "0"], "--iterations", "1"),
    (["--epochs", "0"], "--epochs", "1"),
    (["--eval-every", "0"], "--eval-every", "1"),
    (["--checkpoint-every", "0"], "--checkpoint-every", "1"),
    (["--val-fraction", "1"], "--val-fraction", "< 1"),
    (["--val-fraction", "-0.1"], "--val-fraction", ">= 0"),
    (["--val-fraction", "nan"], "--val-fraction", "finite"),
    (["--lr", "0"], "--lr", "> 0"),
    (["--lr", "-1e-3"], "--lr", "> 0"),
    (["--lr", "nan"], "--lr", "finite"),
    (["--lr", "inf"], "--lr", "finite"),
    (["--warmup", "-1"], "--warmup", "0"),
    (["--base-channels", "0"], "--base-channels", "1"),
    (["--seg-weight", "nan"], "--seg-weight", "finite"),
    (["--att-weight", "-1"], "--att-weight", ">= 0"),
    (["--thresholds", "0.5,nan"], "--thresholds", "(0, 1)"),
]


@pytest.mark.parametrize(("extra", "name", "limit"), TRAIN)
def test_train_options(user, capsys, extra, name, limit, usage_error):
    from gradseg.cli import main

    usage_error(user, main,
                ["train", "--cache", str(user / "no-cache.zarr"), "--out",
                 str(user.parent / "out"), *extra], name, limit)


def test_train_config_is_checked_from_the_api(tmp_path):
    """TrainConfig used directly: the same limits, as GradsegError (exit 1 from a script)."""
    from gradseg.errors import GradsegError
    from gradseg.toydata import write_toy_cache
    from gradseg.train import TrainConfig, train

    cache = tmp_path / "toy.zarr"
    write_toy_cache(cache, n=6, size=32, levels=3, seed=1)
    for kw, word in [({"batch_size": 0}, "batch"), ({"iterations": -5}, "iterations"),
                     ({"epochs": 0}, "epochs"), ({"eval_every": 0}, "eval"),
                     ({"checkpoint_every": 0}, "checkpoint"), ({"val_fraction": 1.0}, "val"),
                     ({"lr": float("nan")}, "lr"), ({"lr": 0.0}, "lr"),
                     ({"size": 36}, "divisible")]:
        with pytest.raises(GradsegError, match=word):
            train(TrainConfig(cache=str(cache), out=str(tmp_path / "run"), threads=1, **kw),
                  progress=False)
        assert not (tmp_path / "run").exists()


def test_train_size_that_does_not_fit_in_memory(tmp_path, monkeypatch):
    from gradseg.errors import GradsegError
    from gradseg.toydata import write_toy_cache
    from gradseg.train import TrainConfig, train

    cache = tmp_path / "toy.zarr"
    write_toy_cache(cache, n=6, size=32, levels=3, seed=1)
    real = __import__("os").sysconf
    monkeypatch.setattr("os.sysconf", lambda name: 262144 if name == "SC_PHYS_PAGES"
                        else 4096 if name == "SC_PAGE_SIZE" else real(name))
    with pytest.raises(GradsegError, match="memory") as err:
        train(TrainConfig(cache=str(cache), out=str(tmp_path / "run"), size=8192, threads=1,
                          device="cpu"), progress=False)
    assert "GiB" in str(err.value) and not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "name", "limit"), [
    (["simulate", "SIM", "--size", "100000"], "--size", "4096"),
    (["simulate", "SIM", "--display", "2000"], "--display", "1080"),
    (["score", "--level-threshold", "nan"], "--level-threshold", "finite"),
    (["score", "--heatmap-threshold", "1.5"], "--heatmap-threshold", "< 1"),
])
def test_simulate_and_score_options(user, capsys, args, name, limit, usage_error):
    from gazeprep.cli import main

    args = [str(user.parent / "out") if a == "SIM" else a for a in args]
    usage_error(user, main, args, name, limit)
