"""grabcut_texture's object around the dense track, holes filled: real Kvasir crops with real
gaze, generated and hostile inputs, and the component/hole step against a plain reference."""

from __future__ import annotations

import numpy as np
import pytest
from refine_inputs import check_generated, check_hostile, dice, params

from gazeprep.render.refine import grabcut_filled, grabcut_gaze, grabcut_texture

pytest.importorskip("cv2")
pytest.importorskip("maxflow")


def test_real_crops_are_the_texture_cut_around_the_gaze(kvasir_small):
    p = params()
    for im, s, h, m in kvasir_small:
        got = grabcut_filled.refine(im, s, h, p)
        cut = grabcut_texture.refine(im, s, h, p)
        fg, _ = grabcut_gaze.seeds(s, h, p)
        np.testing.assert_array_equal(got, grabcut_filled.filled_object(cut, fg))
        assert dice(got, m) > 0.7 and got[fg].all()


def test_generated_object_and_its_seeds(generated):
    check_generated(grabcut_filled.refine, generated)


def _reference(mask, fg):
    """Components by flood fill (4-neighbours) from the fg pixels, then every background pixel
    the image border cannot reach (4-neighbours) is a hole."""
    s = mask.shape[0]

    def flood(start, allowed):
        seen = np.zeros_like(allowed)
        stack = [p for p in start if allowed[p]]
        while stack:
            y, x = stack.pop()
            if seen[y, x]:
                continue
            seen[y, x] = True
            for v, u in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= v < s and 0 <= u < s and allowed[v, u] and not seen[v, u]:
                    stack.append((v, u))
        return seen

    kept = flood(list(zip(*np.nonzero(fg & mask), strict=True)), mask)
    if not kept.any():
        kept = mask
    border = [(y, x) for y in range(s) for x in range(s) if y in (0, s - 1) or x in (0, s - 1)]
    return ~flood(border, ~kept)


def test_components_and_holes_match_a_plain_flood_fill():
    rng = np.random.default_rng(4)
    for trial in range(30):
        mask = rng.random((12, 12)) < 0.55
        fg = np.zeros_like(mask)
        if trial % 3:
            fg[tuple(rng.integers(0, 12, (2, 3)))] = True
        np.testing.assert_array_equal(grabcut_filled.filled_object(mask, fg),
                                      _reference(mask, fg))


def test_islands_go_a_hole_fills_a_bay_stays():
    mask = np.zeros((10, 10), bool)
    mask[1:6, 1:6] = True
    mask[3, 3] = False  # a hole inside the object
    mask[2:6, 5] = False  # a bay open to the outside (not a hole)
    mask[8:10, 8:10] = True  # an island off the object
    mask[6, 0] = True  # touches the object by a corner only: apart (4-neighbours)
    fg = np.zeros_like(mask)
    fg[2, 2] = True
    got = grabcut_filled.filled_object(mask, fg)
    want = mask.copy()
    want[3, 3] = True
    want[8:10, 8:10] = want[6, 0] = False
    np.testing.assert_array_equal(got, want)


def test_hostile(hostile):
    got = check_hostile(grabcut_filled.refine, hostile)
    assert got["one fixation"].any() and got["uniform image"].any()
    assert not got["track outside the object"][20:45, 20:50].any()
