"""Training, resume, checkpoints, eval and predict on a tiny synthetic cache."""

import json

import numpy as np
import pytest
import torch

from gradseg.cli import main
from gradseg.toydata import write_toy_cache
from gradseg.train import TrainConfig, train


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("gs") / "toy.zarr"
    write_toy_cache(path, n=12, size=32, levels=3, seed=1)
    return path


def _cfg(cache, out, **kw):
    base = dict(cache=str(cache), out=str(out), batch_size=4, base_channels=4, lr=3e-3,
                warmup=3, eval_every=10, checkpoint_every=10, threads=1, val_fraction=0.2)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def run(cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("gs") / "run"
    summary = train(_cfg(cache, out, iterations=40), progress=False)
    return out, summary


def test_tiny_run_loss_falls_and_writes_checkpoints(run):
    out, summary = run
    assert summary["steps"] == 40
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [10, 20, 30, 40]
    assert recs[-1]["loss"] < recs[0]["loss"]
    assert all(0 <= r["val_dice"] <= 1 for r in recs)
    for name in ("best.pt", "last.pt", "val.png", "config.json", "split.json", "summary.json"):
        assert (out / name).is_file(), name
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["step"] == 40 and isinstance(ckpt["config"], str)
    split = json.loads((out / "split.json").read_text())
    assert len(split["val"]) == 2 and not set(split["val"]) & set(split["train"])


@pytest.mark.parametrize("method", ["gazesup", "full"])
def test_other_methods_train(cache, tmp_path, method):
    s = train(_cfg(cache, tmp_path / method, method=method, iterations=4), progress=False)
    assert s["steps"] == 4 and (tmp_path / method / "best.pt").is_file()


def test_held_out_ids_are_never_used(cache, tmp_path):
    held = tmp_path / "test.txt"
    held.write_text("toy000\ntoy005\n")
    main_args = ["train", "--cache", str(cache), "--out", str(tmp_path / "r"), "--iterations",
                 "2", "--batch-size", "4", "--base-channels", "4", "--threads", "1",
                 "--test-ids", str(held), "--quiet"]
    with pytest.raises(SystemExit) as e:
        main(main_args)
    assert e.value.code in (0, None)
    split = json.loads((tmp_path / "r" / "split.json").read_text())
    assert split["held_out"] == ["toy000", "toy005"]
    assert not {"toy000", "toy005"} & set(split["train"] + split["val"])


def test_resume_equals_straight_run(cache, tmp_path):
    straight = tmp_path / "a"
    train(_cfg(cache, straight, iterations=9, checkpoint_every=100), progress=False)
    pieces = tmp_path / "b"
    s1 = train(_cfg(cache, pieces, iterations=9, checkpoint_every=100), stop_after=5,
               progress=False)
    assert s1["steps"] == 5
    s2 = train(_cfg(cache, pieces, iterations=9, checkpoint_every=100), resume=True,
               progress=False)
    assert s2["steps"] == 9
    a = torch.load(straight / "last.pt", weights_only=True)
    b = torch.load(pieces / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 9
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"]
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)


def test_resume_refuses_other_settings(cache, tmp_path):
    train(_cfg(cache, tmp_path / "r", iterations=2), progress=False)
    with pytest.raises(Exception, match="different settings"):
        train(_cfg(cache, tmp_path / "r", iterations=2, lr=0.5), resume=True, progress=False)
    with pytest.raises(Exception, match="already holds checkpoints"):
        train(_cfg(cache, tmp_path / "r", iterations=2), progress=False)


def _fails(capsys, args, code=1):
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == code
    err = capsys.readouterr().err
    return err


def test_bad_cache_path_is_a_clear_error(capsys, tmp_path):
    err = _fails(capsys, ["train", "--cache", str(tmp_path / "nope.zarr"), "--out",
                          str(tmp_path / "r")])
    assert "cache not found" in err and "Traceback" not in err
    (tmp_path / "plain").mkdir()
    err = _fails(capsys, ["train", "--cache", str(tmp_path / "plain")])
    assert "gazeprep" in err


def test_incomplete_cache_is_refused(capsys, tmp_path):
    path = tmp_path / "inc.zarr"
    write_toy_cache(path, n=4, size=16, levels=2, complete=False)
    err = _fails(capsys, ["train", "--cache", str(path), "--out", str(tmp_path / "r")])
    assert "incomplete" in err


def test_old_float16_cache_is_refused(capsys, tmp_path):
    import zarr

    path = tmp_path / "old.zarr"
    write_toy_cache(path, n=4, size=16, levels=2)
    g = zarr.open_group(str(path), mode="r+")
    maps = g["maps"][:]
    del g["maps"]
    g.create_array("maps", shape=maps.shape, dtype="float16", chunks=(1, 2, 16, 16))
    err = _fails(capsys, ["train", "--cache", str(path), "--out", str(tmp_path / "r")])
    assert "'maps' is float16, expected uint8" in err and "render it again" in err


def test_corrupt_and_mismatched_checkpoints(capsys, run, tmp_path, cache):
    out, _ = run
    good = (out / "best.pt").read_bytes()
    bad = tmp_path / "trunc.pt"
    bad.write_bytes(good[: len(good) // 2])
    err = _fails(capsys, ["eval", "--checkpoint", str(bad), "--cache", str(cache)])
    assert "not a readable gradseg checkpoint" in err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    assert "not a readable" in _fails(capsys, ["eval", "--checkpoint", str(junk), "--cache",
                                               str(cache)])
    code = tmp_path / "code.pt"
    torch.save({"format": "gradseg-checkpoint", "obj": np.random.default_rng(0)}, code)
    assert "pickled code" in _fails(capsys, ["eval", "--checkpoint", str(code), "--cache",
                                             str(cache)])
    ckpt = torch.load(out / "best.pt", weights_only=True)
    cfg = json.loads(ckpt["config"])
    cfg["base_channels"] = 8
    ckpt["config"] = json.dumps(cfg)
    from gradseg.checkpoint import tensor_digest

    ckpt["sha256"] = tensor_digest(ckpt)  # a consistent file, just not this model's
    mism = tmp_path / "mism.pt"
    torch.save(ckpt, mism)
    assert "do not match" in _fails(capsys, ["eval", "--checkpoint", str(mism), "--cache",
                                             str(cache)])
    assert "checkpoint not found" in _fails(capsys, ["eval", "--checkpoint",
                                                     str(tmp_path / "x.pt"), "--cache", str(cache)])


def test_usage_error_exits_2(capsys, run):
    out, _ = run
    _fails(capsys, ["eval", "--checkpoint", str(out / "best.pt")], code=2)
    _fails(capsys, ["train"], code=2)


def test_eval_json_on_cache(capsys, run, cache, tmp_path):
    out, _ = run
    ids = tmp_path / "ids.txt"
    ids.write_text("toy001\ntoy002\ntoy003\n")
    with pytest.raises(SystemExit) as e:
        main(["eval", "--checkpoint", str(out / "best.pt"), "--cache", str(cache), "--json",
              "--ids", str(ids), "--out", str(tmp_path / "e.parquet")])
    assert e.value.code in (0, None)
    res = json.loads(capsys.readouterr().out)
    assert {"dice", "iou", "hd95", "n_images"} <= set(res)
    assert res["n_images"] == 3 and 0 <= res["dice"] <= 1
    import polars as pl

    df = pl.read_parquet(tmp_path / "e.parquet")
    assert df["id"].to_list() == ["toy001", "toy002", "toy003"]
    assert df["dice"].mean() == pytest.approx(res["dice"])


def _write_folder(tmp_path, shapes):
    from skimage.io import imsave
    from skimage.transform import resize

    from gradseg.toydata import make_sample

    imgs, msks = tmp_path / "images", tmp_path / "masks"
    imgs.mkdir()
    msks.mkdir()
    rng = np.random.default_rng(3)
    for i, (h, w) in enumerate(shapes):
        s = make_sample(rng, 32, 3)
        img = resize(s["image"].transpose(1, 2, 0), (h, w), preserve_range=True).astype(np.uint8)
        m = resize(s["mask"][0].astype(float), (h, w)) > 0.5
        imsave(str(imgs / f"im{i}.png"), img, check_contrast=False)
        imsave(str(msks / f"im{i}.png"), (m * 255).astype(np.uint8), check_contrast=False)
    return imgs, msks


def test_predict_writes_masks_at_original_size(capsys, run, tmp_path):
    from skimage.io import imread

    out, _ = run
    shapes = [(45, 70), (64, 33)]
    imgs, msks = _write_folder(tmp_path, shapes)
    pred = tmp_path / "pred"
    with pytest.raises(SystemExit) as e:
        main(["predict", "--checkpoint", str(out / "best.pt"), "--images", str(imgs), "--out",
              str(pred)])
    assert e.value.code in (0, None)
    for i, (h, w) in enumerate(shapes):
        m = imread(str(pred / f"im{i}.png"))
        assert m.shape == (h, w) and set(np.unique(m)) <= {0, 255}
        assert imread(str(pred / f"im{i}_overlay.png")).shape == (h, w, 3)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["eval", "--checkpoint", str(out / "best.pt"), "--images", str(imgs), "--masks",
              str(msks), "--json", "--out", str(tmp_path / "f.parquet")])
    res = json.loads(capsys.readouterr().out)
    assert res["n_images"] == 2
