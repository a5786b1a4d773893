"""Progress of a long command: a rich bar on a terminal, plain log lines everywhere else.

When stderr is not an interactive terminal (a pipe, ``tee``, CI, ``nohup``, an IDE console,
``TERM=dumb``), a live bar would print nothing useful; one line is written instead at the
start, then every ``every`` seconds, and at the end::

    render: 0/880 images
    render: 312/880 images (35%), 31.2 images/s, 10s elapsed, ETA 18s
    render: 880/880 images (100%), 30.9 images/s, 28s elapsed

The command's own numbers follow (``info``: step, loss, lr, validation Dice...).
It lives in the contract because both packages print the same lines: gazeprep's commands and
gradseg's train, eval and predict.

Example
-------
>>> import io
>>> with Progress("render", total=3, unit="images", stream=io.StringIO()) as bar:
...     for i in range(3):
...         bar.advance(1, info={"last": f"img{i}"})
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import IO

#: Seconds between two plain lines (the first and the last are always written).
EVERY = 10.0


def duration(seconds: float) -> str:
    """``'45s'``, ``'3m12s'``, ``'1h05m'`` (rounded to the second)."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _value(v) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def interactive(stream: IO) -> bool:
    """Whether ``stream`` is a terminal a live bar can redraw (not a pipe, not ``TERM=dumb``)."""
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    from rich.console import Console

    return Console(file=stream).is_interactive


class Progress:
    """One long step's progress (context manager).

    Parameters
    ----------
    label : str
        What runs, e.g. ``"render"``; starts every line.
    total : int, optional
        Units to do (unknown: no percentage and no ETA; set it later with ``update``).
    unit : str
        Name of a unit, plural (``"images"``, ``"steps"``).
    done : int
        Units already done (a resumed run).
    every : float
        Seconds between plain lines.
    stream : file, optional
        Where to write (default: stderr).
    enabled : bool
        False: nothing is shown (``--quiet``, ``--json``...).
    plain : bool, optional
        Force plain lines (True) or the bar (False); default: the bar on an interactive
        terminal only.
    clock : callable
        Seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, label: str, total: int | None = None, *, unit: str = "items",
                 done: int = 0, every: float = EVERY, stream: IO | None = None,
                 enabled: bool = True, plain: bool | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.unit, self.every = label, total, unit, every
        self.stream = sys.stderr if stream is None else stream
        self.done = self.start_done = done
        self.info: dict = {}
        self.clock = clock
        self.t0 = self.last_line = clock()
        self.line_done: int | None = None  # ``done`` when the last plain line was written
        self.last_text = ""
        self.enabled, self.closed = enabled, False
        self.bar = None
        if enabled and not (interactive(self.stream) if plain is None else not plain):
            self._line()
        elif enabled:
            self._start_bar()

    # -- what callers use ---------------------------------------------------------------------
    def update(self, done: int | None = None, *, total: int | None = None, advance: int = 0,
               info: dict | None = None) -> None:
        """Set ``done`` (or add ``advance``), the total and the command's numbers."""
        if total is not None:
            self.total = total
        self.done = (self.done if done is None else done) + advance
        if info:
            self.info.update(info)
        if not self.enabled or self.closed:
            return
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, total=self.total,
                            info=self._info_text())
        elif self.clock() - self.last_line >= self.every:
            self._line()

    def advance(self, n: int = 1, info: dict | None = None) -> None:
        """``n`` more units done."""
        self.update(advance=n, info=info)

    def close(self, failed: bool = False) -> None:
        """The last line (or the bar's final state); idempotent. ``failed``: the work stopped
        on an error, which says what happened: no last line."""
        if self.closed or not self.enabled:
            self.closed = True
            return
        self.closed = True
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, info=self._info_text())
            self.bar.stop()
        elif not failed and not (self.line_done == self.done
                                 and (self.clock() - self.last_line < 1
                                      or self.text() == self.last_text)):
            self._line()  # (unless the line just written already said the same)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind, *exc) -> None:
        self.close(failed=kind is not None)

    # -- the two displays ---------------------------------------------------------------------
    def rate(self) -> float:
        """Units per second since the start (0 before the first second's work)."""
        dt = self.clock() - self.t0
        return (self.done - self.start_done) / dt if dt > 0 else 0.0

    def text(self) -> str:
        """The plain line: done/total, percentage, rate, elapsed, ETA, the command's numbers."""
        if self.total is None and self.done == self.start_done == 0:
            return f"{self.label}: started" + (f" | {self._info_text()}" if self.info else "")
        parts = [f"{self.label}: {self.done:,}"
                 + (f"/{self.total:,}" if self.total is not None else "") + f" {self.unit}"]
        elapsed = self.clock() - self.t0
        moved = self.done > self.start_done
        if self.total and moved:
            parts[0] += f" ({100 * self.done / self.total:.0f}%)"
        if moved:
            rate = self.rate()
            parts.append(f"{rate:.3g} {self.unit}/s" if rate >= 1 or rate == 0
                         else f"{1 / rate:.3g} s/{self.unit.rstrip('s')}")
            parts.append(f"{duration(elapsed)} elapsed")
            if self.total and self.done < self.total and self.rate() > 0:
                parts.append(f"ETA {duration((self.total - self.done) / self.rate())}")
        return ", ".join(parts) + (f" | {self._info_text()}" if self.info else "")

    def _info_text(self) -> str:
        return ", ".join(f"{k} {_value(v)}" for k, v in self.info.items())

    def _line(self) -> None:
        self.last_line, self.line_done, self.last_text = self.clock(), self.done, self.text()
        print(self.last_text, file=self.stream, flush=True)

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self.bar = RichProgress(
            TextColumn(f"[bold]{self.label}"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"), console=Console(file=self.stream))
        self.bar.start()
        self.task = self.bar.add_task(self.label, total=self.total, completed=self.done, info="")
