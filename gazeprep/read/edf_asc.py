"""The ``edf2asc`` text of an EDF recording read by :mod:`gazeprep.read.edf`.

Written as ``edf2asc`` (default options) writes it, from its output on real files: the ``**``
preamble, then each item as one line, in file order: samples ``time x y pupil [x y pupil]
flags`` (``%7.1f``, ``   .`` for a missing position), ``SFIX/SSACC/SBLINK``, ``EFIX`` (average
position, rounded average pupil), ``ESACC`` (start/end positions, amplitude, peak velocity),
``EBLINK``, ``MSG``, ``INPUT``, ``BUTTON``, and ``START`` / ``PRESCALER`` / ``VPRESCALER`` /
``PUPIL`` / ``EVENTS`` / ``SAMPLES`` / ``END`` for each recording block. Event duration is
``end - start + 1000 / rate`` ms (the last sample's interval counts). Times are integers, or
written with one decimal in files recorded above 1000 Hz. Sample lines are formatted for all
samples at once (numpy + polars strings); printf's rounding (half to even on the exact binary
value) is reproduced exactly.

Not reproduced, or reproduced without a reference to check against (the ASC parser uses none
of these): the date in the ``CONVERTED FROM`` line (left out: the output is reproducible); the
sample flag characters (``I`` from the error word's interpolation bit, ``C``/``R`` from its
corneal-reflection lost/recovering bits; remote-mode target flags are not written); the
saccade amplitude (start-to-end distance over the mean resolution at both ends) and the
``RES`` values of ``END`` (mean sample resolution of the block); ``BUTTON`` lines (one per
changed button); ``FIXUPDATE`` and lost-data items and ``INPUT`` sample columns (not written).
A message continuation line (a message holding a newline) that does not start with a blank or
``>`` is written indented by a tab, so that it cannot be read as a sample or an event; message
text is otherwise written byte for byte (the ASC parser decodes it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.read.edf import (
    BUTTON,
    CR_LOST,
    CR_RECOV,
    ENDBLINK,
    ENDFIX,
    ENDSACC,
    INPUT,
    INTERP_PUPIL,
    MESSAGE,
    MISSING_FLOAT,
    MISSING_INT,
    RECORDING_INFO,
    SAMPLE_GAZEXY,
    STARTBLINK,
    STARTFIX,
    STARTSACC,
    EdfRecording,
    read_edf,
)


def asc_from_recording(rec: EdfRecording, source: str = "") -> bytes:
    """The ``edf2asc`` text of a recording (see the module docstring for what it holds).

    Parameters
    ----------
    rec : EdfRecording
    source : str
        The EDF's name, for the ``** CONVERTED FROM`` line.

    Returns
    -------
    bytes
        Lines joined by ``\\n``; message bytes as they are in the file.
    """
    import polars as pl

    blocks = _blocks(rec)
    # edf2asc writes one decimal in files recorded above 1000 Hz; so do we for any half-ms
    # sample time (SAMPLE_ADD_OFFSET), which an integer format would truncate
    float_times = bool((blocks["rate"] > 1000).any() or (rec.t % 1 != 0).any())
    others = _item_lines(rec, blocks, float_times)
    samples = _sample_lines(rec, blocks, float_times)
    head = f"** CONVERTED FROM {source} using edfapi {rec.library}".rstrip()
    pre = [ln for ln in rec.preamble.replace("\r", "").split("\n") if ln.strip()]
    header = "\n".join([head, *pre, "**", ""])
    # Each item goes just before the sample that followed it in the file.
    keep = np.array([ln is not None for ln in others], bool)
    before = rec.item_before[keep]
    others = [ln for ln in others if ln is not None]
    n, m = len(samples), len(others)
    pos = np.concatenate([np.arange(n) + np.searchsorted(before, np.arange(n), side="right"),
                          before + np.arange(m)])
    lines = pl.concat([samples, pl.Series("line", others, pl.String)])
    body = pl.DataFrame({"pos": pos, "line": lines}).sort("pos")["line"].str.join("\n")
    return (header + "\n" + body[0] + "\n").encode("latin-1")


def _blocks(rec: EdfRecording) -> dict[str, np.ndarray]:
    """Recording blocks (the RECORDING_INFO items with state 1): first sample, eyes, rate."""
    ev = rec.events
    is_start = (rec.item_type == RECORDING_INFO) & (ev["rec_state"] == 1)
    eye = ev["rec_eye"][is_start].astype(np.int64)  # 1 left, 2 right, 3 both
    rate = ev["rec_sample_rate"][is_start].astype(np.float64)
    rate = np.where(np.isfinite(rate) & (rate > 0), rate, 1000.0)
    return {"first": rec.item_before[is_start], "eye": eye, "rate": rate,
            "item": np.flatnonzero(is_start)}


def _block_of(blocks: dict[str, np.ndarray], before: np.ndarray) -> np.ndarray:
    """Index of the block each position (samples read before it) lies in (0 before the first)."""
    return np.maximum(np.searchsorted(blocks["first"], before, side="right") - 1, 0)


def _sample_lines(rec: EdfRecording, blocks: dict[str, np.ndarray], float_times: bool):
    """One polars string per sample: ``time x y pupil [x y pupil] flags``, vectorised."""
    import polars as pl

    n = rec.t.size
    if not n:
        return pl.Series("line", [], pl.String)
    if not blocks["eye"].size:
        raise GazeprepError("samples outside any recording block (no RECORDING_INFO); "
                            "expected an EyeLink EDF")
    eye = blocks["eye"][_block_of(blocks, np.arange(n))]
    cols = []
    for e in (0, 1):
        used = (eye & (1 << e)) != 0
        if not used.any():
            cols.append(pl.lit(""))
            continue
        xy_missing = _missing(rec.gx[e]) | _missing(rec.gy[e])
        x = _fixed(rec.gx[e], xy_missing)
        y = _fixed(rec.gy[e], xy_missing)
        p = _fixed(rec.pa[e], _missing(rec.pa[e]))
        cols.append(pl.concat_str([x, y, p], separator="\t"))
    t = _fixed(rec.t, np.zeros(n, bool), width=0) if float_times else \
        pl.Series(rec.t.astype(np.int64)).cast(pl.String)
    flags = _flag_strings(rec.errors, eye)
    frame = pl.DataFrame({"t": t, "eye": eye, "flags": flags})
    eyes = (pl.when(pl.col("eye") == 3).then(pl.concat_str([cols[0], cols[1]], separator="\t"))
            .when(pl.col("eye") == 2).then(cols[1]).otherwise(cols[0]))
    return frame.select(pl.concat_str([pl.col("t"), eyes, pl.col("flags")], separator="\t")
                        .alias("line"))["line"]


def _missing(v: np.ndarray) -> np.ndarray:
    """EyeLink's missing values (1e8, -32768) and anything not finite."""
    v = np.asarray(v, np.float64)
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(v) | (v >= MISSING_FLOAT) | (v == MISSING_INT)


def _fixed(v: np.ndarray, missing: np.ndarray, width: int = 7):
    """``printf("%<width>.1f")`` of each value (``'   .'`` where ``missing``), vectorised.

    float32 values times 10 are exact in float64, so ``rint`` (round half to even) rounds the
    exact binary value as printf does; values too large for that go through Python's format.
    """
    import polars as pl

    v = np.asarray(v, np.float64)
    with np.errstate(invalid="ignore"):
        big = ~missing & ~(np.abs(v) < 2.0**49)
    k = np.rint(np.abs(np.where(missing | big, 0.0, v)) * 10.0).astype(np.int64)
    whole, tenth = np.divmod(k, 10)
    s = pl.DataFrame({"neg": np.signbit(v) & ~missing, "w": whole, "d": tenth}).select(
        pl.concat_str([pl.when(pl.col("neg")).then(pl.lit("-")).otherwise(pl.lit("")),
                       pl.col("w").cast(pl.String), pl.lit("."), pl.col("d").cast(pl.String)])
        .str.pad_start(width).alias("v"))["v"]
    if missing.any():
        s = s.scatter(np.flatnonzero(missing), "   .")
    for i in np.flatnonzero(big).tolist():
        s = s.scatter(i, f"{v[i]:{width}.1f}")
    return s


def _flag_strings(errors: np.ndarray, eye: np.ndarray):
    """The sample flag field: ``...`` (one eye) or ``.....`` (both), ``I``/``C``/``R`` set."""
    import polars as pl

    err = errors.astype(np.int64)
    interp = (err & INTERP_PUPIL) != 0
    lost = [(err & b) != 0 for b in CR_LOST]
    recov = [(err & b) != 0 for b in CR_RECOV]
    right = eye == 2
    mono = (interp | np.where(right, lost[1], lost[0]) << 1
            | np.where(right, recov[1], recov[0]) << 2).astype(np.int64)
    both = (interp | lost[0] << 1 | recov[0] << 2 | lost[1] << 3 | recov[1] << 4).astype(np.int64)
    code = np.where(eye == 3, 8 + both, mono)

    def chars(c: int, nbits: int) -> str:
        letters = "ICRCR"
        return "".join(letters[b] if c >> b & 1 else "." for b in range(nbits))

    table = [chars(c, 3) for c in range(8)] + [chars(c, 5) for c in range(32)]
    return pl.Series(table, dtype=pl.String).gather(code)


def _item_lines(rec: EdfRecording, blocks: dict[str, np.ndarray], float_times: bool) -> list:
    """The line(s) of every non-sample item, as latin-1 strings (message bytes kept); None for
    an item that writes nothing."""
    fmt_t = (lambda v: f"{v:.1f}") if float_times else (lambda v: f"{int(v)}")
    types = rec.item_type.tolist()
    start = [fmt_t(v) for v in rec.events["sttime"].tolist()]
    out: list[str | None] = [
        f"MSG\t{start[i]} {_message_text(rec.texts[i] or b'')}" if typ == MESSAGE else None
        for i, typ in enumerate(types)]
    rest = np.flatnonzero(rec.item_type != MESSAGE)
    if not rest.size:
        return out
    ev = {k: v[rest].tolist() for k, v in rec.events.items()}
    ends = np.flatnonzero((rec.item_type == RECORDING_INFO) & (rec.events["rec_state"] == 0))
    res = _block_resolution(rec, blocks, ends)
    rate = blocks["rate"][_block_of(blocks, rec.item_before[rest])] if blocks["rate"].size \
        else np.full(rest.size, 1000.0)
    dts = (1000.0 / rate).tolist()
    for j, i in enumerate(rest.tolist()):
        out[i] = _item_line(types[i], {k: v[j] for k, v in ev.items()}, fmt_t, dts[j],
                            res.get(i))
    return out


def _item_line(typ: int, e: dict, fmt_t, dt: float, res) -> str | None:
    """One item other than a message, as edf2asc writes it (several lines for a block start)."""
    eye = "R" if e["eye"] == 1 else "L"
    t0, t1 = fmt_t(e["sttime"]), fmt_t(e["entime"])
    if typ in (STARTFIX, STARTSACC, STARTBLINK):
        head = {STARTFIX: "SFIX", STARTSACC: "SSACC", STARTBLINK: "SBLINK"}[typ]
        return f"{head + ' ' + eye:<8} {t0}"
    d = e["entime"] - e["sttime"] + dt  # EyeLink counts the last sample's interval
    dur = fmt_t(d) if "." in t0 or float(dt).is_integer() else f"{d:.1f}"
    if typ == ENDFIX:
        return (f"EFIX {eye}   {t0}\t{t1}\t{dur}\t{_num(e['gavx'])}\t{_num(e['gavy'])}\t"
                f"{_num(e['ava'], 0)}")
    if typ == ENDSACC:
        pos = "\t".join(_num(e[k]) for k in ("gstx", "gsty", "genx", "geny"))
        return (f"ESACC {eye}  {t0}\t{t1}\t{dur}\t{pos}\t{_num(_amplitude(e), 2)}\t"
                f"{_num(e['pvel'], 0)}")
    if typ == ENDBLINK:
        return f"EBLINK {eye} {t0}\t{t1}\t{dur}"
    if typ == INPUT:
        return f"INPUT\t{t0}\t{int(e['input'])}"
    if typ == BUTTON:
        word = int(e["buttons"])
        changed = [b for b in range(8) if word >> (8 + b) & 1]
        return "\n".join(f"BUTTON\t{t0}\t{b + 1}\t{word >> b & 1}"
                         for b in changed) or None
    return _block_lines(e, fmt_t, res)


def _block_lines(e: dict, fmt_t, res) -> str:
    """START (with its PRESCALER ... SAMPLES lines) or END of a recording block."""
    what = [w for w, bit in (("SAMPLES", 1), ("EVENTS", 2)) if int(e["rec_record_type"]) & bit]
    t = fmt_t(e["rec_time"])
    if int(e["rec_state"]) == 0:
        tail = f"\tRES\t{res[0]:7.2f}\t{res[1]:7.2f}" if res else ""
        return f"END\t{t} \t" + "\t".join(what) + tail
    eyes = [w for w, bit in (("LEFT", 1), ("RIGHT", 2)) if int(e["rec_eye"]) & bit]
    if "SAMPLES" in what and not int(e["rec_sflags"]) & SAMPLE_GAZEXY:
        raise GazeprepError(f"recording block at {t} ms has samples without gaze positions "
                            "(HREF or pupil only); expected gaze samples")
    # events are parsed from gaze, HREF or pupil positions; the samples written are gaze
    parsed = {0x80: "HREF", 0x40: "PUPIL"}.get(int(e["rec_pos_type"]), "GAZE")
    spec = ("\t".join(eyes) + f"\tRATE\t{e['rec_sample_rate']:.2f}\tTRACKING\t"
            f"{'CR' if e['rec_recording_mode'] else 'P'}\tFILTER\t{int(e['rec_filter_type'])}")
    lines = [f"START\t{t} \t" + "\t".join(eyes + what), "PRESCALER\t1", "VPRESCALER\t1",
             f"PUPIL\t{'DIAMETER' if e['rec_pupil_type'] else 'AREA'}"]
    if "EVENTS" in what:
        lines.append(f"EVENTS\t{parsed}\t{spec}")
    if "SAMPLES" in what:
        lines.append(f"SAMPLES\tGAZE\t{spec}")
    return "\n".join(lines)


def _block_resolution(rec: EdfRecording, blocks, end_items: np.ndarray) -> dict:
    """Mean sample resolution (x, y px/deg) of the block each END item closes."""
    out = {}
    for i in end_items.tolist():
        stop = int(rec.item_before[i])
        b = _block_of(blocks, np.array([max(stop - 1, 0)]))[0] if blocks["first"].size else 0
        start = int(blocks["first"][b]) if blocks["first"].size else 0
        rx, ry = rec.rx[start:stop].astype(np.float64), rec.ry[start:stop].astype(np.float64)
        ok = ~_missing(rx) & ~_missing(ry) & (rx > 0) & (ry > 0)
        if ok.any():
            out[i] = (float(rx[ok].mean()), float(ry[ok].mean()))
    return out


def _num(v: float, decimals: int = 1, width: int = 7) -> str:
    """An event value as edf2asc prints it, ``'   .'`` when missing."""
    if not math.isfinite(v) or v >= MISSING_FLOAT or v == MISSING_INT:
        return "   ."
    return f"{v:{width}.{decimals}f}"


def _amplitude(e: dict) -> float:
    """Saccade amplitude (deg): start-to-end distance over the mean resolution at both ends."""
    vals = [e[k] for k in ("gstx", "gsty", "genx", "geny", "supd_x", "eupd_x", "supd_y",
                           "eupd_y")]
    if any(_num(v) == "   ." for v in vals):
        return math.nan
    rx, ry = (vals[4] + vals[5]) / 2.0, (vals[6] + vals[7]) / 2.0
    if rx <= 0 or ry <= 0:
        return math.nan
    return math.hypot((vals[2] - vals[0]) / rx, (vals[3] - vals[1]) / ry)


def _message_text(text: bytes) -> str:
    """Message bytes as latin-1 text (bytes kept); continuation lines safe for the parser."""
    body = text.rstrip(b"\r\n\0").decode("latin-1")
    if "\n" not in body:
        return body
    lines = body.split("\n")
    return "\n".join([lines[0], *(ln if not ln or ln[0] in " \t>" else "\t" + ln
                                  for ln in lines[1:])])


def edf_to_asc(path: str | Path) -> bytes:
    """The ASC text ``edf2asc`` would write for the EDF ``path``.

    Raises
    ------
    GazeprepError
        eyelinkio missing (the install hint), or the file unreadable (one line naming it).
    """
    return asc_from_recording(read_edf(path), Path(path).name)
