"""Reader for Tobii Pro Lab "Data export" TSV files (``--format tobii-prolab``).

Tab-separated, one header row, units in brackets (``Recording timestamp [ms]``, ``[μs]``,
``[us]``), numbers with a decimal point or comma. Rows are samples of the eye tracker
(``Sensor`` ``Eye Tracker``, or no ``Sensor`` column) interleaved with event rows (``Event``
non-empty) and rows of other sensors; only the eye tracker's rows are read.

Fixations are Tobii's own, as its fixation filter labelled the samples: consecutive rows with
``Eye movement type`` ``Fixation`` and one ``Eye movement type index`` are one fixation, at
``Fixation point X/Y [DACS px]`` (screen pixels), lasting ``Gaze event duration [ms]``,
starting at its first row's ``Recording timestamp``. ``ingest.json`` notes ``detector:
tracker``. An export without those columns holds samples only: re-export it with Pro Lab's
fixation filter (reading samples with our I-VT is not implemented for this format yet).

The image: ``Presented Media name`` (its file stem is the id) lying at ``Presented Media
position X/Y [DACS px]`` with size ``Presented Media width/height [px]``; a fixation on no
media is dropped as ``no_media``. Without media columns, the image is the screen
(``--screen-px``, ``Recording resolution width/height [px]`` when exported) or
``--image-rect``. Each run of rows on one media is one viewing (trial ``1``, ``2``... in file
order), its onsets counted from the viewing's first row.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.read.delimited import check_unique
from gazeprep.read.result import FileResult, image_id
from gazeprep.read.vendor import (
    candidates,
    check_order,
    finish,
    numbers,
    read_rows,
    screen_rect,
    shown_size,
    vendor_fixations,
)

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

#: Canonical key -> the column's name without its unit.
NAMES = {"time": "Recording timestamp", "type": "Eye movement type",
         "index": "Eye movement type index", "duration": "Gaze event duration",
         "fx": "Fixation point X", "fy": "Fixation point Y",
         "media": "Presented Media name", "mx": "Presented Media position X",
         "my": "Presented Media position Y", "mw": "Presented Media width",
         "mh": "Presented Media height", "sensor": "Sensor",
         "res_w": "Recording resolution width", "res_h": "Recording resolution height",
         "pupil_l": "Pupil diameter left", "pupil_r": "Pupil diameter right", "event": "Event"}
NUMERIC = ("time", "index", "duration", "fx", "fy", "mx", "my", "mw", "mh", "res_w", "res_h",
           "pupil_l", "pupil_r")
#: Microseconds, whichever way the export spells them.
_MICRO = ("μs", "µs", "us")
_UNIT = re.compile(r"^(?P<name>.*?)\s*(\[(?P<unit>[^\]]*)\])?\s*$")


def _split(header: str) -> tuple[str, str | None]:
    m = _UNIT.match(header.strip())
    return m.group("name").strip(), m.group("unit")


def sniff(probe: Probe) -> bool:
    """A header with ``Recording timestamp [...]`` and ``Eye movement type`` or gaze points."""
    names = {_split(h)[0].lower() for h in probe.header}
    return "recording timestamp" in names and bool(
        names & {"eye movement type", "gaze point x", "fixation point x"})


def _columns(header: list[str], path: str) -> tuple[dict[str, str], float]:
    """Canonical key -> column, and the factor that turns the timestamp into ms."""
    by = {}
    for h in header:
        name, _unit = _split(h)
        by.setdefault(name.lower(), h)
    cols = {k: by[n.lower()] for k, n in NAMES.items() if n.lower() in by}
    missing = [NAMES[k] for k in ("time", "type", "index", "duration", "fx", "fy")
               if k not in cols]
    if missing:
        why = ("it holds samples only: export it with a fixation filter (Eye movement type), "
               "or" if "type" not in cols else "expected")
        raise GazeprepError(f"Tobii Pro Lab export lacks column(s) {', '.join(missing)}; {why} "
                            "the columns Eye movement type, Eye movement type index, Gaze event "
                            "duration, Fixation point X/Y", file=path, line=1)
    unit = _split(cols["time"])[1] or "ms"
    if unit not in ("ms", *_MICRO):
        raise GazeprepError(f"Recording timestamp in [{unit}]; expected [ms] or [μs]",
                            file=path, line=1)
    return cols, (0.001 if unit in _MICRO else 1.0)


def read(path: str, opts: IngestOptions) -> FileResult:
    """Read a Pro Lab data export: Tobii's fixations, placed on their media (module notes).

    Raises
    ------
    GazeprepError
        A missing column, text where a number must be, a timestamp going backwards.
    """
    res = FileResult(path=str(path), format="tobii-prolab")
    table = read_rows(str(path), "Tobii Pro Lab export")
    res.notes.update(table.notes)
    cols, to_ms = _columns(table.header, res.path)
    check_unique(table.header, cols.values(), res.path)
    df = table.df
    # event rows and other sensors' rows are not the eye tracker's samples
    keep = pl.Series([True] * df.height)
    if "sensor" in cols:
        sensor = df[cols["sensor"]].fill_null("").str.strip_chars()
        keep = keep & ((sensor == "Eye Tracker") | (sensor == ""))
    if "event" in cols:
        keep = keep & (df[cols["event"]].fill_null("").str.strip_chars() == "")
    df, lines = df.filter(keep), table.lines[keep.to_numpy()]
    v = numbers(df, {k: c for k, c in cols.items() if k in NUMERIC}, lines, res.path,
                required=("time",))
    check_order(v["time"].to_numpy(), v["line"].to_numpy(), res.path, cols["time"])
    media = (df[cols["media"]].fill_null("").str.strip_chars() if "media" in cols
             else pl.Series([""] * df.height))
    kind = df[cols["type"]].fill_null("").str.strip_chars()
    v = v.with_columns(pl.Series("media", media), pl.Series("kind", kind),
                       (pl.col("time") * to_ms).alias("t_ms"))
    v = v.with_columns((pl.col("media") != pl.col("media").shift(1)).fill_null(True).cum_sum()
                       .alias("_seg"))
    v = v.with_columns(pl.col("t_ms").first().over("_seg").alias("seg_t0"))
    res.n_samples = v.height
    vendor_fixations(res, opts, "Tobii Pro Lab's fixations (Eye movement type)",
                     "re-export the recording's samples for our detectors")
    fix = v.filter(pl.col("kind") == "Fixation").group_by(
        "_seg", "index", maintain_order=True).agg(pl.all().first())
    return finish(res, _place(res, fix, "media" in cols and "mw" in cols, opts), opts)


def _place(res: FileResult, f: pl.DataFrame, on_media: bool,
           opts: IngestOptions) -> pl.DataFrame:
    """Candidates in 0-1 of their media (or of the screen's image rectangle)."""
    stem = Path(res.path).stem
    fx, fy = f["fx"].to_numpy(), f["fy"].to_numpy()
    drop = np.full(f.height, None, dtype=object)
    if on_media:
        names = [image_id(m) if m else "" for m in f["media"].to_list()]
        drop[np.array([not n for n in names], dtype=bool)] = "no_media"
        rect = np.stack([f[k].fill_null(np.nan).to_numpy() for k in ("mx", "my", "mw", "mh")])
        x, y = (fx - rect[0]) / rect[2], (fy - rect[1]) / rect[3]
        sizes = {}
        for n, w, h in zip(names, rect[2], rect[3], strict=True):
            if n and n not in sizes and np.isfinite(w) and np.isfinite(h):
                sizes[n] = shown_size(res, n, (0, 0, w, h), opts, [])
    else:
        first = f.select("res_w", "res_h").row(0) if {"res_w", "res_h"} <= set(f.columns) \
            and f.height else (None, None)
        screen = first if None not in first and not np.isnan(first).any() else None
        _, rect = screen_rect(res, opts, screen)
        names = [stem] * f.height
        sizes = {stem: shown_size(res, stem, rect, opts, [])}
        x, y = (fx - rect[0]) / rect[2], (fy - rect[1]) / rect[3]
    pupil = None
    if "pupil_l" in f.columns or "pupil_r" in f.columns:
        pupil = f.select(pl.mean_horizontal(*[c for c in ("pupil_l", "pupil_r")
                                              if c in f.columns])).to_series()
    size = [sizes.get(n) or (None, None) for n in names]
    return candidates(
        image=names, session=stem, trial=f["_seg"].cast(pl.String), eye="", x=x, y=y,
        onset_ms=(f["t_ms"] - f["seg_t0"]).to_numpy(), duration_ms=f["duration"].to_numpy(),
        pupil=pupil, width=[s[0] for s in size], height=[s[1] for s in size],
        order=f["t_ms"].to_numpy(), line=f["line"], drop=drop.tolist(), detail=None)
