"""What a reader of gaze samples knows about how well a file was recorded, for gaze quality.

A reader that has samples (EyeLink ASC and EDF, sample CSV/TSV) puts a :class:`RecordingFacts`
on its :class:`~gazeprep.read.result.FileResult` (``quality_input``): the trial windows, the
samples, the recording blocks, blinks and validation messages, and (filled by its ``place``
step) the fixations kept and dropped per trial and eye. Ingest hands it to
:func:`gazeprep.quality.file_quality`, a later stage, which computes the per-trial rows of
``quality.parquet``; readers never compute quality themselves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass
class RecordingFacts:
    """The raw facts of one recording file that gaze quality is computed from.

    Parameters
    ----------
    session : str
        The file's session name (its stem).
    labels : list of str or None, (k,)
        Window (trial) ids, the ``trial`` values its fixations carry.
    start, end : float arrays (k,)
        Window start and known end (ms); ``end`` NaN where nothing ends the window (it then
        ends at the next window or the end of its recording block).
    t : float array (n,)
        Sample times (ms), NaN for unusable samples.
    x, y : float arrays (2, n) or (1, n)
        Positions per eye (left, right), NaN = missing; one row for a file that names no eye.
    eyes : tuple of str
        The recorded eyes (``"L"``, ``"R"``; ``("",)`` for a file that names none).
    rate : float array (k,), optional
        The sampling rate each window was recorded at (Hz, NaN = unknown); None: the rate of
        the recording block the window lies in (``blocks``).
    blocks : (start, end, rate) float arrays (b,), optional
        Recording blocks (``START``/``END`` times, ms; NaN end = never ended; ``RATE``). None:
        the whole of each window was recorded.
    blinks : (start, end, eye) arrays, optional
        The tracker's blink events (ms; eye ``"L"``/``"R"``).
    window : int array (n,), optional
        The window of each sample (-1: none); None: the window whose ``[start, end)`` holds
        its time (the last one started).
    validations : list of (time, line, text)
        Calibration validation messages (``!CAL VALIDATION ...``) with their time and line.
    fixations : Counter
        ``(trial, eye, what)`` -> count, ``what`` being ``"kept"`` or a drop reason.
    """

    session: str
    labels: list[str | None]
    start: np.ndarray
    end: np.ndarray
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    eyes: tuple[str, ...]
    rate: np.ndarray | None = None
    blocks: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    blinks: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    window: np.ndarray | None = None
    validations: list[tuple[float, int, str]] = field(default_factory=list)
    fixations: Counter = field(default_factory=Counter)
