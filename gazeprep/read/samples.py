"""Reader for sample-level gaze files (CSV/TSV: time, x, y[, pupil][, image]).

Columns are found by name (case-insensitive, :data:`COLUMNS`) or given with ``--time-col``,
``--x-col``, ``--y-col``, ``--pupil-col``, ``--image-col``. Time is in ``--time-unit``
(ms, s or us); without a time column, ``--sample-rate`` (Hz) numbers the rows. Positions are
screen pixels; the image lies at ``--image-rect`` (default: the whole screen, ``--screen-px``,
else 1920 x 1080, recorded in the report). Empty, ``.``, ``NA`` or ``NaN`` x/y/pupil values are
missing samples (blinks); any other text is an error. Fixations come from I-VT (default) or I-DT:
:func:`read` returns a :class:`SampleRecording` whose series ingest hands to the detector.

Numbers (limits in :mod:`gazeprep.limits`): every sample needs a time that is a finite number
within 2**53 ms and whose float64 resolution is finer than half the sampling interval (else
consecutive samples would collapse onto one time); x and y, when present, within +-1e6 px; a
finite pupil. Anything else is an error naming file and line (``--lenient``: the sample is
skipped and listed). ``--sample-rate`` must lie in (0, 1e6] Hz.
The image id is the image column's stem, else the file stem; the session is the file stem.
Each contiguous run of samples on one image is one viewing, its own trial (numbered ``1``, ``2``...
in file order) and track: an image column that switches back to an earlier image starts a new
track, it never continues the old one. Without an image column the trial is null.
Image size: the ``--images`` file (null, and listed as a problem, when ``--images`` lacks it);
without ``--images``, the size it was shown at (``--image-rect``, else the screen).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.limits import MAX_COORD_PX, MAX_RATE_HZ, coarse_times, time_problem
from gazeprep.read.delimited import check_unique, read_table
from gazeprep.read.recorded import RecordingFacts
from gazeprep.read.result import (
    LATIN1_NAME,
    FileResult,
    Recording,
    Series,
    conform,
    image_id,
    latin1_names,
    sample_interval,
)
from gazeprep.read.vendor import screen_rect, shown_size

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

COLUMNS: dict[str, tuple[str, ...]] = {
    "time": ("TIME", "TIMESTAMP", "T", "TIME_MS", "MS", "TIMESTAMP_MS"),
    "x": ("X", "GAZE_X", "X_PX", "POS_X", "GX", "X_PIX"),
    "y": ("Y", "GAZE_Y", "Y_PX", "POS_Y", "GY", "Y_PIX"),
    "pupil": ("PUPIL", "PUPIL_SIZE", "PUPIL_AREA", "PUPIL_DIAMETER", "PA"),
    "image": ("IMAGE", "IMAGES", "STIMULUS", "IMAGE_NAME"),
}
MISSING = ("", ".", "NA", "NAN", "N/A")
TIME_SCALE = {"ms": 1.0, "s": 1000.0, "us": 0.001}


def looks_like_samples(names: list[str]) -> bool:
    """True when the header has time-like and x/y columns."""
    up = {n.strip().upper() for n in names}
    return all(up & set(COLUMNS[k]) for k in ("time", "x", "y"))


def _columns(names: list[str], mapping: dict[str, str], path: str,
             need_time: bool) -> dict[str, str]:
    by_upper = {n.strip().upper(): n for n in names}
    found: dict[str, str] = {}
    for key in sorted(set(mapping) - set(COLUMNS)):
        raise GazeprepError(f"--{key}-col is for fixation reports; this is a sample file "
                            f"(columns {', '.join(COLUMNS)})", file=path, line=1)
    for key, aliases in COLUMNS.items():
        if key in mapping:
            if mapping[key] not in names:
                raise GazeprepError(f"column {mapping[key]!r} (--{key}-col) not in the header "
                                    f"{names}; expected one of those names", file=path, line=1)
            found[key] = mapping[key]
            continue
        for a in aliases:
            if a in by_upper:
                found[key] = by_upper[a]
                break
    missing = [k for k in ("x", "y") + (("time",) if need_time else ()) if k not in found]
    if missing:
        raise GazeprepError(
            f"sample file lacks column(s) {', '.join(missing)}; expected "
            + "; ".join(f"{k}: one of {', '.join(COLUMNS[k])} (or --{k}-col)" for k in missing)
            + f"; found {names}", file=path, line=1)
    return found


def sniff(probe: Probe) -> bool:
    """Whether the file's header has time-like and x/y columns."""
    return looks_like_samples(probe.header)


def read(path: str, opts: IngestOptions) -> SampleRecording:
    """Read a sample file: its samples, one series per viewing, for the detector.

    Parameters
    ----------
    path : str
        CSV/TSV file.
    opts : IngestOptions
        Column mapping, ``time_unit``, ``sample_rate``, ``detector``, ``image_rect``,
        ``screen_px``, ``min_duration``, ``lenient``.

    Returns
    -------
    SampleRecording
        Its ``place`` turns the detected fixations into the file's FileResult.

    Raises
    ------
    GazeprepError
        Missing columns, text in numeric fields, time missing or going backwards (unless
        ``opts.lenient``: those samples are then skipped and counted in the report).
    """
    res = FileResult(path=str(path), format="samples")
    detector = "ivt" if opts.detector == "auto" else opts.detector
    if detector == "tracker":
        raise GazeprepError("sample files carry no tracker fixation events; expected "
                            "--detector ivt or idt", file=path)
    res.notes["detector"] = detector
    if opts.sample_rate is not None and not 0 < opts.sample_rate <= MAX_RATE_HZ:
        raise GazeprepError(f"sample rate {opts.sample_rate} Hz (--sample-rate) is not in "
                            f"(0, {MAX_RATE_HZ:g}] Hz", file=path)
    table = read_table(str(path), "sample")
    df, lines = table.df, table.lines
    res.notes.update(table.notes)
    cols = _columns(df.columns, opts.sample_columns, res.path, opts.sample_rate is None)
    check_unique(table.header, cols.values(), res.path)
    t = _parse(df, cols, lines, res, opts)
    res.n_samples = t.height
    screen, rect = screen_rect(res, opts)
    return SampleRecording(res, detector, screen, t, "image" in cols, rect, opts,
                           latin1_names(t, table.latin1_lines))


#: The columns :meth:`SampleRecording.place` builds (before ``conform``).
_PLACED = {"image": pl.String, "trial": pl.String, "x": pl.Float64, "y": pl.Float64,
           "onset_ms": pl.Float64, "duration_ms": pl.Float64, "pupil": pl.Float64,
           "width": pl.Int32, "height": pl.Int32, "order": pl.Float64, "line": pl.Int64}


class SampleRecording(Recording):
    """The samples of a sample file, one :class:`~gazeprep.read.result.Series` per viewing.

    A viewing is a contiguous run of samples on one image (the whole file without an image
    column): its own trial (``1``, ``2``... in file order; null without an image column) and
    track. The image lies at ``rect`` (screen px); onsets count from the viewing's first sample.
    """

    def __init__(self, res: FileResult, detector: str, screen: tuple[float, float],
                 t: pl.DataFrame, has_image: bool, rect: tuple, opts: IngestOptions,
                 latin1: set[str]):
        self.result, self.detector, self.screen_px = res, detector, screen
        self.rect, self.opts, self.latin1 = rect, opts, latin1
        seg = t.with_columns((pl.col("image") != pl.col("image").shift(1)).fill_null(True)
                             .cum_sum().alias("_seg"))
        self.series: list[Series] = []
        self.viewings: list[tuple[str, str | None, np.ndarray]] = []
        for k, (_, part) in enumerate(seg.group_by("_seg", maintain_order=True), 1):
            self.series.append(Series(part["t"].to_numpy(), part["x"].to_numpy(),
                                      part["y"].to_numpy(), part["pupil"].to_numpy()))
            self.viewings.append((part["image"][0], str(k) if has_image else None,
                                  part["line"].to_numpy()))
        res.quality_input = _facts(res, self.series, [v[1] for v in self.viewings], opts)

    def place(self, found: list[dict[str, np.ndarray]]) -> FileResult:
        """The file's fixations: normalised to the image rectangle, short and outside ones
        dropped and counted."""
        res, rect, opts = self.result, self.rect, self.opts
        parts = []
        counts = res.quality_input.fixations
        for (name, trial, lines), se, s in zip(self.viewings, self.series, found, strict=True):
            res.rows_read += int(s["first"].size)
            size = shown_size(res, name, rect, opts, [LATIN1_NAME] if name in self.latin1 else [])
            ln = lines[s["first"]]
            nx = (s["x"] - rect[0]) / rect[2]
            ny = (s["y"] - rect[1]) / rect[3]
            outside = ~((nx >= 0.0) & (nx <= 1.0) & (ny >= 0.0) & (ny <= 1.0))  # NaN: outside
            short = ~outside & (s["duration"] < opts.min_duration)
            for i in np.flatnonzero(outside | short).tolist():  # in file order, as listed
                if outside[i]:
                    res.drop("outside_image", int(ln[i]))
                else:
                    res.drop("short", int(ln[i]), f"{s['duration'][i]:g} ms")
            keep = np.flatnonzero(~(outside | short))
            for what, n in (("outside_image", outside.sum()), ("short", short.sum()),
                            ("kept", keep.size)):
                if n:
                    counts[(trial, "", what)] += int(n)
            pupil = np.where(np.isfinite(s["pupil"][keep]), s["pupil"][keep], np.nan)
            w, h = size or (None, None)
            parts.append(pl.DataFrame({
                "x": nx[keep], "y": ny[keep], "onset_ms": s["start"][keep] - se.t[0],
                "duration_ms": s["duration"][keep],
                "pupil": pl.Series(pupil, dtype=pl.Float64, nan_to_null=True),
                "order": s["start"][keep], "line": ln[keep]}).with_columns(
                pl.lit(name, pl.String).alias("image"), pl.lit(trial, pl.String).alias("trial"),
                pl.lit(w, pl.Int32).alias("width"), pl.lit(h, pl.Int32).alias("height")))
        out = pl.concat(parts) if parts else pl.DataFrame(schema=_PLACED)
        res.fixations = conform(out.with_columns(
            pl.lit(Path(res.path).stem).alias("session"), pl.lit("").alias("eye"),
            pl.lit(Path(res.path).name).alias("source")))
        res.check_balance()
        return res


def _facts(res: FileResult, series: list[Series], labels: list[str | None],
           opts: IngestOptions) -> RecordingFacts:
    """The facts gaze quality needs: one window per viewing, from its first sample to one
    sample interval after its last (the ``--sample-rate`` one, else the median step), at
    ``--sample-rate`` when given (else the measured rate); no blinks, no validations."""
    n = [se.t.size for se in series]
    t = np.concatenate([se.t for se in series]) if series else np.zeros(0)
    dt = 1000.0 / opts.sample_rate if opts.sample_rate else sample_interval(t)
    start = np.array([se.t[0] for se in series], np.float64)
    end = np.array([se.t[-1] + dt for se in series], np.float64)
    xy = [np.concatenate([getattr(se, k) for se in series])[None] if series
          else np.zeros((1, 0)) for k in ("x", "y")]
    return RecordingFacts(
        session=Path(res.path).stem, labels=labels, start=start, end=end, t=t, x=xy[0],
        y=xy[1], eyes=("",), rate=np.full(len(series), opts.sample_rate or np.nan),
        window=np.repeat(np.arange(len(series)), n))


def _parse(df: pl.DataFrame, cols: dict[str, str], lines: np.ndarray, res: FileResult,
           opts: IngestOptions) -> pl.DataFrame:
    """Numeric time/x/y/pupil (ms, px), image id per sample; bad samples raise or are skipped."""
    stem = Path(res.path).stem
    exprs = []
    for key in ("time", "x", "y", "pupil"):
        if key not in cols:
            exprs += [pl.lit(None, pl.String).alias(f"raw_{key}"),
                      pl.lit(None, pl.Float64).alias(key)]
            continue
        s = pl.col(cols[key]).str.strip_chars()
        miss = s.is_null() | s.str.to_uppercase().is_in(list(MISSING))
        exprs += [s.alias(f"raw_{key}"),
                  pl.when(miss).then(None).otherwise(s.cast(pl.Float64, strict=False)).alias(key)]
    if "image" in cols:
        names = df[cols["image"]].unique().to_list()
        img = pl.col(cols["image"]).replace_strict(
            names, [image_id(n or "") for n in names], return_dtype=pl.String)
    else:
        img = pl.lit(stem)
    t = df.select(*exprs, img.alias("image")).with_columns(pl.Series("line", lines))
    if "time" in cols:
        t = t.with_columns(pl.col("time") * TIME_SCALE[opts.time_unit])
    else:
        t = t.with_columns((pl.int_range(pl.len()) * (1000.0 / opts.sample_rate)).alias("time"))
    why = []
    for key in ("x", "y", "pupil", "time"):
        raw, val = pl.col(f"raw_{key}"), pl.col(key)
        miss = raw.is_null() | raw.str.to_uppercase().is_in(list(MISSING))
        why.append(pl.when(~miss & (val.is_null() | val.is_infinite()))
                   .then(pl.format(f"{key} = '{{}}' is not a number", raw)).otherwise(None))
    why.append(pl.when(pl.col("time").is_null() | pl.col("time").is_nan())
               .then(pl.lit("time is missing")).otherwise(None))
    why.append(pl.when(pl.col("image") == "").then(pl.lit("image has no file stem"))
               .otherwise(None))
    bad = t.select(pl.coalesce(why)).to_series()
    t = _reject(t, bad, res, opts, "a number, or empty / '.' / NaN for a missing x, y or pupil")
    t = _reject(t, _limit_problems(t, opts), res, opts,
                "|time| <= 2**53 ms, fine enough for the sampling interval, and screen "
                f"positions within +-{MAX_COORD_PX:g} px")
    back = t.select(pl.when((pl.col("time").diff() < 0) & (pl.col("image") ==
                                                           pl.col("image").shift(1)))
                    .then(pl.format("time {} is earlier than the previous sample's",
                                    pl.col("raw_time"))).otherwise(None)).to_series()
    t = _reject(t, back, res, opts, "non-decreasing time within an image")
    return t.select(pl.col("time").alias("t"), "x", "y",
                    pl.col("pupil").fill_nan(None).fill_null(float("nan")), "image", "line")


def _limit_problems(t: pl.DataFrame, opts: IngestOptions) -> pl.Series:
    """Per sample, a finite number that is still unusable (null when fine): a time beyond
    2**53 ms or whose float64 resolution is coarser than half the sampling interval (the
    ``--sample-rate`` one, else the median step), an x or y beyond +-MAX_COORD_PX."""
    time = t["time"].to_numpy()
    if opts.sample_rate:
        dt = 1000.0 / opts.sample_rate
    else:
        steps = np.diff(time[np.isfinite(time)])
        steps = steps[steps > 0]
        dt = float(np.median(steps)) if steps.size else 1.0
    coarse = coarse_times(time, dt)
    with np.errstate(invalid="ignore"):
        far = {k: np.abs(t[k].to_numpy(allow_copy=True)) > MAX_COORD_PX for k in ("x", "y")}
    out: list[str | None] = [None] * t.height
    for i in np.flatnonzero(coarse | far["x"] | far["y"]).tolist():
        if coarse[i]:
            out[i] = str(time_problem(float(time[i]), dt))
        else:
            k = "x" if far["x"][i] else "y"
            out[i] = f"{k} = '{t[f'raw_{k}'][i]}' is beyond +-{MAX_COORD_PX:g} px"
    return pl.Series("why", out, dtype=pl.String)


def _reject(t: pl.DataFrame, bad: pl.Series, res: FileResult, opts: IngestOptions,
            expected: str) -> pl.DataFrame:
    """Raise on the first bad sample, or (lenient) skip them and list them in the report."""
    mask = bad.is_not_null()
    if not mask.any():
        return t
    lines = t.filter(mask)["line"].to_list()
    msgs = bad.filter(mask).to_list()
    if not opts.lenient:
        raise GazeprepError(f"{msgs[0]}; expected {expected}", file=res.path, line=lines[0])
    for ln, msg in list(zip(lines, msgs, strict=True))[:20]:
        res.error(GazeprepError(msg, file=res.path, line=ln))
    res.notes["bad_samples_skipped"] = res.notes.get("bad_samples_skipped", 0) + len(lines)
    return t.filter(~mask)
