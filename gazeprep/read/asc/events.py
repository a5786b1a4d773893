"""Bulk parsing of an ASC file's lines: line kinds, MSG times, events and samples.

Everything here works on all lines of a kind at once through the kernels of
:mod:`gazeprep.read.asc._kernels`, checks every number against :mod:`gazeprep.limits` and
reports malformed lines and anomalies into the :class:`~gazeprep.read.asc.state.Parser`.
"""

from __future__ import annotations

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.limits import MAX_COORD_PX, MAX_DURATION_MS, MAX_TIME_MS, coarse_times, time_problem
from gazeprep.read.asc._kernels import (
    _POW10,
    classify_lines,
    lines_containing,
    parse_head_lines,
    parse_samples,
)
from gazeprep.read.asc.state import EVENT_FIELDS, EYES, MAX_LISTED_ANOMALIES, Parser

#: Line heads parsed in bulk; a line's kind is 2 + its position here (0 empty, 1 sample, 9 other).
BULK_HEADS = ("EFIX", "ESACC", "EBLINK", "SFIX", "SSACC", "SBLINK", "MSG")
K_SAMPLE, K_MSG, K_OTHER, K_IGNORED = 1, 8, 9, 10
#: Heads of lines that carry nothing ingest uses (recognised, then skipped without Python).
IGNORED_HEADS = ("PRESCALER", "VPRESCALER", "PUPIL", "EVENTS", "INPUT", "BUTTON")
#: Only MSG lines containing one of these are handed to the Python state machine.
MSG_KEYS = (b"TRIAL", b"COORDS", b"IMGLOAD", b"eye_used", b"VALIDATION")


def _patterns(words) -> tuple[np.ndarray, np.ndarray]:
    """Byte patterns (zero-padded rows) and their lengths, for the matching kernels."""
    blobs = [w.encode() if isinstance(w, str) else w for w in words]
    pats = np.zeros((len(blobs), max(12, max(map(len, blobs)))), np.uint8)
    for i, b in enumerate(blobs):
        pats[i, :len(b)] = np.frombuffer(b, np.uint8)
    return pats, np.array([len(b) for b in blobs], np.int64)


def line_kinds(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Kind of every line (int8): 0 empty, :data:`K_SAMPLE`, 2 + index into :data:`BULK_HEADS`
    (:data:`K_MSG` for MSG), :data:`K_OTHER` or :data:`K_IGNORED`."""
    heads = BULK_HEADS + IGNORED_HEADS
    pats, plen = _patterns(heads)
    codes = np.array([2 + i for i in range(len(BULK_HEADS))] + [K_IGNORED] * len(IGNORED_HEADS),
                     np.int8)
    return classify_lines(buf, starts, ends, pats, plen, codes)


def state_messages(buf: np.ndarray, ends: np.ndarray, msg_idx: np.ndarray,
                   msg_rest: np.ndarray) -> np.ndarray:
    """The MSG lines (indices into the lines) whose body holds a key of :data:`MSG_KEYS`: the
    ones that can change the state; ``msg_rest`` < 0 marks an unusable MSG line."""
    pats, plen = _patterns(MSG_KEYS)
    has_key = lines_containing(buf, np.maximum(msg_rest, 0), ends[msg_idx], pats, plen)
    return msg_idx[has_key & (msg_rest >= 0)]


def messages(p: Parser, raw: bytes, buf, starts, ends, kind):
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


def events(p: Parser, raw: bytes, buf, starts, ends, kind):
    """Parse all event lines in bulk; check them; pair starts and ends per eye.

    Returns
    -------
    efix : dict of arrays
        ``eye`` ("L"/"R"), ``start, end, duration, x, y, pupil`` and ``line`` of each EFIX.
    eblink : dict of arrays
        ``eye``, ``start, end`` (ms) of each EBLINK.
    counts : dict
        Usable lines per event head.
    """
    counts: dict[str, int] = {}
    lines_of: dict[tuple[str, str], np.ndarray] = {}
    efix = {k: np.zeros(0) for k in ("start", "end", "duration", "x", "y", "pupil")}
    efix["eye"] = np.zeros(0, "<U1")
    efix["line"] = np.zeros(0, np.int64)
    eblink = {"eye": np.zeros(0, "<U1"), "start": np.zeros(0), "end": np.zeros(0)}
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
        elif head == "EBLINK":
            eblink = {"eye": np.where(eye == ord("L"), "L", "R"), "start": vals[:, 0],
                      "end": vals[:, 1]}
    for kind_ in ("FIX", "SACC", "BLINK"):
        for e in EYES:
            _pair(p, kind_, e, lines_of[("S" + kind_, e)], lines_of[("E" + kind_, e)])
    return efix, eblink, counts


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


def _pair(p: Parser, kind: str, eye: str, s_lines: np.ndarray, e_lines: np.ndarray) -> None:
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


def sample_columns(p: Parser, buf, starts, ends, sample_idx, lines, block):
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


def _check_sample_numbers(p: Parser, t, x, y, pup, lines, block, skip) -> np.ndarray:
    """Mask of sample lines whose numbers are unusable, each recorded as an error: time not a
    finite number, beyond 2**53 ms or too coarse for the sampling interval; x or y infinite or
    beyond +-MAX_COORD_PX; pupil infinite. ``skip``: lines already reported as truncated."""
    rate = np.array([b.rate or np.nan for b in p.blocks], np.float64)
    dt = np.where(np.isfinite(rate), 1000.0 / rate, np.nan)
    if np.isnan(dt).any():  # a block without RATE: the median interval (a sort)
        steps = np.diff(t[np.isfinite(t)])
        steps = steps[steps > 0]
        dt = np.where(np.isfinite(dt), dt, np.median(steps) if steps.size else 1.0)
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


def _sample_anomalies(p: Parser, t, lines, block) -> None:
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
