"""`gazeprep show --out`, `score --out` and `simulate OUT` never replace a user's file.

Every test hashes the user's files before and after and asserts they are byte-identical.
"""

from __future__ import annotations

import shutil

import pytest

from gazeprep.render.writer import update_cache


@pytest.fixture()
def rendered(render_dataset, render_plan, render_params):
    d = render_dataset
    update_cache(render_plan(d), render_params(), d / "maps.zarr", shard=2)
    return render_dataset


def test_show_never_replaces_a_user_file(rendered, tmp_path, tree_digest, file_sha256, run_cli,
                                         error_line):
    d = rendered
    photo = d / "images" / "im1.png"  # e.g. --out pointed at the original image
    before = tree_digest(d)
    args = ["show", "im1", "--cache", d / "maps.zarr", "--gaze", d / "gaze"]
    res = run_cli("gazeprep", *args, "--out", photo)
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "not written by gazeprep show" in line and "--overwrite" in line
    assert tree_digest(d) == before
    # its own picture is replaced on a rerun; a user's file only with --overwrite
    pic = tmp_path / "im1.png"
    for _ in range(2):
        assert run_cli("gazeprep", *args, "--out", pic).returncode == 0
    assert run_cli("gazeprep", *args, "--out", photo, "--overwrite").returncode == 0
    assert file_sha256(photo) != before["images/im1.png"]


def test_score_out_never_replaces_a_user_file(rendered, tree_digest, run_cli, error_line):
    d = rendered
    mine = d / "table.parquet"
    mine.write_bytes(b"PAR1 someone's table")
    before = tree_digest(d)
    res = run_cli("gazeprep", "score", "--cache", d / "maps.zarr", "--out", mine)
    assert res.returncode == 1 and "not written by gazeprep score" in error_line(res.stderr)
    assert tree_digest(d) == before
    for _ in range(2):  # the default output, replaced on a rerun
        assert run_cli("gazeprep", "score", "--cache", d / "maps.zarr").returncode == 0
    assert (d / "maps.zarr.score.parquet").is_file()


def test_simulate_refuses_to_replace_user_recordings(tmp_path, tree_digest, run_cli, error_line):
    out = tmp_path / "study"
    (out / "raw").mkdir(parents=True)
    (out / "raw" / "obs01.asc").write_text("** a real EyeLink recording\n")
    (out / "notes.txt").write_text("my study\n")
    before = tree_digest(tmp_path)
    res = run_cli("gazeprep", "simulate", out, "--images", "2", "--size", "64")
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "raw/obs01.asc" in line and "not written by gazeprep simulate" in line
    assert tree_digest(tmp_path) == before


def test_simulate_rerun_replaces_its_own_files_and_keeps_others(tmp_path, tree_digest, file_sha256,
                                                                run_cli):
    out = tmp_path / "sim"
    assert run_cli("gazeprep", "simulate", out, "--images", "3", "--size", "64").returncode == 0
    (out / "notes.txt").write_text("mine\n")
    (out / "images" / "extra.png").write_bytes(b"a user's own image")
    user = {k: v for k, v in tree_digest(out).items() if k in ("notes.txt", "images/extra.png")}
    res = run_cli("gazeprep", "simulate", out, "--images", "2", "--size", "64", "--seed", "0")
    assert res.returncode == 0, res.stderr
    assert {k: file_sha256(out / k) for k in user} == user
    # the third image of the previous run is gone: the folder holds one render_dataset, not a mix
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "extra.png", "sim0_0000.png", "sim0_0001.png"]
    assert not (out / ".gazeprep-staging").exists()


def test_simulate_into_an_empty_or_new_folder(tmp_path, run_cli):
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new"):
        assert run_cli("gazeprep", "simulate", out, "--images", "1", "--size", "64"
                       ).returncode == 0
        assert (out / "simulate.json").is_file()
    shutil.rmtree(tmp_path / "new")
