"""numba loads without scipy and cffi in gazeprep's own processes, as usual in a library call.

No gazeprep kernel uses numba's BLAS (scipy) or cffi support, so a command loads numba's
registries without them (:mod:`gazeprep._numba`); a library call leaves numba as it is, since
the user's own kernels in the same process may need them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# A detector kernel run as ingest runs it (I-DT; a step of 50 px at sample 10 ends the first
# fixation); then the optional packages numba left loaded, the kernel's answer, and whether
# scipy.linalg imports afterwards.
CODE = """
import sys
if sys.argv[1] == "command":
    from gazeprep.contract.command import quick_exit
    quick_exit()  # what gazeprep's main does first
import numpy as np
from gazeprep.detect.idt import idt
t = np.arange(20.0); x = np.r_[np.zeros(10), np.full(10, 50.0)]
first, last = idt(t, x, np.zeros(20), dispersion=1.0, window=3.0, max_gap=5.0, dt=1.0)
print(sorted({m.split(".")[0] + (".linalg" if ".linalg" in m else "") for m in sys.modules
              if m.split(".")[0] in ("scipy", "cffi")} - {"scipy"}))
print(first.tolist(), last.tolist())
import scipy.linalg
print(scipy.linalg.norm([3.0, 4.0]))
"""


def _run(mode: str) -> list[str]:
    res = subprocess.run([sys.executable, "-c", CODE, mode], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_command_loads_numba_without_scipy_linalg_and_cffi() -> None:
    out = _run("command")
    assert out == ["[]", "[0, 10] [9, 19]", "5.0"]


def test_library_call_leaves_numba_as_it_is() -> None:
    pytest.importorskip("scipy.linalg")
    out = _run("library")
    assert "scipy.linalg" in out[0]  # numba's own BLAS check ran as usual
    assert out[1:] == ["[0, 10] [9, 19]", "5.0"]
