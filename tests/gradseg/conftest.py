"""Fixtures of the gradseg tests: synthetic caches, tiny runs, the CLI, untouched folders.

The caches are written by :func:`gradseg.toydata.write_toy_cache` (the cache format through
gazeprep's contract). Session-scoped ones are shared between tests: a test that damages or
edits a cache writes its own with ``toy_cache(..., fresh=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def toy_cache(tmp_path_factory) -> Callable[..., Path]:
    """``toy_cache(n=12, size=32, levels=3, seed=1, with_mask=True, ...)``: a cache's path.

    Caches of the same arguments are written once per session and must not be changed;
    ``fresh=True`` writes a private one.
    """
    from gradseg.toydata import write_toy_cache

    made: dict[tuple, Path] = {}

    def make(n: int = 12, size: int = 32, levels: int = 3, seed: int = 1, *,
             fresh: bool = False, **kw) -> Path:
        key = (n, size, levels, seed, tuple(sorted(kw.items())))
        if fresh or key not in made:
            path = tmp_path_factory.mktemp("cache") / "toy.zarr"
            write_toy_cache(path, n=n, size=size, levels=levels, seed=seed, **kw)
            if fresh:
                return path
            made[key] = path
        return made[key]

    return make


@pytest.fixture(scope="session")
def tiny() -> Callable[..., object]:
    """``tiny(cache, out, **settings)``: the TrainConfig of a tiny CPU run (one thread)."""
    from gradseg.train import TrainConfig

    def config(cache: Path, out: Path, **kw):
        base = dict(cache=str(cache), out=str(out), batch_size=4, base_channels=4, lr=3e-3,
                    warmup=3, eval_every=10, checkpoint_every=10, threads=1, val_fraction=0.2)
        base.update(kw)
        return TrainConfig(**base)

    return config


@pytest.fixture(scope="session")
def trained(toy_cache, tiny, tmp_path_factory) -> tuple[Path, dict]:
    """A 40-step gradtrack run on ``toy_cache()``: (run folder, summary). Read only."""
    from gradseg.train import train

    out = tmp_path_factory.mktemp("run") / "run"
    summary = train(tiny(toy_cache(), out, iterations=40), progress=False)
    return out, summary


@pytest.fixture()
def gradseg_cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """``code, out, err = gradseg_cli("train", ...)``: the CLI in this process, exit code 0 for
    success, stdout and stderr."""
    from gradseg.cli import main

    def run(*args) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            main([str(a) for a in args])
        got = capsys.readouterr()
        return int(e.value.code or 0), got.out, got.err

    return run


@pytest.fixture()
def unchanged(untouched) -> Callable[[Path], Callable[[], None]]:
    """``check = unchanged(folder)``, later ``check()``: no file there changed, vanished or
    appeared (the root conftest's :func:`untouched`, under the name these tests use)."""
    return untouched


def words(text: str) -> str:
    """A usage error drawn in a box wrapped to the terminal, as one line of words."""
    return " ".join(text.replace("\u2502", " ").split())


@pytest.fixture(scope="session")
def flat() -> Callable[[str], str]:
    """:func:`words` as a fixture."""
    return words
