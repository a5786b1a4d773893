"""Dice, IoU and HD95: plain numpy references on crafted masks, and medpy's hd95 (the
reference implementation of our convention) on random masks, with and without spacing."""

import numpy as np
import pytest

from gazeprep.contract.metrics import (
    all_metrics,
    dice,
    dice_iou,
    hd95,
    iou,
    mean_defined,
    original_spacing,
)


def _square(n, y0, x0, side):
    m = np.zeros((n, n), bool)
    m[y0:y0 + side, x0:x0 + side] = True
    return m


def _boundary_ref(m):
    # Foreground pixels with a 4-neighbour outside the mask (or outside the image).
    pad = np.pad(m, 1)
    inner = pad[1:-1, 1:-1] & pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    return np.argwhere(m & ~inner)


def _hd95_ref(a, b):
    pa, pb = _boundary_ref(a), _boundary_ref(b)
    d = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
    return float(np.percentile(np.concatenate([d.min(1), d.min(0)]), 95))


CASES = [
    (_square(32, 4, 4, 10), _square(32, 6, 7, 10)),
    (_square(32, 2, 2, 20), _square(32, 10, 10, 4)),
    (_square(40, 0, 0, 12), _square(40, 25, 20, 15)),
]


@pytest.mark.parametrize("a,b", CASES)
def test_metrics_match_numpy_reference(a, b):
    inter = np.logical_and(a, b).sum()
    assert dice(a, b) == pytest.approx(2 * inter / (a.sum() + b.sum()))
    assert iou(a, b) == pytest.approx(inter / np.logical_or(a, b).sum())
    assert hd95(a, b) == pytest.approx(_hd95_ref(a, b))
    assert hd95(a, b) == pytest.approx(hd95(b, a))


def test_shift_gives_known_hd95():
    a = _square(32, 5, 5, 10)
    b = _square(32, 5, 8, 10)  # shifted 3 pixels right
    assert hd95(a, b) == pytest.approx(_hd95_ref(a, b))
    assert 0 < hd95(a, b) <= 3.0
    assert hd95(a, a) == 0.0
    assert dice(a, a) == 1.0 and iou(a, a) == 1.0


def test_empty_mask_conventions():
    e = np.zeros((30, 40), bool)
    m = _square(40, 2, 2, 5)[:30]
    # An empty reference is never a perfect score: undefined when nothing is predicted
    # (nnU-Net's convention), 0 when something is.
    assert np.isnan(dice(e, e)) and np.isnan(iou(e, e)) and np.isnan(hd95(e, e))
    assert dice(m, e) == 0.0 and iou(m, e) == 0.0 and dice(e, m) == 0.0
    assert hd95(e, m) == pytest.approx(50.0)  # the 30 x 40 image diagonal
    assert hd95(m, e) == pytest.approx(50.0)


def test_mean_scores_leave_out_undefined_images_and_count_them():
    e = np.zeros((4, 8, 8), bool)
    pred = e.copy()
    pred[1, 2:4, 2:4] = True  # a prediction on an empty reference: scores 0
    truth = e.copy()
    truth[2, 2:4, 2:4] = True
    pred[2] = truth[2]  # a perfect one
    d, _ = dice_iou(pred, truth)
    assert np.isnan(d[0]) and np.isnan(d[3]) and d[1] == 0.0 and d[2] == 1.0
    assert mean_defined(d) == (0.5, 2)
    mean, n = mean_defined(np.full(3, np.nan))
    assert np.isnan(mean) and n == 0


def test_dice_iou_batched_equals_per_mask():
    rng = np.random.default_rng(1)
    a, b = rng.random((2, 5, 16, 12)) > 0.6
    a[3] = b[3] = False  # both empty
    d, j = dice_iou(a, b)
    assert d.shape == (5,) and np.isnan(d[3]) and np.isnan(j[3])
    for k in (0, 1, 2, 4):
        assert d[k] == pytest.approx(dice(a[k], b[k])) and j[k] == pytest.approx(iou(a[k], b[k]))


def _blobs(rng, shape, n=3):
    """Random union of ellipses: boundaries at every angle, several components."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    m = np.zeros(shape, bool)
    for _ in range(n):
        cy, cx = rng.uniform(0.2, 0.8, 2) * shape
        ry, rx = rng.uniform(0.05, 0.25, 2) * shape
        m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return m


@pytest.mark.parametrize("spacing", [None, (1.0, 1.0), (2.0, 3.0), (0.7, 0.35)])
def test_hd95_equals_medpy(spacing):
    medpy = pytest.importorskip("medpy.metric.binary")
    rng = np.random.default_rng(7)
    for _ in range(12):
        shape = tuple(rng.integers(20, 70, 2))
        a, b = _blobs(rng, shape), _blobs(rng, shape)
        assert hd95(a, b, spacing) == pytest.approx(medpy.hd95(a, b, voxelspacing=spacing),
                                                    rel=1e-12)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_hd95_is_not_monai_max_of_directed_percentiles():
    """MONAI's percentile HD takes the larger directed 95th percentile: never below ours."""
    monai = pytest.importorskip("monai.metrics")
    import torch

    rng = np.random.default_rng(3)
    for _ in range(6):
        a, b = _blobs(rng, (48, 40)), _blobs(rng, (48, 40), n=1)
        t = [torch.from_numpy(m)[None, None].float() for m in (a, b)]
        theirs = float(monai.compute_hausdorff_distance(t[0], t[1], percentile=95,
                                                        spacing=[2.0, 3.0]))
        assert hd95(a, b, (2.0, 3.0)) <= theirs + 1e-9


def test_original_spacing_measures_in_original_pixels():
    # a 12 x 12 mask resampled from a 24 x 36 image: a 2-pixel shift along x at 12 px is
    # 6 original pixels (36 / 12 = 3 per pixel); along y it is 4 (24 / 12 = 2)
    a = _square(12, 3, 3, 4)
    sp = original_spacing((12, 12), (24, 36))
    assert sp == (2.0, 3.0)
    assert hd95(a, np.roll(a, 2, axis=1), sp) == pytest.approx(6.0)
    assert hd95(a, np.roll(a, 2, axis=0), sp) == pytest.approx(4.0)
    mm = original_spacing((12, 12), (24, 36), mm=(0.5, 0.25))
    assert mm == (1.0, 0.75)
    assert hd95(a, np.roll(a, 2, axis=1), mm) == pytest.approx(1.5)
    e = np.zeros_like(a)
    assert hd95(e, a, sp) == pytest.approx(np.hypot(24, 36))  # the original image's diagonal
    m = all_metrics(a, a, sp, None)
    assert m == {"dice": 1.0, "iou": 1.0, "hd95": 0.0, "hd95_mm": None}


@pytest.mark.parametrize("bad", [(0, 1), (1, -1), (np.nan, 1), (1,), (1, 2, 3)])
def test_bad_spacing_is_refused(bad):
    a = _square(8, 1, 1, 3)
    with pytest.raises(ValueError, match="spacing"):
        hd95(a, a, bad)
