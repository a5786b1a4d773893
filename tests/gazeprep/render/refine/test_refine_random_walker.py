"""The random-walker refiner on real Kvasir crops with real gaze, generated and hostile inputs."""

from __future__ import annotations

import warnings

from refine_inputs import check_hostile, dice, params

from gazeprep.render.refine import random_walker


def test_real_crops(kvasir_small):
    scores = [dice(random_walker.refine(im, s, h, params()), m) for im, s, h, m in kvasir_small]
    assert min(scores) > 0.4, scores


def test_generated_object(generated):
    img, src, heat, mask = generated
    assert dice(random_walker.refine(img, src, heat, params()), mask) > 0.8


def test_hostile(hostile):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skimage: "probability range" on flat input
        warnings.simplefilter("error", RuntimeWarning)  # no division by zero, no NaN weights
        got = check_hostile(random_walker.refine, hostile)
    assert got["one fixation"].any()
