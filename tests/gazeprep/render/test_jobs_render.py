"""`gazeprep render --jobs N`: the same cache for any N, rendered on worker processes."""

from __future__ import annotations

import multiprocessing as mp
from types import SimpleNamespace

import numpy as np
import pytest
import zarr

import gazeprep.render.batches as batches
from gazeprep.render.batches import MIN_POOL_SAMPLES, rendered, units
from gazeprep.render.params import RenderParams
from gazeprep.render.plan import plan_render
from gazeprep.render.writer import render_samples

N_IMAGES = MIN_POOL_SAMPLES + 3  # enough to be shared by worker processes


@pytest.fixture(scope="module")
def kvasir_subset(tmp_path_factory, shared_data):
    """The first N_IMAGES Kvasir-SEG images and masks (symlinks) and their real gaze."""
    from gazeprep.ingest import run_ingest
    from gazeprep.read.options import IngestOptions

    kv = shared_data("kvasir-seg")
    report = shared_data("gazemedseg", "kvasir_fixation.csv")
    root = tmp_path_factory.mktemp("kv")
    for sub in ("images", "masks"):
        (root / sub).mkdir()
        for f in sorted((kv / sub).iterdir())[:N_IMAGES]:
            (root / sub / f.name).symlink_to(f)
    run_ingest([report], root / "gaze", IngestOptions(), jobs=1)
    return root


def _cache(path):
    g = zarr.open_group(str(path), mode="r")
    return {k: np.asarray(g[k][:]) for k in sorted(g.array_keys())}, dict(g.attrs)


def test_jobs_1_and_2_write_the_same_cache(kvasir_subset, run_cli, tmp_path, untouched):
    d = kvasir_subset
    check = untouched(d)
    out = {}
    for jobs in (1, 2):
        out[jobs] = tmp_path / f"j{jobs}.zarr"
        res = run_cli("gazeprep", "render", "--levels", "4", "--size", "64", "--gaze",
                      d / "gaze", "--images", d / "images", "--masks", d / "masks",
                      "--out", out[jobs], "--jobs", str(jobs))
        assert res.returncode == 0, res.stderr
    (a1, attrs1), (a2, attrs2) = _cache(out[1]), _cache(out[2])
    assert {"heatmap", "image", "maps", "mask", "pseudo", "sample"} <= set(a1)
    assert a1["image"].shape[0] == N_IMAGES and a1["pseudo"].any() and a1["mask"].any()
    for name in a1:
        assert np.array_equal(a1[name], a2[name], equal_nan=a1[name].dtype.kind == "f"), name
    assert attrs1 == attrs2  # ids, keys, row checksums, sizes
    check()


def test_rendered_uses_worker_processes_and_matches_one_process(kvasir_subset, monkeypatch):
    d = kvasir_subset
    plan = plan_render(d / "gaze", d / "images", d / "masks")
    params = RenderParams(size=48)
    groups = [list(range(0, 11)), list(range(11, 19))]  # two shards: 8 + 3, 8 samples
    assert [len(m) for _, m in units(plan.samples, groups)] == [8, 3, 8]
    monkeypatch.setattr(batches, "MIN_POOL_SAMPLES", 2)
    alone = list(rendered(render_samples, plan.samples, groups, params, 1))
    seen_workers = []
    shared = []
    for res in rendered(render_samples, plan.samples, groups, params, 2):
        seen_workers.append(len(mp.active_children()))
        shared.append(res)
    assert max(seen_workers) >= 2  # the pool was running while the shards came back
    assert [sorted(r) for r in shared] == [sorted(r) for r in alone]
    for a, b in zip(alone, shared, strict=True):
        for name in a:
            assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name


def test_units_keep_a_volume_whole():
    flat = SimpleNamespace(image=SimpleNamespace(multi=False))
    vol = SimpleNamespace(image=SimpleNamespace(multi=True))
    samples = [flat] * 20 + [vol] * 20
    got = units(samples, [list(range(20)), list(range(20, 40))])
    assert got == [(0, list(range(0, 8))), (0, list(range(8, 16))), (0, list(range(16, 20))),
                   (1, list(range(20, 40)))]


def test_jobs_out_of_range_is_a_usage_error(run_cli, tmp_path):
    from gazeprep.jobs import max_jobs

    for bad in ("0", str(max_jobs() + 1), "two"):
        res = run_cli("gazeprep", "render", "--images", tmp_path, "--jobs", bad)
        assert res.returncode == 2, (bad, res.stderr)
        assert "--jobs" in res.stderr


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_first_run_compiles_in_every_process(kvasir_subset, run_cli, tmp_path, monkeypatch,
                                             jobs):
    """An empty numba cache (a fresh install): the kernels compile in the command's process and
    in its workers. numba re-reads NUMBA_NUM_THREADS whenever it compiles, so a value changed
    after its threads started failed the first render of every new user."""
    d = kvasir_subset
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba-cache"))
    res = run_cli("gazeprep", "render", "--levels", "4", "--size", "32", "--gaze", d / "gaze",
                  "--images", d / "images", "--out", tmp_path / "c.zarr", "--jobs", jobs)
    assert res.returncode == 0, res.stderr
    assert "compiling kernels, first run only" in res.stderr
    assert any((tmp_path / "numba-cache").rglob("*.nbi"))  # it did compile, into the new cache
