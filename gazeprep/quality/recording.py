"""One recording file's quality rows from what its reader found
(:class:`~gazeprep.read.recorded.RecordingFacts`): :func:`file_quality`.

Example
-------
>>> from gazeprep.read import read                                       # doctest: +SKIP
>>> res = read("raw/s1.asc", IngestOptions())                            # doctest: +SKIP
>>> rows, unknown = file_quality(res.quality_input, Thresholds())        # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from gazeprep.quality.metrics import (
    Blinks,
    Thresholds,
    TrialQuality,
    assign_trials,
    flag_reasons,
    session_quality,
    trial_windows,
)
from gazeprep.quality.validation import Validations, parse_validation
from gazeprep.read.recorded import RecordingFacts


def file_quality(facts: RecordingFacts, thresholds: Thresholds | None = None
                 ) -> tuple[list[TrialQuality], list[tuple[int, str]]]:
    """Per window x eye quality of one recording file.

    Windows are taken in time order; a window's end is its known end, else the next window's
    start or the end of its recording block (:func:`~gazeprep.quality.trial_windows`). A file
    without any sample line has no sample loss to report: its rows carry the validation and
    fixation counts, with loss and rate null.

    Returns
    -------
    rows : list of TrialQuality
        Windows in time order, eyes in the file's order, each flagged.
    unknown : list of (line, text)
        Validation messages of a form :func:`~gazeprep.quality.parse_validation` does not
        know (left out, to be reported as anomalies).
    """
    thr = thresholds or Thresholds()
    order = np.argsort(np.asarray(facts.start, np.float64), kind="stable")
    labels = [facts.labels[i] for i in order]
    start = np.asarray(facts.start, np.float64)[order]
    known_end = np.asarray(facts.end, np.float64)[order]
    t = np.asarray(facts.t, np.float64)
    last = float(np.nanmax(t)) if np.isfinite(t).any() else math.nan
    blocks = None
    if facts.blocks is not None:
        b_order = np.argsort(facts.blocks[0], kind="stable")
        b0, b1, b_rate = (np.asarray(b, np.float64)[b_order] for b in facts.blocks)
        end, rate = trial_windows(start, known_end, b0, b1, b_rate, last)
        blocks = (b0, b1)
    else:
        end = np.where(np.isfinite(known_end), known_end, last)
        rate = np.asarray(facts.rate if facts.rate is not None else np.full(order.size, np.nan),
                          np.float64)[order]
    validations, unknown = _validations(facts.validations)
    rows = session_quality(
        facts.session, labels, start, end, t, facts.x, facts.y,
        _sample_windows(facts, order, start, end), rate, eyes=facts.eyes, blocks=blocks,
        blinks=Blinks(*facts.blinks) if facts.blinks is not None else None,
        validations=validations, fixations=_fixation_counts(facts), thresholds=thr)
    if not t.size:
        for q in rows:
            q.samples_expected = q.loss_pct = q.missing_pct = q.measured_rate_hz = None
            q.flag_reasons = [r for r in flag_reasons(q, thr) if r != "no_samples"]
    return rows, unknown


def _sample_windows(facts: RecordingFacts, order: np.ndarray, start: np.ndarray,
                    end: np.ndarray) -> np.ndarray:
    """Window index (in time order) of each sample, -1 for none."""
    if facts.window is None:
        return assign_trials(facts.t, start, end)
    new = np.empty(order.size + 1, np.int64)
    new[order] = np.arange(order.size)
    new[-1] = -1  # a sample of window -1 stays outside
    w = np.asarray(facts.window, np.int64)
    return new[np.where((w >= 0) & (w < order.size), w, -1)]


def _validations(found: list[tuple[float, int, str]]) -> tuple[Validations, list[tuple[int, str]]]:
    """The parsed validations (time order) and the lines of the messages not understood."""
    good, unknown = [], []
    for time, line, text in found:
        v = parse_validation(text)
        if v is None:
            unknown.append((line, text))
        elif math.isfinite(time):
            good.append((time, v))
    good.sort(key=lambda p: p[0])
    return Validations(np.array([t for t, _ in good], np.float64), [v for _, v in good]), unknown


def _fixation_counts(facts: RecordingFacts) -> dict[tuple[str | None, str], dict[str, int]]:
    """``(trial, eye) -> {"kept": n, reason: n}`` from the reader's counter."""
    out: dict[tuple[str | None, str], dict[str, int]] = defaultdict(dict)
    for (trial, eye, what), n in facts.fixations.items():
        out[(trial, eye)][what] = out[(trial, eye)].get(what, 0) + int(n)
    return dict(out)
