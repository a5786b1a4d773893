"""Reader for Tobii Studio exports (``--format tobii-studio``): the V2-style fixation export
and the Studio 3.x data export.

- **Fixation export** (``*-Fixation-Data.tsv``): a block of ``Key: value`` lines (recording,
  participant, ``Screen resolution: 1280 x 1024``, the fixation filter), then a table
  ``FixationIndex, Timestamp`` (ms), ``FixationDuration`` (ms), ``MappedFixationPointX/Y``
  (screen px): one fixation a row, Tobii's own.
- **Studio 3.x data export** (one table, a UTF-8 BOM allowed): a row per sample with
  ``RecordingTimestamp`` (ms), ``GazeEventType`` (``Fixation``...), ``FixationIndex``,
  ``GazeEventDuration`` (ms), ``FixationPointX (MCSpx)``/``Y`` (media pixels) and ``MediaName``,
  ``MediaWidth``, ``MediaHeight``: consecutive ``Fixation`` rows of one ``FixationIndex`` are one
  fixation, in the pixels of its media (the image); without media columns the point is a
  screen pixel and ``RecordingResolution`` (``1920 x 1080``) the screen.

In a folder, ``*-All-Data.tsv`` and ``*-Event-Data.tsv`` beside a ``*-Fixation-Data.tsv`` of the
same recording are skipped with the reason (the fixations are in the fixation export; reading
both would count them twice). Screen coordinates become image coordinates as for EyeLink
samples (``--image-rect``, default the whole screen). Fixations are Tobii's (``ingest.json``
notes ``detector: tracker``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.read.result import FileResult, image_id
from gazeprep.read.vendor import (
    candidates,
    check_order,
    finish,
    numbers,
    screen_rect,
    shown_size,
    vendor_fixations,
)

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

FIXATION_EXPORT = ("FixationIndex", "Timestamp", "FixationDuration", "MappedFixationPointX",
                   "MappedFixationPointY")
DATA_EXPORT = ("RecordingTimestamp", "GazeEventType", "FixationIndex", "GazeEventDuration")
_RESOLUTION = re.compile(r"(\d+)\s*x\s*(\d+)")
_SPLIT = re.compile(r"^(?P<stem>.+)-(All|Event|Fixation)-Data$")


def _header_line(lines: list[str]) -> int | None:
    """The index of the table's header among the first lines, or None."""
    for i, line in enumerate(lines):
        fields = {f.strip() for f in line.split("\t")}
        if set(FIXATION_EXPORT) <= fields or set(DATA_EXPORT) <= {
                re.sub(r"\s*\(.*\)$", "", f) for f in fields}:
            return i
    return None


def sniff(probe: Probe) -> bool:
    """A Tobii Studio fixation export (after its ``Key: value`` block) or data export."""
    return _header_line(probe.text.replace("\r", "").split("\n")[:80]) is not None


def companions(files: list[Path]) -> dict[Path, str]:
    """All-Data and Event-Data files beside a Fixation-Data file of the same recording."""
    fixed = {(f.parent, m.group("stem")) for f in files
             if (m := _SPLIT.match(f.stem)) and f.stem.endswith("-Fixation-Data")}
    return {f: f"the fixations of {m.group('stem')} are read from its Fixation-Data export"
            for f in files if (m := _SPLIT.match(f.stem)) and not f.stem.endswith(
                "-Fixation-Data") and (f.parent, m.group("stem")) in fixed}


def read(path: str, opts: IngestOptions) -> FileResult:
    """Read a Tobii Studio fixation or data export (see the module notes).

    Raises
    ------
    GazeprepError
        No table header, a missing column, text where a number must be, time going
        backwards, a file cut short.
    """
    res = FileResult(path=str(path), format="tobii-studio")
    text = Path(path).read_bytes().decode("utf-8-sig", errors="replace").replace("\r", "")
    lines = text.split("\n")
    start = _header_line(lines[:200])
    if start is None:
        raise GazeprepError("no Tobii Studio table; expected a header with "
                            f"{', '.join(FIXATION_EXPORT)} (fixation export) or "
                            f"{', '.join(DATA_EXPORT)} (data export)", file=path)
    meta = dict(_key_value(ln) for ln in lines[:start] if ":" in ln)
    header = [h.strip() for h in lines[start].split("\t")]
    rows = [(i + 1, ln.split("\t")) for i, ln in enumerate(lines[start + 1:], start + 1)
            if ln.strip()]
    for line, fields in rows:
        if len(fields) < len([h for h in header if h]):
            raise GazeprepError(f"row has {len(fields)} fields, the header "
                                f"{len([h for h in header if h])}; expected a value (or an "
                                "empty field) for every column", file=path, line=line)
    df = pl.DataFrame({h: [f[k] if k < len(f) else "" for _, f in rows]
                       for k, h in enumerate(header) if h}, schema={h: pl.String
                                                            for h in header if h})
    numbers_at = np.array([ln for ln, _ in rows], dtype=np.int64)
    res.n_samples = df.height
    vendor_fixations(res, opts, "Tobii Studio's fixations (its fixation filter)",
                     "export the recording's samples for our detectors")
    if set(FIXATION_EXPORT) <= set(header):
        return finish(res, _fixation_export(res, df, numbers_at, meta, opts), opts)
    return finish(res, _data_export(res, df, numbers_at, opts), opts)


def _key_value(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value.strip()


def _screen(value: str | None) -> tuple[float, float] | None:
    m = _RESOLUTION.search(value or "")
    return (float(m.group(1)), float(m.group(2))) if m else None


def _fixation_export(res: FileResult, df: pl.DataFrame, lines: np.ndarray, meta: dict,
                     opts: IngestOptions) -> pl.DataFrame:
    v = numbers(df, {"t": "Timestamp", "d": "FixationDuration", "x": "MappedFixationPointX",
                     "y": "MappedFixationPointY"}, lines, res.path, required=("t", "d"))
    check_order(v["t"].to_numpy(), v["line"].to_numpy(), res.path, "Timestamp")
    screen = _screen(meta.get("Screen resolution") or meta.get("Recording resolution"))
    _, rect = screen_rect(res, opts, screen)
    stem = Path(res.path).stem
    name = stem[: -len("-Fixation-Data")] if stem.endswith("-Fixation-Data") else stem
    size = shown_size(res, name, rect, opts, []) or (None, None)
    t = v["t"].to_numpy()
    return candidates(
        image=name, session=name, trial=None, eye="",
        x=(v["x"].to_numpy() - rect[0]) / rect[2], y=(v["y"].to_numpy() - rect[1]) / rect[3],
        onset_ms=t - (t[0] if len(t) else 0.0), duration_ms=v["d"].to_numpy(), pupil=None,
        width=size[0], height=size[1], order=t, line=v["line"], drop=None, detail=None)


def _data_export(res: FileResult, df: pl.DataFrame, lines: np.ndarray,
                 opts: IngestOptions) -> pl.DataFrame:
    by = {re.sub(r"\s*\(.*\)$", "", h): h for h in df.columns}
    need = ("FixationPointX", "FixationPointY")
    if any(k not in by for k in need):
        raise GazeprepError(f"Tobii Studio data export lacks {', '.join(need)}; expected "
                            "them with GazeEventType and FixationIndex", file=res.path, line=1)
    keys = {"t": "RecordingTimestamp", "i": "FixationIndex", "d": "GazeEventDuration",
            "x": "FixationPointX", "y": "FixationPointY", "mw": "MediaWidth",
            "mh": "MediaHeight"}
    v = numbers(df, {k: by[c] for k, c in keys.items() if c in by}, lines, res.path,
                required=("t",))
    check_order(v["t"].to_numpy(), v["line"].to_numpy(), res.path, by["RecordingTimestamp"])
    media = df[by["MediaName"]].fill_null("") if "MediaName" in by else pl.Series(
        [""] * df.height)
    v = v.with_columns(pl.Series("kind", df[by["GazeEventType"]].fill_null("")),
                       pl.Series("media", media))
    v = v.with_columns((pl.col("media") != pl.col("media").shift(1)).fill_null(True).cum_sum()
                       .alias("_seg")).with_columns(pl.col("t").first().over("_seg").alias("t0"))
    f = v.filter(pl.col("kind") == "Fixation").group_by("_seg", "i", maintain_order=True).agg(
        pl.all().first())
    stem = Path(res.path).stem
    on_media = {"mw", "mh"} <= set(f.columns) and "MediaName" in by
    if on_media:  # FixationPointX (MCSpx): pixels of the media itself
        names = [image_id(m) or stem for m in f["media"].to_list()]
        w, h = f["mw"].to_numpy(), f["mh"].to_numpy()
        x, y = f["x"].to_numpy() / w, f["y"].to_numpy() / h
        sizes = {n: shown_size(res, n, (0, 0, ww, hh), opts, [])
                 for n, ww, hh in zip(names, w, h, strict=True) if np.isfinite(ww * hh)}
    else:
        screen = _screen(df[by["RecordingResolution"]][0] if "RecordingResolution" in by
                         and df.height else None)
        _, rect = screen_rect(res, opts, screen)
        names = [stem] * f.height
        sizes = {stem: shown_size(res, stem, rect, opts, [])}
        x, y = (f["x"].to_numpy() - rect[0]) / rect[2], (f["y"].to_numpy() - rect[1]) / rect[3]
    size = [sizes.get(n) or (None, None) for n in names]
    return candidates(
        image=names, session=stem, trial=f["_seg"].cast(pl.String), eye="", x=x, y=y,
        onset_ms=(f["t"] - f["t0"]).to_numpy(), duration_ms=f["d"].to_numpy(), pupil=None,
        width=[s[0] for s in size], height=[s[1] for s in size], order=f["t"].to_numpy(),
        line=f["line"], drop=None, detail=None)
