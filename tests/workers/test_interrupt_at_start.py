"""Ctrl-C at any moment of a command's start (the first 0.3 s: the interpreter, the modules
loading, ``ingest --jobs 2`` starting its workers) ends it as quietly as later: no traceback,
exit status 130 (or the signal itself before Python can catch it), no helper left running and
no output written. (Ctrl-C before the entry point's function runs gets the interpreter's own
message: see :func:`_before_us`.) The console scripts are run as a user runs them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safety_helpers import write_report
from workers.test_helpers_end import assert_all_end, descendants

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
BIN = Path(sys.executable).parent


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background job inherits it ignored


def _before_us(stderr: str) -> bool:
    """Whether Ctrl-C landed before the entry point's function ran: in the interpreter's own
    start ("Fatal Python error: init_import_site") or while the console script imported the
    small entry module (a traceback that never reaches ``launch``). That takes a few ms, longer
    on a loaded machine, and no program can catch it; from ``launch`` on, nothing may print a
    traceback."""
    if stderr.startswith("Fatal Python error: init_import_site"):
        return True
    return "Traceback" in stderr and ", in launch\n" not in stderr and "cli.py" not in stderr


def _interrupt(args: list[str], delay: float) -> tuple[subprocess.CompletedProcess, set[int]]:
    cmd = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True, preexec_fn=_default_signals)
    seen: set[int] = set()
    end = time.monotonic() + delay
    while time.monotonic() < end:
        seen |= descendants(cmd.pid)
        time.sleep(0.005)
    cmd.send_signal(signal.SIGINT)
    out, err = cmd.communicate(timeout=120)
    return subprocess.CompletedProcess(args, cmd.returncode, out, err), seen


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("raw")
    for k in range(6):
        write_report(raw / f"r{k}.csv", [f"im{k}_{i}" for i in range(40)], seed=k, n=30)
    return raw


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.2, 0.3])
def test_ctrl_c_while_ingest_starts_is_quiet(reports, tmp_path, untouched, delay):
    check = untouched(reports)
    out = tmp_path / "gaze"
    res, helpers = _interrupt([str(BIN / "gazeprep"), "ingest", str(reports), "--out", str(out),
                               "--jobs", "2"], delay)
    if _before_us(res.stderr):
        assert not out.exists() and res.returncode != 0
        return
    assert "Traceback" not in res.stderr, res.stderr
    if res.returncode == 0:  # it finished first (a fast machine): nothing to check
        return
    assert res.returncode in (130, -signal.SIGINT), res.stderr
    # nothing, or the whole output (Ctrl-C after it was swapped in, while the summary printed)
    assert not out.exists() or {"ingest.json", "tracks.parquet", "fixations.parquet"} <= {
        p.name for p in out.iterdir()}
    assert_all_end(helpers)
    check()


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15])
def test_ctrl_c_while_gradseg_loads_is_quiet(tmp_path, delay):
    res, _ = _interrupt([str(BIN / "gradseg"), "train", "--cache", str(tmp_path / "none.zarr"),
                         "--out", str(tmp_path / "run")], delay)
    assert _before_us(res.stderr) or "Traceback" not in res.stderr, res.stderr
    assert res.returncode in (130, -signal.SIGINT, 1), res.stderr
