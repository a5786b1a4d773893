"""The watershed refiner (v1) on real Kvasir crops with real gaze, generated and hostile inputs."""

from __future__ import annotations

from refine_inputs import check_hostile, dice, params

from gazeprep.render.refine import watershed


def test_real_crops(kvasir_small):
    scores = [dice(watershed.refine(im, s, h, params()), m) for im, s, h, m in kvasir_small]
    assert min(scores) > 0.5, scores


def test_generated_object(generated):
    img, src, heat, mask = generated
    assert dice(watershed.refine(img, src, heat, params()), mask) > 0.8


def test_hostile(hostile):
    got = check_hostile(watershed.refine, hostile)
    assert got["one fixation"].any()
