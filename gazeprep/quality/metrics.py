"""Per-trial quality of one recording: sample loss, blinks, sampling rate, the validation in
force, and the flags (:class:`Thresholds`). Pure functions of plain arrays: nothing here
raises on odd numbers (an empty trial, NaN times, a rate of 0 give nulls)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gazeprep.quality.validation import EYES, Validations


@dataclass(frozen=True)
class Thresholds:
    """When a trial is flagged. Defaults:

    - ``validation_avg_deg = 1.0``, ``validation_max_deg = 1.5``: above either, EyeLink itself
      grades a validation POOR (GOOD: avg < 0.5 and max < 1.0 deg; FAIR: avg < 1.0 and max <
      1.5 deg). 1 deg is ~1 cm on a screen at 60 cm, the size of a small lesion on a
      diagnostic display: the gaze could sit beside the structure it looked at.
      A validation the tracker graded POOR or ABORTED is flagged too.
    - ``loss_pct = 20``: more than a fifth of the promised samples without a position (blinks
      take ~5-10 % of normal viewing; beyond 20 % the eye was lost, not blinking).
    - ``rate_deviation_pct = 5``: the measured rate (median interval) differs from the
      header's by more than 5 %: samples were dropped in bursts or the header is wrong.

    A trial with no validation before it is not flagged (its validation columns are null).
    """

    validation_avg_deg: float = 1.0
    validation_max_deg: float = 1.5
    loss_pct: float = 20.0
    rate_deviation_pct: float = 5.0

    @classmethod
    def of(cls, opts) -> Thresholds:
        """The thresholds of an :class:`~gazeprep.read.options.IngestOptions` (``--max-*``)."""
        return cls(validation_avg_deg=opts.max_validation_avg,
                   validation_max_deg=opts.max_validation_max, loss_pct=opts.max_loss,
                   rate_deviation_pct=opts.max_rate_deviation)


@dataclass
class Blinks:
    """Blink events: start and end (ms, EyeLink's SBLINK/EBLINK times) and eye (``L``/``R``)."""

    start: np.ndarray
    end: np.ndarray
    eye: np.ndarray



@dataclass
class TrialQuality:
    """Quality of one eye in one trial (one row of ``quality.parquet``; see QUALITY_SCHEMA)."""

    session: str
    trial: str | None
    eye: str
    start_ms: float
    end_ms: float
    recorded_ms: float
    rate_hz: float | None
    measured_rate_hz: float | None
    samples_expected: int | None
    samples_present: int
    samples_valid: int
    loss_pct: float | None
    missing_pct: float | None
    blinks: int
    blink_ms: float
    validation_time_ms: float | None = None
    validation_result: str | None = None
    validation_avg_deg: float | None = None
    validation_max_deg: float | None = None
    validation_offset_deg: float | None = None
    fixations_kept: int = 0
    fixations_dropped: dict[str, int] = field(default_factory=dict)
    flag_reasons: list[str] = field(default_factory=list)


#: Flag reasons and what each means (for ``gazeprep qc`` and ``ingest.json``).
REASONS = {
    "validation_avg": "validation average error above the threshold",
    "validation_max": "validation maximum error above the threshold",
    "validation_poor": "the tracker graded the validation POOR",
    "validation_aborted": "the last validation was aborted",
    "loss": "sample loss above the threshold",
    "no_samples": "no samples and no recorded time in the trial",
    "rate": "measured sampling rate differs from the header's",
}


def session_quality(session: str, labels: Sequence[str | None], start: np.ndarray,
                    end: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray,
                    sample_trial: np.ndarray, rate_hz: float | np.ndarray, *,
                    eyes: Sequence[str] = EYES, blocks: tuple[np.ndarray, np.ndarray] | None = None,
                    blinks: Blinks | None = None, validations: Validations | None = None,
                    fixations: Mapping[tuple[str | None, str], Mapping[str, int]] | None = None,
                    thresholds: Thresholds | None = None) -> list[TrialQuality]:
    """Quality of every trial x eye of one session (recording file).

    Parameters
    ----------
    session : str
    labels : sequence of str or None, (k,)
        Trial ids.
    start, end : float arrays (k,)
        Trial windows ``[start, end)`` in ms (TRIALID to TRIAL_RESULT).
    t : float array (n,)
        Sample times, ms (NaN = unusable sample, not counted).
    x, y : float arrays (2, n)
        Left / right eye positions; NaN = missing. A recording of one eye the file does not
        name (sample CSVs): shape (1, n) and ``eyes=("",)``.
    sample_trial : int array (n,)
        Trial index of each sample, -1 for none (see :func:`assign_trials`).
    rate_hz : float or float array (k,)
        The header's sampling rate (per trial when blocks differ); <= 0 or NaN = unknown.
    eyes : the recorded eyes (a row each, even if an eye has no valid sample).
    blocks : (start, end) float arrays, optional
        Recording blocks (START/END, ms; NaN end = open). Samples are promised only while
        recording: without blocks the whole trial window counts.
    blinks, validations : optional
    fixations : mapping (trial id, eye) -> {"kept": n, reason: n, ...}, optional
    thresholds : Thresholds, optional

    Returns
    -------
    list of TrialQuality, trials in order, eyes in ``eyes`` order, each flagged.
    """
    k = len(labels)
    start = np.asarray(start, np.float64).reshape(k)
    end = np.asarray(end, np.float64).reshape(k)
    rates = np.broadcast_to(np.asarray(rate_hz, np.float64), (k,))
    t = np.asarray(t, np.float64)
    sample_trial = np.asarray(sample_trial, np.int64)
    thr = thresholds or Thresholds()
    present, measured = _trial_times(t, sample_trial, k)
    valid = {eye: _trial_valid(t, x, y, sample_trial, k, EYES.index(eye) if eye in EYES else 0)
             for eye in eyes}
    recorded = recorded_ms(start, end, None if blocks is None else Intervals(*blocks))
    blinked = {eye: blink_stats(start, end, rates, _eye_blinks(blinks, eye)) for eye in eyes}
    # per eye, the validation in force at each trial start (index into validations.records)
    last = {eye: validations.last_before_each(start, eye).tolist() if validations else None
            for eye in eyes}
    # Python numbers for the row loop: indexing numpy arrays item by item is slower
    cols = [a.tolist() for a in (start, end, recorded, rates, measured, present)]
    per_eye = {eye: (valid[eye].tolist(), blinked[eye][0].tolist(), blinked[eye][1].tolist())
               for eye in eyes}
    rows = []
    for i, (s_i, e_i, rec_i, rate_i, meas_i, pres_i) in enumerate(zip(*cols, strict=True)):
        meas_i = None if math.isnan(meas_i) else meas_i
        for eye in eyes:
            ok, n_blinks, blink_ms = (c[i] for c in per_eye[eye])
            q = _eye_quality(session, labels[i], eye, s_i, e_i, rec_i, rate_i, meas_i,
                             int(pres_i), int(ok))
            q.blinks, q.blink_ms = int(n_blinks), float(blink_ms)
            if last[eye] is not None and last[eye][i] >= 0:
                _set_validation(q, validations, last[eye][i])
            counts = dict((fixations or {}).get((labels[i], eye), {}))
            q.fixations_kept = int(counts.pop("kept", 0))
            q.fixations_dropped = {r: int(n) for r, n in sorted(counts.items())}
            q.flag_reasons = flag_reasons(q, thr)
            rows.append(q)
    return rows


def assign_trials(t: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Trial index of each sample time: the last trial started at or before it, if the sample
    is before that trial's end; -1 otherwise (and for NaN times). Trials sorted by start."""
    t = np.asarray(t, np.float64)
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    k = np.searchsorted(start, t, side="right") - 1
    inside = (k >= 0) & np.isfinite(t)
    kk = np.clip(k, 0, max(start.size - 1, 0))
    with np.errstate(invalid="ignore"):
        inside &= (t < end[kk]) if start.size else False
    return np.where(inside, k, -1).astype(np.int64)


def trial_windows(start: np.ndarray, end: np.ndarray, block_start: np.ndarray,
                  block_end: np.ndarray, block_rate: np.ndarray,
                  last_time: float = math.nan) -> tuple[np.ndarray, np.ndarray]:
    """End and header rate of each trial from its start (TRIALID) and known end (TRIAL_RESULT).

    Parameters
    ----------
    start, end : float arrays (k,)
        Trial start and end in ms, sorted by start; ``end`` NaN where no TRIAL_RESULT.
    block_start, block_end, block_rate : float arrays (b,)
        Recording blocks (START, END, SAMPLES RATE), sorted; NaN end = block never ended.
    last_time : float
        Time of the last sample (ms): the end of a trial nothing else ends.

    Returns
    -------
    end : float array (k,)
        The known end, else the next trial's start or the end of the trial's block, whichever
        is first, else ``last_time`` (never before the start).
    rate : float array (k,)
        Rate of the trial's block: the block recording at its start, else the first block
        starting before the next trial (TRIALID is usually sent just before START); NaN if none.
    """
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    b0, b1 = np.asarray(block_start, np.float64), np.asarray(block_end, np.float64)
    rates = np.asarray(block_rate, np.float64)
    nxt = np.r_[start[1:], np.inf] if start.size else start
    after = np.searchsorted(b0, start, side="left") if b0.size else np.zeros(start.size, int)
    before = after - 1
    with np.errstate(invalid="ignore"):
        open_at = (before >= 0) & ~(b1[np.clip(before, 0, None)] <= start) if b0.size \
            else np.zeros(start.size, bool)
        next_ok = (after < b0.size) & (b0[np.clip(after, None, b0.size - 1)] < nxt) \
            if b0.size else np.zeros(start.size, bool)
    blk = np.where(open_at, before, np.where(next_ok, after, -1))
    has = blk >= 0
    safe = np.clip(blk, 0, None)
    rate = np.where(has, rates[safe] if b0.size else np.nan, np.nan)
    bend = np.where(has, b1[safe] if b0.size else np.nan, np.nan)
    guess = np.fmin(nxt, bend)  # fmin: NaN loses
    guess = np.where(np.isfinite(guess), guess, last_time)
    out = np.where(np.isfinite(end), end, guess)
    with np.errstate(invalid="ignore"):
        out = np.where(out < start, start, out)
    return out, rate


def measured_rate(t: np.ndarray) -> float | None:
    """1000 / median positive interval of the finite sample times (Hz), None if < 2 times."""
    t = np.sort(np.asarray(t, np.float64)[np.isfinite(t)])
    steps = np.diff(t)
    steps = steps[steps > 0]
    return float(1000.0 / np.median(steps)) if steps.size else None


#: Up to this many trials, :func:`_trial_times` takes each one's median step on its own.
_FEW_TRIALS = 64


def _trial_times(t: np.ndarray, sample_trial: np.ndarray, k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per trial: the number of finite sample times (int (k,)) and :func:`measured_rate`
    (float (k,), NaN where None), for all trials at once (a recording may hold thousands)."""
    ok = np.isfinite(t) & (sample_trial >= 0) & (sample_trial < k)
    trial, times = sample_trial[ok], t[ok]
    present = np.bincount(trial, minlength=k)[:k]
    if np.any((trial[1:] < trial[:-1]) | ((trial[1:] == trial[:-1]) & (times[1:] < times[:-1]))):
        o = np.lexsort((times, trial))  # (samples in file order are usually sorted already)
        trial, times = trial[o], times[o]
    steps = np.diff(times)
    keep = (trial[1:] == trial[:-1]) & (steps > 0)
    group, steps = trial[1:][keep], steps[keep]
    bounds = np.searchsorted(group, np.arange(k + 1), side="left")
    n = np.diff(bounds)
    rate = np.full(k, np.nan)
    has = n > 0
    lo = bounds[:-1][has] + (n[has] - 1) // 2  # the middle one or two, as np.median takes them
    hi = bounds[:-1][has] + n[has] // 2
    if has.sum() <= _FEW_TRIALS:  # each trial's steps partitioned around its middle
        for g in np.flatnonzero(has).tolist():
            a, b = bounds[g], bounds[g + 1]
            steps[a:b] = np.partition(steps[a:b], sorted({(b - a - 1) // 2, (b - a) // 2}))
    else:  # sorted within each trial at once
        o = np.lexsort((steps, group))
        steps = steps[o]
    rate[has] = 1000.0 / ((steps[lo] + steps[hi]) / 2.0)
    return present, rate


def _trial_valid(t: np.ndarray, x: np.ndarray, y: np.ndarray, sample_trial: np.ndarray, k: int,
                 e: int) -> np.ndarray:
    """Per trial, the samples of eye row ``e`` with a finite time and position (int (k,))."""
    ok = (np.isfinite(t) & np.isfinite(x[e]) & np.isfinite(y[e]) & (sample_trial >= 0)
          & (sample_trial < k))
    return np.bincount(sample_trial[ok], minlength=k)[:k]


class Intervals:
    """Intervals ``[start, end)`` sorted by start (NaN end: open), for overlap queries of a
    window in O(log n + overlapping): a long recording has thousands of trials and blinks."""

    def __init__(self, start: np.ndarray, end: np.ndarray) -> None:
        start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
        order = np.argsort(start, kind="stable")
        self.start, self.end = start[order], end[order]
        # the largest end so far (NaN: open, as +inf): intervals before the first whose running
        # end passes a window's start all end before it
        self._reach = np.maximum.accumulate(np.where(np.isnan(self.end), np.inf, self.end)) \
            if self.end.size else self.end

    def pairs(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(window, interval) index pairs that may overlap, windows ``[lo, hi)``: every pair
        that does, and few others."""
        a = np.searchsorted(self._reach, lo, side="right")
        b = np.maximum(np.searchsorted(self.start, hi, side="left"), a)
        n = b - a
        window = np.repeat(np.arange(lo.size), n)
        first = np.repeat(a - (np.cumsum(n) - n), n)
        return window, first + np.arange(window.size)


def recorded_ms(start: np.ndarray, end: np.ndarray, blocks: Intervals | None) -> np.ndarray:
    """Per trial, the time of ``[start, end)`` covered by recording blocks (ms, float (k,)):
    all of it without blocks; a block without END records to the trial's end; NaN for a
    window with a non-finite bound."""
    finite = np.isfinite(start) & np.isfinite(end)
    if blocks is None:
        return np.where(finite, np.maximum(end - start, 0.0), np.nan)
    w, j = blocks.pairs(start, end)
    b1 = np.where(np.isnan(blocks.end[j]), end[w], blocks.end[j])
    with np.errstate(invalid="ignore"):
        cover = np.minimum(b1, end[w]) - np.maximum(blocks.start[j], start[w])
        cover = np.where(cover > 0, cover, 0.0)  # NaN (an unknown block start) counts nothing
    total = np.bincount(w, weights=cover, minlength=start.size)
    return np.where(finite, total, np.nan)


def blink_stats(start: np.ndarray, end: np.ndarray, rate: np.ndarray,
                blinks: Intervals | None) -> tuple[np.ndarray, np.ndarray]:
    """Per trial, the blinks of one eye overlapping ``[start, end)`` (an open end: to the end
    of the recording) and their time inside it; a blink lasts end - start + one sample at
    ``rate`` (Hz). Returns (count int (k,), ms float (k,)); 0 where the start is unknown."""
    k = start.size
    if blinks is None:
        return np.zeros(k, np.int64), np.zeros(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        dt = np.where(np.isfinite(rate) & (rate > 0), 1000.0 / rate, 0.0)
    hi = np.where(np.isfinite(end), end, np.inf)
    w, j = blinks.pairs(np.where(np.isfinite(start), start - dt, np.inf), hi)
    with np.errstate(invalid="ignore"):
        cover = np.minimum(blinks.end[j] + dt[w], hi[w]) - np.maximum(blinks.start[j], start[w])
        mine = cover > 0
    return (np.bincount(w[mine], minlength=k).astype(np.int64),
            np.bincount(w[mine], weights=cover[mine], minlength=k))


def _eye_quality(session, label, eye, start, end, recorded, rate, measured, present, valid):
    """Sample counts, loss and rates of one eye in one trial."""
    rate_ok = math.isfinite(rate) and rate > 0
    used = rate if rate_ok else measured
    expected = None
    if used and math.isfinite(recorded):
        expected = int(round(recorded * used / 1000.0))
    loss = None
    if expected:
        loss = min(max(100.0 * (expected - valid) / expected, 0.0), 100.0)
    missing = 100.0 * (present - valid) / present if present else None
    return TrialQuality(session=session, trial=label, eye=eye, start_ms=float(start),
                        end_ms=float(end), recorded_ms=float(recorded),
                        rate_hz=float(rate) if rate_ok else None, measured_rate_hz=measured,
                        samples_expected=expected, samples_present=present,
                        samples_valid=valid, loss_pct=loss, missing_pct=missing, blinks=0,
                        blink_ms=0.0)


def _eye_blinks(blinks: Blinks | None, eye: str) -> Intervals | None:
    """The blinks of one eye, or None if it has none."""
    if blinks is None or not len(blinks.start):
        return None
    mine = np.asarray(blinks.eye) == eye
    return Intervals(np.asarray(blinks.start, np.float64)[mine],
                     np.asarray(blinks.end, np.float64)[mine]) if mine.any() else None


def _set_validation(q: TrialQuality, validations: Validations, j: int) -> None:
    """Fill ``q``'s validation columns from ``validations`` record ``j`` (NaN -> None)."""
    v = validations.records[j]
    q.validation_time_ms, q.validation_result = float(validations.time[j]), v.result
    q.validation_avg_deg, q.validation_max_deg, q.validation_offset_deg = (
        None if math.isnan(a) else a for a in (v.avg_deg, v.max_deg, v.offset_deg))


def flag_reasons(q: TrialQuality, thr: Thresholds | None = None) -> list[str]:
    """Why trial-eye ``q`` should not be trusted (keys of :data:`REASONS`), [] if it can be."""
    thr = thr or Thresholds()
    out = []
    if q.validation_avg_deg is not None and q.validation_avg_deg > thr.validation_avg_deg:
        out.append("validation_avg")
    if q.validation_max_deg is not None and q.validation_max_deg > thr.validation_max_deg:
        out.append("validation_max")
    if q.validation_result in ("POOR", "ABORTED"):
        out.append(f"validation_{q.validation_result.lower()}")
    loss = q.loss_pct if q.loss_pct is not None else q.missing_pct
    if loss is not None and loss > thr.loss_pct:
        out.append("loss")
    if q.samples_present == 0 and not q.samples_expected:
        out.append("no_samples")
    if q.rate_hz and q.measured_rate_hz:
        if abs(q.measured_rate_hz - q.rate_hz) / q.rate_hz * 100.0 > thr.rate_deviation_pct:
            out.append("rate")
    return out
