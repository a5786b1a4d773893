"""Where a run computes: the device, the DDP process group, CPU threads."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from gradseg.errors import GradsegError


@dataclass(frozen=True)
class Process:
    """This process in a (possibly distributed) run.

    Attributes
    ----------
    rank, world, local_rank : int
        From torchrun's environment (0, 1, 0 without torchrun).
    device : torch.device
    """

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs and writes files."""
        return self.rank == 0


def dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment variables."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> this process's CUDA device when there is one, else CPU."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GradsegError(f"device {name!r} requested but CUDA is not available")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local_rank}")
    return dev


def free_cpus() -> int:
    """The CPUs this process may use that are not busy, at least 1.

    Usable CPUs: ``os.sched_getaffinity`` (the affinity mask, which containers and ``taskset``
    narrow), else ``os.cpu_count()``. Busy: the 1-minute load average (``os.getloadavg``, a
    machine-wide count of running threads) times the usable share of the machine's CPUs,
    rounded half up. E.g. 2 usable CPUs with a load of 0.4 -> 2; load 1.2 -> 1; load 3 -> 1.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        usable = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        load = 0.0
    busy = load * usable / max(os.cpu_count() or usable, usable)
    return max(1, usable - int(busy + 0.5))


def default_threads() -> int:
    """CPU threads for torch in this process: the free CPUs shared out between the processes
    torchrun started on this machine (``LOCAL_WORLD_SIZE``), at least 1.

    Why not torch's own choice (every core): on a shared CPU, OpenMP threads spin-wait for
    cores that other programs hold; two threads with one core busy ran 6.7x slower than one.
    """
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, free_cpus() // local)


def use_threads(threads: int | None = None) -> int:
    """Set torch's CPU threads: ``threads``, else :func:`default_threads`; returns the count."""
    n = threads or default_threads()
    torch.set_num_threads(n)
    return n


def start_process(device: str, threads: int | None) -> Process:
    """Set threads, pick the device and join the process group when started by torchrun."""
    rank, world, local_rank = dist_env()
    use_threads(threads)
    dev = pick_device(device, local_rank)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    return Process(rank, world, local_rank, dev)


def to_device(batch: dict, device: torch.device, channels_last: bool = False) -> dict:
    """The tensors of a batch on ``device`` (the image channels-last when asked)."""
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            if k == "image" and channels_last:
                v = v.contiguous(memory_format=torch.channels_last)
        out[k] = v
    return out


def reset_peak_memory(device: torch.device) -> None:
    """Start counting the peak memory of ``device`` afresh (CUDA; the CPU's peak RSS cannot be
    reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> dict:
    """``peak_memory_mb`` and what it counts: on CUDA the largest memory held by tensors since
    :func:`reset_peak_memory` (``torch.cuda.max_memory_allocated``); on the CPU the peak
    resident set size of this process since it started (DataLoader workers not included)."""
    if device.type == "cuda":
        mb, what = torch.cuda.max_memory_allocated(device) / 2**20, "cuda max allocated"
    else:
        import resource

        mb, what = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process peak RSS"
    return {"peak_memory_mb": round(mb, 1), "peak_memory": what}
