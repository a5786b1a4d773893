"""The Python API run from a script without ``if __name__ == "__main__":``: the worker
processes import the script again and die; the error must name that cause, not memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from gazeprep.render.batches import MIN_POOL_SAMPLES


def _dataset(root, write_tracks):
    from skimage.io import imsave

    rng = np.random.default_rng(0)
    (root / "images").mkdir()
    tracks = {}
    for i in range(MIN_POOL_SAMPLES + 2):  # enough for render to start worker processes
        imsave(root / "images" / f"im{i}.png", rng.integers(0, 255, (30, 40, 3), np.uint8),
               check_contrast=False)
        tracks[f"im{i}"] = [(rng.uniform(0.3, 0.7, 4), rng.uniform(0.3, 0.7, 4),
                             np.full(4, 250.0))]
    write_tracks(root / "gaze", tracks)


def _run(script, cwd):
    return subprocess.run([sys.executable, str(script)], cwd=cwd, capture_output=True,
                          text=True, timeout=240)


def test_a_script_without_the_main_guard_is_told_so(tmp_path, write_tracks):
    _dataset(tmp_path, write_tracks)
    call = ('gazeprep.render("images", "maps.zarr", gaze="gaze", size=32, refine="none", '
            'jobs=2)')
    bare = tmp_path / "bare.py"
    bare.write_text(f"import gazeprep\n{call}\n")
    got = _run(bare, tmp_path)
    assert got.returncode != 0
    last = got.stderr.strip().splitlines()[-1]
    assert "if __name__ == \"__main__\":" in last and "bare.py" in last, last
    assert "lack of memory" not in last

    guarded = tmp_path / "guarded.py"
    guarded.write_text("import gazeprep\n\nif __name__ == \"__main__\":\n"
                       + textwrap.indent(call, "    ") + "\n")
    ok = _run(guarded, tmp_path)
    assert ok.returncode == 0, ok.stderr[-2000:]
