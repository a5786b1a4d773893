"""Reader for Data Viewer style fixation reports (one row per fixation, CSV or TSV).

Columns are matched case-insensitively through :data:`ALIASES`, so the EyeLink Data Viewer export
(``CURRENT_FIX_X``, ``CURRENT_FIX_DURATION``, ...), the GazeMedSeg files and shorter dialects
(``X``, ``Y``, ``DURATION``, ``START``, ``images``...) read the same way. Data Viewer writes
``.`` for a missing value.

Coordinates (``--coords``):

- ``normalised``: 0 = left/top, 1 = right/bottom of the image (the GazeMedSeg convention);
- ``pixels``: pixels of the image, or of the screen when ``--image-rect X Y W H`` gives where the
  image was drawn;
- ``auto`` (default): normalised when every x and y lies in [-0.5, 1.5] (no real pixel report
  fits in 2 x 2 pixels), pixels otherwise.

Numbers (limits in :mod:`gazeprep.limits`): a fixation whose x or y is missing (``.``, empty,
``NA``) or NaN has no position and is dropped as ``no_position``, with its line. Everything else
that is not a usable number is an error naming file and line (``--lenient``: the row is dropped
as ``bad_value``): text or +-inf anywhere, NaN in any other column, a negative duration or one
over a day, ``|start|`` beyond 2**53 ms (float64 would merge distinct onsets), an image width or
height that is not a whole number of pixels in 1..1,000,000. Finite positions outside the image
are dropped as ``outside_image``.

A track is one ``(image, session, trial)``: the trial column (``TRIAL_LABEL``, ``TRIAL_INDEX``...)
separates two viewings of one image; without it the trial is null. Track order is
``CURRENT_FIX_INDEX`` when present (gaps allowed, a repeated index within a track is an error),
file order otherwise. ``onset_ms`` is ``CURRENT_FIX_START``; without it the onset is
estimated as the sum of the earlier fixations' durations and the file's report says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.limits import MAX_DURATION_MS, MAX_SIDE_PX, MAX_TIME_MS, rect_problem
from gazeprep.read.delimited import check_unique, read_table
from gazeprep.read.result import (
    LATIN1_NAME,
    NOT_IN_IMAGES,
    TRACK_KEY,
    FileResult,
    conform,
    image_id,
    latin1_names,
)

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

#: Canonical field -> accepted column names (upper case). First match wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "image": ("IMAGE", "IMAGES", "IMAGE_NAME", "IMAGE_FILE", "IMAGEFILE", "STIMULUS", "IMG"),
    "session": ("RECORDING_SESSION_LABEL", "SESSION", "SESSION_LABEL", "SUBJECT", "PARTICIPANT"),
    "trial": ("TRIAL_LABEL", "TRIAL_INDEX", "TRIALID", "TRIAL"),
    "index": ("CURRENT_FIX_INDEX", "INDEX", "FIX_INDEX", "FIXATION_INDEX"),
    "x": ("CURRENT_FIX_X", "X", "FIX_X", "FIXATION_X"),
    "y": ("CURRENT_FIX_Y", "Y", "FIX_Y", "FIXATION_Y"),
    "duration": ("CURRENT_FIX_DURATION", "DURATION", "FIX_DURATION", "DURATION_MS"),
    "start": ("CURRENT_FIX_START", "START", "FIX_START", "ONSET", "ONSET_MS"),
    "pupil": ("CURRENT_FIX_PUPIL", "PUPIL", "FIX_PUPIL"),
    "eye": ("EYE_USED", "CURRENT_FIX_EYE", "EYE"),
    "width": ("IMAGE_WIDTH", "WIDTH", "IMG_WIDTH"),
    "height": ("IMAGE_HEIGHT", "HEIGHT", "IMG_HEIGHT"),
}
REQUIRED = ("image", "x", "y", "duration")
NUMERIC = ("index", "x", "y", "duration", "start", "pupil", "width", "height")
#: Values meaning "missing" in optional columns (Data Viewer writes ".").
MISSING = (".", "", "NA", "N/A")
AUTO_NORMALISED_RANGE = (-0.5, 1.5)


#: ``--<option>-col`` of ``gazeprep ingest`` -> the report field it names (``--time-col``: the
#: fixation's start).
OPTION_FIELDS = {"image": "image", "x": "x", "y": "y", "pupil": "pupil", "time": "start",
                 "duration": "duration"}


def resolve_columns(names: list[str], path: str,
                    given: dict[str, str] | None = None) -> dict[str, str]:
    """Map canonical fields to the file's column names: ``given`` (``--x-col`` and the other
    column options, by option name) first, then :data:`ALIASES`.

    Raises
    ------
    GazeprepError
        A given column that is not in the header, or missing fields with the names accepted for
        them (line 1 = the header).
    """
    upper = {n.strip().strip('"').upper(): n for n in names}
    # As written: a line ending in '\r\r\n' leaves a '\r' on the last name polars reads.
    written = {n.strip(): n for n in names}
    found = {}
    for option, column in (given or {}).items():
        if column not in names and column not in written:
            raise GazeprepError(f"column {column!r} (--{option}-col) not in the header "
                                f"{list(written)}; expected one of those names",
                                file=path, line=1)
        found[OPTION_FIELDS[option]] = column if column in names else written[column]
    for key, aliases in ALIASES.items():
        if key in found:
            continue
        for a in aliases:
            if a in upper:
                found[key] = upper[a]
                break
    missing = [k for k in REQUIRED if k not in found]
    if missing:
        want = "; ".join(f"{k}: one of {', '.join(ALIASES[k])}" for k in missing)
        raise GazeprepError(
            f"fixation report lacks required column(s) {', '.join(missing)} (expected {want}); "
            f"found columns {names}",
            file=path,
            line=1,
        )
    return found


def sniff(probe: Probe) -> bool:
    """Whether the file's header names the columns a fixation report needs."""
    try:
        resolve_columns(probe.header, str(probe.path))
    except GazeprepError:
        return False
    return True


def _numeric(df: pl.DataFrame, cols: dict[str, str]) -> pl.DataFrame:
    """Parse the numeric fields; keep the raw text for error messages."""
    exprs = []
    for key in NUMERIC:
        if key not in cols:
            continue
        s = pl.col(cols[key]).str.strip_chars().str.strip_chars('"')
        missing = s.is_null() | s.is_in(list(MISSING))
        exprs += [
            pl.when(missing).then(None).otherwise(s).alias(f"raw_{key}"),
            pl.when(missing).then(None).otherwise(s.cast(pl.Float64, strict=False)).alias(key),
        ]
    for key in ("image", "session", "trial", "eye"):
        if key in cols:
            exprs.append(pl.col(cols[key]).str.strip_chars().str.strip_chars('"').alias(key))
    return df.select(exprs)


def _bad_rows(t: pl.DataFrame) -> pl.Series:
    """Per row, why it is unusable (null when fine): text, NaN or missing where a number must be,
    and numbers outside their limits (:mod:`gazeprep.limits`). A missing or NaN x / y is not
    bad here: that fixation has no position and is dropped as such (:func:`_drop_no_position`).
    """
    reasons = []
    for key in NUMERIC:
        if key not in t.columns:
            continue
        raw, val = pl.col(f"raw_{key}"), pl.col(key)
        position = key in ("x", "y")
        not_num = raw.is_not_null() & (val.is_null() | (val.is_infinite() if position
                                                         else ~val.is_finite()))
        reasons.append(
            pl.when(not_num)
            .then(pl.format(f"{key} = '{{}}' is not a finite number", raw))
            .otherwise(None)
        )
        if key in REQUIRED and not position:
            reasons.append(pl.when(raw.is_null()).then(pl.lit(f"{key} is missing")).otherwise(None))
    reasons += _limit_reasons(t)
    reasons.append(
        pl.when(pl.col("duration") < 0)
        .then(pl.format("negative duration {}", pl.col("raw_duration")))
        .otherwise(None)
    )
    if "index" in t.columns:
        reasons.append(
            pl.when(pl.col("index").is_not_null() & (pl.col("index") != pl.col("index").round()))
            .then(pl.format("index = '{}' is not an integer", pl.col("raw_index")))
            .otherwise(None)
        )
    return t.select(pl.coalesce(reasons).alias("bad")).to_series()


def _limit_reasons(t: pl.DataFrame) -> list[pl.Expr]:
    """Finite numbers that are still meaningless: a duration over a day, a start beyond 2**53 ms
    (float64 would merge distinct onsets), an image side that is not a whole number of pixels
    in 1..MAX_SIDE_PX."""
    out = [pl.when(pl.col("duration") > MAX_DURATION_MS).then(pl.format(
        f"duration {{}} ms exceeds one day ({MAX_DURATION_MS:.0f} ms)", pl.col("raw_duration")))
        .otherwise(None)]
    if "start" in t.columns:
        out.append(pl.when(pl.col("start").abs() > MAX_TIME_MS).then(pl.format(
            "start {} ms is beyond 2**53 ms, where float64 no longer holds whole milliseconds",
            pl.col("raw_start"))).otherwise(None))
    for key in ("width", "height"):
        if key in t.columns:
            v = pl.col(key)
            out.append(pl.when(v.is_not_null() & v.is_finite() & (
                (v != v.round()) | (v < 1) | (v > MAX_SIDE_PX))).then(pl.format(
                    f"image {key} {{}} is not a whole number of pixels in 1..{MAX_SIDE_PX}",
                    pl.col(f"raw_{key}"))).otherwise(None))
    return out


def _drop_no_position(res: FileResult, t: pl.DataFrame) -> pl.DataFrame:
    """Drop (and count, with the line) fixations whose x or y is missing or NaN."""
    none = t.select((pl.col("x").is_null() | pl.col("x").is_nan() | pl.col("y").is_null()
                     | pl.col("y").is_nan()).alias("n")).to_series()
    for line in t.filter(none)["line"].to_list():
        res.drop("no_position", line)
    return t.filter(~none)


def _eye(s: pl.Expr) -> pl.Expr:
    up = s.str.to_uppercase()
    return (
        pl.when(up.is_in(["L", "LEFT"]))
        .then(pl.lit("L"))
        .when(up.is_in(["R", "RIGHT"]))
        .then(pl.lit("R"))
        .when(up.is_in(["B", "BOTH", "BINOCULAR"]))
        .then(pl.lit("B"))
        .otherwise(pl.lit(""))
    )


def _fail_or_drop(
    res: FileResult, t: pl.DataFrame, bad: pl.Series, reason: str, lenient: bool, expected: str
) -> pl.DataFrame:
    """Raise on the first flagged row, or (lenient) drop and count every flagged row."""
    mask = bad.is_not_null()
    if not mask.any():
        return t
    flagged = t.filter(mask).with_columns(bad.filter(mask).alias("_why"))
    if not lenient:
        first = flagged.row(0, named=True)
        raise GazeprepError(f"{first['_why']}; expected {expected}", file=res.path,
                            line=first["line"])
    for line, why in flagged.select("line", "_why").iter_rows():
        res.drop(reason, line, why)
    return t.filter(~mask)


def read(path: str, opts: IngestOptions) -> FileResult:
    """Read one fixation report.

    Parameters
    ----------
    path : str
        CSV/TSV file.
    opts : IngestOptions
        Uses ``coords``, ``image_rect`` (screen pixels), ``min_duration`` (ms), ``lenient`` and
        the ``--images`` size lookup.

    Returns
    -------
    FileResult
        Kept fixations with normalised coordinates; drops counted by reason with their lines.

    Raises
    ------
    GazeprepError
        Unreadable file, missing columns, bad values, negative durations, duplicate indices,
        pixel coordinates without any way to know the image size (unless ``opts.lenient``).
    """
    from pathlib import Path

    res = FileResult(path=str(path), format="fixreport")
    table = read_table(str(path), "fixation report")
    df, lines = table.df, table.lines
    res.notes.update(table.notes)
    cols = resolve_columns(df.columns, res.path, opts.sample_columns)
    check_unique(table.header, cols.values(), res.path)
    res.rows_read = df.height
    t = _numeric(df, cols).with_columns(
        pl.Series("line", lines), pl.int_range(pl.len(), dtype=pl.Int64).alias("_row")
    )
    empty = pl.col("image").is_null() | (pl.col("image") == "")
    t = _fail_or_drop(res, t, t.select(pl.when(empty).then(pl.lit(
        f"the image cell (column {cols['image']!r}) is empty")).otherwise(None)).to_series(),
        "bad_value", opts.lenient, "the name of the image the fixation was on")
    expected = ("a finite number in duration (0 to one day), start (|start| <= 2**53 ms) and "
                "any numeric column, or '.'; a number or '.' in x, y")
    t = _fail_or_drop(res, t, _bad_rows(t), "bad_value", opts.lenient, expected)
    t = _drop_no_position(res, t)

    stem = Path(path).stem
    names = t["image"].unique().to_list()
    t = t.with_columns(
        pl.col("image").replace_strict(names, [image_id(n) for n in names],
                                       return_dtype=pl.String).alias("image"),
        (pl.col("session") if "session" in t.columns else pl.lit(stem)).fill_null(stem)
        .cast(pl.String).alias("session"),
        (pl.when(pl.col("trial").is_in(list(MISSING))).then(None).otherwise(pl.col("trial"))
         if "trial" in t.columns else pl.lit(None, pl.String)).alias("trial"),
        (_eye(pl.col("eye")) if "eye" in t.columns else pl.lit("")).alias("eye"),
    )
    t = _fail_or_drop(
        res, t, t.select(pl.when(pl.col("image") == "").then(pl.lit("image name has no file stem"))
                         .otherwise(None)).to_series(),
        "bad_value", opts.lenient, "an image file name")
    t = _check_duplicates(res, t, opts.lenient)
    t = _sizes(res, t, opts, latin1_names(t, table.latin1_lines))
    t = _normalise(res, t, opts)
    t = _onsets(res, t)

    short = pl.col("duration") < opts.min_duration
    outside = ~(pl.col("xn").is_between(0, 1) & pl.col("yn").is_between(0, 1))
    why = t.select(
        pl.when(outside).then(pl.lit("outside_image"))
        .when(short).then(pl.lit("short")).otherwise(None)
    ).to_series()
    for line, reason in t.filter(why.is_not_null()).select("line").with_columns(
        why.filter(why.is_not_null()).alias("r")
    ).iter_rows():
        res.drop(reason, line)
    t = t.filter(why.is_null())
    order = pl.col("index") if "index" in t.columns else pl.col("_row").cast(pl.Float64)
    res.fixations = conform(
        t.select(
            "image", "session", "trial", "eye",
            pl.col("xn").alias("x"), pl.col("yn").alias("y"),
            pl.col("onset").alias("onset_ms"),
            pl.col("duration").alias("duration_ms"),
            (pl.col("pupil") if "pupil" in t.columns else pl.lit(None, pl.Float32)).alias("pupil"),
            pl.col("w").alias("width"), pl.col("h").alias("height"),
            pl.lit(Path(path).name).alias("source"),
            order.cast(pl.Float64).alias("order"),
            "line",
        )
    )
    res.check_balance()
    return res


def _check_duplicates(res: FileResult, t: pl.DataFrame, lenient: bool) -> pl.DataFrame:
    """A fixation index seen twice in one track makes its order ambiguous: error or drop."""
    if "index" not in t.columns:
        return t
    dup = t.select(pl.col("_row").rank("ordinal").over(*TRACK_KEY, "index") > 1).to_series()
    trial = pl.when(pl.col("trial").is_null()).then(pl.lit("")).otherwise(
        pl.format(" trial {}", pl.col("trial")))
    bad = t.select(
        pl.when(dup).then(pl.format(
            "duplicate fixation index {} for image {} session {}{}",
            pl.col("raw_index"), pl.col("image"), pl.col("session"), trial)).otherwise(None)
    ).to_series()
    return _fail_or_drop(res, t, bad, "duplicate_index", lenient,
                         "each CURRENT_FIX_INDEX once per (image, session, trial)")


def _sizes(res: FileResult, t: pl.DataFrame, opts: IngestOptions,
           latin1: set[str]) -> pl.DataFrame:
    """Image size per row (``w``, ``h``): the report's columns, else the ``--images`` file.

    Each image is recorded in ``res.images`` with where its size came from; one that
    ``--images`` lacks keeps its fixations (size from the report's columns, else null) and is
    listed as ``not in --images``; ``latin1`` ids are listed as names that were not UTF-8.
    """
    w = pl.col("width") if "width" in t.columns else pl.lit(None, pl.Float64)
    h = pl.col("height") if "height" in t.columns else pl.lit(None, pl.Float64)
    t = t.with_columns(w.round().cast(pl.Int32).alias("w"), h.round().cast(pl.Int32).alias("h"))
    t = t.with_columns((pl.col("w").is_not_null() & pl.col("h").is_not_null()).alias("_rep"))
    from_report = pl.col("_rep")
    if opts.images is not None:
        need = t.filter(~from_report)["image"].unique().to_list()
        sizes = {i: opts.image_size(i) for i in need}
        lut = pl.DataFrame(
            {"image": list(sizes), "_w": [s[0] if s else None for s in sizes.values()],
             "_h": [s[1] if s else None for s in sizes.values()]},
            schema={"image": pl.String, "_w": pl.Int32, "_h": pl.Int32},
        )
        t = (
            t.join(lut, on="image", how="left", maintain_order="left")
            .with_columns(pl.when(from_report).then("w").otherwise("_w").alias("w"),
                          pl.when(from_report).then("h").otherwise("_h").alias("h"))
            .drop("_w", "_h")
        )
    src = (pl.when(from_report).then(pl.lit("report columns"))
           .when(pl.col("w").is_not_null()).then(pl.lit("--images file"))
           .otherwise(pl.lit("unknown")))
    for image, wi, hi, source in t.select("image", "w", "h", src).unique(
            maintain_order=True).iter_rows():
        problems = [LATIN1_NAME] if image in latin1 else []
        if opts.images is not None and not opts.has_image(image):
            problems.append(NOT_IN_IMAGES)
        res.image(image, None if wi is None or hi is None else (wi, hi), source, problems)
    return t.drop("_rep")


def _normalise(res: FileResult, t: pl.DataFrame, opts: IngestOptions) -> pl.DataFrame:
    """Add ``xn, yn``: image-normalised coordinates, following ``opts.coords``."""
    mode = opts.coords
    if mode == "auto":
        lo, hi = AUTO_NORMALISED_RANGE
        inside = t.select(
            (pl.col("x").is_between(lo, hi) & pl.col("y").is_between(lo, hi)).all()
        ).item()
        mode = "normalised" if (inside or t.height == 0) else "pixels"
    res.notes["coords"] = mode
    if mode == "normalised":
        return t.with_columns(pl.col("x").alias("xn"), pl.col("y").alias("yn"))
    if opts.image_rect is not None:
        problem = rect_problem(tuple(float(v) for v in opts.image_rect))
        if problem:
            raise GazeprepError(f"--image-rect X Y W H is not a usable image rectangle "
                                f"({problem})", file=res.path)
        rx, ry, rw, rh = opts.image_rect
        return t.with_columns(((pl.col("x") - rx) / rw).alias("xn"),
                              ((pl.col("y") - ry) / rh).alias("yn"))
    nosize = t.select(pl.col("w").is_null() | pl.col("h").is_null()).to_series()
    bad = t.select(pl.when(nosize).then(pl.format(
        "pixel coordinates but no size for image {}", pl.col("image"))).otherwise(None)).to_series()
    t = _fail_or_drop(res, t, bad, "unknown_image_size", opts.lenient,
                      "IMAGE_WIDTH/IMAGE_HEIGHT columns, --images DIR, --image-rect X Y W H "
                      "or --coords normalised")
    return t.with_columns((pl.col("x") / pl.col("w")).alias("xn"),
                          (pl.col("y") / pl.col("h")).alias("yn"))


def _onsets(res: FileResult, t: pl.DataFrame) -> pl.DataFrame:
    """``onset`` column: the start column, else cumulative earlier durations within the track."""
    order = "index" if "index" in t.columns else "_row"
    est = (
        pl.col("duration").cum_sum().shift(1, fill_value=0.0)
        .over(list(TRACK_KEY), order_by=order)
    )
    if "start" in t.columns:
        n_est = t.select(pl.col("start").is_null().sum()).item()
        if n_est:
            res.notes["onset_estimated_rows"] = n_est
        return t.with_columns(pl.coalesce(pl.col("start"), est).alias("onset"))
    res.notes["onset"] = "estimated from durations (no start column)"
    return t.with_columns(est.alias("onset"))
