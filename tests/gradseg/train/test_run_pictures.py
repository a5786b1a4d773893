"""What a run draws and logs besides checkpoints: val.png, curves.png, TensorBoard events."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from gradseg.pictures import BLUE, LIGHT, MIN_CELL, ORANGE, curves, validation_panel


def _rows(n: int, size: int = 32) -> list[dict]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    disk = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 4) ** 2
    return [{"image": rng.random((size, size, 3)), "gaze": disk * 0.8,
             "target": disk, "pred": np.roll(disk, i, axis=1)} for i in range(n)]


def _dark(a: np.ndarray) -> int:
    return int((a.max(axis=-1) < 100).sum())


def test_val_png_has_a_title_over_each_column(tmp_path) -> None:
    validation_panel(_rows(2), tmp_path / "val.png", target="pseudo")
    a = np.asarray(Image.open(tmp_path / "val.png").convert("RGB"))
    cell = MIN_CELL  # 32 px samples are enlarged to 128 px cells
    head = a.shape[0] - 2 * cell - 4
    assert a.shape[1] == 4 * cell + 3 * 4 and 14 <= head <= 40
    for c in range(4):  # dark title text on white above every column
        band = a[:head, c * (cell + 4): c * (cell + 4) + cell]
        assert 10 < _dark(band) < band.shape[0] * band.shape[1] // 2, c
    # the prediction cell of each row carries its Dice on a black box: white text pixels
    label = a[head + 2: head + 30, 3 * (cell + 4) + 2: 3 * (cell + 4) + 80]
    assert (label.min(axis=-1) > 200).sum() > 10 and (label.max(axis=-1) < 10).sum() > 100
    # the title of the target column says what the target is: wider text than "mask" alone
    widths = []
    for c in (0, 2):
        cols = np.nonzero((a[:head, c * (cell + 4): c * (cell + 4) + cell].max(-1) < 100)
                          .any(0))[0]
        widths.append(cols.max() - cols.min())
    assert widths[1] > 2 * widths[0]  # "pseudo-mask (target)" vs "image"


def _has_colour(a: np.ndarray, colour, tol: int = 30) -> int:
    return int((np.abs(a.astype(int) - np.array(colour)).max(axis=-1) < tol).sum())


def test_curves_draw_loss_left_and_dice_right(tmp_path) -> None:
    recs = [{"step": s, "loss": 1.0 / s, "val_dice": 1 - 1.0 / s, "val_iou": 0.5}
            for s in (10, 20, 30)]
    curves(recs, tmp_path / "c.png", [(s, 1.0 / s) for s in range(1, 31)])
    a = np.asarray(Image.open(tmp_path / "c.png").convert("RGB"))
    left, right = a[:, :500], a[:, 500:]
    assert _has_colour(left, BLUE) > 50 and _has_colour(left, LIGHT, 10) > 30
    assert _has_colour(right, ORANGE) > 50 and _has_colour(left, ORANGE) == 0


def test_curves_without_validation_or_loss(tmp_path) -> None:
    curves([{"step": 5, "loss": float("nan")}], tmp_path / "c.png")
    assert Image.open(tmp_path / "c.png").size == (1000, 380)


def test_a_run_writes_curves_png(trained) -> None:
    out, _ = trained
    with Image.open(out / "curves.png") as im:
        assert im.format == "PNG" and im.size == (1000, 380)
    a = np.asarray(Image.open(out / "curves.png").convert("RGB"))
    assert _has_colour(a[:, :500], BLUE) > 50 and _has_colour(a[:, 500:], ORANGE) > 20


def test_tensorboard_events_when_installed(trained) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = trained
    acc = EventAccumulator(str(out))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    recs = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    group = f"val_vs_{recs[0]['val_target']}"  # what validation was measured against
    assert {"train/loss", "train/lr", f"{group}/dice", f"{group}/iou"} <= tags
    losses = acc.Scalars("train/loss")
    assert [e.step for e in losses] == list(range(1, 41))
    dice = {e.step: e.value for e in acc.Scalars(f"{group}/dice")}
    assert all(math.isclose(dice[r["step"]], r["val_dice"], rel_tol=1e-6) for r in recs)
