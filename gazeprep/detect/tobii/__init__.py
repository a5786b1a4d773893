"""Tobii's I-VT fixation filter (``--detector ivt --preset tobii``; Olsen 2012, "The Tobii
I-VT Fixation Filter"), on one sample series.

The steps, with the preset's parameters (:data:`gazeprep.read.options.PRESETS`):

1. gap fill-in: missing samples in gaps of at most ``gap_fill`` ms (75) are interpolated
   linearly (gaze, eye position, gaze point);
2. eye selection: done by the reader (average of the valid eyes, ``--eye L|R`` for one);
3. velocity: the angle between the gaze vectors of the samples half a ``ivt_window`` (20 ms)
   before and after each sample, seen from its eye position, over their time difference. The
   eye position and gaze point come from the file (mm) when it has them (Tobii Pro Lab,
   Pro SDK); otherwise from the screen geometry: the eye ``distance_cm`` in front of the
   screen's centre, the gaze on a screen of ``screen_size_cm``;
4. classification: samples slower than ``ivt_velocity`` (30 deg/s) are fixation samples;
   fixations are their maximal runs (never across a missing sample or a gap over
   ``max_gap``);
5. merge: a fixation starting at most ``merge_gap`` ms (75) after the previous one ends, at
   most ``merge_distance`` degrees (0.5) away from it (angle between their mean gaze vectors),
   joins it;
6. discard: fixations shorter than ``min_duration`` (60 ms) are dropped by the reader's
   placement and counted as ``short``.

:func:`classify` also gives each sample Tobii's label (``Fixation``, ``Saccade``,
``Unclassified``, ``EyesNotFound``), which ``pipelines/bench_ivt_tobii.py`` compares with the
labels of Tobii Pro Lab's own filter.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from gazeprep.detect.summary import summarise
from gazeprep.read.result import sample_interval

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.result import Series

#: Tobii's per-sample labels, in the order of the codes :func:`classify` returns.
LABELS = ("EyesNotFound", "Fixation", "Saccade", "Unclassified")


def geometry(se: Series, opts: IngestOptions, screen_px: tuple[float, float]
             ) -> tuple[np.ndarray, np.ndarray]:
    """Eye position and gaze point (mm, ``(n, 3)`` each) of a series: the file's, else from
    the screen geometry (eye ``distance_cm`` before the centre of a ``screen_size_cm`` screen
    of ``screen_px``)."""
    if se.eye_mm is not None and se.gaze_mm is not None:
        return (np.ascontiguousarray(se.eye_mm, np.float64),
                np.ascontiguousarray(se.gaze_mm, np.float64))
    from gazeprep.errors import GazeprepError

    if opts.screen_size_cm is None:
        raise GazeprepError("--preset tobii needs the eye position and gaze point (mm) or "
                            "--screen-size-cm W H and --distance-cm")
    sx, sy = (opts.screen_px or screen_px)
    mmx, mmy = opts.screen_size_cm[0] * 10 / sx, opts.screen_size_cm[1] * 10 / sy
    n = se.t.size
    gaze = np.column_stack([se.x * mmx, se.y * mmy, np.zeros(n)])
    eye = np.tile([sx / 2 * mmx, sy / 2 * mmy, opts.distance_cm * 10.0], (n, 1))
    eye[~np.isfinite(gaze[:, 0])] = np.nan
    return eye, gaze


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (deg) between two 3-vectors."""
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(a, b))), float(a @ b)))


def merge(t, first, last, eye, gaze, max_gap: float, max_angle: float):
    """Tobii's merge of adjacent fixations: k+1 joins k when it starts at most ``max_gap`` ms
    after k ends and the angle between their mean gaze vectors (from their mean eye position)
    is at most ``max_angle`` degrees."""
    if first.size < 2:
        return first, last

    def mean(v, a, b):
        return np.nanmean(v[a:b + 1], axis=0)

    f_out, l_out = [int(first[0])], [int(last[0])]
    for k in range(1, first.size):
        a, b = f_out[-1], l_out[-1]
        e = (mean(eye, a, b) + mean(eye, first[k], last[k])) / 2
        ang = _angle(mean(gaze, a, b) - e, mean(gaze, first[k], last[k]) - e)
        if t[first[k]] - t[b] <= max_gap and ang <= max_angle:
            l_out[-1] = int(last[k])
        else:
            f_out.append(int(first[k]))
            l_out.append(int(last[k]))
    return np.asarray(f_out, np.int64), np.asarray(l_out, np.int64)


def classify(se: Series, opts: IngestOptions, screen_px: tuple[float, float]) -> dict:
    """Tobii's I-VT on one series (see the module notes).

    Returns
    -------
    dict
        ``first, last`` (fixations after merging, before discarding), ``labels`` (int8 codes
        into :data:`LABELS`, per sample: short fixations ``Unclassified``, samples missing in
        the file ``EyesNotFound`` unless inside a fixation), ``speed`` (deg/s),
        ``x, y`` (gap-filled positions), ``dt`` (ms).
    """
    from gazeprep.detect.tobii._kernels import angular_velocity, gap_fill, streaks

    t = np.ascontiguousarray(se.t, np.float64)
    dt = se.dt or sample_interval(t)
    eye, gaze = geometry(se, opts, screen_px)
    filled = gap_fill(t, np.column_stack([se.x, se.y, eye, gaze]).astype(np.float64),
                      float(opts.gap_fill))
    x, y = filled[:, 0].copy(), filled[:, 1].copy()
    eye, gaze = np.ascontiguousarray(filled[:, 2:5]), np.ascontiguousarray(filled[:, 5:8])
    half = max(1, int(round(opts.ivt_window / 2 / dt)))
    speed = angular_velocity(t, eye, gaze, half, float(opts.max_gap))
    first, last = streaks(t, speed, float(opts.ivt_velocity), float(opts.max_gap))
    if opts.merge_gap > 0:
        first, last = merge(t, first, last, eye, gaze, opts.merge_gap, opts.merge_distance)
    labels = np.where(np.isfinite(speed), np.where(speed < opts.ivt_velocity, 3, 2), 3)
    # A filled-in sample was not measured: outside a fixation it stays EyesNotFound.
    labels[~(np.isfinite(se.x) & np.isfinite(se.y))] = 0
    for a, b in zip(first.tolist(), last.tolist(), strict=True):
        labels[a:b + 1] = 1 if t[b] - t[a] + dt >= opts.min_duration else 3
    return {"first": first, "last": last, "labels": labels.astype(np.int8), "speed": speed,
            "x": x, "y": y, "dt": dt}


def detect_series(se: Series, opts: IngestOptions, screen_px: tuple[float, float]
                  ) -> dict[str, np.ndarray]:
    """Fixations of one series by Tobii's I-VT: :func:`gazeprep.detect.detect`'s output
    (``first, last, start, end, duration, x, y, pupil``)."""
    c = classify(se, opts, screen_px)
    out = summarise(se.t, c["x"], c["y"], se.pupil, c["first"], c["last"], c["dt"])
    out["first"], out["last"] = c["first"], c["last"]
    return out
