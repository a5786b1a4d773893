"""What validation was measured against is named wherever a validation number appears."""

from __future__ import annotations

import json

import pytest

from gradseg.toydata import write_toy_cache


@pytest.mark.parametrize(("with_mask", "target"), [(False, "pseudo"), (True, "mask")])
def test_validation_target_is_named(tmp_path, run_cli, with_mask, target):
    cache = tmp_path / "c.zarr"
    write_toy_cache(cache, with_mask=with_mask)
    got = run_cli("gradseg", "train", "--cache", cache, "--iterations", "10", "--batch-size", "2",
                  "--base-channels", "4", "--eval-every", "5", "--threads", "1",
                  "--out", tmp_path / "run")
    assert got.returncode == 0, got.stderr
    text = {"mask": "ground-truth masks", "pseudo": "gaze pseudo-masks"}[target]
    assert f"validation Dice against the {text}" in got.stderr  # the banner
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["val_target"] == target
    assert summary[f"best_val_dice_vs_{target}"] == summary["best_val_dice"]
    assert f"best_val_dice_vs_{target}" in got.stdout and "best_val_dice " not in got.stdout
    assert summary["epochs"] == 2 and isinstance(summary["epochs"], int)  # not 2.0
    records = [json.loads(ln) for ln in
               (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["val_target"] for r in records] == [target, target]


def test_eval_names_the_network_only_for_two_network_methods(tmp_path, run_cli):
    cache = tmp_path / "c.zarr"
    write_toy_cache(cache)
    run_cli("gradseg", "train", "--cache", cache, "--iterations", "2", "--batch-size", "2",
            "--base-channels", "4", "--threads", "1", "--quiet", "--out", tmp_path / "run")
    got = run_cli("gradseg", "eval", "--checkpoint", tmp_path / "run" / "best.pt",
                  "--cache", cache, "--json", "--device", "cpu")
    assert got.returncode == 0, got.stderr
    assert "model" not in json.loads(got.stdout)
