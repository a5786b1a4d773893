"""`gazeprep render` refuses a cache gradseg could not train on; train names the cache's size."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("size", "levels", "near"), [(100, 4, "96 or 112"), (36, 3, "32 or 40"),
                                                      (12, 4, "16")])
def test_render_refuses_a_size_not_divisible_by_2_to_the_levels(tmp_path, run_cli, error_line,
                                                                  untouched, render_dataset,
                                                                  size, levels, near):
    check = untouched(render_dataset)
    got = run_cli("gazeprep", "render", "--levels", str(levels), "--size", str(size),
                  "--gaze", render_dataset / "gaze", "--images", render_dataset / "images",
                  "--out", tmp_path / "maps.zarr")
    assert got.returncode == 2, got.stderr
    assert f"2**levels = {2**levels}" in got.stderr and f"--size {near}" in got.stderr
    assert not (tmp_path / "maps.zarr").exists()
    check()


def test_train_names_the_cache_size_not_an_option(tmp_path, run_cli):
    import zarr

    from gradseg.toydata import write_toy_cache

    cache = tmp_path / "c.zarr"
    write_toy_cache(cache, size=24, levels=4)  # 24 is not divisible by 16
    got = run_cli("gradseg", "train", "--cache", cache, "--iterations", "1", "--quiet",
                  "--out", tmp_path / "run")
    assert got.returncode == 1
    assert "the cache's size 24 (from `gazeprep render --size`)" in got.stderr
    assert "--size 24 must" not in got.stderr
    assert zarr.open_group(str(cache), mode="r")["image"].shape[-1] == 24
