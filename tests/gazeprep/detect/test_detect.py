"""I-VT (array operations) and I-DT (numba kernel) against plain-Python references, and against
the tracker's EFIX."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from gazeprep.detect import ivt as ivt_module
from gazeprep.detect._kernels import idt_kernel
from gazeprep.detect.geometry import px_per_degree
from gazeprep.detect.ivt import ivt
from gazeprep.detect.runs import runs
from gazeprep.detect.summary import summarise
from gazeprep.ingest import ingest_file
from gazeprep.read.options import IngestOptions


def read_asc(path, opts: IngestOptions):
    """Read one ASC file to its fixations (reader, then detector for I-VT / I-DT)."""
    return ingest_file(path, dataclasses.replace(opts, format="asc"))



def run_ivt(t, x, y, max_velocity, max_gap, half_window):
    """:func:`ivt` with the references' arguments."""
    return ivt(t, x, y, velocity=max_velocity, window=2.0 * half_window, max_gap=max_gap)


def run_idt(t, x, y, max_dispersion, min_span, max_gap):
    """The I-DT kernel on the runs of :func:`runs`, as :func:`gazeprep.detect.idt.idt` calls it."""
    return idt_kernel(t, x, y, *runs(t, x, y, max_gap), max_dispersion, min_span)


# -- plain-Python references (same definitions, no tricks) -------------------------------------

def ref_runs(t, x, y, max_gap):
    runs, i, n = [], 0, len(t)
    # a sample is valid when its time and position are finite numbers (NaN, +-inf: missing)
    valid = [math.isfinite(t[k]) and math.isfinite(x[k]) and math.isfinite(y[k])
             for k in range(n)]
    while i < n:
        if not valid[i]:
            i += 1
            continue
        j = i + 1
        while j < n and valid[j] and 0 < t[j] - t[j - 1] <= max_gap:
            j += 1
        runs.append((i, j))
        i = j
    return runs


def ref_ivt(t, x, y, max_velocity, max_gap, half_window):
    out = []
    for a, b in ref_runs(t, x, y, max_gap):
        if b - a < 2:
            continue
        slow = []
        for i in range(a, b):
            lo = min([k for k in range(a, i) if t[i] - t[k] <= half_window] or [i - 1])
            lo = max(lo, a) if i > a else i
            hi = max([k for k in range(i + 1, b) if t[k] - t[i] <= half_window] or [i + 1])
            hi = min(hi, b - 1)
            dt = t[hi] - t[lo]
            d = math.hypot(x[hi] - x[lo], y[hi] - y[lo])
            slow.append(dt > 0 and d < max_velocity * dt)
        i = 0
        while i < len(slow):
            if slow[i]:
                j = i
                while j + 1 < len(slow) and slow[j + 1]:
                    j += 1
                out.append((a + i, a + j))
                i = j + 1
            else:
                i += 1
    return out


def ref_idt(t, x, y, max_dispersion, min_span, max_gap):
    def disp(i, j):  # inclusive
        xs, ys = x[i:j + 1], y[i:j + 1]
        return (max(xs) - min(xs)) + (max(ys) - min(ys))

    out = []
    for a, b in ref_runs(t, x, y, max_gap):
        i = a
        while i < b:
            j = i
            while j < b - 1 and t[j] - t[i] < min_span:
                j += 1
            if t[j] - t[i] < min_span:
                break
            if disp(i, j) <= max_dispersion:
                while j + 1 < b and disp(i, j + 1) <= max_dispersion:
                    j += 1
                out.append((i, j))
                i = j + 1
            else:
                i += 1
    return out


def pairs(first, last) -> list[tuple[int, int]]:
    return list(zip(first.tolist(), last.tolist(), strict=True))


def synthetic(seed: int, n: int = 1500):
    """Fixations + saccades + noise, float times with jitter, NaN blinks and time gaps."""
    rng = np.random.default_rng(seed)
    dt = rng.choice([0.5, 1.0, 2.0, 4.0])
    t = np.cumsum(rng.normal(dt, dt * 0.05, n).clip(dt * 0.5))
    t[rng.integers(0, n, 3)] += 0  # keep increasing
    gap_at = rng.integers(1, n, 4)
    for g in gap_at:
        t[g:] += rng.choice([5.0, 200.0])
    x = np.empty(n)
    y = np.empty(n)
    i = 0
    while i < n:
        k = int(rng.integers(20, 200))
        x[i:i + k], y[i:i + k] = rng.uniform(0, 1000, 2)
        i += k
    x += rng.normal(0, 0.8, n)
    y += rng.normal(0, 0.8, n)
    for s in rng.integers(0, n - 30, 5):
        x[s:s + rng.integers(1, 30)] = np.nan
    y[rng.integers(0, n, 5)] = np.nan
    return t, x, y


@pytest.mark.parametrize("seed", range(6))
def test_ivt_matches_reference(seed):
    t, x, y = synthetic(seed)
    for hw in (0.0, 3.0, 10.0):
        f, l_ = run_ivt(t, x, y, 0.5, 50.0, hw)
        assert pairs(f, l_) == ref_ivt(t, x, y, 0.5, 50.0, hw)


@pytest.mark.parametrize("seed", range(6))
def test_idt_matches_reference(seed):
    t, x, y = synthetic(seed)
    for disp, span in ((10.0, 40.0), (25.0, 99.0), (3.0, 10.0)):
        f, l_ = run_idt(t, x, y, disp, span, 50.0)
        assert pairs(f, l_) == ref_idt(t, x, y, disp, span, 50.0)


def test_kernels_find_planted_fixations():
    t = np.arange(1000, dtype=np.float64)
    x = np.where(t < 500, 100.0, 600.0) + np.sin(t) * 0.3
    y = np.full(1000, 200.0)
    x[495:505] = np.linspace(100, 600, 10)
    x[700:720] = np.nan  # a blink splits the second fixation
    for f, l_ in (run_ivt(t, x, y, 1.0, 30.0, 2.0), run_idt(t, x, y, 5.0, 99.0, 30.0)):
        spans = pairs(f, l_)
        assert len(spans) == 3
        assert spans[0][0] == 0 and 490 <= spans[0][1] <= 496
        assert spans[1][1] == 699 and spans[2] == (720, 999)
    s = summarise(t, x, y, np.full(1000, np.nan), f, l_, 1.0)
    assert s["duration"][2] == 280.0 and np.isnan(s["pupil"]).all()


def test_px_per_degree():
    # 1 degree at 57.3 cm is ~1 cm; 1920 px over 53 cm.
    assert px_per_degree((1920, 1080), (53.0, 29.8), 57.29) == pytest.approx(36.2, rel=0.01)


@pytest.fixture(scope="module")
def binocular(shared_data) -> Path:
    return shared_data("eyelink", "eyelink_binocular_example.asc")


def test_kernels_match_reference_on_real_samples(binocular):
    from gazeprep.read.asc.parse import parse_asc

    log = parse_asc(str(binocular))
    for e in (0, 1):
        t, x, y = log.t, log.x[e], log.y[e]
        f, l_ = run_ivt(t, x, y, 1.1, 75.0, 10.0)
        assert pairs(f, l_) == ref_ivt(t, x, y, 1.1, 75.0, 10.0)
        f, l_ = run_idt(t, x, y, 38.0, 99.0, 75.0)
        assert pairs(f, l_) == ref_idt(t, x, y, 38.0, 99.0, 75.0)


@pytest.mark.parametrize("detector", ["ivt", "idt"])
def test_detectors_cover_every_tracker_fixation(binocular, detector):
    """Per eye, some detected fixation overlaps each EFIX fixation by >= 80% of its duration."""
    ref = read_asc(str(binocular), IngestOptions(detector="tracker", eye="both")).fixations
    got = read_asc(str(binocular), IngestOptions(detector=detector, eye="both")).fixations
    assert ref.height == 4
    for efix in ref.iter_rows(named=True):
        s0, s1 = efix["order"], efix["order"] + efix["duration_ms"]
        mine = got.filter(got["eye"] == efix["eye"])
        overlap = [
            max(0.0, min(s1, o + d) - max(s0, o))
            for o, d in zip(mine["order"], mine["duration_ms"], strict=True)
        ]
        assert max(overlap) >= 0.8 * efix["duration_ms"], (detector, efix, overlap)


def test_merge_adjacent_joins_split_fixations():
    from gazeprep.detect import detect

    t = np.arange(400, dtype=np.float64)
    x = np.full(400, 100.0)
    x[200:] = 101.0  # a tiny step: still the same fixation
    x[195:200] = np.nan  # 5 ms of lost samples split it
    y = np.zeros(400)
    kw = dict(velocity=1.0, dispersion=5.0, ivt_window=2.0, idt_window=50.0, max_gap=2.0)
    assert detect("idt", t, x, y, np.full(400, np.nan), **kw)["first"].size == 2
    s = detect("idt", t, x, y, np.full(400, np.nan), merge_gap=10.0, merge_distance=2.0, **kw)
    assert s["first"].tolist() == [0] and s["last"].tolist() == [399]
    assert s["duration"][0] == 400.0
    far = detect("idt", t, x, y, np.full(400, np.nan), merge_gap=10.0, merge_distance=0.5, **kw)
    assert far["first"].size == 2


# -- hostile samples: the kernels agree with the references and never index out of range -------

def hostile(seed: int, n: int = 600):
    """The synthetic series with infinities, NaN times, time going back, repeated times and
    huge positions planted in it."""
    t, x, y = synthetic(seed, n)
    rng = np.random.default_rng(100 + seed)
    for arr, values in ((t, [np.inf, -np.inf, np.nan]), (x, [np.inf, -np.inf, 1e300, -1e300]),
                        (y, [np.inf, 1e300])):
        k = rng.integers(0, n, 4)
        arr[k] = rng.choice(values, 4)
    a = int(rng.integers(10, n - 20))
    t[a:a + 5] = t[a]  # zero sample interval
    b = int(rng.integers(10, n - 20))
    t[b:b + 3] -= 50.0  # time going back
    return t, x, y


@pytest.mark.parametrize("seed", range(8))
def test_kernels_match_reference_on_hostile_samples(seed):
    t, x, y = hostile(seed)
    for hw in (0.0, 3.0):
        f, l_ = run_ivt(t, x, y, 0.5, 50.0, hw)
        assert pairs(f, l_) == ref_ivt(t, x, y, 0.5, 50.0, hw)
    for disp, span in ((10.0, 40.0), (3.0, 0.0)):
        f, l_ = run_idt(t, x, y, disp, span, 50.0)
        assert pairs(f, l_) == ref_idt(t, x, y, disp, span, 50.0)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_kernels_on_empty_and_tiny_input(n):
    t = np.arange(n, dtype=np.float64)
    x = np.full(n, 100.0)
    f, l_ = run_ivt(t, x, x, 1.0, 10.0, 2.0)
    assert pairs(f, l_) == ref_ivt(t, x, x, 1.0, 10.0, 2.0) == ([(0, 1)] if n == 2 else [])
    f, l_ = run_idt(t, x, x, 5.0, 0.0, 10.0)
    assert pairs(f, l_) == ref_idt(t, x, x, 5.0, 0.0, 10.0)


def test_all_samples_at_one_time_give_no_fixation():
    """A zero sample interval everywhere: every run is one sample, so no fixation spans two."""
    t = np.full(50, 1000.0)
    x = np.full(50, 100.0)
    assert run_ivt(t, x, x, 1.0, 10.0, 2.0)[0].size == 0
    assert run_idt(t, x, x, 5.0, 40.0, 10.0)[0].size == 0
    f, l_ = run_idt(t, x, x, 5.0, 0.0, 10.0)  # a zero window accepts one-sample fixations
    assert pairs(f, l_) == ref_idt(t, x, x, 5.0, 0.0, 10.0) == [(i, i) for i in range(50)]


@pytest.mark.parametrize("detector", ["ivt", "idt"])
@pytest.mark.parametrize("seed", range(4))
def test_detect_on_hostile_samples_gives_only_finite_fixations(detector, seed):
    """Every detected (and merged) fixation spans finite samples in increasing time."""
    from gazeprep.detect import detect

    t, x, y = hostile(seed, 1500)
    s = detect(detector, t, x, y, np.full(t.size, np.nan), velocity=0.5, dispersion=10.0,
               ivt_window=6.0, idt_window=40.0, max_gap=50.0, merge_gap=75.0,
               merge_distance=5.0)
    assert s["first"].size > 0
    for k in ("start", "end", "duration", "x", "y"):
        assert np.isfinite(s[k]).all(), k
    assert (s["duration"] > 0).all() and (np.diff(s["start"]) > 0).all()


# -- I-VT's array operations: the window search, its batches, absurd values ---------------------

@pytest.mark.parametrize("seed", range(4))
def test_runs_match_reference(seed):
    for t, x, y in (synthetic(seed), hostile(seed)):
        start, end = runs(t, x, y, 50.0)
        assert list(zip(start.tolist(), end.tolist(), strict=True)) == ref_runs(t, x, y, 50.0)


def test_ivt_matches_reference_on_random_tiny_series():
    """Short series drawn from absurd values (times of +-1e308 and inf, repeated and backward
    times, positions of 1e308), every window from none to infinite: the window search's guesses
    go wrong there and must be settled exactly."""
    rng = np.random.default_rng(7)
    steps = [0.0, 1.0, 2.0, 0.1, 5.0, np.nan, np.inf, -np.inf, 1e308, -1e308]
    with np.errstate(all="ignore"):
        for k in range(400):
            n = int(rng.integers(0, 40))
            t = (rng.choice(steps, n).cumsum() if k % 2
                 else np.round(rng.normal(0, 3, n).cumsum(), 0))
            x = rng.choice([0.0, 1.0, 0.3, np.nan, np.inf, 1e308, -1e308], n)
            y = rng.normal(0, 1, n)
            for hw in (0.0, 1.0, 2.5, 1e308, np.inf):
                assert pairs(*run_ivt(t, x, y, 1.0, 3.0, hw)) == ref_ivt(t, x, y, 1.0, 3.0, hw)


@pytest.mark.parametrize("seed", range(3))
def test_ivt_in_small_batches_matches_reference(seed, monkeypatch):
    """Batches of whole runs (a run longer than a batch is one batch) give the same fixations."""
    monkeypatch.setattr(ivt_module, "BATCH", 7)
    t, x, y = synthetic(seed)
    for hw in (0.0, 3.0, 10.0):
        assert pairs(*run_ivt(t, x, y, 0.5, 50.0, hw)) == ref_ivt(t, x, y, 0.5, 50.0, hw)


def test_ivt_window_wider_than_the_recording():
    """A window of 1e308 ms or inf reaches both ends of every run, at no extra cost."""
    t, x, y = synthetic(3, 3000)
    for hw in (1e308, np.inf):
        assert pairs(*run_ivt(t, x, y, 0.5, 50.0, hw)) == ref_ivt(t, x, y, 0.5, 50.0, hw)


def test_ivt_runs_without_numba():
    """A command that runs only I-VT never pays numba's start (about 0.3 s)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np\nfrom gazeprep.detect import detect\n"
            "t = np.arange(100.0); x = np.zeros(100)\n"
            "s = detect('ivt', t, x, x, x, velocity=1.0, dispersion=1.0, ivt_window=2.0,"
            " idt_window=50.0, max_gap=5.0)\n"
            "print(s['first'].tolist(), 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.split() == ["[0]", "False"]


def ref_merge(t, first, last, mx, my, max_gap, max_distance):
    """Merging as a plain loop over the fixations (a running, sample-weighted centroid)."""
    out = []
    for k in range(len(first)):
        if out:
            f0, l0, cx, cy, w = out[-1]
            wk = last[k] - first[k] + 1
            if (math.hypot(mx[k] - cx, my[k] - cy) <= max_distance
                    and t[first[k]] - t[l0] <= max_gap):
                out[-1] = (f0, last[k], (cx * w + mx[k] * wk) / (w + wk),
                           (cy * w + my[k] * wk) / (w + wk), w + wk)
                continue
        out.append((first[k], last[k], mx[k], my[k], last[k] - first[k] + 1))
    return [(f, la) for f, la, *_ in out]


@pytest.mark.parametrize("seed", range(4))
def test_merge_adjacent_matches_reference(seed):
    from gazeprep.detect import merge_adjacent

    t, x, y = synthetic(seed, 4000)
    first, last = run_ivt(t, x, y, 0.5, 50.0, 3.0)
    s = summarise(t, x, y, np.full(t.size, np.nan), first, last, 1.0)
    for gap, dist in ((75.0, 5.0), (200.0, 50.0), (10.0, 0.5)):
        f, l_ = merge_adjacent(t, first, last, s["x"], s["y"], gap, dist)
        assert pairs(f, l_) == ref_merge(t.tolist(), first.tolist(), last.tolist(),
                                         s["x"].tolist(), s["y"].tolist(), gap, dist)
    assert len(first) > 20 and len(pairs(f, l_)) <= len(first)


@pytest.mark.parametrize("seed", range(3))
def test_summarise_matches_slice_means(seed):
    """Onset, duration and NaN-aware means against a plain loop over the slices (overlapping and
    unsorted ranges, a range ending at the last sample, all-missing pupils)."""
    t, x, y = hostile(seed, 800)
    rng = np.random.default_rng(seed)
    pupil = np.where(rng.random(t.size) < 0.3, np.nan, rng.normal(4, 1, t.size))
    pupil[100:140] = np.nan
    first = rng.integers(0, t.size, 60)
    last = np.minimum(first + rng.integers(0, 40, 60), t.size - 1)
    first[0], last[0] = 700, t.size - 1
    first[1], last[1] = 100, 139
    s = summarise(t, x, y, pupil, first, last, 2.0)

    def slice_mean(v, a, b):
        w = [u for u in v[a:b + 1].tolist() if math.isfinite(u)]
        return math.fsum(w) / len(w) if w else math.nan

    for k, (a, b) in enumerate(zip(first.tolist(), last.tolist(), strict=True)):
        assert s["duration"][k] == t[b] - t[a] + 2.0 or not np.isfinite(s["duration"][k])
        for name, v in (("x", x), ("y", y), ("pupil", pupil)):
            want = slice_mean(v, a, b)
            assert (math.isnan(want) and math.isnan(s[name][k])) or s[name][k] == pytest.approx(
                want, rel=1e-12), (name, a, b)
    assert np.isnan(s["pupil"][1])
    assert summarise(t, x, y, pupil, first[:0], last[:0], 2.0)["x"].size == 0
