"""torch's C++ messages become one line a user can act on: out of memory, shared memory
(/dev/shm) full, a loader worker killed, out of GPU memory. The first two are produced for
real (a memory limit, a 64 KiB /dev/shm in a private mount namespace); the others, which need a
GPU or a killed worker, use the text torch formats them with."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys

import pytest
import torch

from gradseg.errors import one_line


@pytest.fixture(scope="module")
def cache(toy_cache):
    return toy_cache()


def _error(stderr: str) -> str:
    """The one error line (train's banner and progress lines come first)."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith("gradseg: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def _train(cache, out, *extra, preexec=None, prefix=()):
    return subprocess.run([*prefix, sys.executable, "-m", "gradseg.cli", "train", "--cache",
                           str(cache), "--out", str(out), "--iterations", "2",
                           "--batch-size", "2", "--val-fraction", "0.2", *extra],
                          capture_output=True, text=True, timeout=300, preexec_fn=preexec)


def test_a_real_allocation_failure_is_out_of_memory_and_what_to_lower():
    with pytest.raises(RuntimeError) as err:
        torch.empty(2**50, dtype=torch.uint8)
    line = one_line(err.value)
    assert line.startswith("out of memory: could not allocate 1,073,741,824.0 MiB"), line
    assert "--batch-size" in line and "enforce fail" not in line


@pytest.mark.slow
def test_train_beyond_its_memory_limit_says_out_of_memory(cache, tmp_path):
    def limit():  # 3 GiB of address space: torch starts, a base-256 network does not fit
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))

    res = _train(cache, tmp_path / "run", "--base-channels", "256", preexec=limit)
    assert res.returncode == 1, res.stderr
    line = _error(res.stderr)
    assert line.startswith("gradseg: error: out of memory: could not allocate"), line
    assert "--base-channels" in line and "alloc_cpu" not in line


@pytest.mark.slow
def test_a_full_dev_shm_says_shared_memory_and_workers_0(cache, tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1)")
    ns = ["unshare", "--mount", "--map-root-user"]
    probe = subprocess.run([*ns, "mount", "-t", "tmpfs", "none", "/dev/shm"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a small /dev/shm here ({probe.stderr.strip()})")
    script = (f"mount -t tmpfs -o size=64k none /dev/shm && exec {sys.executable} -m gradseg.cli "
              f"train --cache {cache} --out {tmp_path / 'run'} --iterations 2 --batch-size 2 "
              "--val-fraction 0.2 --workers 2")
    res = subprocess.run([*ns, "sh", "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    line = _error(res.stderr)
    assert "shared memory (/dev/shm) is full" in line and "--workers 0" in line, line


@pytest.mark.parametrize(("text", "expected"), [
    ("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB "
     "of which 1.06 GiB is free.", "out of GPU memory: torch could not allocate 2.00 GiB"),
    ("DataLoader worker (pid 4242) is killed by signal: Killed. ",
     "a loader worker process was killed (signal Killed)"),
    ("DataLoader worker (pid(s) 4242, 4243) exited unexpectedly",
     "a loader worker process was killed (most often"),
    ("ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient "
     "shared memory (shm).", "a loader worker crashed for want of shared memory (/dev/shm)"),
    ("Expected all tensors to be on the same device\nException raised from check at x.cpp:12 "
     "(most recent call first):\nframe #0: c10::Error", "Expected all tensors to be on the "
     "same device"),
])
def test_torch_formats_become_what_to_do(text, expected):
    line = one_line(RuntimeError(text))
    assert line.startswith(expected), line
    assert "Exception raised from" not in line and "\n" not in line


def test_other_messages_pass_unchanged_and_none_is_empty():
    assert one_line(ValueError("cache.zarr: no such array")) == "cache.zarr: no such array"
    assert one_line(KeyError("")) == "KeyError with no message"
    assert one_line(MemoryError()).startswith("out of memory: could not allocate what it needed")
