"""The REFINERS registry: names, defaults, the render's default and pseudo_masks' dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from gazeprep.errors import GazeprepError
from gazeprep.render import params as rp
from gazeprep.render.pseudo import pseudo_masks
from gazeprep.render.refine import REFINERS


def test_names_are_the_render_choices_and_the_default_is_registered():
    assert tuple(REFINERS) == rp.REFINES == (
        "none", "fill", "slic", "watershed", "grabcut", "grabcut_gaze", "grabcut_texture",
        "grabcut_filled", "grabcut_grown", "random_walker")
    assert rp.RenderParams().refine == "grabcut_grown"


def test_method_defaults():
    assert {k: r.defaults for k, r in REFINERS.items() if r.defaults} == {
        "fill": {"max_hole": 0.05}, "slic": {"n_segments": 200, "compactness": 10},
        "grabcut": {"iterations": 3},
        "grabcut_gaze": {"iterations": 3, "dense": 0.5, "probable": 0.5},
        "grabcut_texture": {"components": 8, "em_steps": 4, "unary_weight": 1.5,
                            "std_sigma": 3.0, "grad_sigma": 2.0, "gamma": 50.0},
        "grabcut_grown": {"margin": 1},
        "random_walker": {"beta": 130.0}}
    assert [k for k, r in REFINERS.items() if not r.needs_image] == ["none", "fill"]


def test_pseudo_masks_dispatches_to_the_named_refiner(generated):
    img, src, heat, _ = generated
    maps = np.repeat(src[None, None], 4, axis=1)
    for name, refiner in REFINERS.items():
        p = rp.RenderParams(size=src.shape[0], refine=name)
        got = pseudo_masks(maps, p, img[None], heat[None, None])
        assert got.shape == (1, 1, *src.shape) and got.dtype == np.uint8
        np.testing.assert_array_equal(got[0, 0], refiner.fn(img, src, heat, p))


def test_refiners_that_read_the_image_refuse_to_run_without_it(generated):
    _, src, _, _ = generated
    maps = np.repeat(src[None, None], 4, axis=1)
    with pytest.raises(GazeprepError, match="needs the images"):
        pseudo_masks(maps, rp.RenderParams(size=src.shape[0], refine="grabcut"))
