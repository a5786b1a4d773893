"""Render cache: exact layout, incremental reruns, interrupted renders, CLI summary."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import zarr
from typer.testing import CliRunner

from gazeprep.cli import app
from gazeprep.errors import GazeprepError
from gazeprep.inspect.load import load_cache
from gazeprep.render.maps import from_uint8
from gazeprep.render.writer import update_cache


def test_layout_is_exactly_the_contract(render_dataset, render_plan, render_params, render_size):
    S = render_size
    out = render_dataset / "maps.zarr"
    rep = update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    assert rep.rendered == [f"im{i}" for i in range(5)]
    assert rep.empty == ["im4"] and rep.gaze_without_image == ["ghost"]
    assert rep.missing_mask == ["im3"]
    g = load_cache(out)
    specs = {"image": (3, np.uint8), "maps": (4, np.uint8), "heatmap": (1, np.uint8),
             "pseudo": (1, np.uint8), "mask": (1, np.uint8)}
    dims = {"image": "rgb", "maps": "level", "heatmap": "band", "pseudo": "band", "mask": "band"}
    samples = {"sample": ((5,), "sample"), "orig_size": ((5, 2), "hw"),
               "spacing": ((5, 2), "hw"), "has_mask": ((5,), "sample"),
               "n_fixations": ((5,), "sample")}
    assert set(g.array_keys()) == set(specs) | set(samples)
    for name, (c, dt) in specs.items():
        a = g[name]
        assert a.shape == (5, c, S, S) and a.dtype == dt, name
        assert a.chunks == (1, c, S, S) and a.shards == (2, c, S, S), name
        assert a.metadata.dimension_names == ("sample", dims[name], "y", "x"), name
        blosc, crc = a.compressors
        assert blosc.cname.value == "lz4" and type(crc).__name__ == "Crc32cCodec", name
    for name in ("image", "maps", "heatmap"):
        assert g[name].attrs["scale"] == 1 / 255 and g[name].attrs["units"] == "1"
        assert "scale_factor" not in g[name].attrs  # xarray would decode it to float64
    for name, (shape, last) in samples.items():
        assert g[name].shape == shape and g[name].metadata.dimension_names[-1] == last, name
    a = g.attrs
    assert a["format"] == "gazeprep-maps" and a["format_version"] == 4 and a["complete"] is True
    assert a["size"] == S and a["levels"] == 4
    assert not {"ids", "orig_size", "has_mask", "n_fixations"} & set(a)
    assert a["params"]["tau"] == render_params().tau
    assert a["params"]["ratios"] == [1, 0.75, 0.5, 0.25]
    assert "tracks_sha256" in a["ingest"]
    assert g["sample"][:].tolist() == [f"im{i}" for i in range(5)]
    assert g["n_fixations"][:].tolist() == [3, 4, 5 + 1, 6, 0]
    assert g["orig_size"][:].tolist() == [[30, 40]] * 5
    assert np.isnan(g["spacing"][:]).all()  # PNG/JPEG files carry no spacing in mm
    assert g["has_mask"][:].tolist() == [True, True, True, False, True]
    maps = g["maps"][:]
    assert maps[:4].max() > 0.99 * 255  # about 1 on the tracks
    assert not maps[4].any() and not g["heatmap"][4].any() and not g["pseudo"][4].any()
    mask = g["mask"][:]
    assert set(np.unique(mask)) <= {0, 1} and not mask[3].any()
    assert not mask[0, 0, :, :2].any(), "JPEG grey 120 must be background (threshold 128)"
    assert mask[0, 0, S // 2, S // 2] == 1
    assert g["image"][:].max() > 0


def test_rerun_renders_nothing_param_change_rerenders(render_dataset, render_plan, render_params):
    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    before = zarr.open_group(str(out), mode="r")["maps"][:]
    rep = update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    assert rep.rendered == [] and len(rep.skipped) == 5 and not rep.rebuilt
    rep = update_cache(render_plan(render_dataset), render_params(tau=0.2), out, shard=2)
    # every sample changes: rebuilt aside and swapped in, the old cache whole until then
    assert len(rep.rendered) == 5 and rep.rebuilt
    g = load_cache(out)
    assert g.attrs["params"]["tau"] == 0.2
    assert not np.array_equal(g["maps"][:], before)


def test_changed_track_rerenders_only_that_image(render_dataset, render_plan, render_params):
    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    tr = pl.read_parquet(render_dataset / "gaze" / "tracks.parquet")
    tr = tr.with_columns(
        pl.when(pl.col("image") == "im1").then(pl.col("x").list.eval(pl.element() * 0.5))
        .otherwise(pl.col("x")).alias("x"))
    tr.write_parquet(render_dataset / "gaze" / "tracks.parquet")
    rep = update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    assert rep.rendered == ["im1"]
    assert load_cache(out).attrs["ingest"]["tracks_sha256"] == render_plan(render_dataset).ingest[
        "tracks_sha256"]


def test_interrupted_render_resumes_to_identical_cache(render_dataset, render_plan, render_params):
    out, ref = render_dataset / "maps.zarr", render_dataset / "ref.zarr"
    update_cache(render_plan(render_dataset), render_params(), ref, shard=2)

    class Killed(Exception):
        pass

    seen = []

    def kill(done):
        seen.append(out.exists())  # what another tool finds at --out while it renders
        if done >= 2:
            raise Killed

    with pytest.raises(Killed):
        update_cache(render_plan(render_dataset), render_params(), out, shard=2, after_batch=kill)
    assert seen == [False] and not out.exists()  # a new cache appears whole or not at all
    partial = render_dataset / ".maps.zarr.partial"  # where the killed render resumes
    g = zarr.open_group(str(partial), mode="r")
    assert g.attrs["complete"] is False
    with pytest.raises(GazeprepError, match="incomplete"):
        load_cache(partial)
    rep = update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    assert not partial.exists()
    assert len(rep.rendered) == 3 and len(rep.skipped) == 2
    g, r = load_cache(out), load_cache(ref)
    for name in r.array_keys():
        np.testing.assert_array_equal(g[name][:], r[name][:], err_msg=name)
    for key in ("params", "sample_keys", "row_crc32c"):
        assert g.attrs[key] == r.attrs[key], key


@pytest.mark.parametrize("batched", [True, False])
def test_read_rows_equals_row_by_row_reads(render_dataset, monkeypatch, batched, render_plan,
                                           render_params):
    from gazeprep.contract import zarr_io

    out = render_dataset / "maps.zarr"
    # 5 rows: the last shard is partial
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
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


def test_session_combination_mean_and_max(render_dataset, render_plan, render_params):
    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(combine="mean"), out, shard=2)
    mean = from_uint8(load_cache(out)["maps"][2])
    update_cache(render_plan(render_dataset), render_params(combine="max"), out, shard=2)
    mx = from_uint8(load_cache(out)["maps"][2])
    assert (mx >= mean - 1e-3).all() and (mx > mean + 0.1).any()


def test_cli_render_summary_and_rerun(render_dataset, render_size):
    S = render_size
    out = render_dataset / "cli.zarr"
    args = ["render", "--levels", "3", "--gaze", str(render_dataset / "gaze"),
            "--images", str(render_dataset / "images"), "--masks", str(render_dataset / "masks"),
            "--size", str(S), "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "rendered" in res.output and "ghost" in res.output and "im4" in res.output
    g = load_cache(out)
    assert g["maps"].shape == (5, 3, S, S)
    assert json.loads(json.dumps(dict(g.attrs)))["levels"] == 3
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and "nothing to render" in res.output


def test_cli_render_without_images_is_an_error(render_dataset):
    res = CliRunner().invoke(app, ["render", "--gaze", str(render_dataset / "gaze")])
    assert res.exit_code != 0
