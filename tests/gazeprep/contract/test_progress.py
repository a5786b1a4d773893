"""The progress lines of both packages (:mod:`gazeprep.contract.progress`).

Plain lines at the start, every ``every`` seconds and at the end when
the stream is not a terminal, with done/total, rate, ETA and the command's numbers.
"""

from __future__ import annotations

import importlib
import io

import pytest

MODULES = ["gazeprep.contract.progress"]


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=MODULES)
def mod(request):
    return importlib.import_module(request.param)


def test_plain_lines_at_start_every_n_seconds_and_at_end(mod) -> None:
    clock, out = Clock(), io.StringIO()
    with mod.Progress("train", 100, unit="steps", every=10, stream=out, clock=clock) as bar:
        for step in range(1, 101):
            clock.t += 0.5  # 2 steps/s: a line at 10 s, 20 s, ... of the 50 s
            bar.update(step, info={"loss": 1.0 / step, "lr": "1.00e-03",
                                   "val Dice": float("nan") if step < 50 else 0.75})
    lines = out.getvalue().splitlines()
    assert lines[0] == "train: 0/100 steps"
    assert len(lines) == 6  # start; at 10, 20, 30, 40, 50 s; no repeat of the 50 s line at the end
    assert lines[1].startswith("train: 20/100 steps (20%), 2 steps/s, 10s elapsed, ETA 40s")
    assert "| loss 0.05, lr 1.00e-03, val Dice -" in lines[1]
    assert lines[-1].startswith("train: 100/100 steps (100%), 2 steps/s, 50s elapsed")
    assert "ETA" not in lines[-1] and "val Dice 0.75" in lines[-1]


def test_the_end_line_is_written_when_the_last_line_is_old(mod) -> None:
    clock, out = Clock(), io.StringIO()
    bar = mod.Progress("eval", None, unit="images", stream=out, clock=clock)
    clock.t += 3
    bar.advance(6)
    clock.t += 3
    bar.close()
    bar.close()  # idempotent
    assert out.getvalue().splitlines() == ["eval: started",
                                           "eval: 6 images, 1 images/s, 6s elapsed"]


def test_slow_rates_read_as_seconds_per_unit(mod) -> None:
    clock, out = Clock(), io.StringIO()
    bar = mod.Progress("ingest", 4, unit="files", stream=out, clock=clock)
    clock.t += 16
    bar.advance(1)
    assert bar.text() == "ingest: 1/4 files (25%), 16 s/file, 16s elapsed, ETA 48s"


def test_resumed_counts_rate_from_its_own_start(mod) -> None:
    clock = Clock()
    bar = mod.Progress("train", 300, unit="steps", done=200, stream=io.StringIO(), clock=clock)
    clock.t += 10
    bar.update(210)
    assert "1 steps/s" in bar.text() and "ETA 1m30s" in bar.text()


def test_disabled_writes_nothing(mod) -> None:
    out = io.StringIO()
    with mod.Progress("x", 3, stream=out, enabled=False) as bar:
        bar.advance(3)
    assert out.getvalue() == ""


def test_a_pipe_is_not_interactive(mod) -> None:
    assert not mod.interactive(io.StringIO())


def test_a_terminal_gets_the_bar_not_lines(mod) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with mod.Progress("render", 2, unit="images", stream=out, plain=False) as bar:
        bar.advance(2, info={"loss": 0.5})
    assert bar.bar is not None
    assert "render: 0/2" not in out.getvalue()


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0s"), (45, "45s"), (192, "3m12s"),
                                               (3900, "1h05m")])
def test_duration(mod, seconds, text) -> None:
    assert mod.duration(seconds) == text


def test_no_end_line_when_the_work_fails(mod) -> None:
    clock, out = Clock(), io.StringIO()
    with pytest.raises(ValueError), mod.Progress("ingest", 3, unit="files", stream=out,
                                                 clock=clock) as bar:
        clock.t += 20
        bar.advance(1)
        raise ValueError("bad file")
    assert out.getvalue().splitlines() == [
        "ingest: 0/3 files", "ingest: 1/3 files (33%), 20 s/file, 20s elapsed, ETA 40s"]


def test_nothing_done_is_said_once(mod) -> None:
    clock, out = Clock(), io.StringIO()
    with mod.Progress("render", None, unit="images", stream=out, clock=clock):
        clock.t += 5  # an up-to-date cache: no image to render
    assert out.getvalue().splitlines() == ["render: started"]
