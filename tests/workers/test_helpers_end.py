"""Every helper process of a command ends with it, whatever ends it: ``gradseg train
--workers 2`` (its loader's fork server, multiprocessing's resource tracker, the DataLoader
workers) killed by SIGTERM, SIGKILL, SIGHUP or SIGINT, with a short or a too-long ``TMPDIR``
(workers spawned then). Checked in /proc: every descendant seen while it ran has ended within
seconds, and nothing printed a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="/proc and prctl(PR_SET_PDEATHSIG)")
GRADSEG = str(Path(sys.executable).with_name("gradseg"))


def _children() -> dict[int, list[int]]:
    """Each running process's children, from /proc."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if stat[0] not in ("Z", "X"):
                kids.setdefault(int(stat[1]), []).append(int(entry))
    return kids


def descendants(pid: int) -> set[int]:
    kids, found, todo = _children(), set(), [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has ended (its parent may never reap it)


def _cmdline(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for_helpers(cmd: subprocess.Popen, want: int, timeout: float = 120) -> set[int]:
    """The command's descendants once there are ``want`` of them (its loader workers run)."""
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    while time.monotonic() < deadline and cmd.poll() is None:
        seen |= descendants(cmd.pid)
        if len({p for p in seen if running(p)}) >= want:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"{len(seen)} helpers seen: {[_cmdline(p) for p in seen]}")


def assert_all_end(helpers: set[int], within: float = 10) -> None:
    deadline = time.monotonic() + within
    while any(running(p) for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [_cmdline(p) for p in helpers if running(p)]
    assert not left, left


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A small training cache (gradseg's toy data, through gazeprep's cache format)."""
    from gradseg.toydata import write_toy_cache

    path = tmp_path_factory.mktemp("cache") / "toy.zarr"
    write_toy_cache(path, n=12, size=32, levels=3, seed=1)
    return path


def _train(cache: Path, out: Path, env: dict, workers: int = 2) -> subprocess.Popen:
    args = [GRADSEG, "train", "--cache", str(cache), "--out", str(out), "--iterations",
            "100000", "--batch-size", "2", "--base-channels", "4", "--workers", str(workers),
            "--threads", "1", "--device", "cpu", "--quiet"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", **env},
                            start_new_session=True, preexec_fn=_default_signals)


def _default_signals() -> None:
    """The signals a user's command gets, whatever this test runs under: a shell's background
    job (as some CI runners start their scripts) inherits SIGINT ignored, and Python then
    never turns Ctrl-C into KeyboardInterrupt."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_train_loader_helpers_end_with_the_command(cache, tmp_path, sig: signal.Signals):
    # the command alone is signalled (not its process group, as a terminal's Ctrl-C would):
    # `kill`, `timeout`, `docker stop` and schedulers do that
    cmd = _train(cache, tmp_path / "run", {})
    try:
        helpers = wait_for_helpers(cmd, want=4)  # fork server, resource tracker, 2 workers
        cmd.send_signal(sig)
        _, err = cmd.communicate(timeout=60)
        assert_all_end(helpers)
    finally:
        if cmd.poll() is None:
            cmd.kill()
    assert "Traceback" not in err, err


def _long_tmpdir(tmp_path: Path) -> Path:
    long = tmp_path / ("t" * (120 - len(str(tmp_path)) - 1))  # no room for a socket path
    long.mkdir()
    return long


@pytest.mark.slow
def test_train_with_a_too_long_tmpdir_runs(cache, tmp_path):
    # a 120-byte TMPDIR: workers are spawned and pass batches through sockets in a short
    # folder; before, four "AF_UNIX path too long" tracebacks and a command hung for ever
    args = [GRADSEG, "train", "--cache", str(cache), "--out", str(tmp_path / "run"),
            "--iterations", "4", "--batch-size", "2", "--base-channels", "4", "--workers", "2",
            "--threads", "1", "--device", "cpu", "--quiet"]
    got = subprocess.run(args, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1",
                              "TMPDIR": str(_long_tmpdir(tmp_path))})
    assert got.returncode == 0, got.stderr
    assert "Traceback" not in got.stderr


@pytest.mark.slow
def test_train_with_a_too_long_tmpdir_spawned_workers_end(cache, tmp_path):
    cmd = _train(cache, tmp_path / "run", {"TMPDIR": str(_long_tmpdir(tmp_path))})
    helpers: set[int] = set()
    try:
        helpers = wait_for_helpers(cmd, want=3)  # resource tracker, 2 spawned workers
        assert any("spawn_main" in _cmdline(p) for p in helpers)
        cmd.send_signal(signal.SIGKILL)
        cmd.wait(timeout=60)
        assert_all_end(helpers)
    finally:
        if cmd.poll() is None:
            cmd.kill()
        for p in helpers:  # leave nothing behind when this fails
            if running(p):
                os.kill(p, signal.SIGKILL)
