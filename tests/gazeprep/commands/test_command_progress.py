"""Long gazeprep commands log plain progress lines when their output is not a terminal."""

from __future__ import annotations

import re

import pytest


@pytest.fixture(scope="module")
def piped(tmp_path_factory, run_cli):
    """simulate -> ingest -> render -> score on 6 tiny images, stdout and stderr piped."""
    root = tmp_path_factory.mktemp("piped")
    runs = {}
    for name, args in (
        ("simulate", ["simulate", root / "sim", "--images", "6", "--size", "64"]),
        ("ingest", ["ingest", root / "sim/raw", "--images", root / "sim/images",
                    "--out", root / "gaze"]),
        ("render", ["render", "--gaze", root / "gaze", "--images", root / "sim/images",
                    "--masks", root / "sim/masks", "--size", "32", "--out", root / "m.zarr"]),
        ("score", ["score", "--cache", root / "m.zarr"]),
    ):
        runs[name] = run_cli("gazeprep", *args)
        assert runs[name].returncode == 0, runs[name].stderr
    return runs


@pytest.mark.parametrize(("command", "first", "last"), [
    ("simulate", "simulate images: 0/6 images",
     r"simulate images: 6/6 images \(100%\), [\d.]+ (images/s|s/image), \d+s elapsed$"),
    ("ingest", "ingest: started",
     r"ingest: 1/1 files \(100%\), [\d.]+ (files/s|s/file), \d+s elapsed \| file obs01.asc, "
     r"fixations [\d,]+$"),
    ("render", "render: started",
     r"render: 6/6 images \(100%\), [\d.]+ (images/s|s/image), \d+s elapsed$"),
    ("score", "score: 0/6 images",
     r"score: 6/6 images \(100%\), [\d.]+ (images/s|s/image), \d+s elapsed$"),
])
def test_plain_progress_lines_on_stderr(piped, command, first, last) -> None:
    lines = [ln for ln in piped[command].stderr.splitlines()
             if ln.startswith(command.split()[0]) and not ln.startswith("gazeprep:")]
    assert lines[0] == first, piped[command].stderr
    assert any(re.match(last, ln) for ln in lines), lines
    # plain lines only: no terminal control sequences when the output is a pipe
    assert "\x1b[" not in piped[command].stderr
