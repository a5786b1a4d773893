"""EyeLink ASC reader (``edf2asc`` output): samples, events, messages, trials and image placement.

Speed: the file is read once as bytes (latin-1 safe). numba kernels split it into lines, classify
each line by its head, parse every sample line (they start with a digit) straight from the byte
buffer into time/x/y/pupil arrays, and parse all event lines and MSG timestamps in bulk. Only the
few lines that change state (START/END/SAMPLES, TRIALID, TRIAL_RESULT, GAZE_COORDS, IMGLOAD,
TRIAL_VAR messages) and unknown lines go through Python.

What is understood:

- samples, monocular or binocular, ``.`` for missing values, float timestamps (2 kHz), extra
  velocity/resolution/INPUT columns and the trailing flag field (ignored);
- ``START``/``END`` recording blocks with their ``SAMPLES`` line (eyes, rate); samples after an
  ``END`` are kept with the block before them and reported as an anomaly;
- ``SFIX/EFIX``, ``SSACC/ESACC`` (``.`` positions, exponent amplitudes), ``SBLINK/EBLINK``;
  unterminated events are anomalies;
- ``MSG`` lines (with an optional integer time offset): ``TRIALID``, ``TRIAL_RESULT`` (nested
  TRIALIDs and out-of-order timestamps are anomalies), ``GAZE_COORDS`` / ``DISPLAY_COORDS``,
  ``!V IMGLOAD FILL|CENTER|TOP_LEFT file [x y [w h]]``, ``!V TRIAL_VAR name value``,
  ``eye_used`` messages.

Image ids are file stems only (see :func:`gazeprep.tracks.image_id`); no name from a log is ever
opened as a path.

Numbers (limits in :mod:`gazeprep.limits`): an EFIX whose x or y is ``.`` or not finite is
dropped as ``no_position``. Everything else that is not a usable number is a malformed line, an
error naming file and line (``--lenient``: recorded, the line skipped): a sample whose time is
``.``, not finite, beyond 2**53 ms or too coarse in float64 for the sampling interval (half of
it must be resolvable), or whose x, y is beyond +-1e6 px or pupil infinite; an event or MSG time
that is not finite or beyond 2**53 ms; an EFIX duration outside 0..1 day; a ``RATE`` outside
(0, 1e6] Hz; a ``GAZE_COORDS`` / ``IMGLOAD`` rectangle that is not finite or has a side <= 0 or
over 1,000,000 px (the fixations on such an image are then dropped as ``unknown_image_rect``,
never placed). Numbers are parsed exactly like ``float()`` up to 15 significant digits; longer
digit strings and any exponent stay within an ulp or two (overflow gives inf, then the error).

Which trial/image a fixation belongs to: the state at its line (file order). A fixation inside a
recording block before the block's first ``TRIALID`` belongs to that trial; one in a trial before
its first ``IMGLOAD`` to that first image. Without ``IMGLOAD`` the image is ``--image-rect`` or
the whole screen (``GAZE_COORDS``), its id the ``!V TRIAL_VAR`` ``image`` value, else the
``TRIALID`` text, else the file stem. ``onset_ms`` counts from the ``TRIALID`` message (else the
block's ``START``); fixations begun before it have a negative onset.

A track is one ``(image, session, trial)``: the ``trial`` value is the ``TRIALID`` text (made
unique in the file: a text used n > 1 times becomes ``<text>#1`` ... ``<text>#n``); outside any
``TRIALID`` it is ``block <k>`` when the file has several recording blocks, else null. So the
same image shown in two trials gives two tracks, each with its own onsets.

Image names are read as UTF-8; a message that is not valid UTF-8 is decoded as Latin-1 (byte
``0xe9`` is ``é``), and the image is listed with that problem in ``ingest.json``. Pixel size
(``width``, ``height``): the ``--images`` file; when ``--images`` is given but lacks the image,
null (listed as ``not in --images``); without ``--images``, the size the image was shown at: the
``IMGLOAD`` width/height, else ``--image-rect``, else the screen (FILL or no ``IMGLOAD``).
"""

from __future__ import annotations

import bisect
import gc
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit, prange

from gazeprep.errors import GazeprepError
from gazeprep.limits import (
    MAX_COORD_PX,
    MAX_DURATION_MS,
    MAX_RATE_HZ,
    MAX_TIME_MS,
    coarse_times,
    rect_problem,
    time_problem,
)
from gazeprep.tracks import LATIN1_NAME, FileResult, image_id, images_lookup

if TYPE_CHECKING:
    from gazeprep.ingest import IngestOptions

EYES = ("L", "R")
#: Numeric fields parsed per sample line: t, then x, y, pupil per eye (binocular = 7).
SAMPLE_FIELDS = 7
IMAGE_VARS = ("image", "image_id", "imagefile", "image_file", "stimulus", "img")
KNOWN_HEADS = {
    "PRESCALER", "VPRESCALER", "PUPIL", "EVENTS", "INPUT", "BUTTON", "PRESCALE", "VPRESCALE",
}
MAX_LISTED_ANOMALIES = 20


#: Line heads parsed in bulk; a line's kind is 2 + its position here (0 empty, 1 sample, 9 other).
BULK_HEADS = ("EFIX", "ESACC", "EBLINK", "SFIX", "SSACC", "SBLINK", "MSG")
K_SAMPLE, K_MSG, K_OTHER, K_IGNORED = 1, 8, 9, 10
#: Heads of lines that carry nothing ingest uses (recognised, then skipped without Python).
IGNORED_HEADS = ("PRESCALER", "VPRESCALER", "PUPIL", "EVENTS", "INPUT", "BUTTON")
#: Event head -> (numeric fields parsed, minimum required, expected layout for error messages).
EVENT_FIELDS = {
    "EFIX": (6, 5, "EFIX <L|R> <start> <end> <duration> <x> <y> [<pupil>]"),
    "ESACC": (9, 3, "ESACC <L|R> <start> <end> <duration> [<x0> <y0> <x1> <y1> <ampl> <pv>]"),
    "EBLINK": (3, 3, "EBLINK <L|R> <start> <end> <duration>"),
    "SFIX": (1, 1, "SFIX <L|R> <start>"),
    "SSACC": (1, 1, "SSACC <L|R> <start>"),
    "SBLINK": (1, 1, "SBLINK <L|R> <start>"),
}
#: Only MSG lines containing one of these are handed to the Python state machine.
MSG_KEYS = (b"TRIAL", b"COORDS", b"IMGLOAD", b"eye_used")
_POW10 = np.array([10.0 ** k for k in range(23)])


@njit(cache=True)
def split_lines(buf):
    """Start and end (exclusive, without ``\\r\\n``) byte offset of every line."""
    n = buf.shape[0]
    count = 0
    for i in range(n):
        if buf[i] == 10:
            count += 1
    if n > 0 and buf[n - 1] != 10:
        count += 1
    starts = np.empty(count, np.int64)
    ends = np.empty(count, np.int64)
    k = 0
    s = 0
    for i in range(n):
        if buf[i] == 10:
            e = i
            if e > s and buf[e - 1] == 13:
                e -= 1
            starts[k] = s
            ends[k] = e
            k += 1
            s = i + 1
    if s < n:
        e = n
        if buf[e - 1] == 13:
            e -= 1
        starts[k] = s
        ends[k] = e
    return starts, ends


@njit(cache=True)
def classify_lines(buf, starts, ends, pats, plen, codes):
    """Kind of each line: 0 empty, 1 sample (starts with a digit), ``codes[i]`` for ``pats[i]``
    followed by a blank, 10 for header/continuation lines (``*``, ``>``, blank first), 9 anything
    else."""
    n = starts.shape[0]
    kind = np.zeros(n, np.int8)
    for i in range(n):
        s = starts[i]
        e = ends[i]
        if s >= e:
            continue
        c = buf[s]
        if 48 <= c <= 57:
            kind[i] = 1
            continue
        if c == 32 or c == 9 or c == 42 or c == 62:
            kind[i] = 10
            continue
        kind[i] = 9
        for p in range(pats.shape[0]):
            ln = plen[p]
            if e - s > ln and (buf[s + ln] == 32 or buf[s + ln] == 9):
                ok = True
                for k in range(ln):
                    if buf[s + k] != pats[p, k]:
                        ok = False
                        break
                if ok:
                    kind[i] = codes[p]
                    break
    return kind


@njit(cache=True)
def _parse_number(buf, a, b, pow10):
    """Parse the whole token ``buf[a:b]`` as a float (sign, digits, point, exponent); ``.`` is NaN.

    Returns (value, ok): ok is False when the token is not exactly one number or ``.``.
    """
    v, status, end = _next_field(buf, a, b, pow10)
    return v, status <= 1 and end == b


@njit(cache=True, inline="always")
def _is_blank(c):
    return c == 32 or c == 9


@njit(cache=True, parallel=True)
def parse_sample_lines(buf, starts, ends, idx, nfields, pow10):
    """Parse the leading numeric fields of the sample lines ``idx`` (one pass per line).

    Returns
    -------
    vals : float64 (m, nfields)
        NaN for ``.`` or fields not present.
    ntok : int64 (m,)
        Number of leading fields that parsed as a number or ``.`` (stops at the flag field or
        at anything that is not a number).
    """
    m = idx.shape[0]
    vals = np.full((m, nfields), np.nan)
    ntok = np.zeros(m, np.int64)
    for r in prange(m):
        p = starts[idx[r]]
        e = ends[idx[r]]
        k = 0
        while k < nfields:
            v, status, p = _next_field(buf, p, e, pow10)
            if status >= 2:
                break  # not a number (the flag field, or garbage) or no field left
            vals[r, k] = v  # NaN for '.'
            k += 1
        ntok[r] = k
    return vals, ntok


@njit(cache=True, inline="always")
def _next_field(buf, p, e, pow10):
    """Parse the next blank-separated field from ``p``.

    Returns (value, status, end): status 0 number, 1 ``.`` (missing, value NaN), 2 not a number,
    3 no field left.
    """
    while p < e and _is_blank(buf[p]):
        p += 1
    if p >= e:
        return np.nan, 3, p
    a = p
    neg = False
    if buf[p] == 45 or buf[p] == 43:
        neg = buf[p] == 45
        p += 1
    mant = 0.0
    nd = 0
    nfrac = -1  # fraction digits held in mant (-1: no point yet)
    drop = 0  # integer digits beyond the precision held in mant: each scales the value by 10
    while p < e:
        c = buf[p]
        if 48 <= c <= 57:
            nd += 1
            if mant < 1e17:
                mant = mant * 10.0 + (c - 48)
                if nfrac >= 0:
                    nfrac += 1
            elif nfrac < 0:
                drop += 1
            # a fraction digit beyond 17 significant digits cannot change a float64: ignored
        elif c == 46 and nfrac < 0:
            nfrac = 0
        else:
            break
        p += 1
    ex = 0
    if nd > 0 and p < e and (buf[p] == 101 or buf[p] == 69):
        p += 1
        eneg = False
        if p < e and (buf[p] == 45 or buf[p] == 43):
            eneg = buf[p] == 45
            p += 1
        ne = 0
        while p < e and 48 <= buf[p] <= 57:
            if ex < 100000:  # saturate: any larger exponent over- or underflows anyway
                ex = ex * 10 + (buf[p] - 48)
            p += 1
            ne += 1
        if ne == 0:
            return np.nan, 2, p
        if eneg:
            ex = -ex
    if p < e and not _is_blank(buf[p]):
        return np.nan, 2, p
    if nd == 0:
        if p - a == 1 and buf[a] == 46:
            return np.nan, 1, p
        return np.nan, 2, p
    # Digits accumulate as an integer mantissa divided once by a power of ten, so values of up
    # to 15 significant digits parse exactly like float(); longer digit strings and extreme
    # exponents go through _scale10 (within an ulp or two; overflow gives inf, never NaN).
    if drop == 0 and nfrac < pow10.shape[0] and -300 <= ex <= 300:
        v = mant / pow10[nfrac] if nfrac > 0 else mant
        if ex != 0:
            v = v * 10.0 ** ex
    else:
        v = _scale10(mant, ex + drop - max(nfrac, 0))
    return (-v if neg else v), 0, p


@njit(cache=True, inline="always")
def _scale10(m, e):
    """``m * 10**e`` for a mantissa m < 1e18 and any exponent: 0 or inf beyond float64."""
    if m == 0.0 or e < -400:
        return 0.0
    if e > 400:
        return np.inf
    # float exponents: numba computes 10.0 ** <int> by repeated multiplication (ulps off)
    if e >= 0:
        return m * 10.0 ** float(e)
    if e < -300:
        return m * 10.0 ** float(e + 300) / 1e300  # two steps: 10.0 ** -330 alone is 0
    return m / 10.0 ** float(-e)


@njit(cache=True, parallel=True)
def parse_samples(buf, starts, ends, idx, layout, pow10):
    """Parse sample lines straight into time and per-eye x, y, pupil.

    Parameters
    ----------
    buf : uint8 array
        The file.
    starts, ends : int64 arrays
        Line offsets; ``idx`` selects the sample lines.
    layout : int8 array (m,)
        Per sample line: 0 left eye only, 1 right eye only, 2 binocular (left then right).
    pow10 : float64 array
        Powers of ten.

    Returns
    -------
    t : float64 (m,)
    x, y, pupil : float64 (2, m)
        NaN for ``.``, for an eye not recorded and for pupil <= 0 (EyeLink's lost eye).
    ntok : int64 (m,)
        Fields read before the first non-number (at most the ``4`` or ``7`` needed).
    """
    m = idx.shape[0]
    t = np.full(m, np.nan)
    x = np.full((2, m), np.nan)
    y = np.full((2, m), np.nan)
    pup = np.full((2, m), np.nan)
    ntok = np.zeros(m, np.int64)
    for r in prange(m):
        p = starts[idx[r]]
        e = ends[idx[r]]
        lay = layout[r]
        need = 7 if lay == 2 else 4
        k = 0
        while k < need:
            v, status, p = _next_field(buf, p, e, pow10)
            if status >= 2:
                break
            if k == 0:
                t[r] = v
            else:
                eye = (k - 1) // 3 if lay == 2 else lay
                comp = (k - 1) % 3
                if comp == 0:
                    x[eye, r] = v
                elif comp == 1:
                    y[eye, r] = v
                elif v > 0:
                    pup[eye, r] = v
            k += 1
        ntok[r] = k
    return t, x, y, pup, ntok


@njit(cache=True)
def parse_head_lines(buf, starts, ends, idx, with_eye, nfields, pow10):
    """Parse ``HEAD [EYE] n1 n2 ...`` lines: numbers after the head (and eye) token.

    Returns
    -------
    vals : float64 (m, nfields)
    ntok : int64 (m,)
        Leading fields that parsed as numbers or ``.``.
    eye : uint8 (m,)
        The eye token's byte when it is one character, else 0.
    rest : int64 (m,)
        Byte offset of the first unparsed, non-blank character (the line end when none).
    """
    m = idx.shape[0]
    vals = np.full((m, nfields), np.nan)
    ntok = np.zeros(m, np.int64)
    eye = np.zeros(m, np.uint8)
    rest = np.zeros(m, np.int64)
    for r in range(m):
        p = starts[idx[r]]
        e = ends[idx[r]]
        while p < e and buf[p] != 32 and buf[p] != 9:
            p += 1
        if with_eye:
            while p < e and (buf[p] == 32 or buf[p] == 9):
                p += 1
            q = p
            while q < e and buf[q] != 32 and buf[q] != 9:
                q += 1
            if q - p == 1:
                eye[r] = buf[p]
            p = q
        k = 0
        while k < nfields:
            while p < e and (buf[p] == 32 or buf[p] == 9):
                p += 1
            if p >= e:
                break
            q = p
            while q < e and buf[q] != 32 and buf[q] != 9:
                q += 1
            v, ok = _parse_number(buf, p, q, pow10)
            if not ok:
                break
            vals[r, k] = v
            k += 1
            p = q
        while p < e and (buf[p] == 32 or buf[p] == 9):
            p += 1
        ntok[r] = k
        rest[r] = p
    return vals, ntok, eye, rest


@njit(cache=True)
def lines_containing(buf, begins, ends, pats, plen):
    """For each line ``buf[begins[i]:ends[i]]``: does it contain any of the patterns?"""
    m = begins.shape[0]
    out = np.zeros(m, np.bool_)
    for r in range(m):
        found = False
        for j in range(begins[r], ends[r]):
            for p in range(pats.shape[0]):
                ln = plen[p]
                if j + ln <= ends[r] and buf[j] == pats[p, 0]:
                    ok = True
                    for k in range(1, ln):
                        if buf[j + k] != pats[p, k]:
                            ok = False
                            break
                    if ok:
                        found = True
                        break
            if found:
                break
        out[r] = found
    return out


@dataclass
class Block:
    """One ``START`` ... ``END`` recording block."""

    line: int
    time: float
    eyes: tuple[str, ...] = ()
    rate: float | None = None
    end_line: int | None = None
    end_time: float | None = None


@dataclass
class Trial:
    """One ``TRIALID``: id text, time and line, ``!V TRIAL_VAR`` values, first IMGLOAD."""

    id: str
    time: float
    line: int
    block: int
    vars: dict = field(default_factory=dict)
    first_img: int = -1


@dataclass
class ImgLoad:
    """One ``!V IMGLOAD``: image id and where it was drawn (screen px; None = unknown)."""

    mode: str
    image: str
    line: int
    trial: int
    x: float | None = None
    y: float | None = None
    w: float | None = None
    h: float | None = None
    problem: str | None = None


@dataclass
class AscLog:
    """Everything parsed from one ASC file.

    Samples: ``t`` (ms), ``line`` (1-based), ``block`` index, and ``x, y, pupil`` of shape
    (2, n) for the left/right eye (NaN where missing or not recorded). ``efix``: arrays ``eye``
    ("L"/"R"), ``start, end, duration, x, y, pupil`` and ``line`` of each EFIX event.
    ``states`` are ``(block, trial, imgload, screen)`` tuples, each valid from its
    ``state_lines`` entry on.
    """

    path: str
    t: np.ndarray
    line: np.ndarray
    block: np.ndarray
    x: np.ndarray
    y: np.ndarray
    pupil: np.ndarray
    blocks: list[Block]
    trials: list[Trial]
    imgloads: list[ImgLoad]
    screens: list[tuple[float, float, float, float]]
    states: list[tuple[int, int, int, int]]
    state_lines: np.ndarray
    efix: dict[str, np.ndarray]
    events: dict
    eye_used: str | None
    anomalies: list[dict]
    latin1_names: set[str] = field(default_factory=set)

    @property
    def trial_labels(self) -> list[str]:
        """Trial id of each TRIALID, unique in the file: a text used n > 1 times becomes
        ``<text>#1`` ... ``<text>#n`` (the trial is part of a track's identity)."""
        if "_trial_labels" not in self.__dict__:
            n = Counter(tr.id for tr in self.trials)
            seen: Counter = Counter()
            labels = []
            for tr in self.trials:
                seen[tr.id] += 1
                labels.append(tr.id if n[tr.id] == 1 else f"{tr.id}#{seen[tr.id]}")
            self.__dict__["_trial_labels"] = labels
        return self.__dict__["_trial_labels"]

    def trial_label(self, trial: int, block: int) -> str | None:
        """The ``trial`` value of fixations in ``trial`` (index, -1 = none) of ``block``.

        Outside any TRIALID the recording block is the viewing (``"block 2"``) when the file
        has several blocks, so two blocks showing one image never make one track.
        """
        if trial >= 0:
            return self.trial_labels[trial]
        return f"block {block + 1}" if block >= 0 and len(self.blocks) > 1 else None

    @property
    def trial_lines(self) -> list[int]:
        """Line of each TRIALID, in file order (computed once)."""
        if "_trial_lines" not in self.__dict__:
            self.__dict__["_trial_lines"] = [tr.line for tr in self.trials]
        return self.__dict__["_trial_lines"]

    def state_at(self, lines: np.ndarray) -> np.ndarray:
        """Index into ``states`` of the state in force at each (1-based) line."""
        return (np.searchsorted(self.state_lines, lines, side="right") - 1).astype(np.int64)


class _Parser:
    """State machine over the lines that change state: START/END/SAMPLES, TRIALID,
    TRIAL_RESULT, GAZE_COORDS, IMGLOAD, TRIAL_VAR messages (and unknown lines)."""

    def __init__(self, path: str, res: FileResult):
        self.path = path
        self.res = res
        self.errors: list[GazeprepError] = []
        self.blocks: list[Block] = []
        self.trials: list[Trial] = []
        self.imgloads: list[ImgLoad] = []
        self.screens: list[tuple[float, float, float, float]] = []
        self.states: list[tuple[int, int, int, int]] = [(-1, -1, -1, -1)]
        self.state_lines: list[int] = [0]
        self.block = -1
        self.in_block = False
        self.trial = -1
        self.img = -1
        self.screen = -1
        self.eye_used: str | None = None
        self.unknown = 0
        self.n_anomalies: dict[str, int] = {}
        self.latin1 = False  # the current MSG line is not valid UTF-8 (decoded as Latin-1)
        self.latin1_names: set[str] = set()

    def fail(self, line: int, what: str, text: str) -> None:
        """Record a malformed line (raised at the end unless lenient)."""
        self.errors.append(GazeprepError(f"malformed line {text[:80]!r}; expected {what}",
                                         file=self.path, line=line))

    def anomaly(self, kind: str, line: int | None, detail: str) -> None:
        """Record an anomaly; each kind is listed at most MAX_LISTED_ANOMALIES times."""
        n = self.n_anomalies.get(kind, 0)
        self.n_anomalies[kind] = n + 1
        if n < MAX_LISTED_ANOMALIES:
            self.res.anomaly(kind, line, detail)

    def note_name(self, text: str) -> None:
        """Remember the id of a name read from a Latin-1 line when the name is not ASCII."""
        if self.latin1 and not text.isascii() and image_id(text):
            self.latin1_names.add(image_id(text))

    def push_state(self, line: int) -> None:
        st = (self.block, self.trial, self.img, self.screen)
        if st != self.states[-1]:
            self.states.append(st)
            self.state_lines.append(line)

    def line(self, ln: int, text: str) -> None:
        """A non-MSG line the bulk parser left over."""
        toks = text.split()
        if not toks:
            return
        head = toks[0]
        if head == "START":
            self.start(ln, text, toks)
        elif head == "END":
            self.end(ln, text, toks)
        elif head == "SAMPLES":
            self.samples_line(ln, text, toks)
        elif head in KNOWN_HEADS or head.startswith(("**", ">>>")) or text[0] in " \t":
            return
        elif head in EVENT_FIELDS or head == "MSG":
            self.fail(ln, EVENT_FIELDS.get(head, (0, 0, "MSG <time> <text>"))[2], text)
        else:
            self.unknown += 1
            self.anomaly("unknown_line", ln, text[:80])

    def start(self, ln: int, text: str, toks: list[str]) -> None:
        t = _time_token(toks)
        if t is None:
            self.fail(ln, "START <time> <eyes...> SAMPLES EVENTS, |time| <= 2**53 ms", text)
            return
        if self.in_block:
            self.anomaly("start_without_end", ln, "START while the previous block is open")
        eyes = tuple(e[0] for e in ("LEFT", "RIGHT") if e in toks[2:])
        self.blocks.append(Block(line=ln, time=t, eyes=eyes))
        self.block = len(self.blocks) - 1
        self.in_block = True
        self.push_state(ln)

    def end(self, ln: int, text: str, toks: list[str]) -> None:
        if not self.in_block:
            self.anomaly("end_without_start", ln, text[:80])
            return
        b = self.blocks[self.block]
        b.end_line = ln
        b.end_time = _time_token(toks)
        if b.end_time is None:
            self.fail(ln, "END <time> ... with |time| <= 2**53 ms", text)
        self.in_block = False

    def samples_line(self, ln: int, text: str, toks: list[str]) -> None:
        if self.block < 0:
            return
        b = self.blocks[self.block]
        eyes = tuple(e[0] for e in ("LEFT", "RIGHT") if e in toks)
        if eyes:
            b.eyes = eyes
        if "RATE" in toks:
            try:
                rate = float(toks[toks.index("RATE") + 1])
            except (IndexError, ValueError):
                rate = math.nan
            if 0 < rate <= MAX_RATE_HZ:
                b.rate = rate
            else:  # a rate that is 0, negative or not a number would make every duration wrong
                self.fail(ln, f"SAMPLES ... RATE <Hz> with a rate in (0, {MAX_RATE_HZ:g}] Hz",
                          text)

    def msg(self, ln: int, t: float, body: str, text: str) -> None:
        """A MSG line with a state keyword; ``t`` is its time (offset applied)."""
        words = body.split()
        if not words:
            return
        w0 = words[0]
        if w0 == "TRIALID":
            self.trialid(ln, t, body[len("TRIALID"):].strip())
        elif w0 == "TRIAL_RESULT":
            if self.trial < 0:
                self.anomaly("trial_result_without_trialid", ln, body[:80])
            self.trial = -1
            self.img = -1
            self.push_state(ln)
        elif w0 in ("GAZE_COORDS", "DISPLAY_COORDS"):
            self.coords(ln, text, w0, words)
        elif w0 == "!V" and len(words) > 1 and words[1] == "IMGLOAD":
            self.imgload(ln, text, words)
        elif w0 == "!V" and len(words) > 2 and words[1] == "TRIAL_VAR":
            if self.trial >= 0:
                self.trials[self.trial].vars[words[2]] = " ".join(words[3:])
                self.note_name(" ".join(words[3:]))
        elif "eye_used" in words:
            val = words[words.index("eye_used") + 1:]
            if val and val[0][:1].upper() in EYES:
                self.eye_used = val[0][:1].upper()

    def trialid(self, ln: int, t: float, tid: str) -> None:
        if self.trial >= 0:
            self.anomaly("nested_trialid", ln,
                         f"TRIALID {tid!r} while trial {self.trials[self.trial].id!r} (line "
                         f"{self.trials[self.trial].line}) has no TRIAL_RESULT")
        self.trials.append(Trial(id=tid or str(len(self.trials)), time=t, line=ln,
                                 block=self.block if self.in_block else -1))
        self.note_name(tid)
        self.trial = len(self.trials) - 1
        self.img = -1
        self.push_state(ln)

    def coords(self, ln: int, text: str, kind: str, words: list[str]) -> None:
        try:
            x0, y0, x1, y1 = (float(v) for v in words[1:5])
        except ValueError:
            self.fail(ln, f"{kind} <left> <top> <right> <bottom>", text)
            return
        problem = rect_problem((x0, y0, x1 - x0, y1 - y0))
        if problem:
            self.fail(ln, f"{kind} <left> <top> <right> <bottom>: finite, right > left, bottom > "
                      f"top ({problem})", text)
            return
        if kind == "DISPLAY_COORDS" and self.screen >= 0:
            return
        w, h = x1 - x0, y1 - y0
        # "0 0 1279 1023" names the last pixel, "0 0 1920 1080" the size.
        w += 1 if round(w) % 2 else 0
        h += 1 if round(h) % 2 else 0
        self.screens.append((x0, y0, w, h))
        self.screen = len(self.screens) - 1
        self.push_state(ln)

    def imgload(self, ln: int, text: str, words: list[str]) -> None:
        what = "!V IMGLOAD FILL|CENTER|TOP_LEFT <file> [<x> <y> [<width> <height>]]"
        if len(words) < 4 or words[2].upper() not in ("FILL", "CENTER", "TOP_LEFT"):
            self.fail(ln, what, text)
            return
        mode = words[2].upper()
        name = image_id(words[3])
        if not name:
            self.fail(ln, what + " with a file name", text)
            return
        try:
            nums = [float(v) for v in words[4:8]]
        except ValueError:
            self.fail(ln, what, text)
            return
        if mode != "FILL" and len(nums) < 2:
            self.fail(ln, what + f" ({mode} needs x y)", text)
            return
        self.note_name(words[3])
        img = ImgLoad(mode=mode, image=name, line=ln, trial=self.trial)
        if len(nums) >= 2:
            img.x, img.y = nums[0], nums[1]
        if len(nums) >= 4:
            img.w, img.h = nums[2], nums[3]
        sides = nums[2:4] if len(nums) >= 4 else [1.0, 1.0]
        problem = rect_problem((*nums[:2], *sides)) if len(nums) >= 2 else None
        if problem:
            # error (lenient: recorded); the fixations on this image are dropped, not misplaced
            img.problem = f"IMGLOAD {name} (line {ln}): {problem}"
            self.fail(ln, what + f" with a finite position and width, height > 0 ({problem})",
                      text)
        self.imgloads.append(img)
        self.img = len(self.imgloads) - 1
        if self.trial >= 0 and self.trials[self.trial].first_img < 0:
            self.trials[self.trial].first_img = self.img
        self.push_state(ln)

    def finish(self) -> None:
        if self.in_block:
            self.anomaly("block_without_end", self.blocks[self.block].line,
                         "recording block has no END line (truncated file?)")
        if self.unknown > MAX_LISTED_ANOMALIES:
            self.res.notes["unknown_lines"] = self.unknown


def parse_asc(path: str, res: FileResult | None = None, lenient: bool = False) -> AscLog:
    """Parse an EyeLink ASC file.

    Parameters
    ----------
    path : str
        The file.
    res : FileResult, optional
        Collects anomalies and (lenient) errors.
    lenient : bool
        Record malformed lines and skip them instead of raising.

    Returns
    -------
    AscLog

    Raises
    ------
    GazeprepError
        Binary or empty file; otherwise (unless ``lenient``) the first malformed line in the
        file, naming its line and the expected layout.
    """
    res = res if res is not None else FileResult(path=str(path), format="asc")
    # The parse allocates few, large objects: cyclic GC passes would only cost time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_asc(path, res, lenient)
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse_asc(path: str, res: FileResult, lenient: bool) -> AscLog:
    with open(path, "rb") as fh:
        raw = fh.read()
    if not raw[:65536].strip() and not raw.strip():
        raise GazeprepError("empty file; expected an EyeLink ASC", file=path)
    if b"\x00" in raw[:65536]:
        raise GazeprepError("binary file; expected a text EyeLink ASC (convert EDF with edf2asc)",
                            file=path, line=1)
    buf = np.frombuffer(raw, np.uint8)
    starts, ends = split_lines(buf)
    heads = BULK_HEADS + IGNORED_HEADS
    pats = np.zeros((len(heads), 12), np.uint8)
    for i, h in enumerate(heads):
        pats[i, :len(h)] = np.frombuffer(h.encode(), np.uint8)
    codes = np.array([2 + i for i in range(len(BULK_HEADS))] + [K_IGNORED] * len(IGNORED_HEADS),
                     np.int8)
    kind = classify_lines(buf, starts, ends, pats, np.array([len(h) for h in heads], np.int64),
                          codes)

    p = _Parser(str(path), res)
    msg_idx, msg_t, msg_rest = _messages(p, raw, buf, starts, ends, kind)
    todo = np.flatnonzero(kind == K_OTHER)
    kp = np.zeros((len(MSG_KEYS), 8), np.uint8)
    for i, k in enumerate(MSG_KEYS):
        kp[i, :len(k)] = np.frombuffer(k, np.uint8)
    has_key = lines_containing(buf, np.maximum(msg_rest, 0), ends[msg_idx], kp,
                               np.array([len(k) for k in MSG_KEYS], np.int64))
    keep = msg_idx[has_key & (msg_rest >= 0)]
    msg_pos = {i: j for j, i in enumerate(msg_idx.tolist())}
    for i in np.sort(np.concatenate([todo, keep])).tolist():
        text = raw[starts[i]:ends[i]].decode("latin-1")
        if kind[i] == K_MSG:
            j = msg_pos[i]
            body, p.latin1 = _decode(raw[msg_rest[j]:ends[i]])
            p.msg(i + 1, float(msg_t[j]), body, text)
        else:
            p.line(i + 1, text)
    p.finish()
    efix, events = _events(p, raw, buf, starts, ends, kind)
    events["MSG"] = int(msg_idx.size)

    sample_idx = np.flatnonzero(kind == K_SAMPLE)
    if not sample_idx.size and not msg_idx.size and not any(events.values()):
        first_line = raw[starts[0]:ends[0]].decode("latin-1")[:60] if starts.size else ""
        raise GazeprepError(f"no samples, events or MSG lines (starts {first_line!r}); expected "
                            "an EyeLink ASC converted by edf2asc", file=path, line=1)
    lines = sample_idx + 1
    block_lines = np.array([b.line for b in p.blocks], np.int64)
    block = np.searchsorted(block_lines, lines, side="right") - 1
    if not p.blocks:
        # No START line: one implicit block, layout from the first sample lines' width.
        head = sample_idx[:100]
        vals, ntok = parse_sample_lines(buf, starts, ends, head, SAMPLE_FIELDS, _POW10)
        eyes = ("L", "R") if ntok.size and ntok.max() >= 7 else ("L",)
        t_first = float(vals[0, 0]) if vals.size else 0.0
        p.blocks.append(Block(line=0, time=t_first if abs(t_first) <= 2.0**53 else 0.0,
                              eyes=eyes))
        block[:] = 0
        if lines.size:
            p.anomaly("no_start_line", None, f"samples without START; assumed eyes {eyes}")
    elif (block < 0).any():
        n_pre = int((block < 0).sum())
        p.anomaly("samples_before_start", int(lines[block < 0][0]),
                  f"{n_pre} samples before the first START, kept with the first block")
        block[block < 0] = 0
    t, x, y, pup = _sample_columns(p, buf, starts, ends, sample_idx, lines, block)
    _raise_or_record(p, res, lenient)
    if p.n_anomalies:
        # every anomaly is counted; each kind lists its first MAX_LISTED_ANOMALIES occurrences
        res.notes["anomaly_counts"] = dict(sorted(p.n_anomalies.items()))
    return AscLog(
        path=str(path), t=t, line=lines, block=block, x=x, y=y, pupil=pup,
        blocks=p.blocks, trials=p.trials, imgloads=p.imgloads, screens=p.screens,
        states=p.states, state_lines=np.asarray(p.state_lines, np.int64), efix=efix,
        events=events, eye_used=p.eye_used, anomalies=res.anomalies,
        latin1_names=p.latin1_names,
    )


def _decode(b: bytes) -> tuple[str, bool]:
    """Message text: UTF-8, else Latin-1 byte for byte (then True: names in it are flagged)."""
    try:
        return b.decode("utf-8"), False
    except UnicodeDecodeError:
        return b.decode("latin-1"), True


def _raise_or_record(p: _Parser, res: FileResult, lenient: bool) -> None:
    """Raise the first malformed line of the file, or (lenient) record them all."""
    if not p.errors:
        return
    errs = sorted(p.errors, key=lambda e: e.line or 0)
    if not lenient:
        raise errs[0]
    for e in errs[:MAX_LISTED_ANOMALIES]:
        res.error(e)
    res.notes["malformed_lines_skipped"] = len(errs)


def _messages(p: _Parser, raw: bytes, buf, starts, ends, kind):
    """Times of all MSG lines (offset applied), out-of-order check, body offsets."""
    idx = np.flatnonzero(kind == K_MSG)
    vals, ntok, _, rest = parse_head_lines(buf, starts, ends, idx, False, 2, _POW10)
    # "MSG <time> <offset> text": an integer after the time, with text after it, is an offset;
    # the message happened <offset> ms before <time>.
    with np.errstate(invalid="ignore"):
        off = (ntok >= 2) & (vals[:, 1] == np.round(vals[:, 1])) & (rest < ends[idx])
        t = vals[:, 0] - np.where(off, vals[:, 1], 0.0)
        # NaN, inf or beyond 2**53 ms, before or after the offset: unusable (onsets would be 0)
        bad = (ntok == 0) | ~(np.abs(vals[:, 0]) <= MAX_TIME_MS) | ~(np.abs(t) <= MAX_TIME_MS)
    for i in idx[bad][:MAX_LISTED_ANOMALIES * 5].tolist():
        p.fail(i + 1, "MSG <time> <text> with a finite |time| <= 2**53 ms",
               raw[starts[i]:ends[i]].decode("latin-1"))
    body = np.where(off | (ntok < 2), rest, _after_first_number(buf, starts, ends, idx))
    body[bad] = -1
    good = np.flatnonzero(~bad)
    tg = t[good]
    back = np.flatnonzero(tg[1:] < tg[:-1])
    for k in back.tolist():
        p.anomaly("msg_out_of_order", int(idx[good[k + 1]]) + 1,
                  f"MSG time {tg[k + 1]:.1f} earlier than the previous MSG ({tg[k]:.1f})")
    return idx, t, body


def _after_first_number(buf, starts, ends, idx):
    """Body offset of MSG lines: just after the time token."""
    _, _, _, rest = parse_head_lines(buf, starts, ends, idx, False, 1, _POW10)
    return rest


def _events(p: _Parser, raw: bytes, buf, starts, ends, kind):
    """Parse all event lines in bulk; check them; pair starts and ends per eye."""
    counts: dict[str, int] = {}
    lines_of: dict[tuple[str, str], np.ndarray] = {}
    efix = {k: np.zeros(0) for k in ("start", "end", "duration", "x", "y", "pupil")}
    efix["eye"] = np.zeros(0, "<U1")
    efix["line"] = np.zeros(0, np.int64)
    for code, head in enumerate(BULK_HEADS[:6], start=2):
        idx = np.flatnonzero(kind == code)
        nf, need, what = EVENT_FIELDS[head]
        vals, ntok, eye, _ = parse_head_lines(buf, starts, ends, idx, True, nf, _POW10)
        ok = (ntok >= need) & ((eye == ord("L")) | (eye == ord("R"))) & _usable_event(head, vals)
        for i, row in zip(idx[~ok][:MAX_LISTED_ANOMALIES * 5].tolist(),
                          vals[~ok][:MAX_LISTED_ANOMALIES * 5].tolist(), strict=True):
            text = raw[starts[i]:ends[i]].decode("latin-1")
            toks = text.split()
            if len(toks) < need + 2 or toks[1] not in EYES:
                p.fail(i + 1, what, text)
            else:
                try:
                    [float(s) for s in toks[2:2 + need] if s != "."]
                except ValueError:
                    p.fail(i + 1, f"numbers or '.' after {head} <eye> ({what})", text)
                    continue
                p.fail(i + 1, _event_problem(head, row) or what, text)
        idx, vals, eye = idx[ok], vals[ok], eye[ok]
        counts[head] = int(idx.size)
        for e in EYES:
            lines_of[(head, e)] = idx[eye == ord(e)] + 1
        if head == "EFIX":
            efix = {"eye": np.where(eye == ord("L"), "L", "R"), "start": vals[:, 0],
                    "end": vals[:, 1], "duration": vals[:, 2], "x": vals[:, 3],
                    "y": vals[:, 4], "pupil": vals[:, 5], "line": idx + 1}
    for kind_ in ("FIX", "SACC", "BLINK"):
        for e in EYES:
            _pair(p, kind_, e, lines_of[("S" + kind_, e)], lines_of[("E" + kind_, e)])
    return efix, counts


def _usable_event(head: str, vals: np.ndarray) -> np.ndarray:
    """Events whose times are finite within 2**53 ms (end >= start) and, for EFIX, whose
    duration is a number in 0..MAX_DURATION_MS."""
    with np.errstate(invalid="ignore"):
        ok = np.abs(vals[:, 0]) <= MAX_TIME_MS
        if head[0] == "E":
            ok &= (np.abs(vals[:, 1]) <= MAX_TIME_MS) & (vals[:, 1] >= vals[:, 0])
        if head == "EFIX":
            ok &= (vals[:, 2] >= 0) & (vals[:, 2] <= MAX_DURATION_MS)
    return ok


def _event_problem(head: str, row: list[float]) -> str | None:
    """What an event line must hold, for the one check of :func:`_usable_event` it fails."""
    for name, v in zip(("start", "end") if head[0] == "E" else ("start",), row, strict=False):
        problem = time_problem(v)
        if problem:
            return f"{head} {name} time within 2**53 ms ({name} {problem})"
    if head[0] == "E" and row[1] < row[0]:
        return f"{head} start <= end times"
    if head == "EFIX" and not 0 <= row[2] <= MAX_DURATION_MS:
        return f"EFIX duration in 0..{MAX_DURATION_MS:.0f} ms (got {row[2]:g})"
    return None


def _time_token(toks: list[str]) -> float | None:
    """The time after a START/END head, or None when missing, not finite or beyond 2**53 ms."""
    try:
        t = float(toks[1])
    except (IndexError, ValueError):
        return None
    return None if time_problem(t) else t


def _pair(p: _Parser, kind: str, eye: str, s_lines: np.ndarray, e_lines: np.ndarray) -> None:
    """Anomalies for S-events not closed by an E-event before the next S-event of that eye."""
    if not s_lines.size:
        return
    lines = np.concatenate([s_lines, e_lines])
    is_s = np.concatenate([np.ones(s_lines.size, bool), np.zeros(e_lines.size, bool)])
    order = np.argsort(lines, kind="stable")
    lines, is_s = lines[order], is_s[order]
    again = np.flatnonzero(is_s[:-1] & is_s[1:])
    for k in again.tolist():
        p.anomaly(f"unterminated_{kind.lower()}", int(lines[k]),
                  f"S{kind} {eye} without E{kind} before the next S{kind} (line {lines[k + 1]})")
    if is_s[-1]:
        p.anomaly(f"unterminated_{kind.lower()}", int(lines[-1]), f"S{kind} {eye} never ended")


def _sample_columns(p: _Parser, buf, starts, ends, sample_idx, lines, block):
    """Time and per-eye x, y, pupil of every sample line, following each block's layout."""
    binoc = np.array([len(b.eyes) == 2 for b in p.blocks], bool)
    right_only = np.array([b.eyes == ("R",) for b in p.blocks], bool)
    layout = np.where(binoc, 2, np.where(right_only, 1, 0)).astype(np.int8)[block]
    t, x, y, pup, ntok = parse_samples(buf, starts, ends, sample_idx, layout, _POW10)
    need = np.where(layout == 2, 7, 4)
    bad = ntok < need
    if bad.any():
        for i in np.flatnonzero(bad)[:MAX_LISTED_ANOMALIES * 5].tolist():
            p.errors.append(GazeprepError(
                f"sample line has {int(ntok[i])} numeric field(s); expected time then x, y, "
                f"pupil for each recorded eye ({int(need[i])} fields, '.' when missing) - "
                "truncated or corrupt line", file=p.path, line=int(lines[i])))
        for a in (x, y, pup):
            a[:, bad] = np.nan
        t[bad] = np.nan
    hostile = _check_sample_numbers(p, t, x, y, pup, lines, block, bad)
    if hostile.any():
        for a in (x, y, pup):
            a[:, hostile] = np.nan
        t[hostile] = np.nan
    _sample_anomalies(p, t, lines, block)
    return t, x, y, pup


def _value_problem(x, y, pup, limit: float) -> str:
    """The message for the first unusable x, y (both eyes) or pupil value of one sample."""
    for name, vals in (("x", x), ("y", y)):
        for v in vals.tolist():
            if abs(v) > limit:  # inf included, NaN ('.') is a missing value
                return (f"sample {name} = {v:g} is not a finite number within +-{limit:g} px; "
                        "expected a screen position, or '.' when missing")
    return f"sample pupil = {pup[np.isinf(pup)][0]:g} is not a finite number"


def _check_sample_numbers(p: _Parser, t, x, y, pup, lines, block, skip) -> np.ndarray:
    """Mask of sample lines whose numbers are unusable, each recorded as an error: time not a
    finite number, beyond 2**53 ms or too coarse for the sampling interval; x or y infinite or
    beyond +-MAX_COORD_PX; pupil infinite. ``skip``: lines already reported as truncated."""
    rate = np.array([b.rate or np.nan for b in p.blocks], np.float64)
    steps = np.diff(t[np.isfinite(t)])
    steps = steps[steps > 0]
    dt = np.where(np.isfinite(rate), 1000.0 / rate, np.median(steps) if steps.size else 1.0)
    dt = dt[block] if block.size else np.zeros(0)
    with np.errstate(invalid="ignore"):
        bad_x = (np.abs(x) > MAX_COORD_PX) | (np.abs(y) > MAX_COORD_PX)
    hostile = (~np.isfinite(t) | coarse_times(t, dt) | bad_x.any(axis=0)
               | np.isinf(pup).any(axis=0)) & ~skip
    for i in np.flatnonzero(hostile)[:MAX_LISTED_ANOMALIES * 5].tolist():
        if np.isnan(t[i]):
            why = "sample time is '.'; expected a number"
        elif not np.isfinite(t[i]) or coarse_times(t[i:i + 1], dt[i])[0]:
            why = f"sample {time_problem(float(t[i]), float(dt[i]))}"
        else:
            why = _value_problem(x[:, i], y[:, i], pup[:, i], MAX_COORD_PX)
        p.errors.append(GazeprepError(why, file=p.path, line=int(lines[i])))
    return hostile


def _sample_anomalies(p: _Parser, t, lines, block) -> None:
    """Samples after END (by position or time), timestamps not increasing."""
    end_line = np.array([b.end_line if b.end_line is not None else np.iinfo(np.int64).max
                         for b in p.blocks], np.int64)
    end_time = np.array([b.end_time if b.end_time is not None else np.inf for b in p.blocks])
    if lines.size:
        late = (lines > end_line[block]) | (t > end_time[block])
        ub, first, count = np.unique(block[late], return_index=True, return_counts=True)
        late_lines = lines[late]
        for b, f, c in zip(ub.tolist(), first.tolist(), count.tolist(), strict=True):
            blk = p.blocks[b]
            p.anomaly("samples_after_end", int(late_lines[f]),
                      f"{c} samples after END (line {blk.end_line}, time "
                      f"{blk.end_time:.1f}) by position or time; kept with that block")
    ok = np.isfinite(t)
    tt, ll = t[ok], lines[ok]
    back = np.flatnonzero(np.diff(tt) <= 0)
    if back.size:
        p.anomaly("sample_time_not_increasing", int(ll[back[0] + 1]),
                  f"{back.size} samples whose time does not exceed the previous sample's")


# ----------------------------------------------------------------------------------------------
# Fixations -> image coordinates
# ----------------------------------------------------------------------------------------------


def read_asc(path: str, opts: IngestOptions) -> FileResult:
    """Read one ASC file into image-normalised fixations (tracker events or I-VT / I-DT).

    Parameters
    ----------
    path : str
        The ASC file.
    opts : IngestOptions
        ``detector``, ``eye``, ``image_rect``, ``images``, ``min_duration`` and the detector
        thresholds.

    Returns
    -------
    FileResult
    """
    import polars as pl

    from gazeprep.tracks import conform

    res = FileResult(path=str(path), format="asc")
    log = parse_asc(path, res, opts.lenient)
    res.n_samples = int(np.isfinite(log.t).sum())
    detector = opts.detector
    if detector == "auto":
        detector = "tracker" if log.efix["line"].size else "ivt"
    res.notes["detector"] = detector
    if detector == "tracker":
        if not log.efix["line"].size:
            raise GazeprepError("no EFIX events in the file; expected tracker fixation events "
                                "(or use --detector ivt|idt on the samples)", file=path)
        cand = _tracker_candidates(log)
    else:
        cand = _detect_candidates(log, opts, detector)
    res.rows_read = len(cand["eye"])
    eyes = _chosen_eyes(log, opts, cand["eye"], res)
    rows = _place(log, cand, eyes, opts, res)
    stem = Path(path).stem
    df = pl.DataFrame(rows, schema={
        "image": pl.String, "trial": pl.String, "eye": pl.String, "x": pl.Float64,
        "y": pl.Float64, "onset_ms": pl.Float64, "duration_ms": pl.Float64,
        "pupil": pl.Float64, "width": pl.Int32, "height": pl.Int32, "order": pl.Float64,
        "line": pl.Int64,
    }, orient="row")
    session = (pl.lit(stem) + ":" + pl.col("eye")) if opts.eye == "both" else pl.lit(stem)
    df = df.with_columns(session.alias("session"), pl.lit(Path(path).name).alias("source"))
    res.fixations = conform(df)
    res.notes["events"] = log.events
    res.notes["blocks"] = len(log.blocks)
    res.notes["trials"] = len(log.trials)
    res.check_balance()
    return res


def _tracker_candidates(log: AscLog) -> dict[str, np.ndarray]:
    """EFIX events as candidate fixations."""
    cand = dict(log.efix)
    cand["state"] = log.state_at(cand["line"])
    return cand


def detector_thresholds(opts: IngestOptions, screen_px: tuple[float, float]) -> dict[str, float]:
    """I-VT speed (px/ms) and I-DT dispersion (px) from the options' units."""
    if opts.units == "px":
        ppd = 1.0
    else:
        from gazeprep.fixations import px_per_degree

        if opts.screen_size_cm is None:
            raise GazeprepError("degree thresholds need --screen-size-cm W H (or --units px)")
        ppd = px_per_degree(opts.screen_px or screen_px, opts.screen_size_cm, opts.distance_cm)
    return {"velocity": opts.ivt_velocity * ppd / 1000.0, "dispersion": opts.idt_dispersion * ppd,
            "merge_distance": opts.merge_distance * ppd, "px_per_deg": ppd}


def _detect_candidates(log: AscLog, opts: IngestOptions, detector: str) -> dict[str, np.ndarray]:
    """Run I-VT or I-DT on each eye's samples (all blocks in one kernel call)."""
    from gazeprep.fixations import detect, sample_interval

    screen = log.screens[0][2:] if log.screens else (1920.0, 1080.0)
    thr = detector_thresholds(opts, screen)
    rate_dt = np.array([1000.0 / b.rate if b.rate else np.nan for b in log.blocks])
    blk_dt = np.where(np.isfinite(rate_dt), rate_dt, sample_interval(log.t))
    # Widen the time between recording blocks beyond max_gap so no fixation spans two blocks;
    # differences inside a block are unchanged.
    tk = log.t + log.block * (opts.max_gap + 1.0)
    out: dict[str, list] = {k: [] for k in ("eye", "start", "end", "duration", "x", "y", "pupil",
                                            "line")}
    for e, eye in enumerate(EYES):
        x, y = log.x[e], log.y[e]
        if not np.isfinite(x).any():
            continue
        s = detect(detector, tk, x, y, log.pupil[e], velocity=thr["velocity"],
                   dispersion=thr["dispersion"], ivt_window=opts.ivt_window,
                   idt_window=opts.idt_window, max_gap=opts.max_gap,
                   dt=float(np.median(blk_dt)), merge_gap=opts.merge_gap,
                   merge_distance=thr["merge_distance"])
        first, last = s["first"], s["last"]
        out["eye"].append(np.full(first.size, eye))
        out["line"].append(log.line[first])
        out["start"].append(log.t[first])
        out["end"].append(log.t[last])
        out["duration"].append(log.t[last] - log.t[first] + blk_dt[log.block[first]])
        for k in ("x", "y", "pupil"):
            out[k].append(s[k])
    cand = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in out.items()}
    cand["eye"] = cand["eye"].astype(str)
    cand["line"] = cand["line"].astype(np.int64)
    order = np.lexsort((cand["eye"], cand["start"]))
    cand = {k: v[order] for k, v in cand.items()}
    cand["state"] = log.state_at(cand["line"])
    return cand


def _chosen_eyes(log: AscLog, opts: IngestOptions, cand_eyes: np.ndarray,
                 res: FileResult) -> set[str]:
    """Which eye(s) make the tracks (see ``--eye``)."""
    present = sorted(set(cand_eyes.tolist()))
    if opts.eye == "both":
        return set(EYES)
    if opts.eye in EYES:
        return {opts.eye}
    if len(present) <= 1:
        return set(present) or {"L"}
    eye = log.eye_used if log.eye_used in EYES else "L"
    why = "eye_used message" if log.eye_used else "default"
    res.notes["eye"] = f"binocular: kept {eye} ({why})"
    return {eye}


def _resolve(log: AscLog, state: int) -> tuple[int, int, int]:
    """(trial, imgload, screen) for a state, applying the 'before first TRIALID/IMGLOAD' rules."""
    block, trial, img, screen = log.states[state]
    if trial < 0 and block >= 0 and log.trials:
        # the next TRIALID, if it lies in the same recording block
        nxt = bisect.bisect_right(log.trial_lines, log.state_lines[state])
        if nxt < len(log.trials) and log.trials[nxt].block == block:
            trial = nxt
    if img < 0 and trial >= 0:
        img = log.trials[trial].first_img
    if screen < 0 and log.screens:
        screen = 0
    return trial, img, screen


def _place(log: AscLog, cand, eyes: set[str], opts: IngestOptions, res: FileResult) -> list:
    """Map candidates to image coordinates, dropping (and counting) the unusable ones."""
    rows = []
    cache: dict[int, Placement] = {}
    stem = Path(log.path).stem
    cand = {k: v.tolist() for k, v in cand.items()}  # Python scalars: fast per-item access
    for i in range(len(cand["eye"])):
        ln = int(cand["line"][i])
        eye = str(cand["eye"][i])
        if eye not in eyes:
            res.drop("other_eye", ln, f"eye {eye}")
            continue
        st = int(cand["state"][i])
        if st not in cache:
            cache[st] = where = _image_for(log, st, opts, stem)
            if not where.problem:
                res.image(where.image, where.size, where.size_from, where.name_problems)
        image, trial_id, t0, rect, size, _, problem, _ = cache[st]
        if problem:
            if not opts.lenient:
                raise GazeprepError(problem, file=log.path, line=ln)
            res.drop("unknown_image_rect", ln, problem)
            continue
        sx, sy = cand["x"][i], cand["y"][i]
        if not (math.isfinite(sx) and math.isfinite(sy)):
            res.drop("no_position", ln)
            continue
        nx, ny = (sx - rect[0]) / rect[2], (sy - rect[1]) / rect[3]
        if not (0.0 <= nx <= 1.0 and 0.0 <= ny <= 1.0):
            res.drop("outside_image", ln, f"screen ({sx:g}, {sy:g})")
            continue
        if cand["duration"][i] < opts.min_duration:
            res.drop("short", ln, f"{cand['duration'][i]:g} ms")
            continue
        pupil = cand["pupil"][i]
        rows.append((image, trial_id, eye, nx, ny, cand["start"][i] - t0, cand["duration"][i],
                     None if not math.isfinite(pupil) else pupil,
                     size[0] if size else None, size[1] if size else None,
                     cand["start"][i], ln))
    return rows


class Placement(NamedTuple):
    """Where fixations in one parser state go: image id, trial, time origin (ms), on-screen
    rectangle (x, y, w, h screen px), pixel size and its source, or why they cannot be placed."""

    image: str
    trial: str | None
    t0: float
    rect: tuple[float, float, float, float] | None
    size: tuple[int, int] | None
    size_from: str
    problem: str | None
    name_problems: list[str]


def _pixel_size(log: AscLog, image: str, opts: IngestOptions,
                shown: tuple[float, float] | None, shown_from: str):
    """``(size, size_from, problems)`` of ``image``: its ``--images`` file; with ``--images``
    lacking it, unknown (and a problem); without ``--images``, the size it was ``shown`` at."""
    size, problems = images_lookup(opts, image)
    if image in log.latin1_names:
        problems.append(LATIN1_NAME)
    if size is not None:
        return size, "--images file", problems
    if opts.images is not None or shown is None:
        return None, "unknown", problems
    return (max(1, round(shown[0])), max(1, round(shown[1]))), shown_from, problems


def _image_for(log: AscLog, state: int, opts: IngestOptions, stem: str) -> Placement:
    """The :class:`Placement` of the fixations in parser state ``state``."""
    trial, img, screen = _resolve(log, state)
    block = log.states[state][0]
    tr = log.trials[trial] if trial >= 0 else None
    label = log.trial_label(trial, block)
    t0 = tr.time if tr else (log.blocks[block].time if block >= 0 else 0.0)
    scr = log.screens[screen] if screen >= 0 else None
    if img >= 0:
        il = log.imgloads[img]
        if il.problem:
            return Placement(il.image, label, t0, None, None, "unknown", il.problem, [])
        found = opts.image_size(il.image)
        if il.mode == "FILL":
            size, src, probs = _pixel_size(log, il.image, opts, scr and scr[2:], "screen")
            if scr is None:
                return Placement(il.image, label, t0, None, size, src, "IMGLOAD FILL but no "
                                 "GAZE_COORDS line; expected GAZE_COORDS before the image (or "
                                 "--image-rect)", probs)
            return Placement(il.image, label, t0, scr, size, src, None, probs)
        w = il.w if il.w is not None else (found[0] if found else None)
        h = il.h if il.h is not None else (found[1] if found else None)
        shown = (il.w, il.h) if il.w is not None and il.h is not None else None
        size, src, probs = _pixel_size(log, il.image, opts, shown, "IMGLOAD w h")
        if w is None or h is None:
            return Placement(il.image, label, t0, None, size, src,
                             f"IMGLOAD {il.mode} {il.image} (line {il.line}) has no width/height; "
                             "expected them in the message or the image in --images", probs)
        x0, y0 = (il.x - w / 2.0, il.y - h / 2.0) if il.mode == "CENTER" else (il.x, il.y)
        return Placement(il.image, label, t0, (x0, y0, w, h), size, src, None, probs)
    name = ""
    if tr:
        for k, v in tr.vars.items():
            if k.lower() in IMAGE_VARS and image_id(v):
                name = image_id(v)
                break
        name = name or image_id(tr.id)
    name = name or stem
    if opts.image_rect is not None:
        rect, src = tuple(float(v) for v in opts.image_rect), "--image-rect"
        problem = rect_problem(rect)
        if problem:
            return Placement(name, label, t0, None, None, "unknown",
                             f"--image-rect X Y W H: {problem}", [])
    else:
        rect, src = scr, "screen"
    size, src, probs = _pixel_size(log, name, opts, rect and rect[2:], src)
    if rect is None:
        return Placement(name, label, t0, None, size, src, "no IMGLOAD and no GAZE_COORDS to "
                         "place the image; expected --image-rect X Y W H", probs)
    return Placement(name, label, t0, rect, size, src, None, probs)
