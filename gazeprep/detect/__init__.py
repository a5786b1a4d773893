"""Stage 2 of ingest: gaze samples -> fixations (I-VT, I-DT), then merging of adjacent ones.

One detector per module (:mod:`~gazeprep.detect.ivt`, array operations; :mod:`~gazeprep.detect.idt`,
a typed wrapper around its numba kernel in :mod:`gazeprep.detect._kernels`); :data:`DETECTORS` is
the registry ``--detector`` chooses from. :func:`detect` runs one on one sample series and
summarises its fixations; :func:`detect_recording` runs the chosen one on every series a reader
handed over (:class:`gazeprep.read.result.Recording`), with the thresholds of the ingest
options converted to pixels (:func:`gazeprep.detect.geometry.thresholds`).

Both detectors work on real recordings: timestamps are float milliseconds (any rate, jitter,
gaps), a missing sample is NaN in ``x`` or ``y``; a fixation never spans a missing sample or a
gap longer than ``max_gap`` ms, and hostile samples (NaN or infinite time, time going back) are
defined, never crashes (see :mod:`gazeprep.detect.runs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gazeprep.detect import idt, ivt
from gazeprep.detect.geometry import thresholds
from gazeprep.detect.merge import merge_adjacent
from gazeprep.detect.summary import summarise
from gazeprep.read.result import sample_interval

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.result import Recording


@dataclass(frozen=True)
class Settings:
    """Detector parameters in the detectors' units.

    Parameters
    ----------
    velocity : float
        I-VT threshold (px/ms).
    dispersion : float
        I-DT threshold (px).
    ivt_window, idt_window : float
        I-VT speed window and I-DT minimal duration (ms).
    max_gap : float
        Longest sample gap inside a fixation (ms).
    merge_gap, merge_distance : float
        When ``merge_gap > 0``, :func:`merge_adjacent` with these (ms, px).
    """

    velocity: float
    dispersion: float
    ivt_window: float
    idt_window: float
    max_gap: float
    merge_gap: float = 0.0
    merge_distance: float = 0.0


def _run_ivt(t, x, y, dt: float, s: Settings) -> tuple[np.ndarray, np.ndarray]:
    return ivt.ivt(t, x, y, velocity=s.velocity, window=s.ivt_window, max_gap=s.max_gap)


def _run_idt(t, x, y, dt: float, s: Settings) -> tuple[np.ndarray, np.ndarray]:
    return idt.idt(t, x, y, dispersion=s.dispersion, window=s.idt_window, max_gap=s.max_gap, dt=dt)


#: ``--detector`` name -> ``run(t, x, y, dt, settings) -> (first, last)``.
DETECTORS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "ivt": _run_ivt,
    "idt": _run_idt,
}


def detect(detector: str, t, x, y, pupil, *, velocity: float, dispersion: float,
           ivt_window: float, idt_window: float, max_gap: float,
           dt: float | None = None, merge_gap: float = 0.0,
           merge_distance: float = 0.0) -> dict[str, np.ndarray]:
    """Run I-VT or I-DT on one sample series and summarise the fixations.

    Parameters
    ----------
    detector : {"ivt", "idt"}
        A key of :data:`DETECTORS`.
    t, x, y, pupil : arrays (n,)
        Times (ms), positions (px), pupil (NaN = missing).
    velocity, dispersion, ivt_window, idt_window, max_gap, merge_gap, merge_distance : float
        See :class:`Settings`.
    dt : float, optional
        Sample interval (ms); default the median step of ``t``.

    Returns
    -------
    dict
        :func:`summarise` output (``start, end, duration, x, y, pupil``) plus ``first`` and
        ``last`` (inclusive sample indices).
    """
    settings = Settings(velocity, dispersion, ivt_window, idt_window, max_gap, merge_gap,
                        merge_distance)
    return _detect(detector, t, x, y, pupil, dt, settings)


def _detect(detector: str, t, x, y, pupil, dt: float | None,
            s: Settings) -> dict[str, np.ndarray]:
    """:func:`detect` with its parameters as :class:`Settings`."""
    t = np.ascontiguousarray(t, np.float64)
    x = np.ascontiguousarray(x, np.float64)
    y = np.ascontiguousarray(y, np.float64)
    dt = sample_interval(t) if dt is None else dt
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}")
    first, last = DETECTORS[detector](t, x, y, dt, s)
    if s.merge_gap > 0 and first.size > 1:
        m = summarise(t, x, y, pupil, first, last, dt)
        first, last = merge_adjacent(t, first, last, m["x"], m["y"], s.merge_gap,
                                     s.merge_distance)
    out = summarise(t, x, y, pupil, first, last, dt)
    out["first"] = first
    out["last"] = last
    return out


def detect_recording(rec: Recording, opts: IngestOptions) -> list[dict[str, np.ndarray]]:
    """Run the recording's detector (``rec.detector``) on each of its sample series.

    The thresholds of ``opts`` (degrees or pixels) are converted to pixels with the screen
    ``rec.screen_px`` first, so a missing screen size is an error even for a file whose
    samples are all missing. I-VT with ``--preset tobii`` is Tobii's filter
    (:mod:`gazeprep.detect.tobii`).

    Returns
    -------
    list of dict
        One :func:`detect` result per ``rec.series``, in order.
    """
    if opts.preset == "tobii" and rec.detector == "ivt":
        from gazeprep.detect.tobii import detect_series

        return [detect_series(se, opts, rec.screen_px) for se in rec.series]
    thr = thresholds(opts, rec.screen_px)
    s = Settings(thr["velocity"], thr["dispersion"], opts.ivt_window, opts.idt_window,
                 opts.max_gap, opts.merge_gap, thr["merge_distance"])
    return [_detect(rec.detector, se.t, se.x, se.y, se.pupil, se.dt, s) for se in rec.series]


__all__ = ["DETECTORS", "Settings", "detect", "detect_recording", "merge_adjacent", "summarise"]
