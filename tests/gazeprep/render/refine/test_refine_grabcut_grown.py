"""grabcut_filled's outline moved out by one pixel: real Kvasir crops with real gaze, generated
and hostile inputs, and the growth against a plain reference."""

from __future__ import annotations

import numpy as np
import pytest
from refine_inputs import check_generated, check_hostile, dice, params

from gazeprep.render.refine import grabcut_filled, grabcut_gaze, grabcut_grown

pytest.importorskip("cv2")
pytest.importorskip("maxflow")


def test_real_crops_are_the_filled_cut_one_pixel_wider(kvasir_small):
    p = params()
    for im, s, h, m in kvasir_small:
        got = grabcut_grown.refine(im, s, h, p)
        filled = grabcut_filled.refine(im, s, h, p)
        _, bg = grabcut_gaze.seeds(s, h, p)
        np.testing.assert_array_equal(got, filled | (grabcut_grown.grown(filled) & ~bg))
        assert got.sum() > filled.sum() and (got >= filled).all()
        assert dice(got, m) > 0.7 and not got[bg & ~filled].any()


def test_generated_object_and_its_seeds(generated):
    check_generated(grabcut_grown.refine, generated)


def _reference(mask, margin):
    """Repeat ``margin`` times: a pixel is set if it or one of its 4 neighbours is."""
    out = mask.copy()
    h, w = mask.shape
    for _ in range(margin):
        prev = out.copy()
        for y in range(h):
            for x in range(w):
                out[y, x] = any(prev[v, u] for v, u in ((y, x), (y + 1, x), (y - 1, x),
                                                      (y, x + 1), (y, x - 1))
                                if 0 <= v < h and 0 <= u < w)
    return out


def test_growth_matches_a_plain_loop():
    rng = np.random.default_rng(5)
    for trial in range(24):
        mask = rng.random((11, 13)) < (0.04, 0.3, 0.9)[trial % 3]
        margin = trial % 4
        np.testing.assert_array_equal(grabcut_grown.grown(mask, margin), _reference(mask, margin))


def test_edges_empty_and_full_masks():
    m = np.zeros((6, 6), bool)
    assert not grabcut_grown.grown(m).any()
    m[0, 0] = True  # a corner pixel grows inside the image only
    assert grabcut_grown.grown(m).sum() == 3
    assert grabcut_grown.grown(np.ones((6, 6), bool)).all()
    before = m.copy()
    grabcut_grown.grown(m, 0)[1, 1] = True  # margin 0 returns a copy, not the input
    np.testing.assert_array_equal(m, before)


def test_hostile(hostile):
    got = check_hostile(grabcut_grown.refine, hostile)
    assert got["one fixation"].any() and got["uniform image"].any()
    assert not got["track outside the object"][20:45, 20:50].any()
