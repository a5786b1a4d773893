"""Did the gaze deserve trust? Per-trial quality of an eye-tracking recording, as pure functions.

From plain arrays (the ASC parser's samples, blinks, validation messages and trial windows;
EDF files go through the same parser), per session x trial x eye:

- the last calibration **validation** before the trial (``!CAL VALIDATION`` messages: average
  and maximum error in degrees, EyeLink's GOOD / FAIR / POOR grade);
- **sample loss**: samples the rate promises over the recorded part of the trial against the
  samples present with a position (blinks, lost eye, lost samples all count);
- **blinks** (count, total time) and the **measured sampling rate** (median interval);
- fixations kept and dropped, by reason (counted by the reader's placement step).

The stage sits between the tracks and ingest: a reader of samples records the raw facts
(:class:`~gazeprep.read.recorded.RecordingFacts`), :func:`file_quality` turns them into rows
(:mod:`~gazeprep.quality.recording`; the arithmetic in :mod:`~gazeprep.quality.metrics`,
validation messages in :mod:`~gazeprep.quality.validation`), :func:`flag_reasons` applies
:class:`Thresholds` (defaults and their grounds there) and :func:`quality_frame` makes the
``quality.parquet`` table (:func:`quality_schema`; :mod:`~gazeprep.quality.table`). Nothing here
raises on odd numbers: an empty trial, NaN times, a rate of 0 give nulls, never an exception
or a division by zero.

Example
-------
>>> parse_validation("!CAL VALIDATION HV9 LR LEFT  GOOD ERROR 0.41 avg. 0.64 max  OFFSET "
...                  "0.35 deg. 12.5,9.6 pix.")
Validation(eye='L', result='GOOD', avg_deg=0.41, max_deg=0.64, offset_deg=0.35, model='HV9')
"""


from gazeprep.quality.metrics import (
    REASONS,
    Blinks,
    Thresholds,
    TrialQuality,
    assign_trials,
    flag_reasons,
    measured_rate,
    session_quality,
    trial_windows,
)
from gazeprep.quality.recording import file_quality
from gazeprep.quality.table import quality_frame, quality_schema, session_summary
from gazeprep.quality.validation import EYES, RESULTS, Validation, Validations, parse_validation

__all__ = ["EYES", "REASONS", "RESULTS", "Blinks", "Thresholds", "TrialQuality", "Validation",
           "Validations", "assign_trials", "file_quality", "flag_reasons", "measured_rate",
           "parse_validation", "quality_frame", "quality_schema", "session_quality",
           "session_summary", "trial_windows"]
