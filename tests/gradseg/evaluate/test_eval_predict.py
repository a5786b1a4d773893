"""eval and predict on a trained checkpoint: cache and folders, original sizes, bad checkpoints."""

import json

import numpy as np
import polars as pl
import pytest
import torch

from gradseg.checkpoint import tensor_digest


def test_corrupt_and_mismatched_checkpoints(trained, toy_cache, tmp_path, gradseg_cli):
    out, _ = trained
    cache = toy_cache()

    def fails(path) -> str:
        code, _, err = gradseg_cli("eval", "--checkpoint", path, "--cache", cache, "--out",
                                   tmp_path / "e.parquet")
        assert code == 1
        return err

    good = (out / "best.pt").read_bytes()
    bad = tmp_path / "trunc.pt"
    bad.write_bytes(good[: len(good) // 2])
    assert "not a readable gradseg checkpoint" in fails(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    assert "not a readable" in fails(junk)
    code = tmp_path / "code.pt"
    torch.save({"format": "gradseg-checkpoint", "obj": np.random.default_rng(0)}, code)
    assert "not loaded: the file refers to numpy" in fails(code)
    ckpt = torch.load(out / "best.pt", weights_only=True)
    cfg = json.loads(ckpt["config"])
    cfg["base_channels"] = 8
    ckpt["config"] = json.dumps(cfg)
    ckpt["sha256"] = tensor_digest(ckpt)  # a consistent file, just not this model's
    mism = tmp_path / "mism.pt"
    torch.save(ckpt, mism)
    assert "do not match" in fails(mism)
    assert "checkpoint not found" in fails(tmp_path / "x.pt")


def test_eval_without_data_is_a_usage_error(trained, gradseg_cli):
    out, _ = trained
    assert gradseg_cli("eval", "--checkpoint", out / "best.pt")[0] == 2


def test_eval_json_on_cache(trained, toy_cache, tmp_path, gradseg_cli):
    out, _ = trained
    ids = tmp_path / "ids.txt"
    ids.write_text("toy001\ntoy002\ntoy003\n")
    code, stdout, err = gradseg_cli("eval", "--checkpoint", out / "best.pt", "--cache",
                                    toy_cache(), "--json", "--ids", ids, "--out",
                                    tmp_path / "e.parquet")
    assert code == 0, err
    res = json.loads(stdout)
    assert {"dice", "iou", "hd95", "n_images"} <= set(res) and "model" not in res  # one network
    assert res["n_images"] == 3 and 0 <= res["dice"] <= 1
    df = pl.read_parquet(tmp_path / "e.parquet")
    assert df["image"].to_list() == ["toy001", "toy002", "toy003"]
    # HD95 in the original image's pixels: the toy cache says its images were 2S x 3S
    assert df["height"].to_list() == [64] * 3 and df["width"].to_list() == [96] * 3
    assert df["hd95_mm"].is_null().all() and "hd95_mm" not in res  # no spacing in the cache
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


def test_predict_writes_masks_at_original_size(trained, tmp_path, gradseg_cli):
    from skimage.io import imread

    out, _ = trained
    shapes = [(45, 70), (64, 33)]
    imgs, msks = _write_folder(tmp_path, shapes)
    code, _, err = gradseg_cli("predict", "--checkpoint", out / "best.pt", "--images", imgs,
                               "--out", tmp_path / "pred")
    assert code == 0, err
    for i, (h, w) in enumerate(shapes):
        m = imread(str(tmp_path / "pred" / f"im{i}.png"))
        assert m.shape == (h, w) and set(np.unique(m)) <= {0, 255}
        assert imread(str(tmp_path / "pred" / f"im{i}_overlay.png")).shape == (h, w, 3)
    code, stdout, err = gradseg_cli("eval", "--checkpoint", out / "best.pt", "--images", imgs,
                                    "--masks", msks, "--json", "--out", tmp_path / "f.parquet")
    assert code == 0, err
    assert json.loads(stdout)["n_images"] == 2


def test_one_network_methods_have_no_teacher(trained, toy_cache, tmp_path, gradseg_cli, flat):
    out, _ = trained
    code, _, err = gradseg_cli("eval", "--checkpoint", out / "best.pt", "--cache", toy_cache(),
                               "--model", "teacher", "--out", tmp_path / "e.parquet")
    assert code == 2 and "only fgi and gradtrack+fgi train a teacher" in flat(err)
    assert not (tmp_path / "e.parquet").exists()


def test_predict_ids_selects_images(trained, tmp_path, gradseg_cli):
    out, _ = trained
    imgs, _ = _write_folder(tmp_path, [(40, 40), (30, 50), (20, 20)])
    ids = tmp_path / "test.txt"
    ids.write_text("# gazeprep split: test\nim2\nim0.png\n")
    code, _, err = gradseg_cli("predict", "--checkpoint", out / "best.pt", "--images", imgs,
                               "--out", tmp_path / "pred", "--ids", ids)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "pred").iterdir()) == [
        "im0.png", "im0_overlay.png", "im2.png", "im2_overlay.png"]
    ids.write_text("im1\nnot_an_image\n")
    code, _, err = gradseg_cli("predict", "--checkpoint", out / "best.pt", "--images", imgs,
                               "--out", tmp_path / "pred2", "--ids", ids)
    assert code == 1 and "not_an_image" in err and not (tmp_path / "pred2").exists()
