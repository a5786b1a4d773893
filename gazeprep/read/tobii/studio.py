"""Reader for Tobii Studio exports (``--format tobii-studio``): the 3.x TSV and the older
("V2-style") split exports.

**Studio 3.x TSV**: one header row (a UTF-8 byte-order mark may precede it) with units in
parentheses: ``RecordingTimestamp`` (ms; ``EyeTrackerTimestamp`` in μs is preferred when
present), ``GazePointLeftX (ADCSpx)`` ... with ``ValidityLeft/Right`` (0 = certain .. 4 =
lost; 0 and 1 are valid), ``GazePointX (ADCSpx)`` (their average), ``PupilLeft/Right``,
``MediaName``, ``MediaPosX (ADCSpx)``, ``MediaPosY (ADCSpx)``, ``MediaWidth``, ``MediaHeight``,
``RecordingResolution`` (``1920 x 1080``), ``GazeEventType``, ``GazeEventDuration``,
``FixationIndex``, ``FixationPointX (MCSpx)`` (media pixels) and ``FixationFilter``. Rows that
carry a ``StudioEvent`` and no gaze are event rows (counted).

**Split exports** (a block of ``Key:<tab>value`` lines, then the table):

- ``*-Fixation-Data.tsv``: Tobii's fixations themselves (``FixationIndex, Timestamp,
  FixationDuration, MappedFixationPointX/Y``), on the screen (``Screen resolution`` of the
  block; ``--image-rect`` for where an image lay);
- ``*-All-Data.tsv``: samples (``Timestamp``, ``MicroSecondTimestamp``, ``GazePointXLeft`` ...,
  ``FixationIndex`` per sample, ``StimuliName`` and ``Media*`` columns, ``MappedFixationPointX``
  in media pixels); rows with an ``Event`` and no sample ``Number`` are event rows;
- ``*-Event-Data.tsv``: events only (clicks, log messages): no gaze, no fixation.

A folder holding ``P-Fixation-Data.tsv`` beside ``P-All-Data.tsv`` / ``P-Event-Data.tsv`` is
read once: :func:`gazeprep.read.find_inputs` keeps the Fixation-Data file (the fixations
Tobii's filter made) and skips the others, saying so; name the All-Data file to run our
detector on its samples instead. The session of a split export is its file name's prefix
(``P61``).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.read.delimited import check_unique
from gazeprep.read.result import FileResult
from gazeprep.read.tobii._common import (
    FIXATION,
    MEMORY_PER_BYTE,
    average_eyes,
    check_eye,
    file_screen,
    finish,
    keep,
    load_detector_first,
    no_media,
)
from gazeprep.read.tobii._numbers import (
    UNIT_MS,
    find,
    image_ids,
    to_numbers,
)
from gazeprep.read.vendor import check_order, read_rows, screen_rect

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

#: Suffixes of the split exports, and the file of a set that a folder walk keeps.
SPLIT = ("-All-Data", "-Fixation-Data", "-Event-Data")
KEPT = "-Fixation-Data"
#: key -> candidate column names (3.x first, then the split exports').
NAMES = {
    "time_us": ("EyeTrackerTimestamp", "MicroSecondTimestamp"),
    "time_ms": ("RecordingTimestamp", "Timestamp"),
    "lx": ("GazePointLeftX", "GazePointXLeft"), "ly": ("GazePointLeftY", "GazePointYLeft"),
    "rx": ("GazePointRightX", "GazePointXRight"), "ry": ("GazePointRightY", "GazePointYRight"),
    "ax": ("GazePointX",), "ay": ("GazePointY",),
    "vl": ("ValidityLeft",), "vr": ("ValidityRight",),
    "pl": ("PupilLeft",), "pr": ("PupilRight",),
    "mx": ("MediaPosX",), "my": ("MediaPosY",), "mw": ("MediaWidth",), "mh": ("MediaHeight",),
    "index": ("FixationIndex",), "fdur": ("GazeEventDuration", "FixationDuration"),
    "fx": ("FixationPointX", "MappedFixationPointX"),
    "fy": ("FixationPointY", "MappedFixationPointY"),
}
TEXT = {"media": ("MediaName", "StimuliName"), "kind": ("GazeEventType",),
        "event": ("StudioEvent", "Event"), "number": ("Number",),
        "recording": ("RecordingName",), "resolution": ("RecordingResolution",),
        "filter": ("FixationFilter",)}


def _header_line(text: str) -> int:
    """0-based line of the table's header: the first line with a ``Timestamp``-like field."""
    for i, ln in enumerate(text.splitlines()[:200]):
        fields = [f.strip() for f in ln.split("\t")]
        if len(fields) > 2 and any(f in ("Timestamp", "RecordingTimestamp") for f in fields):
            return i
    return -1


def sniff(probe: Probe) -> bool:
    """Whether the file is a Studio 3.x TSV or a split export (``Key:`` block, then a table)."""
    if find(probe.header, "RecordingTimestamp") and find(probe.header, "GazePointX") or (
            find(probe.header, "RecordingTimestamp") and find(probe.header, "FixationIndex")):
        return True
    first = probe.first_line.strip()
    return first.endswith(":") and _header_line(probe.text) > 0


def _split(f: Path) -> tuple[Path, str, str] | None:
    """(folder, recording, suffix) of a split export's file name, else None."""
    for suffix in SPLIT:
        if f.suffix.lower() == ".tsv" and f.stem.lower().endswith(suffix.lower()):
            return f.parent, f.stem[: -len(suffix)], suffix
    return None


def companions(files: list[Path]) -> dict[Path, str]:
    """The ``P-All-Data.tsv`` and ``P-Event-Data.tsv`` of a split export whose
    ``P-Fixation-Data.tsv`` lies in the same folder, with the reason they are skipped: the
    fixations are read once, from Tobii's own fixation file."""
    kept = {(s[0], s[1]) for f in files if (s := _split(f)) and s[2] == KEPT}
    return {f: f"the fixations of {s[1]} are read from {s[1]}{KEPT}.tsv beside it; name the "
               "file itself to read it" for f in files
            if (s := _split(f)) and s[2] != KEPT and (s[0], s[1]) in kept}


def _col(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((c for n in names if (c := find(header, n))), None)


def read(path: str, opts: IngestOptions):
    """Read one Studio export (see the module notes).

    Returns
    -------
    FileResult
        Tobii's fixations (a Fixation-Data file; samples with ``GazeEventType`` /
        ``FixationIndex`` and ``--detector auto|tracker``); none for an Event-Data file.
    TobiiRecording
        The samples, for I-VT / I-DT.

    Raises
    ------
    GazeprepError
        No table header, missing time or gaze columns, text in numeric fields, mixed decimal
        separators, a truncated last row, time going backwards.
    """
    res = FileResult(path=str(path), format="tobii-studio")
    eye = check_eye(opts, path)
    load_detector_first(str(path), opts)
    with open(path, "rb") as fh:
        head = fh.read(65536).decode("utf-8", "replace").lstrip("\ufeff")
    skip = _header_line(head) if head.lstrip().split("\n", 1)[0].strip().endswith(":") else 0
    if skip < 0:
        raise GazeprepError("Tobii Studio export without a table: no header line with a "
                            "'Timestamp' field in the first 200 lines; expected a 'Key: value' "
                            "block, then the table", file=path)
    cols: dict[str, str | None] = {}

    def pick(header: list[str]) -> list[str]:
        cols.update({k: _col(header, n) for k, n in (NAMES | TEXT).items()})
        used = [c for c in dict.fromkeys(cols.values()) if c]
        check_unique(header, used, str(path), skip + 1)
        return used

    table = read_rows(str(path), "Tobii Studio export", res if opts.lenient else None,
                      skip_lines=skip, pick=pick, memory_per_byte=MEMORY_PER_BYTE)
    res.notes.update(table.notes)
    df, lines = table.df, table.lines
    meta = _meta(table.preamble)
    name = re.sub("(" + "|".join(SPLIT) + ")$", "", Path(path).stem, flags=re.I)
    if cols["time_ms"] is None:
        raise GazeprepError("Tobii Studio export lacks a time column; expected "
                            "'RecordingTimestamp' (3.x) or 'Timestamp'", file=path,
                            line=skip + 1)
    numeric = {k: cols[k] for k in NAMES}
    num = to_numbers(df, numeric, lines, str(path))
    screen, rect = screen_rect(res, opts, file_screen(
        _screen(df, cols, meta), opts, str(path),
        "RecordingResolution (or the block's resolution)"))
    if not (cols["lx"] or cols["rx"] or cols["ax"] or cols["kind"]):
        if cols["fx"] and cols["fdur"] and cols["index"]:
            return _fixation_data(res, num, lines, opts, name, rect,
                                  meta.get("Fixation filter"))
        if cols["event"]:
            res.notes["event_rows"] = df.height
            res.notes["fixations_from"] = "none: an event export holds no gaze"
            return keep(res, None, opts, False, Counter())
        raise GazeprepError("Tobii Studio export lacks gaze columns; expected "
                            "'GazePointX (ADCSpx)' or the eyes' 'GazePointLeftX'",
                            file=path, line=skip + 1)
    gaze = _gaze_rows(res, df, cols)
    df, num, lines = df.filter(gaze), num.filter(gaze), lines[gaze.to_numpy()]
    s = _samples(df, num, cols, lines, eye, name, str(path))
    media = bool(cols["media"]) and s["image"].is_not_null().any()
    if not media:
        s = no_media(s, rect, name)
    filt = cols["filter"] and df[cols["filter"]].drop_nulls()
    return finish(res, s, opts, media=media, screen=screen,
                  filter_name=filt[0] if filt is not None and filt.len() else
                  meta.get("Fixation filter"))


def _meta(preamble: str) -> dict[str, str]:
    """The ``Key:<tab>value`` (or ``Key: value``) lines of a split export's block."""
    out = {}
    for ln in preamble.splitlines():
        key, sep, value = ln.partition(":")
        if sep and value.strip():
            out.setdefault(key.strip(), value.strip())
    return out


def _resolution(text: str | None) -> tuple[float, float] | None:
    m = re.match(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$", text or "")
    return (float(m.group(1)), float(m.group(2))) if m else None


def _screen(df: pl.DataFrame, cols: dict, meta: dict) -> tuple[float, float] | None:
    """The export's ``RecordingResolution`` or its block's resolution, if it has one."""
    values = df[cols["resolution"]].drop_nulls() if cols["resolution"] else []
    return _resolution(values[0] if len(values) else meta.get(
        "Recording resolution", meta.get("Screen resolution")))


def _gaze_rows(res: FileResult, df: pl.DataFrame, cols: dict) -> pl.Series:
    """Rows with a sample: not an event row (an event and no sample number / no gaze)."""
    if not cols["event"]:
        return pl.Series([True] * df.height)
    event = df[cols["event"]].fill_null("").str.strip_chars() != ""
    probe = (cols["number"] or cols["vl"] or cols["vr"] or cols["ax"] or cols["lx"]
             or cols["kind"])
    is_event = event & (df[probe].fill_null("").str.strip_chars() == "")
    if int(event.sum()):
        res.notes["event_rows"] = int(event.sum())
    return ~is_event


def _samples(df: pl.DataFrame, num: pl.DataFrame, cols: dict, lines: np.ndarray, eye: str,
             name: str, path: str) -> pl.DataFrame:
    """The sample frame of :mod:`gazeprep.read.tobii._common`."""
    def valid(key: str) -> np.ndarray:
        v = num[key].to_numpy()
        return np.ones(df.height, bool) if cols[key] is None else np.isfinite(v) & (v <= 1)

    def arr(*keys: str) -> np.ndarray:
        return np.column_stack([num[k].to_numpy() for k in keys])

    lv, rv = valid("vl"), valid("vr")
    xy = (average_eyes(arr("lx", "ly"), arr("rx", "ry"), lv, rv, eye) if cols["lx"]
          else arr("ax", "ay"))
    pupil = average_eyes(arr("pl"), arr("pr"), lv, rv, eye)[:, 0]
    t = (num["time_us"] * UNIT_MS["us"] if cols["time_us"] else num["time_ms"])
    labelled = cols["kind"] is not None
    kind = (df[cols["kind"]] if labelled else pl.when(num["index"].is_finite()).then(
        pl.lit(FIXATION)).otherwise(None))
    recs = df[cols["recording"]] if cols["recording"] else None
    several = recs is not None and recs.drop_nulls().n_unique() > 1
    media = df[cols["media"]].str.strip_chars() if cols["media"] else None
    out = pl.DataFrame({"line": lines, "t": t, "x": xy[:, 0], "y": xy[:, 1], "pupil": pupil})
    return out.with_columns(
        (recs.fill_null(name) if several else pl.lit(name)).alias("session"),
        (image_ids(media, lines, path) if media is not None
         else pl.lit(None, pl.String)).alias("image"),
        # No MediaPosX/Y: the media's own pixels (MCSpx) are the only frame; place from 0.
        *(num[k].fill_nan(0.0) if cols[k] is None else num[k] for k in ("mx", "my")),
        *(num[k] for k in ("mw", "mh", "index", "fdur")),
        pl.lit(float("nan")).alias("iw"), pl.lit(float("nan")).alias("ih"),
        # Fixation points are in media pixels (MCSpx, "Mapped"): on screen from the media's
        # position (0 without media columns: the screen is the media).
        (num["fx"] + num["mx"].fill_nan(0.0)).alias("fx"),
        (num["fy"] + num["my"].fill_nan(0.0)).alias("fy"),
        pl.Series("kind", kind) if labelled else kind.alias("kind"))


def _fixation_data(res: FileResult, num: pl.DataFrame, lines: np.ndarray, opts: IngestOptions,
                   name: str, rect: tuple[float, float, float, float], filt: str | None
                   ) -> FileResult:
    """A ``*-Fixation-Data.tsv``: one row per Tobii fixation, on the screen."""
    if opts.detector in ("ivt", "idt"):
        raise GazeprepError(f"a Fixation-Data export holds no samples for --detector "
                            f"{opts.detector}; expected --detector auto|tracker (or read the "
                            "matching *-All-Data.tsv)", file=res.path)
    res.notes["detector"] = "tracker"
    res.notes["fixations_from"] = f"Tobii: {filt or 'fixation filter'} (Fixation-Data export)"
    check_order(num["time_ms"].to_numpy(), lines, res.path, "Timestamp")
    ok = num["index"].is_finite() & num["time_ms"].is_finite()
    start = num["time_ms"].filter(ok)
    cand = pl.DataFrame({
        "session": name, "trial": None, "image": name, "line": lines[ok.to_numpy()],
        "start": start, "onset": start - (start[0] if start.len() else 0.0),
        "duration": num["fdur"].filter(ok), "sx": num["fx"].filter(ok),
        "sy": num["fy"].filter(ok), "pupil": float("nan"),
        **{k: v for k, v in zip(("mx", "my", "mw", "mh"), rect, strict=True)},
        "iw": float("nan"), "ih": float("nan")},
        schema_overrides={"trial": pl.String, "session": pl.String, "image": pl.String})
    return keep(res, cand, opts, False, Counter())
