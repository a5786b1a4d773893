"""The gaze-seeded GrabCut refiner on real Kvasir crops with real gaze, generated and hostile
inputs."""

from __future__ import annotations

import numpy as np
import pytest
from refine_inputs import check_hostile, dice, evidence, object_image, params, track

from gazeprep.render.refine import grabcut, grabcut_gaze

pytest.importorskip("cv2")


def test_real_crops(kvasir_small):
    got = [dice(grabcut_gaze.refine(im, s, h, params()), m) for im, s, h, m in kvasir_small]
    assert min(got) > 0.7, got


def test_generated_object(generated):
    img, src, heat, mask = generated
    assert dice(grabcut_gaze.refine(img, src, heat, params()), mask) > 0.85


def test_sure_seeds_are_the_dense_inner_track(generated):
    img, src, heat, _ = generated
    p = params()
    got = grabcut_gaze.refine(img, src, heat, p)
    dense = (src > p.pseudo_threshold) & (heat > grabcut_gaze.DENSE)
    assert dense.any() and got[dense].all() and not got[heat <= p.bg_threshold].any()


def test_a_sparse_pass_off_the_object_is_left_to_the_colours():
    # A bright disk watched with 12 fixations, plus one brief pass over the dark background
    # to its right: the pass is on the inner track (plain GrabCut keeps it as sure foreground)
    # but not where the fixations are dense, so the colour models drop it.
    img, mask = object_image()
    t = np.linspace(0, 2 * np.pi, 12)
    xs = list(34 / 64 + 0.1 * np.cos(t)) + [0.85]
    ys = list(30 / 64 + 0.1 * np.sin(t)) + [30 / 64]
    p = params()
    src, heat = evidence([track(xs, ys)], p)
    inner_off = (src > p.pseudo_threshold) & ~mask
    plain = grabcut.refine(img, src, heat, p)
    got = grabcut_gaze.refine(img, src, heat, p)
    assert inner_off.any() and plain[inner_off].all()
    assert got[inner_off].sum() < inner_off.sum() / 2
    assert dice(got, mask) > dice(plain, mask)


def test_hostile(hostile):
    got = check_hostile(grabcut_gaze.refine, hostile)
    assert got["one fixation"].any() and got["uniform image"].any()
    assert not got["track outside the object"][20:45, 20:50].any()
