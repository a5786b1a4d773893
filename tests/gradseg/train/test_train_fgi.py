"""FGI in the trainer: `--method fgi` and `gradtrack+fgi`, teacher and student, text cues,
resume, inference by the student, the teacher or both, DDP, bf16 autocast and compile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from gradseg.train import train

FGI = ["fgi", "gradtrack+fgi"]


def write_cues(path: Path, ids: list[str], width: int = 16, seed: int = 0) -> Path:
    """Random token embeddings (1..3 tokens of ``width``) for ``ids`` as a Parquet table."""
    rng = np.random.default_rng(seed)
    rows = [rng.standard_normal((1 + i % 3, width)).astype(np.float32).tolist()
            for i in range(len(ids))]
    pq.write_table(pa.table({"image": ids, "embedding": pa.array(
        rows, type=pa.list_(pa.list_(pa.float32())))}), path)
    return path


def toy_ids(n: int = 12) -> list[str]:
    return [f"toy{i:03d}" for i in range(n)]


@pytest.fixture(scope="module")
def fgi_runs(toy_cache, tiny, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """A 6-step run of each FGI method without text, and one of fgi with text cues."""
    root = tmp_path_factory.mktemp("fgi")
    cues = write_cues(root / "cues.parquet", toy_ids())
    runs = {}
    for name, method, text in [("fgi", "fgi", None), ("gradtrack+fgi", "gradtrack+fgi", None),
                               ("text", "fgi", cues)]:
        cfg = tiny(toy_cache(), root / name, method=method, iterations=6, eval_every=3,
                   checkpoint_every=3, text=None if text is None else str(text))
        runs[name] = (root / name, train(cfg, progress=False))
    runs["cues"] = (cues, {})
    return runs


@pytest.mark.parametrize("name", FGI)
def test_both_networks_train_and_are_checkpointed(fgi_runs, name):
    out, summary = fgi_runs[name]
    assert summary["steps"] == 6 and summary["method"] == name
    assert summary["teacher"] == "image-only (no --text)"
    assert np.isfinite(summary["final_loss"])
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert {k.split(".")[0] for k in ckpt["model"]} == {"teacher", "student"}
    assert set(ckpt["optimizer"]) == set(ckpt["scheduler"]) == {"teacher", "student"}
    config = json.loads((out / "config.json").read_text())
    assert config["fgi"]["source"] == ("heatmap" if name == "fgi" else "tracks")
    assert config["fgi"]["darm_ratio"] == 0.3 and config["fgi"]["text_dim"] is None
    # both networks moved away from their initialisation
    torch.manual_seed(0)
    from gradseg.methods import build_model

    init = build_model(config).state_dict()
    for part in ("teacher", "student"):
        assert any(not torch.equal(v, init[k]) for k, v in ckpt["model"].items()
                   if k.startswith(part) and v.is_floating_point()), part


def test_text_cues_reach_the_teacher(fgi_runs):
    out, summary = fgi_runs["text"]
    assert summary["teacher"].startswith("text cues from") and "width 16" in summary["teacher"]
    assert summary["text_zeroed"] == 0
    config = json.loads((out / "config.json").read_text())
    assert config["fgi"]["text_dim"] == 16
    ckpt = torch.load(out / "best.pt", weights_only=True)
    assert any(k.startswith("teacher.fusion.") for k in ckpt["model"])


@pytest.mark.parametrize("method", FGI)
def test_resume_continues_identically(toy_cache, tiny, tmp_path, method):
    kw = dict(method=method, iterations=7, checkpoint_every=100, eval_every=3)
    train(tiny(toy_cache(), tmp_path / "a", **kw), progress=False)
    assert train(tiny(toy_cache(), tmp_path / "b", **kw), stop_after=4,
                 progress=False)["steps"] == 4
    assert train(tiny(toy_cache(), tmp_path / "b", **kw), resume=True,
                 progress=False)["steps"] == 7
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 7 and a["model"].keys() == b["model"].keys()
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    for part in ("teacher", "student"):
        sa, sb = a["optimizer"][part]["state"], b["optimizer"][part]["state"]
        assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
        assert a["scheduler"][part]["last_epoch"] == b["scheduler"][part]["last_epoch"] == 7
    # The same validation scores; "loss" is the mean since the last validation in this
    # invocation, so it differs after the resume point.
    metrics = [(tmp_path / r / "metrics.jsonl").read_text().splitlines() for r in "ab"]
    keep = lambda rows: [{k: v for k, v in json.loads(r).items()  # noqa: E731
                          if k not in ("time_s", "loss")} for r in rows]
    assert keep(metrics[0]) == keep(metrics[1]) and len(metrics[0]) == 3


def test_missing_cues_error_or_zero(toy_cache, tiny, tmp_path):
    cues = write_cues(tmp_path / "few.parquet", toy_ids()[1:])  # toy000 has none
    cfg = tiny(toy_cache(), tmp_path / "e", method="fgi", iterations=2, val_fraction=0.0,
               text=str(cues))
    with pytest.raises(Exception, match="no text embedding for image 'toy000'"):
        train(cfg, progress=False)
    assert not (tmp_path / "e").exists()
    cfg = tiny(toy_cache(), tmp_path / "z", method="fgi", iterations=4, val_fraction=0.0,
               text=str(cues), text_missing="zero")
    s = train(cfg, progress=False)
    assert s["text_zeroed"] == 1 and s["steps"] == 4


def test_fgi_options_on_the_command_line(toy_cache, tmp_path, gradseg_cli, flat):
    base = ["train", "--cache", toy_cache(), "--iterations", "2", "--batch-size", "4",
            "--base-channels", "4", "--threads", "1", "--quiet"]
    code, _, err = gradseg_cli(*base, "--out", tmp_path / "a", "--method", "gradtrack+fgi",
                               "--fgi-darm-ratio", "0.2", "--fgi-darm-block", "2,6",
                               "--fgi-source", "heatmap", "--fgi-rampup-iters", "10",
                               "--fgi-sup-loss", "bce+dice")
    assert code == 0, err
    fgi = json.loads((tmp_path / "a" / "config.json").read_text())["fgi"]
    assert (fgi["darm_ratio"], fgi["darm_block"], fgi["source"]) == (0.2, [2, 6], "heatmap")
    assert (fgi["rampup_iters"], fgi["sup_loss"], fgi["cps_pos"]) == (10, "bce+dice", 0.8)
    for args, option in [(("--method", "fgi", "--fgi-darm-ratio", "1.5"), "--fgi-darm-ratio"),
                         (("--method", "fgi", "--fgi-darm-block", "6,2"), "--fgi-darm-block"),
                         (("--method", "fgi", "--fgi-cps-pos", "nan"), "--fgi-cps-pos"),
                         (("--method", "fgi", "--thresholds", "0.5"), "--fgi-*"),
                         (("--fgi-noise", "0.1"), "--fgi-*"),
                         (("--text", tmp_path / "x.parquet"), "--text")]:
        code, _, err = gradseg_cli(*base, "--out", tmp_path / "bad", *args)
        assert code == 2 and option in flat(err), (args, err)
        assert not (tmp_path / "bad").exists()


def test_fgi_options_are_grouped_in_the_help(gradseg_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    _, out, _ = gradseg_cli("train", "--help")
    assert "FGI (--method fgi, gradtrack+fgi" in out
    for option in ("--fgi-darm-ratio", "--fgi-cps-pos", "--fgi-rampup-iters", "--text-missing"):
        assert option in out
    # FGI's defaults are shown (brackets would be eaten as rich markup)
    for default in ("(FGI: group)", "(FGI: bce)", "(FGI: 4000)", "(FGI: imagenet)"):
        assert default in out


def _eval(gradseg_cli, ckpt, cache, out, *args):
    code, stdout, err = gradseg_cli("eval", "--checkpoint", ckpt, "--cache", cache, "--json",
                                    "--out", out, *args)
    return code, (json.loads(stdout) if code == 0 else None), err


def test_inference_by_student_teacher_or_ensemble(fgi_runs, toy_cache, tmp_path, gradseg_cli,
                                                  flat):
    cache, cues = toy_cache(), fgi_runs["cues"][0]
    text_ckpt = fgi_runs["text"][0] / "best.pt"
    dice = {}
    for which in ("student", "teacher", "ensemble"):
        extra = () if which == "student" else ("--text", cues)
        code, res, err = _eval(gradseg_cli, text_ckpt, cache, tmp_path / f"{which}.parquet",
                               "--model", which, *extra)
        assert code == 0, err
        assert res["model"] == which and res["n_images"] == 12
        dice[which] = res["dice"]
    # three different predictors (untrained networks rarely agree to the last digit)
    assert len(set(dice.values())) == 3, dice
    code, _, err = _eval(gradseg_cli, text_ckpt, cache, tmp_path / "x.parquet", "--model",
                         "teacher")
    assert code == 2 and "trained with text cues (width 16); pass --text" in flat(err)
    code, _, err = _eval(gradseg_cli, text_ckpt, cache, tmp_path / "x.parquet", "--text", cues)
    assert code == 2 and "the student predicts from the image alone" in flat(err)
    image_only = fgi_runs["fgi"][0] / "best.pt"
    code, res, err = _eval(gradseg_cli, image_only, cache, tmp_path / "t.parquet", "--model",
                           "teacher")
    assert code == 0 and res["model"] == "teacher", err
    code, _, err = _eval(gradseg_cli, image_only, cache, tmp_path / "x.parquet", "--model",
                         "teacher", "--text", cues)
    assert code == 2 and "trained image-only" in flat(err)
    assert not (tmp_path / "x.parquet").exists()


def test_predict_with_the_teacher_needs_each_images_cue(fgi_runs, tmp_path, gradseg_cli):
    from skimage.io import imread, imsave

    from gradseg.toydata import make_sample

    imgs = tmp_path / "images"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    for key in ("toy001", "toy002"):
        imsave(imgs / f"{key}.png", make_sample(rng, 32, 3)["image"].transpose(1, 2, 0),
               check_contrast=False)
    ckpt, cues = fgi_runs["text"][0] / "best.pt", fgi_runs["cues"][0]
    code, _, err = gradseg_cli("predict", "--checkpoint", ckpt, "--images", imgs, "--out",
                               tmp_path / "pred", "--model", "ensemble", "--text", cues)
    assert code == 0, err
    assert imread(tmp_path / "pred" / "toy001.png").shape == (32, 32)
    few = write_cues(tmp_path / "few.parquet", ["toy001"])
    code, _, err = gradseg_cli("predict", "--checkpoint", ckpt, "--images", imgs, "--out",
                               tmp_path / "pred2", "--model", "teacher", "--text", few)
    assert code == 1 and "no text embedding for image 'toy002'" in err


def test_bf16_autocast_on_cpu(toy_cache, tiny, tmp_path):
    for method in FGI:
        s = train(tiny(toy_cache(), tmp_path / method, method=method, iterations=2, amp=True),
                  progress=False)
        assert s["steps"] == 2 and np.isfinite(s["final_loss"])


@pytest.mark.slow
def test_ddp_two_cpu_processes(toy_cache, tmp_path):
    out = tmp_path / "ddp"
    cues = write_cues(tmp_path / "cues.parquet", toy_ids())
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "gradseg.cli", "train", "--cache", str(toy_cache()), "--out", str(out),
           "--method", "gradtrack+fgi", "--text", str(cues), "--iterations", "3",
           "--batch-size", "2", "--base-channels", "4", "--threads", "1", "--eval-every", "3",
           "--quiet", "--device", "cpu"]
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 3
    assert summary["teacher"].startswith("text cues")
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["step"] == 3 and set(ckpt["optimizer"]) == {"teacher", "student"}


@pytest.mark.slow
def test_compile(toy_cache, tiny, tmp_path):
    cache = toy_cache(n=8, size=16, levels=2, seed=0)
    eager = train(tiny(cache, tmp_path / "e", method="fgi", iterations=2), progress=False)
    compiled = train(tiny(cache, tmp_path / "c", method="fgi", iterations=2, compile=True),
                     progress=False)
    assert compiled["steps"] == 2
    assert compiled["first_loss"] == pytest.approx(eager["first_loss"], rel=1e-4)
