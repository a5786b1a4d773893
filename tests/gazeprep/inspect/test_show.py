"""`gazeprep show`: the panel has the track, levels, heatmap, pseudo-mask and GT contour."""

from __future__ import annotations

import numpy as np
import polars as pl
from skimage.io import imread
from typer.testing import CliRunner

from gazeprep.cli import app
from gazeprep.contract.cache import sample_table, write_cache
from gazeprep.inspect.show import GREEN, compose, draw_text
from gazeprep.render.maps import to_uint8

S = 32


def test_draw_text_digits_differ():
    a = np.zeros((10, 20, 3), np.uint8)
    b = np.zeros((10, 20, 3), np.uint8)
    draw_text(a, "12", 0, 0, 1, (255, 255, 255))
    draw_text(b, "13", 0, 0, 1, (255, 255, 255))
    assert a.any() and not np.array_equal(a, b)


def _inputs():
    image = np.full((3, S, S), 100, np.uint8)
    maps = np.zeros((4, S, S), np.float32)
    maps[:, 10:20, 10:20] = 1.0
    mask = np.zeros((S, S), np.uint8)
    mask[8:24, 8:24] = 1
    track = (np.array([0.3, 0.5, 0.7]), np.array([0.3, 0.6, 0.5]), np.array([100.0, 300, 900]))
    return image, maps, maps[0] * 0.5, (maps[0] > 0).astype(np.uint8), mask, track


def test_compose_tiles_contour_and_track():
    image, maps, heat, pseudo, mask, track = _inputs()
    panel = compose(image, maps, heat, pseudo, mask, [track], tile=64)
    tile = 64
    assert panel.dtype == np.uint8 and panel.shape[0] == tile
    assert panel.shape[1] > 7 * tile  # image + 4 levels + heatmap + pseudo
    first = panel[:, :tile]
    assert (first == GREEN).all(-1).any(), "ground-truth contour drawn"
    assert (np.abs(first.astype(int) - 100).sum(-1) > 60).sum() > 50, "track drawn"
    no_gt = compose(image, maps, heat, pseudo, None, [track], tile=64)
    assert not (no_gt == GREEN).all(-1).any()


def test_cli_show_writes_png(tmp_path):
    image, maps, heat, pseudo, mask, track = _inputs()
    arrays = {"image": image[None], "maps": to_uint8(maps[None]),
              "heatmap": to_uint8(heat[None, None]), "pseudo": pseudo[None, None],
              "mask": mask[None, None]}
    table = sample_table(["x1"])
    table["has_mask"][:] = True
    write_cache(tmp_path / "c.zarr", arrays, table, {}, shard=1)
    gaze = tmp_path / "gaze"
    gaze.mkdir()
    pl.DataFrame({"image": ["x1"], "session": ["s"], "x": [track[0].tolist()],
                  "y": [track[1].tolist()], "duration_ms": [track[2].tolist()]}).write_parquet(
        gaze / "tracks.parquet")
    out = tmp_path / "p.png"
    res = CliRunner().invoke(app, ["show", "x1", "--cache", str(tmp_path / "c.zarr"),
                                   "--gaze", str(gaze), "--out", str(out)])
    assert res.exit_code == 0, res.output
    png = imread(out)
    assert png.ndim == 3 and png.shape[0] == 256
    res = CliRunner().invoke(app, ["show", "nope", "--cache", str(tmp_path / "c.zarr"),
                                   "--gaze", str(gaze), "--out", str(out)])
    assert res.exit_code != 0 and "not in the cache" in str(res.exception)
