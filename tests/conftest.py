"""Fixtures shared by the whole suite: where the real data lives, and temporary user files.

Real data (Kvasir-SEG, GazeMedSeg gaze, EyeLink recordings; see ``../shared/data/README.md``)
is never copied into the repository. Tests find it at ``$GAZE_DATA``, by default
``../shared/data`` beside the project, and skip with the way to enable them when it is absent.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_ENV = "GAZE_DATA"


def data_root() -> Path:
    """The folder holding the real data: ``$GAZE_DATA``, else ``../shared/data``."""
    return Path(os.environ.get(DATA_ENV, ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Callable[..., Path]:
    """``shared_data("eyelink", "x.asc")``: the path of a real-data file, or skip the test.

    The skip says where the data was looked for and how to point the tests at it.
    """

    def get(*parts: str) -> Path:
        path = data_root().joinpath(*parts)
        if not path.exists():
            pytest.skip(f"real data {path} not found; set {DATA_ENV}=/path/to/shared/data "
                        "to run this test")
        return path

    return get


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path -> digest), to prove files untouched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def untouched() -> Callable[[Path], Callable[[], None]]:
    """``check = untouched(folder)``, later ``check()``: no file under it changed or vanished."""

    def watch(folder: Path) -> Callable[[], None]:
        before = tree_digest(folder)

        def check() -> None:
            after = tree_digest(folder)
            assert {k: v for k, v in after.items() if k in before} == before

        return check

    return watch
