"""`gazeprep show`: the panel has the track, levels, heatmap, pseudo-mask and GT contour."""

from __future__ import annotations

import numpy as np
import polars as pl
from skimage.io import imread
from typer.testing import CliRunner

from gazeprep.cli import app
from gazeprep.contract.cache import sample_table, write_cache
from gazeprep.inspect.show import (
    _SESSION_COLOURS,
    GREEN,
    LEGEND_BG,
    compose,
    font,
    number_fixations,
)
from gazeprep.render.maps import to_uint8

S = 32


def test_numbers_differ_and_use_a_scalable_font():
    from PIL import Image, ImageDraw

    small, big = font(12), font(36)
    assert big.getbbox("18")[3] > 2 * small.getbbox("18")[3]  # scalable, not a bitmap font
    a, b = (Image.new("RGB", (40, 20)) for _ in range(2))
    ImageDraw.Draw(a).text((2, 2), "12", font=small)
    ImageDraw.Draw(b).text((2, 2), "13", font=small)
    assert np.asarray(a).any() and not np.array_equal(np.asarray(a), np.asarray(b))


def _overlap(p, q) -> bool:
    return p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3]


def test_dense_tracks_keep_numbers_apart_first_and_last_always():
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    points = [tuple(p) for p in rng.uniform(20, 236, (400, 2))]  # 400 fixations on 256 px
    draw = ImageDraw.Draw(Image.new("RGB", (256, 256)))
    taken: list = []
    done = number_fixations(draw, points, [4.0] * 400, font(12), taken, (256, 256))
    assert done[0] == 0 and done[-1] == 399
    assert 10 < len(done) < 200  # most are left out at this density
    free = taken[2:]  # every label but the first and the last (always written) is apart
    assert not [(i, j) for i in range(len(free)) for j in range(i) if _overlap(free[i], free[j])]
    sparse = number_fixations(draw, [(40, 40), (120, 120), (200, 200)], [4.0] * 3, font(12),
                              [], (256, 256))
    assert sparse == [0, 1, 2]  # sparse tracks: every fixation numbered


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
    panel = compose(image, maps, heat, pseudo, mask, [track, track], tile=64)
    tile = 64
    assert panel.dtype == np.uint8 and tile + 20 < panel.shape[0] < 2 * tile  # tiles + legend
    assert panel.shape[1] > 7 * tile  # image + 4 levels + heatmap + pseudo
    first = panel[:tile, :tile]
    assert (first == GREEN).all(-1).any(), "ground-truth contour drawn"
    assert (np.abs(first.astype(int) - 100).sum(-1) > 60).sum() > 50, "track drawn"
    no_gt = compose(image, maps, heat, pseudo, None, [track], tile=64)
    assert not (no_gt == GREEN).all(-1).any()


def test_legend_names_the_marks():
    image, maps, heat, pseudo, mask, track = _inputs()
    panel = compose(image, maps, heat, pseudo, mask, [track, track], tile=256)
    legend = panel[256:]
    assert (legend == LEGEND_BG).all(-1).mean() > 0.8
    white = (legend.min(-1) > 200).sum()
    assert white > 1000  # its text
    for colour in (_SESSION_COLOURS[0], _SESSION_COLOURS[1], GREEN):  # two tracks, the contour
        assert (np.abs(legend.astype(int) - colour).max(-1) < 40).sum() > 20, colour
    without = compose(image, maps, heat, pseudo, None, [track], tile=256)[256:]
    assert (np.abs(without.astype(int) - GREEN).max(-1) < 40).sum() == 0


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
    assert png.ndim == 3 and png.shape[0] > 256 and (png[:256] != LEGEND_BG).any()
    res = CliRunner().invoke(app, ["show", "nope", "--cache", str(tmp_path / "c.zarr"),
                                   "--gaze", str(gaze), "--out", str(out)])
    assert res.exit_code != 0 and "not in the cache" in str(res.exception)
