"""Reader for Tobii Pro Lab "Data export" TSV files (``--format tobii-prolab``).

Headers carry their units in brackets (``Recording timestamp [ms]``, ``Eyetracker timestamp
[μs]`` with U+03BC, U+00B5 or ``[us]``, ``Gaze point X [DACS px]``); numbers use the exporting
computer's decimal separator (``10,00`` or ``10.00``, never both: see
:mod:`~gazeprep.read.tobii._numbers`). What is read:

- **rows**: gaze samples are the rows whose ``Sensor`` is ``Eye Tracker`` (without a ``Sensor``
  column: the rows without an ``Event``); event rows (``RecordingStart``,
  ``ImageStimulusStart``...) and other sensors' rows (mouse, GSR...) are counted in the notes;
- **time**: ``Eyetracker timestamp`` (μs, the tracker's own clock: exact at 1200 Hz), else
  ``Recording timestamp`` in its unit; it must not decrease within a recording;
- **gaze**: the eyes' ``Gaze point left/right X/Y [DACS px]`` with ``Validity left/right``,
  averaged as Tobii does (``--eye L|R`` for one eye), else ``Gaze point X/Y [DACS px]``;
  pupil: ``Pupil diameter filtered``, else the eyes' mean; eye position and gaze point in
  DACS mm, when present, for the true visual angle (``--preset tobii``);
- **media**: ``Presented Media name``, its ``position X/Y [DACS px]``, ``width/height [px]`` on
  screen and ``Original Media width/height [px]`` (see :mod:`~gazeprep.read.tobii._common`);
- **Tobii's fixations**: ``Eye movement type`` (``Fixation``...), ``Eye movement type index``,
  ``Fixation point X/Y [DACS px]``, ``Eye movement event duration`` (or ``Gaze event
  duration``) and the filter's name (``Recording Fixation filter name``);
- **sessions**: ``Recording name`` when the export holds several recordings, else the file stem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.read.delimited import check_unique
from gazeprep.read.result import FileResult
from gazeprep.read.tobii._common import (
    MEMORY_PER_BYTE,
    MM_COLUMNS,
    average_eyes,
    check_eye,
    file_screen,
    finish,
    load_detector_first,
    no_media,
)
from gazeprep.read.tobii._numbers import (
    UNIT_MS,
    find,
    image_ids,
    split_unit,
    stem,
    to_numbers,
)
from gazeprep.read.vendor import read_rows, screen_rect

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

#: Numeric columns: key -> (name, unit); "" = any unit.
NUMERIC = {
    "lx": ("Gaze point left X", "DACS px"), "ly": ("Gaze point left Y", "DACS px"),
    "rx": ("Gaze point right X", "DACS px"), "ry": ("Gaze point right Y", "DACS px"),
    "ax": ("Gaze point X", "DACS px"), "ay": ("Gaze point Y", "DACS px"),
    "pf": ("Pupil diameter filtered", ""), "pl": ("Pupil diameter left", ""),
    "pr": ("Pupil diameter right", ""),
    **{f"{e}e{a}": (f"Eye position {side} {a.upper()}", "DACS mm")
       for e, side in (("l", "left"), ("r", "right")) for a in "xyz"},
    **{f"{e}g{a}": (f"Gaze point {side} {a.upper()}", "DACS mm")
       for e, side in (("l", "left"), ("r", "right")) for a in "xy"},
    "mx": ("Presented Media position X", "DACS px"), "my": ("Presented Media position Y",
                                                           "DACS px"),
    "mw": ("Presented Media width", ""), "mh": ("Presented Media height", ""),
    "iw": ("Original Media width", ""), "ih": ("Original Media height", ""),
    "index": ("Eye movement type index", ""), "fx": ("Fixation point X", "DACS px"),
    "fy": ("Fixation point Y", "DACS px"), "sw": ("Recording resolution width", ""),
    "sh": ("Recording resolution height", ""),
}
TEXT = {"sensor": "Sensor", "event": "Event", "vl": "Validity left", "vr": "Validity right",
        "media": "Presented Media name", "kind": "Eye movement type",
        "recording": "Recording name", "filter": "Recording Fixation filter name"}
TIMES = (("Eyetracker timestamp", "μs"), ("Recording timestamp", ""))
DURATIONS = ("Eye movement event duration", "Gaze event duration")


def sniff(probe: Probe) -> bool:
    """Whether the header is a Pro Lab export's: a bracketed timestamp or DACS gaze column."""
    h = probe.header
    return bool(find(h, "Recording timestamp") or find(h, "Eyetracker timestamp")) and any(
        "[" in c for c in h)


def _columns(header: list[str], path: str) -> dict[str, str | None]:
    """Key -> column name (None when absent); the time column and its unit under ``time``.

    Raises
    ------
    GazeprepError
        No timestamp or no gaze point columns.
    """
    cols: dict[str, str | None] = {k: find(header, n, u) for k, (n, u) in NUMERIC.items()}
    cols |= {k: find(header, n) for k, n in TEXT.items()}
    cols["time"] = next((c for n, u in TIMES if (c := find(header, n, u))), None)
    cols["fdur"] = next((c for n in DURATIONS if (c := find(header, n))), None)
    if cols["time"] is None or split_unit(cols["time"])[1] not in UNIT_MS:
        raise GazeprepError(
            "not a Tobii Pro Lab data export: no 'Eyetracker timestamp [μs]' or 'Recording "
            "timestamp [ms]' column (with its unit in brackets); expected Pro Lab's TSV "
            "header", file=path, line=1)
    fixations_only = all(cols[k] for k in ("kind", "index", "fx", "fy"))
    if not ((cols["lx"] and cols["ly"]) or (cols["rx"] and cols["ry"])
            or (cols["ax"] and cols["ay"]) or fixations_only):
        raise GazeprepError(
            "Tobii Pro Lab export lacks gaze columns; expected 'Gaze point X [DACS px]' and "
            "'Gaze point Y [DACS px]' (or the left / right eye's), or Tobii's fixations "
            "('Eye movement type', its index and 'Fixation point X/Y [DACS px]')",
            file=path, line=1)
    return cols


def read(path: str, opts: IngestOptions):
    """Read one Pro Lab data export.

    Returns
    -------
    FileResult
        Tobii's fixations (``--detector auto`` on an export with them, or ``tracker``).
    TobiiRecording
        The samples, for I-VT / I-DT.

    Raises
    ------
    GazeprepError
        Missing time or gaze columns, text in numeric fields, mixed decimal separators, a
        truncated last row, time going backwards (see :mod:`gazeprep.read.tobii._common`).
    """
    res = FileResult(path=str(path), format="tobii-prolab")
    eye = check_eye(opts, path)
    load_detector_first(str(path), opts)
    cols: dict[str, str | None] = {}

    def pick(header: list[str]) -> list[str]:
        cols.update(_columns(header, path))
        used = [c for c in dict.fromkeys(cols.values()) if c]
        check_unique(header, used, path)
        return used

    table = read_rows(str(path), "Tobii Pro Lab export", res if opts.lenient else None,
                      pick=pick, memory_per_byte=MEMORY_PER_BYTE)
    res.notes.update(table.notes)
    df, lines = table.df, table.lines
    df, lines = _gaze_rows(res, df, lines, cols)
    numeric = {k: cols[k] for k in (*NUMERIC, "time", "fdur")}
    num = to_numbers(df, numeric, lines, str(path))
    num = num.with_columns(pl.col("time") * UNIT_MS[split_unit(cols["time"])[1]])
    screen, rect = screen_rect(res, opts, file_screen(
        _screen(num), opts, path, "columns 'Recording resolution width/height [px]'"))
    s = _samples(df, num, cols, lines, eye, stem(path), path)
    media = bool(cols["media"]) and s["image"].is_not_null().any()
    if not media:
        s = no_media(s, rect, stem(path))
    filt = df[cols["filter"]].drop_nulls() if cols["filter"] else pl.Series([], dtype=pl.String)
    return finish(res, s, opts, media=media, screen=screen,
                  filter_name=filt[0] if filt.len() else None)


def _gaze_rows(res: FileResult, df: pl.DataFrame, lines: np.ndarray,
               cols: dict[str, str | None]) -> tuple[pl.DataFrame, np.ndarray]:
    """The eye tracker's rows; event and other sensors' rows counted in the notes."""
    def text(key: str) -> pl.Series:
        return df[cols[key]].fill_null("").str.strip_chars()

    event = text("event") != "" if cols["event"] else pl.Series([False] * df.height)
    if cols["sensor"]:
        gaze = text("sensor") == "Eye Tracker"
        other = ~gaze & (text("sensor") != "")
        if int(other.sum()):
            res.notes["other_sensor_rows"] = int(other.sum())
    else:
        gaze = ~event
    if int(event.sum()):
        res.notes["event_rows"] = int(event.sum())
    return df.filter(gaze), lines[gaze.to_numpy()]


def _screen(num: pl.DataFrame) -> tuple[float, float] | None:
    """The export's recording resolution, if it has one."""
    w, h = num["sw"].drop_nans(), num["sh"].drop_nans()
    return (float(w[0]), float(h[0])) if w.len() and h.len() else None


def _samples(df: pl.DataFrame, num: pl.DataFrame, cols: dict, lines: np.ndarray, eye: str,
             name: str, path: str) -> pl.DataFrame:
    """The sample frame of :mod:`gazeprep.read.tobii._common` from the parsed columns."""
    n = df.height

    def valid(key: str) -> np.ndarray:
        c = cols[key]
        return np.ones(n, bool) if c is None else (df[c].fill_null("") == "Valid").to_numpy()

    def arr(*keys: str) -> np.ndarray:
        return np.column_stack([num[k].to_numpy() for k in keys])

    lv, rv = valid("vl"), valid("vr")
    if cols["lx"] or cols["rx"]:
        xy = average_eyes(arr("lx", "ly"), arr("rx", "ry"), lv, rv, eye)
    else:
        xy = arr("ax", "ay")
    pupil = num["pf"].to_numpy() if cols["pf"] else average_eyes(
        arr("pl"), arr("pr"), lv, rv, eye)[:, 0]
    out = pl.DataFrame({"line": lines, "t": num["time"], "x": xy[:, 0], "y": xy[:, 1],
                        "pupil": pupil})
    recs = df[cols["recording"]] if cols["recording"] else None
    several = recs is not None and recs.drop_nulls().n_unique() > 1
    media = df[cols["media"]].str.strip_chars() if cols["media"] else None
    out = out.with_columns(
        (recs.fill_null(name) if several else pl.lit(name)).alias("session"),
        (image_ids(media, lines, path) if media is not None
         else pl.lit(None, pl.String)).alias("image"),
        *(num[k] for k in ("mx", "my", "mw", "mh", "iw", "ih", "index", "fx", "fy", "fdur")),
        (df[cols["kind"]] if cols["kind"] else pl.lit(None, pl.String)).alias("kind"))
    if all(cols[f"{e}e{a}"] for e in "lr" for a in "xyz") and all(
            cols[f"{e}g{a}"] for e in "lr" for a in "xy"):
        eyes = average_eyes(arr("lex", "ley", "lez"), arr("rex", "rey", "rez"), lv, rv, eye)
        gaze = average_eyes(arr("lgx", "lgy"), arr("rgx", "rgy"), lv, rv, eye)
        out = out.with_columns(*(pl.Series(k, v) for k, v in zip(
            MM_COLUMNS, (*eyes.T, *gaze.T, np.zeros(n)), strict=True)))
    return out
