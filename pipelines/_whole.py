"""Timing a command as a user runs it: one whole process and everything it starts.

:func:`measure` runs a command and samples its process tree (the command, its fork server,
its workers) from ``/proc`` every few milliseconds: wall time, CPU seconds of the whole tree,
the peak of the tree's summed proportional set size (PSS: pages shared between a fork server and
its workers counted once, split between them) and the peak RSS of the command's own process.
``/usr/bin/time -f %M`` reports only the latter: workers started through a fork server are not
its children. Linux only (``/proc``); the machine's load average is recorded with every figure.
The sampling itself takes CPU, so the wall time a ratio uses comes from unsampled runs of the
same command (``plain``).

Usage from a recipe (this folder is on ``sys.path``)::

    from _whole import measure
    m = measure(["gazeprep", "render", "--images", "img/", "--out", "c.zarr"], plain=2)
    print(m["wall_s"], m["cpu_s"], m["peak_pss_mib"], m["cores_used"])
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from _common import ROOT, command

_TICK = os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    """The 1-minute load average (how busy the shared machine was)."""
    return os.getloadavg()[0]


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of one process (not of its children: they are sampled
    themselves, and a parent that reaps them would count them twice)."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # fields after the name: state is [0]; utime, stime are [11], [12]
    return (int(f[11]) + int(f[12])) / _TICK


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: list[str], cwd: Path = ROOT, env: dict | None = None,
            interval: float = 0.02, plain: int = 0,
            before: Callable[[], None] | None = None) -> dict:
    """Run ``cmd`` (console scripts resolved as in :func:`_common.command`) and measure it.

    Sampling ``/proc`` every ``interval`` takes CPU from the command: on 2 cores it made a
    2-second ``gazeprep ingest`` (three processes) 0.35 s slower. With ``plain`` > 0 the
    command is also run that many times unsampled and ``wall_s`` is the best of those, the
    figure ratios use; the sampled run gives the CPU, memory and ``wall_s_sampled``.

    Parameters
    ----------
    plain : int
        Unsampled runs for ``wall_s`` (0: ``wall_s`` is the sampled run's).
    before : callable, optional
        Called before every run (e.g. to remove the previous run's output).

    Returns
    -------
    dict
        ``wall_s``, ``wall_s_sampled``, ``plain_runs``, ``cpu_s`` (the tree's user + system
        seconds, as last sampled: each process loses what it used in its last ``interval``),
        ``cpu_s_main`` (the command's own process), ``cores_used`` (cpu_s / wall_s_sampled),
        ``peak_pss_mib`` (peak of the tree's summed PSS), ``peak_rss_main_mib`` (the command's
        own process), ``processes`` (how many were seen), ``load`` (1-minute load average at the
        start), ``returncode``.
    """
    if before:
        before()
    m = _sampled(cmd, cwd, env, interval)
    m["wall_s_sampled"], m["plain_runs"] = m["wall_s"], plain
    if plain:
        m["wall_s"] = min(plain_wall(cmd, cwd, env, before) for _ in range(plain))
    return m


def plain_wall(cmd: list[str], cwd: Path = ROOT, env: dict | None = None,
               before: Callable[[], None] | None = None) -> float:
    """Wall seconds of one run of ``cmd``, nothing sampled."""
    if before:
        before()
    t0 = time.perf_counter()
    proc = subprocess.run(command(cmd), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    _check(cmd, proc.returncode, proc.stderr)
    return wall


def _check(cmd: list, returncode: int, stderr: str) -> None:
    """Stop the benchmark with the command's error when it failed."""
    if returncode != 0:
        raise SystemExit(f"`{' '.join(map(str, cmd))}` failed ({returncode}):\n{stderr}")


def _sampled(cmd: list[str], cwd: Path, env: dict | None, interval: float) -> dict:
    """One run of ``cmd`` with its process tree sampled (see :func:`measure`)."""
    load = load_average()
    t0 = time.perf_counter()
    proc = subprocess.Popen(command(cmd), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    cpu: dict[int, float] = {}
    peak_pss = peak_rss = 0
    while proc.poll() is None:
        pids = _tree(proc.pid)
        for p in pids:
            c = _cpu_s(p)
            if c is not None:
                cpu[p] = max(cpu.get(p, 0.0), c)
        peak_pss = max(peak_pss, sum(_pss_kib(p) for p in pids))
        peak_rss = max(peak_rss, _rss_kib(proc.pid))
        time.sleep(interval)
    wall = time.perf_counter() - t0
    _check(cmd, proc.returncode, proc.stderr.read() if proc.stderr else "")
    cpu_s = sum(cpu.values())
    return {"wall_s": wall, "cpu_s": cpu_s, "cores_used": cpu_s / wall if wall else 0.0,
            "cpu_s_main": cpu.get(proc.pid, 0.0),
            "peak_pss_mib": peak_pss / 1024, "peak_rss_main_mib": peak_rss / 1024,
            "processes": len(cpu), "load": load, "returncode": proc.returncode}
