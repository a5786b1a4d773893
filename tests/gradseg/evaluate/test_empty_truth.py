"""An empty ground truth never scores as perfect, in ``gradseg eval`` and in training's
validation (``--label 7`` on 0/255 masks used to give Dice 1.0, IoU 1.0, HD95 0 for a model that
predicts nothing)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from skimage.io import imsave

from gazeprep.contract.metrics import all_metrics
from gradseg.errors import GradsegError
from gradseg.evaluate import summarise, validation_scores


def _folder(tmp_path, n=3):
    imgs, msks = tmp_path / "images", tmp_path / "masks"
    imgs.mkdir()
    msks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        imsave(imgs / f"im{i}.png", rng.integers(0, 255, (24, 20, 3), np.uint8),
               check_contrast=False)
        m = np.zeros((24, 20), np.uint8)
        m[5:15, 4:12] = 255
        imsave(msks / f"im{i}.png", m, check_contrast=False)
    return imgs, msks


def test_eval_label_no_mask_holds_is_an_error(trained, tmp_path, gradseg_cli, unchanged):
    out, _ = trained
    imgs, msks = _folder(tmp_path)
    check = unchanged(tmp_path)
    code, stdout, err = gradseg_cli("eval", "--checkpoint", out / "best.pt", "--images", imgs,
                                    "--masks", msks, "--label", "7", "--json", "--out",
                                    tmp_path / "e.parquet")
    assert code == 1 and stdout == ""
    assert "--label 7 occurs in none of the 3 masks" in err and "0, 255" in err, err
    check()  # nothing written, nothing changed


def test_eval_label_out_of_range_is_a_usage_error(trained, tmp_path, gradseg_cli):
    out, _ = trained
    imgs, msks = _folder(tmp_path, 1)
    code, _, err = gradseg_cli("eval", "--checkpoint", out / "best.pt", "--images", imgs,
                               "--masks", msks, "--label", "70000")
    assert code == 2 and "--label" in err


def _rows(pairs):
    return [{"image": f"i{k}", **all_metrics(p, t), "height": 8, "width": 8,
             "empty_mask": not t.any()} for k, (p, t) in enumerate(pairs)]


def test_summary_leaves_out_undefined_images_and_counts_them():
    e = np.zeros((8, 8), bool)
    m = e.copy()
    m[2:5, 2:6] = True
    s = summarise(_rows([(m, m), (e, e), (m, e)]), {})
    # (m, m) perfect; (e, e) undefined, left out; (m, e): a prediction on nothing scores 0
    assert s["dice"] == 0.5 and s["iou"] == 0.5 and s["n_scored"] == 2
    assert s["n_images"] == 3 and s["n_empty_mask"] == 2
    assert s["hd95"] == pytest.approx(np.hypot(8, 8) / 2)


def test_a_model_predicting_nothing_on_empty_masks_is_not_perfect():
    e = np.zeros((8, 8), bool)
    with pytest.raises(GradsegError, match="every ground-truth mask is empty"):
        summarise(_rows([(e, e), (e, e)]), {})


class _Const(torch.nn.Module):
    """A model whose logits are ``value`` everywhere."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return {"logits": torch.full((x.shape[0], 1, *x.shape[2:]), self.value)}


def test_validation_of_a_model_predicting_nothing_on_empty_targets():
    target = torch.zeros(4, 1, 8, 8)
    target[0, 0, 2:5, 2:5] = 1
    batch = {"image": torch.rand(4, 3, 8, 8), "pseudo": target, "heatmap": torch.rand(4, 1, 8, 8)}
    scores, _ = validation_scores(_Const(-5.0), [batch], torch.device("cpu"), False, False,
                                  "pseudo")
    assert scores["val_dice"] == 0.0 and scores["val_n_scored"] == 1  # never 0.75
    scores, _ = validation_scores(_Const(5.0), [batch], torch.device("cpu"), False, False,
                                  "pseudo")
    assert scores["val_n_scored"] == 4 and scores["val_dice"] == pytest.approx(
        (2 * 9 / (64 + 9)) / 4)
    assert json.loads(json.dumps(scores))["val_n_scored"] == 4


def test_eval_counts_masks_without_the_label(trained, tmp_path, gradseg_cli, unchanged):
    out, _ = trained
    imgs, msks = _folder(tmp_path)
    m = np.zeros((24, 20), np.uint8)
    m[5:15, 4:12] = 1  # a 0/1 mask: --label 255 is absent from it, so it reads as empty
    imsave(msks / "im1.png", m, check_contrast=False)
    check = unchanged(imgs, msks)
    code, stdout, err = gradseg_cli("eval", "--checkpoint", out / "best.pt", "--images", imgs,
                                    "--masks", msks, "--label", "255", "--json", "--out",
                                    tmp_path / "e.parquet")
    assert code == 0, err
    res = json.loads(stdout)
    assert res["n_without_label"] == 1 and res["n_empty_mask"] == 1 and res["n_images"] == 3
    assert res["n_scored"] in (2, 3)  # im1 is scored only where the model predicts something
    check()
