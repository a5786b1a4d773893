"""Render kernels against plain numpy references (1e-5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazeprep.render._kernels import gaussian_heatmaps, level_counts, track_maps
from gazeprep.render.heatmap import gazemedseg_heatmap
from gazeprep.render.maps import fixation_radii, render_tracks
from gazeprep.render.params import RenderParams
from gazeprep.tracks import Track

S = 32


def _grid(size):
    c = np.arange(size) + 0.5
    return np.meshgrid(c, c)  # px (columns), py (rows)


def ref_counts(n, ratios):
    """ceil(r n) clamped to [1, n]; a ratio that is not > 0 (NaN included) keeps 1, >= 1 all."""
    out = []
    for r in ratios:
        r = min(float(r), 1.0) if r > 0 else 0.0
        out.append(0 if n == 0 else max(1, min(n, math.ceil(r * n - 1e-9))))
    return out


def ref_track_maps(xs, ys, radii, size, ratios, tau, gamma, reverse, segments):
    """Plain numpy: distance to the kept disks (+ segments), then the fall-off.

    Hostile inputs, by definition: a fixation whose radius is not finite, or whose x or y is not
    within +-1e6 (NaN and inf included: float64 cannot place a segment from farther away to
    within a pixel), is skipped, with the segments to and from it; a negative radius counts as
    0; map values that are not numbers (e.g. inf / inf) are 0.
    """
    n = len(xs)
    out = np.zeros((len(ratios), size, size))
    px, py = _grid(size)
    with np.errstate(all="ignore"):
        cx, cy = np.asarray(xs, float) * size, np.asarray(ys, float) * size
        ok = (np.abs(xs) <= 1e6) & (np.abs(ys) <= 1e6) & np.isfinite(radii)
        for k, c in enumerate(ref_counts(n, ratios)):
            if c == 0:
                continue
            keep = list(range(n - c, n)) if reverse else list(range(c))
            d = np.full((size, size), np.inf)
            for j in keep:
                if not ok[j]:
                    continue
                dj = np.hypot(px - cx[j], py - cy[j]) - max(radii[j], 0.0)
                d = np.minimum(d, np.maximum(dj, 0.0))
            if segments:
                for a, b in zip(keep[:-1], keep[1:], strict=True):
                    if not (ok[a] and ok[b]):
                        continue
                    ax, ay, bx, by = cx[a], cy[a], cx[b], cy[b]
                    ux, uy = bx - ax, by - ay
                    uu = ux * ux + uy * uy
                    t = np.zeros_like(px) if uu == 0 else ((px - ax) * ux + (py - ay) * uy) / uu
                    t = np.clip(t, 0, 1)
                    d = np.minimum(d, np.hypot(px - ax - t * ux, py - ay - t * uy))
            v = 1.0 - d / tau
            m = np.where(v > 0, np.maximum(v, 0) ** gamma, 0.0)
            out[k] = np.clip(np.nan_to_num(m, nan=0.0), 0.0, 1.0)
    return out


def ref_heatmap(xs, ys, w, size, canvas, sigma):
    """Plain numpy sum of mirrored, truncated Gaussians at the S-grid centres.

    Hostile inputs, by definition: a fixation whose weight is not finite or whose x or y is not
    within +-1e6 is skipped; positions beyond the canvas are clipped to its border pixels (as
    GazeMedSeg's ``np.clip`` does); values that are not numbers after the min-max scaling are 0.
    """
    keep = [i for i in range(len(xs))
            if abs(xs[i]) <= 1e6 and abs(ys[i]) <= 1e6 and np.isfinite(w[i])]
    if not keep:
        return np.zeros((size, size))
    u = (np.arange(size) + 0.5) * canvas / size - 0.5
    acc = np.zeros((size, size))
    cut = 4 * sigma + 0.5
    for i in keep:
        x, y, wi = xs[i], ys[i], w[i]
        c = min(max(int(np.floor(x * canvas)), 0), canvas - 1)
        r = min(max(int(np.floor(y * canvas)), 0), canvas - 1)

        def prof(m0, canvas=canvas):
            g = np.zeros(size)
            for m in (m0, -1 - m0, 2 * canvas - 1 - m0):
                d = u - m
                g += np.where(np.abs(d) <= cut, np.exp(-0.5 * d * d / sigma**2), 0.0)
            return g

        acc += wi * np.outer(prof(r), prof(c))
    lo, hi = acc.min(), acc.max()
    if not hi > lo:
        return np.zeros_like(acc)
    with np.errstate(all="ignore"):
        return np.clip(np.nan_to_num((acc - lo) / (hi - lo), nan=0.0), 0.0, 1.0)


CASES = {
    "empty": (np.zeros(0), np.zeros(0), np.zeros(0)),
    "one": (np.array([0.4]), np.array([0.6]), np.array([300.0])),
    "repeated": (np.full(5, 0.5), np.full(5, 0.5), np.full(5, 200.0)),
    "border": (np.array([0.0, 1.0, 1.0, 0.0, 0.5]), np.array([0.0, 0.0, 1.0, 1.0, 0.999]),
               np.array([100.0, 400.0, 250.0, 900.0, 60.0])),
    "random": tuple(np.random.default_rng(0).uniform(0, 1, (3, 13)) * [[1], [1], [800]]),
}


def _csr(tracks):
    offs = np.zeros(len(tracks) + 1, dtype=np.int64)
    np.cumsum([len(t[0]) for t in tracks], out=offs[1:])
    cat = [np.concatenate([t[i] for t in tracks]).astype(np.float64) for i in range(3)]
    return cat, offs


@pytest.mark.parametrize("reverse", [True, False])
@pytest.mark.parametrize("segments", [True, False])
def test_track_maps_match_reference(reverse, segments):
    ratios = np.array([1.0, 0.75, 0.5, 0.25])
    tracks = list(CASES.values())
    (xs, ys, dur), offs = _csr(tracks)
    radii = np.concatenate([np.sqrt(t[2] / 300.0) * 1.5 for t in tracks])
    tau, gamma = 6.0, 1.7
    got = track_maps(xs, ys, radii, offs, S, ratios, tau, gamma, reverse, segments)
    assert got.shape == (len(tracks), 4, S, S) and got.dtype == np.float32
    for t, (tx, ty, _) in enumerate(tracks):
        r = radii[offs[t]:offs[t + 1]]
        want = ref_track_maps(tx, ty, r, S, ratios, tau, gamma, reverse, segments)
        np.testing.assert_allclose(got[t], want, atol=1e-5, err_msg=list(CASES)[t])


def test_track_maps_levels_differ_and_peak_on_track():
    xs, ys = np.array([0.1, 0.5, 0.9]), np.array([0.5, 0.5, 0.5])
    m = track_maps(xs, ys, np.zeros(3), np.array([0, 3]), S, np.array([1.0, 0.34]), 4.0, 1.0,
                   True, True)[0]
    # level 1 reaches the first fixation, the tail level (last 2 fixations) does not
    assert m[0, 16, 3] > 0.8 and m[1, 16, 3] == 0.0
    assert m[1, 16, 28] > 0.8 and m.max() <= 1.0 and m.min() >= 0.0


def test_level_counts():
    assert list(level_counts(30, np.array([1.0, 0.1, 0.75]))) == [30, 3, 23]
    assert list(level_counts(1, np.array([1.0, 0.25]))) == [1, 1]
    assert list(level_counts(0, np.array([1.0, 0.25]))) == [0, 0]
    for n in range(0, 12):
        assert list(level_counts(n, np.array([1, 0.75, 0.5, 0.25]))) == ref_counts(
            n, [1, 0.75, 0.5, 0.25])


@pytest.mark.parametrize("name", list(CASES))
def test_heatmap_matches_reference(name):
    xs, ys, dur = CASES[name]
    got = gaussian_heatmaps(xs.astype(float), ys.astype(float), dur.astype(float),
                            np.array([0, len(xs)]), S, 96, 9.0)[0]
    np.testing.assert_allclose(got, ref_heatmap(xs, ys, dur, S, 96, 9.0), atol=1e-5)


def test_heatmap_equals_literal_recipe_at_canvas_size():
    """At S = canvas the direct evaluation is exactly the filtered impulse canvas."""
    xs, ys, dur = CASES["random"]
    got = gaussian_heatmaps(xs, ys, dur, np.array([0, len(xs)]), 48, 48, 5.0)[0]
    want = gazemedseg_heatmap(xs, ys, dur, 48, canvas=48, sigma=5.0)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_heatmap_close_to_literal_recipe_after_resize():
    xs, ys, dur = CASES["random"]
    got = gaussian_heatmaps(xs, ys, dur, np.array([0, len(xs)]), 32, 96, 9.0)[0]
    want = gazemedseg_heatmap(xs, ys, dur, 32, canvas=96, sigma=9.0)
    assert np.abs(got - want).max() < 0.03


def test_duration_laws():
    dur = np.array([100.0, 400.0, 400.0])
    p = RenderParams(size=100, rho=0.02, alpha=0.5, duration_law="power")
    np.testing.assert_allclose(fixation_radii(dur, p), [1.0, 2.0, 2.0])
    p = RenderParams(size=100, rho=0.02, duration_law="const")
    np.testing.assert_allclose(fixation_radii(dur, p), [2.0, 2.0, 2.0])
    p = RenderParams(size=100, rho=0.02, duration_law="off")
    np.testing.assert_allclose(fixation_radii(dur, p), 0.0)


def test_render_tracks_empty_track_gives_zeros():
    p = RenderParams(size=S)
    maps, heat = render_tracks([Track(np.zeros(0), np.zeros(0), np.zeros(0))], p)
    assert maps.shape == (1, 4, S, S) and not maps.any() and not heat.any()


def test_watershed_refine_grows_to_image_edges():
    from gazeprep.render.pseudo import edges, pseudo_masks

    img = np.zeros((1, 3, S, S), np.uint8)
    img[0, :, 8:24, 8:24] = 200  # a bright square object
    maps = np.zeros((1, 4, S, S), np.float32)
    maps[0, :, 14:18, 14:18] = 1.0  # gaze only on the object's centre
    heat = np.zeros((1, 1, S, S), np.float32)
    heat[0, 0, 4:28, 4:28] = 1.0
    p = RenderParams(size=S, refine="watershed", pseudo_threshold=0.5, bg_threshold=0.2,
                     edge_sigma=0.5)
    assert edges(img[0], p).shape == (S, S)
    got = pseudo_masks(maps, p, img, heat)[0, 0].astype(bool)
    truth = np.zeros((S, S), bool)
    truth[8:24, 8:24] = True
    inter = (got & truth).sum()
    assert 2 * inter / (got.sum() + truth.sum()) > 0.85


@pytest.mark.parametrize("seed", range(6))
def test_watershed_refine_equals_unrestricted_watershed(seed):
    """Flooding only near the unseeded band gives skimage's full watershed.

    Exact when no two pixels share an edge value; with ties the heap may flood equal pixels in
    another order (both are valid watersheds), so the edges here are continuous.
    """
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    from gazeprep.render.pseudo import watershed_refine

    rng = np.random.default_rng(seed)
    n = 64
    edge = ndi.gaussian_filter(rng.random((n, n)), 1.5)
    src = ndi.gaussian_filter(rng.random((n, n)), 6)
    src = (src - src.min()) / (src.max() - src.min())
    heat = ndi.gaussian_filter(src, 3)
    heat = (heat - heat.min()) / (heat.max() - heat.min())
    p = RenderParams(size=n, pseudo_threshold=0.8, bg_threshold=0.3)
    markers = np.zeros((n, n), np.int32)
    markers[heat <= p.bg_threshold] = 1
    markers[src > p.pseudo_threshold] = 2
    assert (markers == 0).sum() > n * n // 10  # a real band to flood
    assert np.array_equal(watershed_refine(edge, src, heat, p), watershed(edge, markers) == 2)


@pytest.mark.parametrize("how", ["mean", "max"])
def test_combine_sessions_matches_numpy(how):
    from gazeprep.render.maps import combine_sessions

    rng = np.random.default_rng(3)
    counts = [2, 0, 1, 3]
    per_track = rng.random((sum(counts), 2, 5, 5)).astype(np.float32)
    got = combine_sessions(per_track, counts, how)
    start = 0
    for i, c in enumerate(counts):
        sel = per_track[start:start + c]
        want = np.zeros((2, 5, 5)) if c == 0 else (sel.max(0) if how == "max" else sel.mean(0))
        np.testing.assert_allclose(got[i], want, atol=1e-6)
        start += c
    with pytest.raises(ValueError):
        combine_sessions(per_track, [1, 1], how)


def test_uint8_storage_rounds_and_clips():
    from gazeprep.contract.cache import UNIT_SCALE
    from gazeprep.render.maps import from_uint8, to_uint8

    rng = np.random.default_rng(5)
    x = rng.uniform(-0.2, 1.2, (3, 2, 7, 7)).astype(np.float32)
    x[0, 0, 0, :4] = [0.0, 1.0, 0.5 / 255, 254.5 / 255]
    q = to_uint8(x)
    want = np.floor(np.clip(x.astype(np.float64), 0, 1) * UNIT_SCALE + 0.5)
    assert q.dtype == np.uint8 and q.shape == x.shape
    np.testing.assert_array_equal(q, want.astype(np.uint8))
    inside = (x >= 0) & (x <= 1)
    assert np.abs(from_uint8(q) - x)[inside].max() <= 0.5 / UNIT_SCALE + 1e-6


# -- hostile inputs: the kernels never index out of bounds and match the reference ------------

HOSTILE = [0.5, 1e30, -1e30, np.inf, -np.inf, np.nan, 1e308, -0.25, 1.25, 0.999, 1e5, -3e5]


def _hostile_track(seed):
    rng = np.random.default_rng(seed)
    n = 9
    xs = rng.uniform(0, 1, n)
    ys = rng.uniform(0, 1, n)
    for arr in (xs, ys):
        k = rng.integers(0, n, 3)
        arr[k] = rng.choice(HOSTILE, 3)
    return xs, ys


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("radius", [0.0, 2.5, 1e30, np.inf, np.nan, -3.0])
@pytest.mark.parametrize("tau", [1e-300, 5.0, 1e300, np.inf])
def test_track_maps_hostile_inputs_match_reference(seed, radius, tau):
    xs, ys = _hostile_track(seed)
    radii = np.full(len(xs), radius)
    ratios = np.array([1.0, 0.5, 0.2])
    got = track_maps(xs, ys, radii, np.array([0, len(xs)]), S, ratios, tau, 1.3, True, True)
    want = ref_track_maps(xs, ys, radii, S, ratios, tau, 1.3, True, True)
    assert np.isfinite(got).all() and got.min() >= 0 and got.max() <= 1
    np.testing.assert_allclose(got[0], want, atol=1e-5)


def test_track_maps_skip_nan_point_instead_of_a_phantom():
    """One NaN fixation in a track: the map is the map of the track without it."""
    xs, ys = np.array([0.3, np.nan, 0.7]), np.array([0.5, 0.5, 0.5])
    got = track_maps(xs, ys, np.zeros(3), np.array([0, 3]), S, np.array([1.0]), 4.0, 1.0,
                     True, False)[0, 0]
    clean = track_maps(xs[[0, 2]], ys[[0, 2]], np.zeros(2), np.array([0, 2]), S,
                       np.array([1.0]), 4.0, 1.0, True, False)[0, 0]
    np.testing.assert_array_equal(got, clean)
    assert got[:, 0].max() == 0.0  # nothing at the left edge


def test_level_counts_hostile_ratios():
    ratios = np.array([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e-300, 1e300, 0.5])
    for n in (0, 1, 7, 10**6):
        assert list(level_counts(n, ratios)) == ref_counts(n, ratios)


@pytest.mark.parametrize("seed", range(8))
def test_heatmap_hostile_inputs_match_reference(seed):
    xs, ys = _hostile_track(seed)
    w = np.random.default_rng(seed).uniform(50, 500, len(xs))
    if seed % 2:
        w[seed % len(w)] = [np.nan, np.inf, -np.inf, 1e300][seed // 2 % 4]
    got = gaussian_heatmaps(xs, ys, w, np.array([0, len(xs)]), S, 96, 9.0)[0]
    assert np.isfinite(got).all() and got.min() >= 0 and got.max() <= 1
    np.testing.assert_allclose(got, ref_heatmap(xs, ys, w, S, 96, 9.0), atol=1e-5)


def test_heatmap_nan_point_is_not_a_left_edge_phantom():
    xs, ys, w = np.array([0.7, np.nan]), np.array([0.5, 0.5]), np.array([300.0, 300.0])
    got = gaussian_heatmaps(xs, ys, w, np.array([0, 2]), S, 96, 9.0)[0]
    alone = gaussian_heatmaps(xs[:1], ys[:1], w[:1], np.array([0, 1]), S, 96, 9.0)[0]
    np.testing.assert_array_equal(got, alone)


def test_kernels_refuse_inconsistent_csr_arrays():
    """Offsets that point outside the fixation arrays are refused, never read."""
    from gazeprep.render._kernels import combine_tracks

    xs = np.array([0.5, 0.5])
    for offs in (np.array([0, 5]), np.array([0, 2, 1]), np.array([-1, 2])):
        with pytest.raises(ValueError, match="offsets"):
            track_maps(xs, xs, np.zeros(2), offs, S, np.array([1.0]), 3.0, 1.0, True, True)
        with pytest.raises(ValueError, match="offsets"):
            gaussian_heatmaps(xs, xs, xs, offs, S, 96, 9.0)
    with pytest.raises(ValueError, match="radii"):
        track_maps(xs, xs, np.zeros(1), np.array([0, 2]), S, np.array([1.0]), 3.0, 1.0, True,
                   True)
    with pytest.raises(ValueError, match="offsets"):
        combine_tracks(np.zeros((2, 4), np.float32), np.array([0, 3]), False)


def test_uint8_storage_of_non_numbers():
    from gazeprep.render.maps import to_uint8

    x = np.array([[np.nan, np.inf, -np.inf, 1e30, -1e30, 0.5]], np.float32)
    assert to_uint8(x).tolist() == [[0, 255, 0, 255, 0, 128]]
