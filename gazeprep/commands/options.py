"""Limits of the command options: typer callbacks that refuse an absurd number up front.

A refused value is a usage error (exit 2) whose message states the limit, before any file is
read or any memory sized by the value is allocated. typer's own ``min``/``max`` let NaN and
infinity through for floats, hence these callbacks; integer options use ``min``/``max``.

Example
-------
>>> import typer
>>> opt = typer.Option(0.05, "--tau", callback=number(0, 10, lo_open=True))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import typer


def describe(lo: float | None, hi: float | None, lo_open: bool = False,
             hi_open: bool = False) -> str:
    """``'> 0 and <= 10'`` style text for an interval."""
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    return " and ".join(parts)


def problem(value: float, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False) -> str | None:
    """Why ``value`` is not a finite number in the interval, or None."""
    ok = math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if ok:
        return None
    return f"{value:g} is not a finite number {describe(lo, hi, lo_open, hi_open)}".rstrip()


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           hi_open: bool = False) -> Callable:
    """Callback accepting a finite float in the interval (None passes: option not given)."""
    def check(value: float | None) -> float | None:
        if value is not None:
            why = problem(value, lo, hi, lo_open, hi_open)
            if why:
                raise typer.BadParameter(why)
        return value
    return check


def numbers(names: Sequence[str], limits: Sequence[tuple]) -> Callable:
    """Callback for a tuple option (e.g. ``X Y W H``): each element with its own limits
    ``(lo, hi, lo_open, hi_open)``; None passes."""
    def check(value: tuple | None) -> tuple | None:
        if value is not None:
            for name, v, lim in zip(names, value, limits, strict=True):
                why = problem(v, *lim)
                if why:
                    raise typer.BadParameter(f"{name} = {why}")
        return value
    return check


#: Where ingest writes and render reads the gaze dataset unless told otherwise.
GAZE_DIR = Path("data/gaze")
#: Where render writes and score, show read the cache unless told otherwise.
CACHE_DIR = Path("data/maps.zarr")

#: Screen / image rectangle on screen: X, Y within +-1e6 px, W, H in (0, 1e6] px.
RECT = numbers(("X", "Y", "W", "H"), [(-1e6, 1e6), (-1e6, 1e6), (0, 1e6, True), (0, 1e6, True)])
#: A positive pair (W H), e.g. screen size in cm.
POSITIVE_PAIR = numbers(("W", "H"), [(0, 1e4, True), (0, 1e4, True)])
#: A screen resolution in pixels.
SCREEN_PX = numbers(("W", "H"), [(0, 1e6, True), (0, 1e6, True)])


def _jobs(value: int | None) -> int | None:
    """--jobs: 1 to 4 x the usable cores; None (not given) is every usable core."""
    from gazeprep.jobs import check_jobs

    if value is not None:
        try:
            check_jobs(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return value


#: --jobs of the commands that use several cores (ingest, render). The output does not depend on
#: it; numba's threads follow it.
JOBS = typer.Option(None, "--jobs", "-j", metavar="N", callback=_jobs, show_default=False,
                    help="Cores to use, 1 to 4 x the usable cores (default: every core this "
                         "process may use). The output is the same for any N.")
