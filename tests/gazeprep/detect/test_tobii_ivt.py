"""Tobii's I-VT preset: its numba kernels against plain-Python references (hostile inputs
included), the preset's steps on synthetic gaze, and its command-line options."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazeprep.detect.tobii import classify
from gazeprep.detect.tobii._kernels import angular_velocity, gap_fill, streaks
from gazeprep.read.options import PRESETS, IngestOptions, describe_preset
from gazeprep.read.result import Series


def ref_gap_fill(t, v, max_gap):
    out = v.copy()
    ok = [math.isfinite(t[i]) and all(math.isfinite(a) for a in v[i]) for i in range(len(t))]
    prev = None
    for i in range(len(t)):
        if not ok[i]:
            continue
        if prev is not None and i - prev > 1 and 0 < t[i] - t[prev] <= max_gap:
            for j in range(prev + 1, i):
                if math.isfinite(t[j]):
                    w = (t[j] - t[prev]) / (t[i] - t[prev])
                    if 0 <= w <= 1:
                        out[j] = v[prev] + w * (v[i] - v[prev])
        prev = i
    return out


def ref_speed(t, eye, gaze, half, max_gap):
    n = len(t)
    ok = [math.isfinite(t[i]) and np.isfinite(eye[i]).all() and np.isfinite(gaze[i]).all()
          for i in range(n)]
    out = np.full(n, np.nan)
    i = 0
    while i < n:
        if not ok[i]:
            i += 1
            continue
        b = i + 1
        while b < n and ok[b] and t[i] < t[b] and t[b] > t[b - 1] and t[b] - t[b - 1] <= max_gap:
            b += 1
        for c in range(i, b):
            lo, hi = max(c - half, i), min(c + half, b - 1)
            if hi > lo:
                u, w = gaze[lo] - eye[c], gaze[hi] - eye[c]
                ang = math.atan2(np.linalg.norm(np.cross(u, w)), np.dot(u, w))
                out[c] = math.degrees(ang) / (t[hi] - t[lo]) * 1e3
        i = b
    return out


def ref_streaks(t, speed, thr, max_gap):
    first, last, open_ = [], [], None
    for i in range(len(t)):
        slow = math.isfinite(speed[i]) and speed[i] < thr
        cont = open_ is not None and t[i] > t[i - 1] and t[i] - t[i - 1] <= max_gap
        if slow and cont:
            continue
        if open_ is not None:
            first.append(open_)
            last.append(i - 1)
            open_ = None
        if slow:
            open_ = i
    if open_ is not None:
        first.append(open_)
        last.append(len(t) - 1)
    return np.array(first, np.int64), np.array(last, np.int64)


def hostile(seed):
    """Gaze with NaN and inf samples, a repeated and a backwards time, a long gap."""
    rng = np.random.default_rng(seed)
    n = 400
    t = np.cumsum(rng.choice([3.33, 3.34, 0.0, 40.0, 100.0], n, p=[.5, .44, .02, .02, .02]))
    t[50] = t[49] - 5
    t[77] = np.nan
    eye = np.tile([265.0, 150.0, 600.0], (n, 1)) + rng.normal(0, 0.2, (n, 3))
    gaze = np.column_stack([np.repeat(rng.uniform(0, 530, 8), 50), np.repeat(
        rng.uniform(0, 300, 8), 50), np.zeros(n)]) + rng.normal(0, 0.3, (n, 3))
    gaze[rng.random(n) < 0.05] = np.nan
    gaze[123, 1] = np.inf
    eye[200:205] = np.nan
    return t, eye, gaze


@pytest.mark.parametrize("seed", range(4))
def test_kernels_match_the_references(seed):
    t, eye, gaze = hostile(seed)
    v = np.column_stack([eye, gaze])
    np.testing.assert_array_equal(gap_fill(t, v, 75.0), ref_gap_fill(t, v, 75.0))
    filled = gap_fill(t, v, 75.0)
    e, g = np.ascontiguousarray(filled[:, :3]), np.ascontiguousarray(filled[:, 3:])
    for half in (1, 3):
        sp = angular_velocity(t, e, g, half, 75.0)
        np.testing.assert_allclose(sp, ref_speed(t, e, g, half, 75.0), rtol=1e-9, atol=1e-9)
        got = streaks(t, sp, 30.0, 75.0)
        want = ref_streaks(t, sp, 30.0, 75.0)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_kernels_empty_and_single_sample():
    z, z3 = np.zeros(0), np.zeros((0, 3))
    assert gap_fill(z, np.zeros((0, 2)), 75.0).shape == (0, 2)
    assert angular_velocity(z, z3, z3, 1, 75.0).size == 0
    assert streaks(z, z, 30.0, 75.0)[0].size == 0
    one = np.ones((1, 3))
    assert np.isnan(angular_velocity(np.zeros(1), one, one, 1, 75.0)).all()


def _series(rate=300.0, gap=None, jitter=0.0):
    """Two 400 ms fixations 10 deg apart at 60 cm on a 53 x 30 cm screen of 1920 x 1080."""
    dt = 1000.0 / rate
    n = int(800 / dt)
    t = np.arange(n) * dt
    rng = np.random.default_rng(1)
    x = np.where(t < 400, 500.0, 500.0 + 10 * 38.0) + rng.normal(0, jitter, n)
    y = np.full(n, 540.0)
    if gap is not None:
        x[gap] = np.nan
    return Series(t, x, y, np.full(n, 3.0))


def test_preset_steps():
    opts = IngestOptions(preset="tobii").with_preset()
    c = classify(_series(), opts, (1920, 1080))
    assert c["first"].size == 2
    labels = c["labels"]
    assert (labels[c["first"][0]:c["last"][0] + 1] == 1).all()
    assert (labels == 2).sum() >= 1  # the jump is a saccade
    # A 50 ms gap inside a fixation is filled: still one fixation (and the missing samples are
    # Fixation, being inside one); a 120 ms gap is not.
    short = classify(_series(gap=slice(30, 45)), opts, (1920, 1080))
    assert short["first"].size == 2 and (short["labels"][30:45] == 1).all()
    long = classify(_series(gap=slice(30, 66)), opts, (1920, 1080))
    assert long["first"].size == 3 and (long["labels"][30:66] == 0).all()
    off = classify(_series(gap=slice(30, 45)), IngestOptions(preset="tobii").with_preset(
        {"gap_fill"}), (1920, 1080))
    # without gap fill-in the two halves are merged back (gap <= 75 ms, angle <= 0.5 deg)
    assert off["first"].size == 2 and (off["labels"][30:45] == 1).all()
    nomerge = classify(_series(gap=slice(30, 45)), IngestOptions(
        preset="tobii", merge_gap=0).with_preset({"gap_fill", "merge_gap"}), (1920, 1080))
    assert nomerge["first"].size == 3


def test_preset_uses_eye_and_gaze_mm():
    """The same gaze in mm with the eye closer to the screen: larger angles, more saccade."""
    se = _series()
    n = se.t.size
    mm = 530 / 1920
    se.gaze_mm = np.column_stack([se.x * mm, se.y * 300 / 1080, np.zeros(n)])
    opts = IngestOptions(preset="tobii").with_preset()
    far = classify(se, opts, (1920, 1080))
    se.eye_mm = np.tile([265.0, 150.0, 600.0], (n, 1))
    same = classify(se, opts, (1920, 1080))
    np.testing.assert_allclose(same["speed"], far["speed"], rtol=1e-9, equal_nan=True)
    se.eye_mm = np.tile([265.0, 150.0, 300.0], (n, 1))
    near = classify(se, opts, (1920, 1080))
    assert np.nanmax(near["speed"]) > 1.5 * np.nanmax(same["speed"])


def test_preset_defaults_in_help_and_overrides(run_cli):
    assert PRESETS["tobii"] == {"gap_fill": 75.0, "ivt_window": 20.0, "ivt_velocity": 30.0,
                                "merge_gap": 75.0, "merge_distance": 0.5,
                                "min_duration": 60.0}
    r = run_cli("gazeprep", "ingest", "--help")
    text = " ".join(r.stdout.replace("│", " ").split())
    assert " ".join(describe_preset("tobii").split()) in text
    opts = IngestOptions(preset="tobii", ivt_velocity=50.0).with_preset({"ivt_velocity"})
    assert opts.ivt_velocity == 50.0 and opts.min_duration == 60.0 and opts.gap_fill == 75.0


def test_preset_refuses_idt(run_cli, tmp_path):
    r = run_cli("gazeprep", "ingest", str(tmp_path), "--detector", "idt", "--preset", "tobii")
    assert r.returncode == 2 and "--preset" in r.stderr
