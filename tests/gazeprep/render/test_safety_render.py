"""Hostile numbers in a hand-edited tracks.parquet never reach a render kernel.

``gazeprep render`` must answer a one-line error naming tracks.parquet, the image, the session
and the fixation's position in the track (exit 1), write no cache and leave every user file
byte-identical. The first test runs in a child process, where x = 1e30 used to crash the
interpreter (out-of-bounds writes in the distance kernel).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from skimage.io import imsave

from gazeprep.cli import main


def user_data(root: Path, tracks: list[dict]) -> Path:
    """images/ (two PNGs) and gaze/tracks.parquet with the given rows."""
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for iid in ("im0", "im1"):
        imsave(root / "images" / f"{iid}.png", rng.integers(0, 255, (20, 30, 3), np.uint8),
               check_contrast=False)
    (root / "gaze").mkdir()
    schema = {"image": pl.String, "session": pl.String, "x": pl.List(pl.Float64),
              "y": pl.List(pl.Float64), "duration_ms": pl.List(pl.Float64)}
    pl.DataFrame(tracks, schema=schema).write_parquet(root / "gaze" / "tracks.parquet")
    return root


def good(image="im0", session="s1", n=3) -> dict:
    return {"image": image, "session": session, "x": list(np.linspace(0.2, 0.8, n)),
            "y": [0.5] * n, "duration_ms": [200.0] * n}


def hostile(column: str, position: int, value) -> list[dict]:
    bad = good("im1", "obs7", 4)
    bad[column] = list(bad[column])
    bad[column][position] = value
    return [good(), bad]


def render_args(root: Path) -> list[str]:
    return ["render", "--gaze", str(root / "gaze"), "--images", str(root / "images"),
            "--out", str(root.parent / "maps.zarr"), "--size", "16"]


def test_huge_x_is_refused_without_crashing_the_process(tmp_path, tree_digest):
    root = user_data(tmp_path / "user", hostile("x", 2, 1e30))
    before = tree_digest(root)
    proc = subprocess.run([sys.executable, "-m", "gazeprep.cli", *render_args(root)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    first = proc.stderr.strip().splitlines()[0]
    assert "tracks.parquet" in first and "im1" in first and "obs7" in first, first
    assert "fixation 2" in first and "x" in first, first
    assert tree_digest(root) == before and not (tmp_path / "maps.zarr").exists()


CASES = [
    ("x", 2, float("inf"), "x"),
    ("x", 0, float("nan"), "x"),
    ("x", 1, -1e30, "x"),
    ("x", 3, -0.01, "x"),
    ("y", 1, 1.5, "y"),
    ("y", 3, float("-inf"), "y"),
    ("duration_ms", 1, -5.0, "duration"),
    ("duration_ms", 2, float("nan"), "duration"),
    ("duration_ms", 0, float("inf"), "duration"),
    ("x", 2, None, "x"),
]


@pytest.mark.parametrize(("column", "position", "value", "word"), CASES)
def test_hostile_track_values_are_one_line_errors(tmp_path, capsys, column, position, value,
                                                   word, tree_digest):
    root = user_data(tmp_path / "user", hostile(column, position, value))
    before = tree_digest(root)
    with pytest.raises(SystemExit) as ex:
        main(render_args(root))
    assert ex.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "Traceback" not in err[0]  # the error and the --verbose hint
    first = err[0]
    assert "tracks.parquet" in first and "image im1" in first and "session obs7" in first
    assert f"fixation {position}" in first and word in first, first
    assert tree_digest(root) == before and not (tmp_path / "maps.zarr").exists()


def test_mismatched_list_lengths_are_refused(tmp_path, capsys, tree_digest):
    bad = good("im1", "obs7", 4)
    bad["y"] = bad["y"][:3]
    root = user_data(tmp_path / "user", [good(), bad])
    before = tree_digest(root)
    with pytest.raises(SystemExit) as ex:
        main(render_args(root))
    assert ex.value.code == 1
    first = capsys.readouterr().err.strip().splitlines()[0]
    assert "tracks.parquet" in first and "im1" in first and "obs7" in first
    assert "4" in first and "3" in first, first
    assert tree_digest(root) == before and not (tmp_path / "maps.zarr").exists()


def test_text_in_a_list_column_is_refused(tmp_path):
    from gazeprep.errors import GazeprepError
    from gazeprep.tracks import read_tracks

    (tmp_path / "gaze").mkdir()
    pl.DataFrame({"image": ["a"], "session": ["s"], "x": [["0.5", "zz"]], "y": [[0.5, 0.5]],
                  "duration_ms": [[1.0, 1.0]]}).write_parquet(tmp_path / "gaze" /
                                                              "tracks.parquet")
    with pytest.raises(GazeprepError, match="tracks.parquet.*x") as err:
        read_tracks(tmp_path / "gaze")
    assert "list of numbers" in str(err.value)


def test_kernels_survive_hostile_values_in_a_child_process():
    """Direct kernel calls with every hostile value: no crash, bounded output."""
    code = """
import numpy as np
from gazeprep.render._kernels import track_maps, gaussian_heatmaps
v = np.array([0.5, 1e30, -1e30, np.inf, -np.inf, np.nan, 1e308, 0.25])
offs = np.array([0, 8])
for radii in (np.zeros(8), np.full(8, 1e30), np.full(8, np.inf), np.full(8, np.nan)):
    for tau in (1e-300, 3.0, 1e300, np.inf):
        m = track_maps(v, v[::-1].copy(), radii, offs, 16, np.array([1.0, 0.5]), tau, 1.0,
                       True, True)
        assert np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
h = gaussian_heatmaps(v, v[::-1].copy(), np.full(8, 100.0), offs, 16, 768, 70.0)
assert np.isfinite(h).all() and h.min() >= 0 and h.max() <= 1
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0 and "ok" in proc.stdout, (proc.returncode, proc.stderr[-2000:])
