"""The first-use compilation of the kernels is announced once, and only when it happens."""

from __future__ import annotations

import subprocess
import sys

from gazeprep._numba import NOTICE

# Two kernels, so that two compilations happen in one process.
CODE = """
import numpy as np
from gazeprep.detect.idt import idt
from gazeprep.detect.tobii._kernels import streaks
t = np.arange(50.0); x = np.zeros(50)
streaks(t, x, 30.0, 100.0)
idt(t, x, x, dispersion=1.0, window=100.0, max_gap=100.0, dt=1.0)
"""


def _run(cache_dir) -> str:
    env = {"NUMBA_CACHE_DIR": str(cache_dir), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                         env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stderr


def test_notice_once_when_compiling_and_never_from_the_cache(tmp_path) -> None:
    cold = _run(tmp_path / "numba-cache")
    assert cold.count(NOTICE) == 1, cold
    assert any((tmp_path / "numba-cache").rglob("*.nbi"))  # the kernels were cached
    warm = _run(tmp_path / "numba-cache")
    assert NOTICE not in warm, warm
