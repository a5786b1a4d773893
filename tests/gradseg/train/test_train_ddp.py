"""DDP: two CPU processes with the gloo backend, started by torchrun, train a few steps."""

import json
import os
import subprocess
import sys

import pytest
import torch


@pytest.mark.slow
def test_ddp_two_cpu_processes(toy_cache, tmp_path):
    cache = toy_cache(n=12, size=32, levels=2, seed=2)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "gradseg.cli", "train", "--cache", str(cache), "--out", str(out),
           "--iterations", "3", "--batch-size", "2", "--base-channels", "4", "--threads", "1",
           "--eval-every", "3", "--quiet", "--device", "cpu"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 3
    # 10 training images / 2 ranks / batch 2 -> 2 steps per epoch.
    assert summary["epochs"] == 1.5
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["step"] == 3
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1  # rank 0 only
