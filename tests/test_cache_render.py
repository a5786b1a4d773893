"""Render cache: exact layout, incremental reruns, interrupted renders, CLI summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import zarr
from skimage.io import imsave
from typer.testing import CliRunner

from gazeprep.cli import app
from gazeprep.errors import GazeprepError
from gazeprep.inspect.load import load_cache
from gazeprep.render.maps import from_uint8
from gazeprep.render.params import RenderParams
from gazeprep.render.plan import plan_render
from gazeprep.render.writer import update_cache

S = 24


def _write_tracks(gaze: Path, tracks: dict[str, list[tuple]]) -> None:
    rows = []
    for image, sessions in tracks.items():
        for k, (x, y, d) in enumerate(sessions):
            rows.append({
                "image": image, "session": f"s{k}",
                "x": [float(v) for v in x], "y": [float(v) for v in y],
                "duration_ms": [float(v) for v in d],
                "onset_ms": [float(300 * i) for i in range(len(x))],
                "n_fixations": len(x), "total_duration_ms": float(np.sum(d)),
                "width": 40, "height": 30,
            })
    gaze.mkdir(parents=True, exist_ok=True)
    schema = {"image": pl.Utf8, "session": pl.Utf8, "x": pl.List(pl.Float32),
              "y": pl.List(pl.Float32), "duration_ms": pl.List(pl.Float32),
              "onset_ms": pl.List(pl.Float64), "n_fixations": pl.Int32,
              "total_duration_ms": pl.Float64, "width": pl.Int32, "height": pl.Int32}
    pl.DataFrame(rows, schema=schema).write_parquet(gaze / "tracks.parquet")


@pytest.fixture()
def dataset(tmp_path):
    """5 tiny images (one JPEG mask, one without gaze, one without mask, two sessions)."""
    rng = np.random.default_rng(1)
    img_dir, mask_dir = tmp_path / "images", tmp_path / "masks"
    img_dir.mkdir()
    mask_dir.mkdir()
    tracks = {}
    for i in range(5):
        iid = f"im{i}"
        imsave(img_dir / f"{iid}.png", rng.integers(0, 255, (30, 40, 3), dtype=np.uint8),
               check_contrast=False)
        m = np.zeros((30, 40), np.uint8)
        m[8:22, 10:30] = 255
        if i == 0:
            m[:, :5] = 120  # a lossy JPEG grey below 128: background
            imsave(mask_dir / f"{iid}.jpg", m, check_contrast=False)
        elif i != 3:
            imsave(mask_dir / f"{iid}.png", m, check_contrast=False)
        if i == 4:
            continue  # no gaze on im4
        n = 3 + i
        tr = [(rng.uniform(0.3, 0.7, n), rng.uniform(0.3, 0.7, n), rng.uniform(80, 600, n))]
        if i == 2:
            tr.append((np.array([0.5]), np.array([0.5]), np.array([300.0])))
        tracks[iid] = tr
    tracks["ghost"] = [(np.array([0.5]), np.array([0.5]), np.array([100.0]))]
    _write_tracks(tmp_path / "gaze", tracks)
    return tmp_path


def _plan(d):
    return plan_render(d / "gaze", d / "images", d / "masks")


def _params(**kw):
    return RenderParams(size=S, **kw)


def test_layout_is_exactly_the_contract(dataset):
    out = dataset / "maps.zarr"
    rep = update_cache(_plan(dataset), _params(), out, shard=2)
    assert rep.rendered == [f"im{i}" for i in range(5)]
    assert rep.empty == ["im4"] and rep.gaze_without_image == ["ghost"]
    assert rep.missing_mask == ["im3"]
    g = load_cache(out)
    specs = {"image": (3, np.uint8), "maps": (4, np.uint8), "heatmap": (1, np.uint8),
             "pseudo": (1, np.uint8), "mask": (1, np.uint8)}
    assert set(g.array_keys()) == set(specs)
    for name, (c, dt) in specs.items():
        a = g[name]
        assert a.shape == (5, c, S, S) and a.dtype == dt, name
        assert a.chunks == (1, c, S, S) and a.shards == (2, c, S, S), name
        blosc, crc = a.compressors
        assert blosc.cname.value == "lz4" and type(crc).__name__ == "Crc32cCodec", name
    a = g.attrs
    assert a["format"] == "gazeprep-maps" and a["format_version"] == 3 and a["complete"] is True
    assert a["ids"] == [f"im{i}" for i in range(5)] and a["size"] == S and a["levels"] == 4
    assert a["params"]["tau"] == _params().tau and a["params"]["ratios"] == [1, 0.75, 0.5, 0.25]
    assert "tracks_sha256" in a["ingest"]
    assert a["n_fixations"] == [3, 4, 5 + 1, 6, 0]
    assert a["orig_size"] == [[30, 40]] * 5
    assert a["has_mask"] == [True, True, True, False, True]
    maps = g["maps"][:]
    assert maps[:4].max() > 0.99 * 255  # about 1 on the tracks
    assert not maps[4].any() and not g["heatmap"][4].any() and not g["pseudo"][4].any()
    mask = g["mask"][:]
    assert set(np.unique(mask)) <= {0, 1} and not mask[3].any()
    assert not mask[0, 0, :, :2].any(), "JPEG grey 120 must be background (threshold 128)"
    assert mask[0, 0, S // 2, S // 2] == 1
    assert g["image"][:].max() > 0


def test_rerun_renders_nothing_param_change_rerenders(dataset):
    out = dataset / "maps.zarr"
    update_cache(_plan(dataset), _params(), out, shard=2)
    before = zarr.open_group(str(out), mode="r")["maps"][:]
    rep = update_cache(_plan(dataset), _params(), out, shard=2)
    assert rep.rendered == [] and len(rep.skipped) == 5 and not rep.rebuilt
    rep = update_cache(_plan(dataset), _params(tau=0.2), out, shard=2)
    # every sample changes: rebuilt aside and swapped in, the old cache whole until then
    assert len(rep.rendered) == 5 and rep.rebuilt
    g = load_cache(out)
    assert g.attrs["params"]["tau"] == 0.2
    assert not np.array_equal(g["maps"][:], before)


def test_changed_track_rerenders_only_that_image(dataset):
    out = dataset / "maps.zarr"
    update_cache(_plan(dataset), _params(), out, shard=2)
    tr = pl.read_parquet(dataset / "gaze" / "tracks.parquet")
    tr = tr.with_columns(
        pl.when(pl.col("image") == "im1").then(pl.col("x").list.eval(pl.element() * 0.5))
        .otherwise(pl.col("x")).alias("x"))
    tr.write_parquet(dataset / "gaze" / "tracks.parquet")
    rep = update_cache(_plan(dataset), _params(), out, shard=2)
    assert rep.rendered == ["im1"]
    assert load_cache(out).attrs["ingest"]["tracks_sha256"] == _plan(dataset).ingest[
        "tracks_sha256"]


def test_interrupted_render_resumes_to_identical_cache(dataset):
    out, ref = dataset / "maps.zarr", dataset / "ref.zarr"
    update_cache(_plan(dataset), _params(), ref, shard=2)

    class Killed(Exception):
        pass

    def kill(done):
        if done >= 2:
            raise Killed

    with pytest.raises(Killed):
        update_cache(_plan(dataset), _params(), out, shard=2, after_batch=kill)
    g = zarr.open_group(str(out), mode="r")
    assert g.attrs["complete"] is False
    with pytest.raises(GazeprepError, match="incomplete"):
        load_cache(out)
    rep = update_cache(_plan(dataset), _params(), out, shard=2)
    assert len(rep.rendered) == 3 and len(rep.skipped) == 2
    g, r = load_cache(out), load_cache(ref)
    for name in r.array_keys():
        np.testing.assert_array_equal(g[name][:], r[name][:], err_msg=name)
    for key in ("ids", "n_fixations", "orig_size", "has_mask", "params", "sample_keys"):
        assert g.attrs[key] == r.attrs[key], key


@pytest.mark.parametrize("batched", [True, False])
def test_read_rows_equals_row_by_row_reads(dataset, monkeypatch, batched):
    from gazeprep.contract import zarr_io

    out = dataset / "maps.zarr"
    update_cache(_plan(dataset), _params(), out, shard=2)  # 5 rows: the last shard is partial
    names = ["image", "maps", "heatmap", "pseudo", "mask"]
    arrays = zarr_io.open_arrays(out, names)
    assert all(zarr_io.batched_reads_supported(a) for a in arrays.values())
    if not batched:
        monkeypatch.setattr(zarr_io, "batched_reads_supported", lambda a: False)
    rows = [4, 0, 3, 3, 1, 4, 2]
    got = zarr_io.read_rows([arrays[n] for n in names], rows)
    g = load_cache(out)
    for name, block in zip(names, got, strict=True):
        want = np.stack([g[name][i] for i in rows])
        assert block.dtype == want.dtype and block.shape == want.shape, name
        np.testing.assert_array_equal(block, want, err_msg=name)
    assert [b.shape[0] for b in zarr_io.read_rows(list(arrays.values()), [])] == [0] * 5
    with pytest.raises(IndexError):
        zarr_io.read_rows([arrays["maps"]], [5])


def test_session_combination_mean_and_max(dataset):
    out = dataset / "maps.zarr"
    update_cache(_plan(dataset), _params(combine="mean"), out, shard=2)
    mean = from_uint8(load_cache(out)["maps"][2])
    update_cache(_plan(dataset), _params(combine="max"), out, shard=2)
    mx = from_uint8(load_cache(out)["maps"][2])
    assert (mx >= mean - 1e-3).all() and (mx > mean + 0.1).any()


def test_cli_render_summary_and_rerun(dataset):
    out = dataset / "cli.zarr"
    args = ["render", "--levels", "3", "--gaze", str(dataset / "gaze"),
            "--images", str(dataset / "images"), "--masks", str(dataset / "masks"),
            "--size", str(S), "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "rendered" in res.output and "ghost" in res.output and "im4" in res.output
    g = load_cache(out)
    assert g["maps"].shape == (5, 3, S, S)
    assert json.loads(json.dumps(dict(g.attrs)))["levels"] == 3
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and "nothing to render" in res.output


def test_cli_render_without_images_is_an_error(dataset):
    res = CliRunner().invoke(app, ["render", "--gaze", str(dataset / "gaze")])
    assert res.exit_code != 0
