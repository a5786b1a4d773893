"""The facts of a parsed ASC file that gaze quality needs: its trial windows, samples, blocks,
blinks and validation messages (:class:`~gazeprep.read.recorded.RecordingFacts`).

Windows: one per ``TRIALID`` (from its time to its ``TRIAL_RESULT``; without one, to the next
trial or the end of its recording block), labelled as its fixations are
(:attr:`~gazeprep.read.asc.parse.AscLog.trial_labels`). A file without any ``TRIALID`` has one
window per recording block (``START`` to ``END``), labelled like the fixations outside a trial
(``block <k>``, or null in a file of one block), so its loss and blinks are still reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gazeprep.read.asc.state import EYES
from gazeprep.read.recorded import RecordingFacts

if TYPE_CHECKING:
    from gazeprep.read.asc.parse import AscLog


def recording_facts(log: AscLog) -> RecordingFacts:
    """The :class:`RecordingFacts` of ``log`` (arrays shared, not copied)."""
    b0 = np.array([b.time for b in log.blocks], np.float64)
    b1 = np.array([np.nan if b.end_time is None else b.end_time for b in log.blocks],
                  np.float64)
    rate = np.array([b.rate or np.nan for b in log.blocks], np.float64)
    if log.trials:
        labels = list(log.trial_labels)
        start = np.array([tr.time for tr in log.trials], np.float64)
        end = np.array([np.nan if tr.end is None else tr.end for tr in log.trials], np.float64)
    else:
        labels = [log.trial_label(-1, b) for b in range(len(log.blocks))]
        start, end = b0.copy(), b1.copy()
    eyes = tuple(e for e in EYES if any(e in b.eyes for b in log.blocks))
    blinks = None
    if log.eblink:
        blinks = (log.eblink["start"], log.eblink["end"], log.eblink["eye"])
    return RecordingFacts(
        session=Path(log.path).stem, labels=labels, start=start, end=end, t=log.t, x=log.x,
        y=log.y, eyes=eyes, blocks=(b0, b1, rate), blinks=blinks,
        validations=list(log.validations))
