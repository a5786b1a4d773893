"""The default CPU thread count: the CPUs this process may use that are not busy."""

from __future__ import annotations

import os

import pytest

from gradseg import device


@pytest.mark.parametrize(("usable", "cpus", "load", "local", "expected"), [
    (2, 2, 0.0, 1, 2),    # idle machine: every usable CPU
    (2, 2, 0.4, 1, 2),    # light load (a shell, an editor) rounds away
    (2, 2, 0.6, 1, 1),    # one core mostly busy: one thread (6.7x faster than two there)
    (2, 2, 1.2, 1, 1),
    (2, 2, 5.0, 1, 1),    # overloaded: never below one
    (4, 16, 8.0, 1, 2),   # 4 of 16 CPUs ours, half the machine busy: 2 of ours busy
    (8, 8, 0.0, 2, 4),    # torchrun, two local processes share the free CPUs
    (8, 8, 7.0, 4, 1),
])
def test_default_threads_rule(monkeypatch, usable, cpus, load, local, expected) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(usable)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local))
    assert device.default_threads() == expected


def test_without_affinity_or_load_average(monkeypatch) -> None:
    def missing(*_):
        raise OSError("not here")

    monkeypatch.setattr(os, "sched_getaffinity", missing, raising=False)
    monkeypatch.setattr(os, "getloadavg", missing)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert device.free_cpus() == 3


def test_use_threads_sets_torch(monkeypatch) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(device, "default_threads", lambda: 1)
        assert device.use_threads() == 1 and torch.get_num_threads() == 1
        assert device.use_threads(2) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
