"""Parse an EyeLink ASC file (its path, or its bytes) into an :class:`AscLog`.

Speed: the file is read once as bytes (latin-1 safe). numba kernels split it into lines,
classify each line by its head, parse every sample line (they start with a digit) straight
from the byte buffer into time/x/y/pupil arrays, and parse all event lines and MSG timestamps
in bulk (:mod:`gazeprep.read.asc.events`). Only the few lines that change state and unknown
lines go through Python (:class:`gazeprep.read.asc.state.Parser`).

The reader takes the bytes as well as a path, so that a converter (EDF -> ASC text) feeds
its output through the same code path: ``parse_asc("x.edf", data=asc_bytes)``.
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.read.asc._kernels import _POW10, parse_sample_lines, split_lines
from gazeprep.read.asc.events import (
    K_MSG,
    K_OTHER,
    K_SAMPLE,
    events,
    line_kinds,
    messages,
    sample_columns,
    state_messages,
)
from gazeprep.read.asc.state import MAX_LISTED_ANOMALIES, Block, ImgLoad, Parser, Trial
from gazeprep.read.result import FileResult

#: Numeric fields parsed per sample line: t, then x, y, pupil per eye (binocular = 7).
SAMPLE_FIELDS = 7


@dataclass
class AscLog:
    """Everything parsed from one ASC file.

    Samples: ``t`` (ms), ``line`` (1-based), ``block`` index, and ``x, y, pupil`` of shape
    (2, n) for the left/right eye (NaN where missing or not recorded). ``efix``: arrays ``eye``
    ("L"/"R"), ``start, end, duration, x, y, pupil`` and ``line`` of each EFIX event.
    ``states`` are ``(block, trial, imgload, screen)`` tuples, each valid from its
    ``state_lines`` entry on. ``eblink``: arrays ``eye``, ``start, end`` of each EBLINK;
    ``validations``: ``(time, line, text)`` of each ``!CAL VALIDATION`` message.
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
    eblink: dict[str, np.ndarray] = field(default_factory=dict)
    validations: list[tuple[float, int, str]] = field(default_factory=list)

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


def parse_asc(path: str | Path, data: bytes | None = None, *, res: FileResult | None = None,
              lenient: bool = False) -> AscLog:
    """Parse an EyeLink ASC file.

    Parameters
    ----------
    path : str or Path
        The file; with ``data``, only the name that errors and the log carry.
    data : bytes, optional
        The file's content (e.g. ASC text converted from an EDF file); default: read ``path``.
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

    Examples
    --------
    >>> log = parse_asc("run1.asc")  # doctest: +SKIP
    >>> log = parse_asc("run1.edf", data=converted_text)  # doctest: +SKIP
    """
    path = str(path)
    res = res if res is not None else FileResult(path=path, format="asc")
    if data is None:
        with open(path, "rb") as fh:
            data = fh.read()
    # The parse allocates few, large objects: cyclic GC passes would only cost time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_asc(path, data, res, lenient)
    finally:
        if gc_was_enabled:
            gc.enable()


def _check_text(path: str, raw: bytes) -> None:
    """Refuse an empty or binary file before any parsing."""
    if not raw[:65536].strip() and not raw.strip():
        raise GazeprepError("empty file; expected an EyeLink ASC", file=path)
    if b"\x00" in raw[:65536]:
        raise GazeprepError("binary file; expected a text EyeLink ASC (EyeLink EDF files: name "
                            "them .edf)",
                            file=path, line=1)


def _parse_asc(path: str, raw: bytes, res: FileResult, lenient: bool) -> AscLog:
    _check_text(path, raw)
    buf = np.frombuffer(raw, np.uint8)
    starts, ends = split_lines(buf)
    kind = line_kinds(buf, starts, ends)
    p = Parser(path, res)
    msg_idx, msg_t = _state_lines(p, raw, buf, starts, ends, kind)
    efix, eblink, counts = events(p, raw, buf, starts, ends, kind)
    counts["MSG"] = int(msg_idx.size)
    sample_idx = np.flatnonzero(kind == K_SAMPLE)
    if not sample_idx.size and not msg_idx.size and not any(counts.values()):
        first_line = raw[starts[0]:ends[0]].decode("latin-1")[:60] if starts.size else ""
        raise GazeprepError(f"no samples, events or MSG lines (starts {first_line!r}); expected "
                            "an EyeLink ASC converted by edf2asc", file=path, line=1)
    lines = sample_idx + 1
    block = _sample_blocks(p, buf, starts, ends, sample_idx, lines)
    t, x, y, pup = sample_columns(p, buf, starts, ends, sample_idx, lines, block)
    _raise_or_record(p, res, lenient)
    if p.n_anomalies:
        # every anomaly is counted; each kind lists its first MAX_LISTED_ANOMALIES occurrences
        res.notes["anomaly_counts"] = dict(sorted(p.n_anomalies.items()))
    return AscLog(
        path=path, t=t, line=lines, block=block, x=x, y=y, pupil=pup,
        blocks=p.blocks, trials=p.trials, imgloads=p.imgloads, screens=p.screens,
        states=p.states, state_lines=np.asarray(p.state_lines, np.int64), efix=efix,
        events=counts, eye_used=p.eye_used, anomalies=res.anomalies,
        latin1_names=p.latin1_names, eblink=eblink, validations=p.validations,
    )


def _state_lines(p: Parser, raw: bytes, buf, starts, ends, kind):
    """Feed the parser, in file order, the lines that change state; return the index and time
    of every MSG line."""
    msg_idx, msg_t, msg_rest = messages(p, raw, buf, starts, ends, kind)
    todo = np.flatnonzero(kind == K_OTHER)
    keep = state_messages(buf, ends, msg_idx, msg_rest)
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
    return msg_idx, msg_t


def _sample_blocks(p: Parser, buf, starts, ends, sample_idx, lines) -> np.ndarray:
    """The recording block of each sample line (an implicit one when the file has no START)."""
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
    return block


def _decode(b: bytes) -> tuple[str, bool]:
    """Message text: UTF-8, else Latin-1 byte for byte (then True: names in it are flagged)."""
    try:
        return b.decode("utf-8"), False
    except UnicodeDecodeError:
        return b.decode("latin-1"), True


def _raise_or_record(p: Parser, res: FileResult, lenient: bool) -> None:
    """Raise the first malformed line of the file, or (lenient) record them all."""
    if not p.errors:
        return
    errs = sorted(p.errors, key=lambda e: e.line or 0)
    if not lenient:
        raise errs[0]
    for e in errs[:MAX_LISTED_ANOMALIES]:
        res.error(e)
    res.notes["malformed_lines_skipped"] = len(errs)
