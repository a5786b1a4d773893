"""Dice, IoU and HD95 against plain numpy references on crafted masks."""

import numpy as np
import pytest

from gradseg.metrics import dice, hd95, iou


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
    assert dice(e, e) == 1.0 and iou(e, e) == 1.0 and hd95(e, e) == 0.0
    assert dice(e, m) == 0.0 and iou(m, e) == 0.0
    assert hd95(e, m) == pytest.approx(50.0)  # the 30 x 40 image diagonal
