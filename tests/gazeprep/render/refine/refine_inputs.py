"""Helpers of the refiner tests (the fixtures are in this folder's conftest.py)."""

from __future__ import annotations

import numpy as np

from gazeprep.render.maps import render_images
from gazeprep.render.params import RenderParams
from gazeprep.tracks import Track

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


def check_generated(refine, generated, min_dice: float = 0.85) -> None:
    """``refine`` finds the generated object and keeps grabcut_gaze's seeds: all of the sure
    foreground, none of the sure background."""
    from gazeprep.render.refine import grabcut_gaze

    img, src, heat, mask = generated
    p = params()
    got = refine(img, src, heat, p)
    fg, bg = grabcut_gaze.seeds(src, heat, p)
    assert dice(got, mask) > min_dice
    assert got[fg].all() and not got[bg].any()


def evidence(tracks: list[Track], p) -> tuple[np.ndarray, np.ndarray]:
    """(src, heat), each (S, S), of one image's tracks: mean of the levels and the heatmap."""
    maps, heat = render_images([tracks], p)
    return maps[0].mean(axis=0), heat[0, 0]


def track(xs, ys) -> Track:
    return Track(np.asarray(xs, float), np.asarray(ys, float), np.full(len(xs), 250.0))


def object_image() -> tuple[np.ndarray, np.ndarray]:
    """A reddish disk on a darker textured background (generated), and its mask."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:S, :S]
    mask = (yy - 30) ** 2 + (xx - 34) ** 2 < 14**2
    img = rng.integers(40, 70, size=(3, S, S)).astype(np.uint8)
    img[0][mask], img[1][mask], img[2][mask] = 200, 90, 80
    return img, mask
