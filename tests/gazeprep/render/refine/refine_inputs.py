"""Helpers of the refiner tests (the fixtures are in this folder's conftest.py)."""

from __future__ import annotations

import numpy as np

from gazeprep.render.params import RenderParams

#: Side of every test image in pixels.
S = 64


def params(**kw) -> RenderParams:
    """The render parameters at S px (the defaults otherwise)."""
    return RenderParams(size=S, **kw)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / max(1, int(a.sum() + b.sum()))


def check_hostile(fn, hostile, **kw) -> dict[str, np.ndarray]:
    """Run ``fn`` on every hostile input; each result is (S, S) bool, no NaN possible; the
    empty track gives an empty mask."""
    p = params(**kw)
    got = {}
    for name, (img, src, heat) in hostile.items():
        assert np.isfinite(src).all() and np.isfinite(heat).all()
        m = np.asarray(fn(img, src, heat, p))
        assert m.shape == (S, S) and m.dtype == bool, name
        got[name] = m
    assert not got["empty track"].any()
    return got
