"""`gazeprep render --out`: only the cache's own arrays are replaced, crash-safely; damage found.

Every test hashes the user's files before and after and asserts they are byte-identical.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import zarr

from gazeprep.contract.cache import ARRAYS, FORMAT_VERSION, SAMPLE_ARRAYS, validate
from gazeprep.errors import GazeprepError
from gazeprep.inspect.load import load_cache
from gazeprep.render.writer import update_cache

#: The kill tests below name the steps of the one-rename swap (renameat2); elsewhere the
#: two-rename fallback runs, tested in tests/gazeprep/contract/test_folder_swap.py.
LINUX_SWAP = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="renameat2(RENAME_EXCHANGE) is Linux's")


CACHE_OWN = (*ARRAYS, *SAMPLE_ARRAYS, "zarr.json", ".gazeprep-staging", ".gazeprep-swap")


def _snapshot(out: Path, raw: bool = False) -> dict:
    """Every array's data and the attributes that describe it, read through load_cache (or,
    ``raw``, as zarr itself reads it: what xarray and other tools see, no recovery)."""
    g = zarr.open_group(str(out), mode="r") if raw else load_cache(out)
    snap = {name: g[name][:] for name in (*ARRAYS, *SAMPLE_ARRAYS) if name in g}
    snap["attrs"] = {k: g.attrs[k] for k in ("levels", "sample_keys", "row_crc32c")}
    return snap


def _same(a: dict, b: dict) -> bool:
    if set(a) != set(b) or a["attrs"] != b["attrs"]:
        return False
    return all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f")
               for k in a if k != "attrs")


def _user_files(out: Path) -> None:
    """A training run and notes that a user keeps inside the cache folder."""
    (out / "run").mkdir()
    (out / "run" / "best.pt").write_bytes(b"weights of a week-long training run")
    (out / "NOTES.md").write_text("cache for the MICCAI paper\n")


def _render_args(size: int, d: Path, out: Path, *extra: str) -> list[str]:
    # 3 levels: render refuses a size gradseg cannot train on (24 px is not divisible by 2**4)
    return ["render", "--gaze", str(d / "gaze"), "--images", str(d / "images"), "--size",
            str(size), "--levels", "3", "--out", str(out), *extra]


def test_foreign_zarr_group_is_refused_untouched(render_dataset, tmp_path, render_size,
                                                 tree_digest, run_cli, error_line):
    other = tmp_path / "theirs.zarr"
    g = zarr.open_group(str(other), mode="w")
    g.attrs["project"] = "someone else's"
    g.create_array("x", shape=(4,), dtype="int32")[:] = [1, 2, 3, 4]
    before = tree_digest(other)
    res = run_cli("gazeprep", *_render_args(render_size, render_dataset, other))
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "not a gazeprep cache" in line and str(other) in line
    assert tree_digest(other) == before


def test_non_empty_folder_is_refused_and_empty_folder_is_used(render_dataset, tmp_path, render_plan,
                                                              render_params, render_size,
                                                              tree_digest, run_cli, error_line):
    full = tmp_path / "full"
    full.mkdir()
    (full / "thesis.tex").write_text("\\documentclass{article}\n")
    before = tree_digest(full)
    res = run_cli("gazeprep", *_render_args(render_size, render_dataset, full))
    assert res.returncode == 1 and "not a gazeprep cache" in error_line(res.stderr)
    assert tree_digest(full) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    update_cache(render_plan(render_dataset), render_params(), empty, shard=2)
    assert load_cache(empty).attrs["complete"] is True


def test_rebuild_keeps_user_files_and_foreign_arrays(render_dataset, render_plan, render_params,
                                                     render_size, tree_digest):
    S = render_size
    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    _user_files(out)
    zarr.open_group(str(out), mode="r+").create_array("embeddings", shape=(5, 8), dtype="f4")
    user = tree_digest(out, skip=CACHE_OWN)
    assert any(k.startswith("embeddings/") for k in user)
    # levels 4 -> 2
    rep = update_cache(render_plan(render_dataset), render_params(ratios=(1.0, 0.5)), out, shard=2)
    assert rep.rebuilt
    assert tree_digest(out, skip=CACHE_OWN) == user
    g = load_cache(out)
    assert g["maps"].shape == (5, 2, S, S) and "embeddings" in g
    assert not (out / ".gazeprep-staging").exists()


def test_array_that_disappears_is_reported(render_dataset, render_size, tree_digest, run_cli):
    out = render_dataset / "maps.zarr"
    assert run_cli("gazeprep", *_render_args(render_size, render_dataset, out, "--masks",
                                             str(render_dataset / "masks"))).returncode == 0
    _user_files(out)
    user = tree_digest(out, skip=CACHE_OWN)
    res = run_cli("gazeprep", *_render_args(render_size, render_dataset, out))  # no --masks
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if "removed" in ln and "mask" in ln]
    assert len(lines) == 1, res.stderr
    assert "mask" not in load_cache(out)
    assert tree_digest(out, skip=CACHE_OWN) == user


def test_param_change_rebuilds_without_deleting_user_files(render_dataset, render_plan,
                                                           render_params, tree_digest):
    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    _user_files(out)
    user = tree_digest(out, skip=CACHE_OWN)
    rep = update_cache(render_plan(render_dataset), render_params(tau=0.2), out, shard=2)
    assert len(rep.rendered) == 5
    assert tree_digest(out, skip=CACHE_OWN) == user
    assert load_cache(out).attrs["params"]["tau"] == 0.2


@pytest.mark.parametrize("version", [2, 3])
def test_old_format_version_is_rebuilt_by_render(render_dataset, render_plan, render_params,
                                                 version):
    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    g = zarr.open_group(str(out), mode="r+")
    g.attrs["format_version"] = version
    with pytest.raises(GazeprepError, match=f"format version {version}, expected 4"):
        load_cache(out)
    rep = update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    assert rep.rebuilt and load_cache(out).attrs["format_version"] == FORMAT_VERSION == 4


def test_damaged_sample_array_is_refused_then_rebuilt(render_dataset, render_plan,
                                                      render_params):
    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    chunk = out / "orig_size" / "c" / "0" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    chunk.write_bytes(bytes(raw))
    with pytest.raises(GazeprepError, match="array 'orig_size' cannot be read"):
        load_cache(out)
    rep = update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    assert rep.rebuilt and validate(out).orig_size == [(30, 40)] * 5


# ------------------------------------------------------------------ damaged caches


def _shard_file(out: Path, name: str, k: int) -> Path:
    return out / name / "c" / str(k) / "0" / "0" / "0"


def _flip(path: Path, offset: int) -> None:
    b = bytearray(path.read_bytes())
    b[offset] ^= 0x5A
    path.write_bytes(bytes(b))


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_up_to_date_check_finds_a_damaged_shard(render_dataset, damage, render_plan, render_params):
    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    ref = _snapshot(out)
    f = _shard_file(out, "maps", 1)  # samples 2 and 3
    if damage == "flip":
        _flip(f, 40)
    elif damage == "truncate":
        f.write_bytes(f.read_bytes()[:-30])
    else:
        f.unlink()
    rep = update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    assert sorted(rep.damaged) == ["im2", "im3"]
    assert sorted(rep.rendered) == ["im2", "im3"]
    assert _same(_snapshot(out), ref)


def test_render_cli_says_what_was_damaged(render_dataset, render_size, run_cli):
    out = render_dataset / "maps.zarr"
    args = _render_args(render_size, render_dataset, out, "--shard", "2")
    assert run_cli("gazeprep", *args).returncode == 0
    _flip(_shard_file(out, "image", 0), 40)
    res = run_cli("gazeprep", *_render_args(render_size, render_dataset, out, "--shard", "2"))
    assert res.returncode == 0
    assert "damaged" in res.stderr and "im0" in res.stderr
    assert "nothing to render" not in res.stderr


# ------------------------------------------------------------------ crash safety (fault injection)

_KILL_AT_STEP = textwrap.dedent("""
    import os, sys, json
    from gazeprep import outputs
    from gazeprep.contract import folder_swap
    step = sys.argv[1]
    def fault(s):
        if s == step:
            os._exit(77)
    outputs._fault = folder_swap._fault = fault
    from pathlib import Path
    from gazeprep.render.params import RenderParams
    from gazeprep.render.plan import plan_render
    from gazeprep.render.writer import update_cache
    d = Path(sys.argv[2]); kw = json.loads(sys.argv[4])
    update_cache(plan_render(d / "gaze", d / "images", d / "masks"),
                 RenderParams(size=24, **kw), d / "maps.zarr", shard=2)
""")


def _change_one_track(d: Path) -> None:
    tr = pl.read_parquet(d / "gaze" / "tracks.parquet")
    tr = tr.with_columns(
        pl.when(pl.col("image") == "im1").then(pl.col("x").list.eval(pl.element() * 0.5))
        .otherwise(pl.col("x")).alias("x"))
    tr.write_parquet(d / "gaze" / "tracks.parquet")


SCENARIOS = {
    # name: (params of the new render as RenderParams keywords, change to the inputs)
    "rebuild": ({"ratios": [1.0, 0.5]}, None),
    "incremental": ({}, _change_one_track),
}


@LINUX_SWAP
@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_fault_injected_at_each_step_leaves_old_or_new_cache(render_dataset, tmp_path_factory,
                                                             scenario, monkeypatch, render_plan,
                                                             render_params, tree_digest):
    from gazeprep import outputs
    from gazeprep.contract import folder_swap

    tmp_path = tmp_path_factory.mktemp("cases")
    kw, change = SCENARIOS[scenario]
    new_params = render_params(**{k: tuple(v) for k, v in kw.items()})
    base = render_dataset
    update_cache(render_plan(base), render_params(), base / "maps.zarr", shard=2)
    _user_files(base / "maps.zarr")
    old = _snapshot(base / "maps.zarr")
    # the reference new cache and the list of steps, from an uninterrupted run on a copy
    import shutil

    ref_dir = tmp_path / "ref"
    shutil.copytree(base, ref_dir)
    if change:
        change(ref_dir)
    steps: list[str] = []
    monkeypatch.setattr(outputs, "_fault", steps.append)
    monkeypatch.setattr(folder_swap, "_fault", steps.append)
    update_cache(render_plan(ref_dir), new_params, ref_dir / "maps.zarr", shard=2)
    monkeypatch.undo()
    new = _snapshot(ref_dir / "maps.zarr")
    assert not _same(old, new)
    # one folder swap, for a rebuild and for an update of a few samples alike
    assert steps == ["built", "carried", "exchanged", "cleaned"], steps
    commit = steps.index("exchanged")
    for i, step in enumerate(steps):
        case = tmp_path / f"k{i}"
        shutil.copytree(base, case)
        if change:
            change(case)
        user = tree_digest(case / "maps.zarr", skip=CACHE_OWN)
        code = subprocess.run([sys.executable, "-c", _KILL_AT_STEP, step, str(case), "-",
                               json.dumps(kw)], capture_output=True, text=True,
                              timeout=300).returncode
        assert code == 77, step
        assert tree_digest(case / "maps.zarr", skip=CACHE_OWN) == user, step
        # before any recovery, as xarray would read it
        assert _same(_snapshot(case / "maps.zarr", raw=True), old if i < commit else new), step
        got = _snapshot(case / "maps.zarr")  # load_cache rolls a committed swap forward
        assert _same(got, old if i < commit else new), step
        assert not (case / "maps.zarr" / ".gazeprep-staging").exists(), step
        rep = update_cache(render_plan(case), new_params, case / "maps.zarr", shard=2)
        assert _same(_snapshot(case / "maps.zarr"), new), step
        assert tree_digest(case / "maps.zarr", skip=CACHE_OWN) == user, step
        assert not list(case.glob(".maps.zarr.*")), step  # no build or old folder left
        del rep


def test_leftover_staging_is_removed_and_reported(render_dataset, render_plan, render_params):
    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    st = out / ".gazeprep-staging"
    st.mkdir()
    (st / "maps").mkdir()
    (st / "maps" / "zarr.json").write_text("{}")  # an uncommitted leftover of ours
    rep = update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    notes = rep.notes
    assert not st.exists() and any("removed" in n for n in notes)


def test_gradseg_refuses_a_cache_with_an_unfinished_swap(render_dataset, render_plan,
                                                         render_params):
    from gradseg.data.cache import open_cache as gs_open
    from gradseg.errors import GradsegError

    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    (out / ".gazeprep-staging").mkdir()
    (out / ".gazeprep-staging" / "COMMITTED").write_text(
        json.dumps({"put": [], "drop": [], "record": "zarr.json"}))
    with pytest.raises(GradsegError, match="gazeprep render"):
        gs_open(out)
    load_cache(out)  # gazeprep's reader finishes it
    gs_open(out)


def test_write_tracks_helper_still_used(render_dataset, render_params, write_tracks):
    # render reads tracks written without ingest.json (no recorded hashes): still accepted
    write_tracks(render_dataset / "gaze2", {"im0": [([0.5], [0.5], [100.0])]})
    out = render_dataset / "m2.zarr"
    from gazeprep.render.plan import plan_render

    d = render_dataset
    update_cache(plan_render(d / "gaze2", d / "images"), render_params(), out, shard=2)
    with pytest.raises(GazeprepError, match="not a gazeprep cache"):
        update_cache(plan_render(d / "gaze2", d / "images"), render_params(), d / "images",
                     shard=2)


def test_read_rows_names_the_failing_row(render_dataset, render_plan, render_params):
    from gazeprep.contract.zarr_io import CorruptRowError, open_arrays, read_rows

    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    layout = validate(out)
    ids, sums = layout.ids, layout.attrs["row_crc32c"]
    names = ["image", "maps"]
    f = _shard_file(out, "maps", 1)  # rows 2, 3
    good = f.read_bytes()
    # (1) undecodable: the shard index is cut off, the batch fails, rows are read one by one
    f.write_bytes(good[:-30])
    arrays = open_arrays(out, names)
    with pytest.raises(CorruptRowError, match=r"array 'maps', sample 2 \(id 'im2'\)") as e:
        read_rows([arrays[n] for n in names], [0, 4, 2, 3], ids=ids,
                  checksums=[sums[n] for n in names])
    assert (e.value.array, e.value.row, e.value.id) == ("maps", 2, "im2")
    # (2) decodes, but to other bytes than were stored: the row checksum says so
    f.write_bytes(good)
    g = zarr.open_group(str(out), mode="r")
    want = g["maps"][3]
    arrays = open_arrays(out, names)
    for offset in range(16, len(good) - 40):
        b = bytearray(good)
        b[offset] ^= 0x01
        f.write_bytes(bytes(b))
        try:
            got = read_rows([arrays["maps"]], [3], ids=ids)[0][0]
        except CorruptRowError:
            continue
        if not np.array_equal(got, want):
            break  # a silent change in the decoded bytes: the case checksums are for
    else:
        pytest.skip("no single-bit flip decoded silently to other bytes")
    with pytest.raises(CorruptRowError, match="does not match its checksum"):
        read_rows([arrays["maps"]], [3], ids=ids, checksums=[sums["maps"]])


def test_a_users_file_inside_a_cache_array_is_never_deleted(render_dataset, render_plan,
                                                            render_params, tree_digest):
    """Render replaces its arrays whole: a file of the user's put inside one of them would be
    lost with the old array, so the render is refused, naming it."""
    out = render_dataset / "maps.zarr"
    update_cache(render_plan(render_dataset), render_params(), out, shard=2)
    (out / "maps" / "my-notes.txt").write_text("which level looked best")
    before = tree_digest(render_dataset)
    with pytest.raises(GazeprepError, match=r"maps/my-notes.txt.*move") as err:
        update_cache(render_plan(render_dataset), render_params(ratios=(1.0, 0.5)), out,
                     shard=2)
    assert "not written by gazeprep render" in str(err.value)
    assert tree_digest(render_dataset) == before
