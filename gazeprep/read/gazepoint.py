"""Reader for Gazepoint GP3 CSV exports (``--format gazepoint``), EGD-CXR's included.

One row per sample: ``TIME`` (s; Gazepoint Analysis writes ``TIME(<date>)``, EGD-CXR
``TIME (in secs)``) or ``TIMETICK`` (10 MHz ticks), and the fixation *as it grows*:
``FPOGX, FPOGY`` (screen, 0-1), ``FPOGS`` (its start, s), ``FPOGD`` (its duration so far, s),
``FPOGID`` (its number) and ``FPOGV`` (1 = valid). One fixation = one ``FPOGID`` (within one
image): the first ``FPOGS`` and the largest ``FPOGD`` of its valid rows, the position of the
row with that largest duration (Gazepoint updates the position as the fixation grows). An
``FPOGID`` without a valid row is dropped as ``invalid``. These are Gazepoint's own fixations
(``ingest.json`` notes ``detector: tracker``).

The image: ``DICOM_ID`` (EGD-CXR), else ``MEDIA_NAME`` (Gazepoint Analysis), else the file stem;
the session ``SESSION_ID`` (EGD-CXR), else the file stem. Each run of rows on one image is one
viewing (trial ``1``, ``2``... in file order), onsets counted from its first row's ``TIME``.

Coordinates: EGD-CXR's ``X_ORIGINAL, Y_ORIGINAL`` are pixels of the original image: divided by
its size, from ``--images`` (an image ``--images`` lacks is an error naming it; ``--lenient``
drops its fixations as ``unknown_image_size``). Otherwise ``FPOG`` is a fraction of the screen
(``--screen-px``, default 1920 x 1080) and the image lies at ``--image-rect`` (default: the
whole screen), as for EyeLink samples.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.read.delimited import check_unique
from gazeprep.read.result import FileResult, images_lookup
from gazeprep.read.vendor import (
    candidates,
    check_order,
    finish,
    image_name,
    numbers,
    read_rows,
    screen_rect,
    shown_size,
    vendor_fixations,
)

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

REQUIRED = ("FPOGX", "FPOGY", "FPOGS", "FPOGD", "FPOGID", "FPOGV")
_TIME = re.compile(r"^TIME(\s*\(.*\))?$", re.IGNORECASE)
_TICK = re.compile(r"^TIMETICK(\s*\(.*\))?$", re.IGNORECASE)


def sniff(probe: Probe) -> bool:
    """A header with ``FPOGX`` and ``FPOGID``."""
    up = {h.strip().upper() for h in probe.header}
    return {"FPOGX", "FPOGID"} <= up


def _columns(header: list[str], path: str) -> dict[str, str]:
    """Canonical key -> the file's column name (required ones checked)."""
    by = {h.strip().upper(): h for h in header}
    missing = [c for c in REQUIRED if c not in by]
    time = next((h for h in header if _TIME.match(h.strip())), None)
    tick = next((h for h in header if _TICK.match(h.strip())), None)
    if missing or not (time or tick):
        need = missing + ([] if time or tick else ["TIME or TIMETICK"])
        raise GazeprepError(f"Gazepoint CSV lacks column(s) {', '.join(need)}; expected "
                            f"{', '.join(REQUIRED)} and TIME (s) or TIMETICK; found {header}",
                            file=path, line=1)
    cols = {k.lower(): by[k] for k in REQUIRED}
    cols["time"] = time or tick
    for key in ("X_ORIGINAL", "Y_ORIGINAL", "LPMM", "RPMM"):
        if key in by:
            cols[key.lower()] = by[key]
    return cols


def read(path: str, opts: IngestOptions) -> FileResult:
    """Read a Gazepoint CSV: one fixation per ``FPOGID`` (see the module notes).

    Raises
    ------
    GazeprepError
        A missing column, text where a number must be, ``TIME`` going backwards, original-image
        pixels of an image whose size is unknown.
    """
    res = FileResult(path=str(path), format="gazepoint")
    table = read_rows(str(path), "Gazepoint CSV")
    res.notes.update(table.notes)
    cols = _columns(table.header, res.path)
    check_unique(table.header, cols.values(), res.path)
    df = table.df
    v = numbers(df, cols, table.lines, res.path,
                required=("time", "fpogid", "fpogv", "fpogs", "fpogd"))
    _check_whole(v, "fpogid", cols["fpogid"], res.path)
    tick = bool(_TICK.match(cols["time"].strip()))
    by = {h.strip().upper(): h for h in table.header}
    stem = Path(path).stem
    img_col = by.get("DICOM_ID") or by.get("MEDIA_NAME")
    image = pl.lit(stem)
    if img_col:
        first = df.select(pl.col(img_col), pl.Series("line", table.lines)).unique(
            img_col, keep="first", maintain_order=True)
        names = first[img_col].to_list()
        image = pl.Series(df[img_col]).replace_strict(names, [
            image_name(n, res.path, line, img_col) for n, line in first.iter_rows()],
            return_dtype=pl.String)
    session = df[by["SESSION_ID"]].str.strip_chars() if "SESSION_ID" in by else pl.lit(stem)
    v = v.with_columns(image.fill_null("").alias("image"), session.fill_null(stem)
                       .alias("session"),
                       # TIMETICK runs on another clock than FPOGS: then onsets count from
                       # the FPOGS of the viewing's first row.
                       (pl.col("fpogs") if tick else pl.col("time")).mul(1000.0).alias("t_ms"))
    v = v.with_columns(((pl.col("image") != pl.col("image").shift(1)) | (
        pl.col("session") != pl.col("session").shift(1))).fill_null(True).cum_sum()
        .alias("_seg"))
    # EGD-CXR's clock restarts with each session and image: times only grow within one.
    check_order(v["time"].to_numpy(), v["line"].to_numpy(), res.path, cols["time"],
                v["_seg"].to_numpy())
    fix = _fixations(v)
    res.n_samples = df.height
    vendor_fixations(res, opts, "Gazepoint's fixations (one per FPOGID)",
                     "only Gazepoint's own fixations are read from its CSV")
    return finish(res, _place(res, fix, "x_original" in cols, opts), opts,
                  {"duration_ms": "column FPOGD", "onset_ms": "column FPOGS",
                   "pupil": "columns LPMM, RPMM"})


def _check_whole(v: pl.DataFrame, key: str, column: str, path: str) -> None:
    """Refuse a fixation number that is not a whole number (it would split one fixation).

    Raises
    ------
    GazeprepError
        Naming the first such row's line and the column.
    """
    bad = (v[key] != v[key].round()).fill_null(False).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GazeprepError(f"column {column!r} is {v[key][i]!r}; expected a whole number "
                            "(the fixation's number)", file=path, line=int(v["line"][i]))


def _fixations(v: pl.DataFrame) -> pl.DataFrame:
    """One row per (viewing, FPOGID): start (s), duration (s), position, pupil, first line."""
    valid = pl.col("fpogv") == 1
    at_max = {k: pl.col(k).filter(valid).sort_by(pl.col("fpogd").filter(valid)).last()
              for k in ("fpogx", "fpogy", "x_original", "y_original") if k in v.columns}
    pupil = [pl.mean_horizontal(*[c for c in ("lpmm", "rpmm") if c in v.columns])
             .filter(valid).mean().alias("pupil")] if "lpmm" in v.columns else []
    return v.group_by("_seg", "fpogid", maintain_order=True).agg(
        pl.col("line").first(), pl.col("image").first(), pl.col("session").first(),
        pl.col("t_ms").first().alias("seg_t0"), valid.sum().alias("n_valid"),
        pl.col("fpogs").filter(valid).first().alias("start"),
        pl.col("fpogd").filter(valid).max().alias("duration"),
        *[e.alias(k) for k, e in at_max.items()], *pupil,
    ).with_columns(pl.col("seg_t0").min().over("_seg"))


def _place(res: FileResult, f: pl.DataFrame, original: bool,
           opts: IngestOptions) -> pl.DataFrame:
    """Candidates in 0-1 of their image: original-image pixels or the screen fraction."""
    names = f["image"].to_list()
    drop = np.where(f["n_valid"].to_numpy() == 0, "invalid", None).astype(object)
    detail = [None] * f.height
    if original:
        sizes = {}
        for name in dict.fromkeys(names):
            size, problems = images_lookup(opts, name)
            sizes[name] = size
            res.image(name, size, "--images file" if size else "unknown", problems)
        _no_size(res, f, sizes, opts)
        w = np.array([sizes[n][0] if sizes[n] else np.nan for n in names], np.float64)
        h = np.array([sizes[n][1] if sizes[n] else np.nan for n in names], np.float64)
        x, y = f["x_original"].to_numpy() / w, f["y_original"].to_numpy() / h
        for i in np.flatnonzero(np.isnan(w) & (drop == None)).tolist():  # noqa: E711
            drop[i], detail[i] = "unknown_image_size", f"no size for image {names[i]}"
    else:
        screen, rect = screen_rect(res, opts, note_whole_screen=True)
        sizes = {n: shown_size(res, n, rect, opts, []) for n in dict.fromkeys(names)}
        x = (f["fpogx"].to_numpy() * screen[0] - rect[0]) / rect[2]
        y = (f["fpogy"].to_numpy() * screen[1] - rect[1]) / rect[3]
    start = f["start"].fill_null(np.nan).to_numpy() * 1000.0
    return candidates(
        image=names, session=f["session"], trial=f["_seg"].cast(pl.String), eye="",
        x=x, y=y, onset_ms=start - f["seg_t0"].to_numpy(),
        duration_ms=f["duration"].fill_null(np.nan).to_numpy() * 1000.0,
        pupil=f["pupil"] if "pupil" in f.columns else None,
        width=[(sizes[n] or (None, None))[0] for n in names],
        height=[(sizes[n] or (None, None))[1] for n in names],
        order=start, line=f["line"], drop=drop.tolist(), detail=detail)


def _no_size(res: FileResult, f: pl.DataFrame, sizes: dict, opts: IngestOptions) -> None:
    """Original-image pixels need the image's size: an error unless ``--lenient``."""
    missing = [n for n, s in sizes.items() if s is None]
    if missing and not opts.lenient:
        line = int(f.filter(pl.col("image") == missing[0])["line"][0])
        raise GazeprepError(
            f"X_ORIGINAL/Y_ORIGINAL are pixels of image {missing[0]!r}, whose size is unknown; "
            "expected --images DIR holding it (e.g. its DICOM)", file=res.path, line=line)
