"""train, eval and predict log plain progress lines when their output is not a terminal."""

from __future__ import annotations

import re

import numpy as np
import pytest


@pytest.fixture(scope="module")
def piped_run(toy_cache, run_cli, tmp_path_factory):
    """A 12-step run through the command line with stdout and stderr piped."""
    out = tmp_path_factory.mktemp("piped") / "run"
    res = run_cli("gradseg", "train", "--cache", toy_cache(), "--out", out, "--iterations", 12,
                  "--batch-size", 4, "--base-channels", 4, "--eval-every", 6,
                  "--checkpoint-every", 6, "--val-fraction", 0.2, "--device", "cpu")
    assert res.returncode == 0, res.stderr
    return out, res


def _lines(stderr: str, label: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(f"{label}: ")]


def test_train_lines_have_step_loss_lr_val_dice(piped_run) -> None:
    _, res = piped_run
    lines = _lines(res.stderr, "train")
    assert any(re.match(r"train: gradtrack on cpu \(\d+ CPU threads?\), \d+ training", ln)
               for ln in lines), res.stderr
    progress = [ln for ln in lines if re.match(r"train: \d+/12 steps", ln)]
    assert progress[0] == "train: 0/12 steps"
    assert re.match(r"train: 12/12 steps \(100%\), [\d.]+ (steps/s|s/step), \d+s elapsed \| "
                    r"loss [\d.e-]+, lr [\d.]+e-\d\d, val Dice vs (mask|pseudo) (0|1)\.\d+$",
                    progress[-1]), lines
    assert "\x1b[" not in res.stderr


def test_eval_and_predict_lines(piped_run, toy_cache, run_cli, tmp_path) -> None:
    from PIL import Image

    out, _ = piped_run
    res = run_cli("gradseg", "eval", "--checkpoint", out / "best.pt", "--cache", toy_cache(),
                  "--json", "--out", tmp_path / "e.parquet")
    assert res.returncode == 0, res.stderr
    lines = _lines(res.stderr, "eval")
    assert lines[0] == "eval: started"
    assert re.match(r"eval: \d+ images, [\d.]+ (images/s|s/image), \d+s elapsed$", lines[-1])
    assert res.stdout.strip().startswith("{")  # stdout keeps only the JSON

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(
            images / f"im{i}.png")
    res = run_cli("gradseg", "predict", "--checkpoint", out / "best.pt", "--images", images,
                  "--out", tmp_path / "pred")
    assert res.returncode == 0, res.stderr
    lines = _lines(res.stderr, "predict")
    assert lines[0] == "predict: 0/3 images"
    assert re.match(r"predict: 3/3 images \(100%\), [\d.]+ (images/s|s/image), \d+s elapsed$",
                    lines[-1]), lines
