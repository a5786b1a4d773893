"""The texture graph cut after grabcut_gaze on real Kvasir crops with real gaze, generated and
hostile inputs; its mixture and cut against plain references."""

from __future__ import annotations

import numpy as np
import pytest
from refine_inputs import check_generated, check_hostile, dice, params

from gazeprep.render.refine import grabcut_gaze, grabcut_texture

pytest.importorskip("cv2")
pytest.importorskip("maxflow")


def test_real_crops(kvasir_small):
    got = [dice(grabcut_texture.refine(im, s, h, params()), m) for im, s, h, m in kvasir_small]
    assert min(got) > 0.7, got


def test_generated_object_and_its_seeds(generated):
    check_generated(grabcut_texture.refine, generated)


def test_texture_separates_what_colour_alone_cannot():
    # A disk of the background's own mean colour, smooth where the background is grainy:
    # the colour histograms of the two sides overlap, their local contrast does not.
    rng = np.random.default_rng(0)
    s = 64
    yy, xx = np.mgrid[:s, :s]
    mask = (yy - 32) ** 2 + (xx - 32) ** 2 < 13**2
    grey = np.where(rng.random((s, s)) < 0.5, 60, 200).astype(np.uint8)
    grey[mask] = 130
    img = np.repeat(grey[None], 3, axis=0)
    feats = grabcut_texture.features(img, np.moveaxis(img, 0, -1).copy(), s / 256)
    std = feats[:, 3].reshape(s, s)
    inner = (yy - 32) ** 2 + (xx - 32) ** 2 < 8**2
    outer = (yy - 32) ** 2 + (xx - 32) ** 2 > 18**2
    assert std[inner].max() < std[outer].min()


def _reference_mixture_nll(x, weights, means, inv_covs, log_dets):
    out = np.zeros(len(x))
    for w, mu, ic, ld in zip(weights, means, inv_covs, log_dets, strict=True):
        for i, v in enumerate(x):
            d = v - mu
            out[i] += w * np.exp(-0.5 * ld - 0.5 * d @ ic @ d)
    return -np.log(out)


def test_mixture_likelihood_matches_a_plain_sum():
    import cv2

    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, (300, 5)), rng.normal(6, 2, (300, 5))])
    model = grabcut_texture.fit_mixture(x, cv2)
    assert model is not None and np.isclose(model[0].sum(), 1)
    got = grabcut_texture.neg_log_likelihood(x[:40], *model)
    np.testing.assert_allclose(got, _reference_mixture_nll(x[:40], *model), rtol=1e-9)
    # the two clusters are found: each point is likelier under its own side's mean
    assert np.abs(np.sort(model[1][:, 0])[[0, -1]] - [0, 6]).max() < 1.5
    assert grabcut_texture.fit_mixture(x[:10], cv2) is None  # too few rows


def _brute_force_cut(cost_fg, cost_bg, pairwise, fg, bg):
    s = cost_fg.shape[0]
    best, arg = np.inf, None
    for code in range(2 ** (s * s)):
        lab = np.array([(code >> i) & 1 for i in range(s * s)], bool).reshape(s, s)
        if (fg & ~lab).any() or (bg & ~fg & lab).any():
            continue
        e = np.where(lab, cost_fg, cost_bg).sum()
        for dy, dx, w in pairwise:
            for y in range(s - dy):
                for x in range(max(0, -dx), s - max(dx, 0)):
                    e += w[y, x] * (lab[y, x] != lab[y + dy, x + dx])
        if e < best - 1e-9:
            best, arg = e, lab
    return arg


def test_cut_is_the_minimum_energy_labelling():
    rng = np.random.default_rng(2)
    s = 3
    z = rng.integers(0, 255, (s, s, 3)).astype(float)
    pairwise = grabcut_texture.contrast_weights(z)
    assert [(dy, dx) for dy, dx, _ in pairwise] == [(0, 1), (1, 0), (1, 1), (1, -1)]
    assert (pairwise[0][2][:, -1] == 0).all() and (pairwise[1][2][-1] == 0).all()
    assert (pairwise[3][2][:, 0] == 0).all() and (pairwise[3][2] > 0).sum() == (s - 1) ** 2
    for trial in range(5):
        cost_fg, cost_bg = rng.uniform(0, 60, (2, s, s))
        fg = np.zeros((s, s), bool)
        bg = np.zeros((s, s), bool)
        fg[0, 0] = trial % 2 == 0
        bg[-1, -1] = True
        got = grabcut_texture.cut(cost_fg, cost_bg, pairwise, fg, bg)
        np.testing.assert_array_equal(got, _brute_force_cut(cost_fg, cost_bg, pairwise, fg, bg))


def test_hostile(hostile):
    got = check_hostile(grabcut_texture.refine, hostile)
    assert got["one fixation"].any() and got["uniform image"].any()
    assert not got["track outside the object"][20:45, 20:50].any()


def test_without_pymaxflow_it_says_what_to_install(generated, monkeypatch):
    import sys

    from gazeprep.errors import GazeprepError

    monkeypatch.setitem(sys.modules, "maxflow", None)
    img, src, heat, _ = generated
    with pytest.raises(GazeprepError, match="PyMaxflow"):
        grabcut_texture.refine(img, src, heat, params())


def test_a_mixture_it_cannot_fit_keeps_the_start(generated, monkeypatch):
    img, src, heat, _ = generated
    p = params()
    monkeypatch.setattr(grabcut_texture, "fit_mixture", lambda x, cv2: None)
    np.testing.assert_array_equal(grabcut_texture.refine(img, src, heat, p),
                                  grabcut_gaze.refine(img, src, heat, p))
