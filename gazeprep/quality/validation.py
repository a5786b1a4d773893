"""EyeLink calibration validation messages: ``!CAL VALIDATION ...`` -> :class:`Validation`.

Example
-------
>>> parse_validation("!CAL VALIDATION HV9 LR LEFT  GOOD ERROR 0.41 avg. 0.64 max  OFFSET "
...                  "0.35 deg. 12.5,9.6 pix.")
Validation(eye='L', result='GOOD', avg_deg=0.41, max_deg=0.64, offset_deg=0.35, model='HV9')
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

EYES = ("L", "R")
RESULTS = ("GOOD", "FAIR", "POOR", "ABORTED")
_VALIDATION = re.compile(r"!CAL\s+VALIDATION\s+(\S+)(.*)$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


class Validation(NamedTuple):
    """One ``!CAL VALIDATION`` result: eye (``L``/``R``, None = not named), grade, average and
    maximum error over the points (deg, NaN when aborted), offset of the mean (deg), model."""

    eye: str | None
    result: str
    avg_deg: float
    max_deg: float
    offset_deg: float
    model: str


def parse_validation(text: str) -> Validation | None:
    """Parse an EyeLink validation message, or None when it is not one of the known forms.

    Known: ``!CAL VALIDATION <model> <eyes> <LEFT|RIGHT> <GOOD|FAIR|POOR> ERROR <avg> avg.
    <max> max [OFFSET <deg> deg. <x>,<y> pix.]`` (binocular ``LR`` or monocular ``L``/``R``
    eyes token), and the same with ``ABORTED`` and no numbers. The ``MSG <time>`` head may be
    included. Any other form, or numbers that are not finite and >= 0, give None.
    """
    m = _VALIDATION.search(text or "")
    if not m:
        return None
    model, words = m.group(1), m.group(2).split()
    result = next((w for w in words if w in RESULTS), None)
    if result is None:
        return None
    named = [w for w in words if w in ("LEFT", "RIGHT")]
    eyes = [w for w in words[:1] if w in EYES]
    eye = named[0][0] if named else (eyes[0] if eyes else None)
    avg = mx = off = math.nan
    if "ERROR" in words:
        nums = _numbers_after(words, "ERROR", ("avg.", "max"))
        if nums is None:
            return None
        avg, mx = nums
    elif result != "ABORTED":
        return None
    if "OFFSET" in words:
        nums = _numbers_after(words, "OFFSET", ("deg.",))
        if nums is None:
            return None
        off = nums[0]
    return Validation(eye, result, avg, mx, off, model)


def _numbers_after(words: list[str], key: str, units: tuple[str, ...]) -> list[float] | None:
    """``key n1 unit1 n2 unit2 ...``: the numbers (finite, >= 0), or None if the form differs."""
    i = words.index(key) + 1
    out = []
    for unit in units:
        if i + 1 >= len(words) or words[i + 1] != unit or not _NUMBER.match(words[i]):
            return None
        v = float(words[i])
        if not (math.isfinite(v) and v >= 0):
            return None
        out.append(v)
        i += 2
    return out



@dataclass
class Validations:
    """Validation results in time order: ``time`` (ms) and the parsed :class:`Validation`."""

    time: np.ndarray
    records: list[Validation]

    @classmethod
    def from_messages(cls, times: Sequence[float], texts: Sequence[str]) -> Validations:
        """The messages that parse as validations (others skipped), sorted by time."""
        found = [(float(t), v) for t, s in zip(times, texts, strict=True)
                 if (v := parse_validation(s)) is not None and math.isfinite(float(t))]
        found.sort(key=lambda p: p[0])
        return cls(np.array([t for t, _ in found], np.float64), [v for _, v in found])

    def last_before_each(self, t: np.ndarray, eye: str) -> np.ndarray:
        """:meth:`last_before` for many times at once: per time, the index into ``records`` of
        the latest validation of ``eye`` (or naming no eye) at or before it, -1 for none (and
        for a time that is not finite). int64 array, the shape of ``t``."""
        t = np.asarray(t, np.float64)
        mine = np.flatnonzero([r.eye in (eye, None) for r in self.records])
        k = np.searchsorted(self.time[mine], t, side="right") - 1 if mine.size else \
            np.full(t.shape, -1)
        out = np.where(k >= 0, mine[np.clip(k, 0, None)] if mine.size else -1, -1)
        return np.where(np.isfinite(t), out, -1).astype(np.int64)

    def last_before(self, t: float, eye: str) -> tuple[float, Validation] | None:
        """The latest validation of ``eye`` (or naming no eye) at or before ``t``."""
        if not math.isfinite(t):
            return None
        k = int(np.searchsorted(self.time, t, side="right")) - 1
        while k >= 0:
            if self.records[k].eye in (eye, None):
                return float(self.time[k]), self.records[k]
            k -= 1
        return None


