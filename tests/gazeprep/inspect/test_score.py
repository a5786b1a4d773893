"""`gazeprep score`: Dice/IoU values, per-image Parquet and the --json object."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import zarr
from typer.testing import CliRunner

from gazeprep.cli import app
from gazeprep.contract.cache import sample_table, write_cache
from gazeprep.contract.metrics import dice_iou
from gazeprep.inspect.score import score_cache

S = 8


def test_dice_iou_values():
    a = np.zeros((3, S, S), bool)
    b = np.zeros((3, S, S), bool)
    a[0, :4] = True
    b[0, :2] = True  # half overlap: dice 2*16/(32+16) = 2/3, iou 16/32
    a[1, :4] = True  # b empty -> 0
    d, j = dice_iou(a, b)  # third: both empty -> undefined, never a perfect 1
    np.testing.assert_allclose(d, [2 / 3, 0.0, np.nan])
    np.testing.assert_allclose(j, [0.5, 0.0, np.nan])


def _cache(path, with_mask=True, empty=()):
    n = 3
    mask = np.zeros((n, 1, S, S), np.uint8)
    mask[:, :, 2:6, 2:6] = 1
    mask[list(empty)] = 0
    pseudo = mask.copy()
    pseudo[1] = 0  # miss
    maps = np.zeros((n, 2, S, S), np.uint8)  # stored as round(255 x)
    maps[:, 0] = mask[:, 0] * 230
    maps[:, 1, 2:6, 2:4] = 204  # 0.8 on half of the mask
    heat = np.zeros((n, 1, S, S), np.uint8)
    heat[:, :, 2:6, 2:6] = 127  # 0.498: below 0.5 everywhere -> dice 0
    arrays = {"image": np.zeros((n, 3, S, S), np.uint8), "maps": maps, "heatmap": heat,
              "pseudo": pseudo}
    if with_mask:
        arrays["mask"] = mask
    table = sample_table(["a", "b", "c"])
    table["n_fixations"][:] = [3, 4, 5]
    table["orig_size"][:] = (S, S)
    table["has_mask"][:] = [True, True, False] if with_mask else False
    write_cache(path, arrays, table, {"params": {}, "ingest": {}}, shard=2)
    return path


def test_score_cache_per_image(tmp_path):
    g = zarr.open_group(str(_cache(tmp_path / "c.zarr")), mode="r")
    df = score_cache(g)
    assert df["image"].to_list() == ["a", "b"]  # c has no mask
    np.testing.assert_allclose(df["pseudo_dice"], [1.0, 0.0])
    np.testing.assert_allclose(df["level1_dice"], [1.0, 1.0])
    np.testing.assert_allclose(df["level2_dice"], [2 / 3, 2 / 3])
    np.testing.assert_allclose(df["level2_iou"], [0.5, 0.5])
    np.testing.assert_allclose(df["heatmap_dice"], [0.0, 0.0])


def test_cli_score_json_and_parquet(tmp_path):
    cache = _cache(tmp_path / "c.zarr")
    out = tmp_path / "per.parquet"
    res = CliRunner().invoke(app, ["score", "--cache", str(cache), "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout.strip())  # (progress lines go to stderr)
    assert obj["pseudo_dice"] == pytest.approx(0.5) and obj["heatmap_dice"] == 0.0
    assert obj["n_images"] == 2 and pl.read_parquet(out).height == 2
    res = CliRunner().invoke(app, ["score", "--cache", str(cache), "--out", str(out)])
    assert res.exit_code == 0 and "pseudo" in res.output and "level2" in res.output


def test_cli_score_without_masks_is_an_error(tmp_path):
    cache = _cache(tmp_path / "c.zarr", with_mask=False)
    res = CliRunner().invoke(app, ["score", "--cache", str(cache)])
    assert res.exit_code != 0 and "masks" in str(res.exception)


def test_cli_score_refuses_incomplete_cache(tmp_path):
    cache = _cache(tmp_path / "c.zarr")
    g = zarr.open_group(str(cache), mode="r+")
    g.attrs.update({"complete": False})
    res = CliRunner().invoke(app, ["score", "--cache", str(cache)])
    assert res.exit_code != 0 and "incomplete" in str(res.exception)


def test_cli_score_empty_masks_are_never_perfect(tmp_path):
    """A mask with no foreground (e.g. rendered with a --label no mask holds) is not a
    perfect score: both empty -> left out of the means and counted; a prediction on it -> 0."""
    cache = _cache(tmp_path / "c.zarr", empty=(1,))  # b: empty mask; pseudo b is empty too
    out = tmp_path / "per.parquet"
    res = CliRunner().invoke(app, ["score", "--cache", str(cache), "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout.strip())
    assert obj["n_images"] == 2 and obj["n_empty_mask"] == 1
    assert obj["pseudo_dice"] == 1.0 and obj["n_pseudo_scored"] == 1  # a alone
    assert obj["level1_dice"] == 1.0  # level 1 on b: empty too (maps follow the mask)
    df = pl.read_parquet(out)
    assert df["empty_mask"].to_list() == [False, True]
    assert np.isnan(df["pseudo_dice"][1])
    res = CliRunner().invoke(app, ["score", "--cache", str(cache), "--out", str(out)])
    assert res.exit_code == 0 and "1 image(s) have an empty mask" in res.output


def test_cli_score_every_mask_empty_is_an_error(tmp_path):
    cache = _cache(tmp_path / "c.zarr", empty=(0, 1))
    res = CliRunner().invoke(app, ["score", "--cache", str(cache), "--json"])
    assert res.exit_code == 1
    assert "every ground-truth mask is empty" in str(res.exception)
