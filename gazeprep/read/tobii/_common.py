"""What every Tobii dialect ends in: one frame of samples, then Tobii's fixations or a
:class:`TobiiRecording` for the detector, placed on the images the same way.

A dialect reader (:mod:`~gazeprep.read.tobii.prolab`, :mod:`~gazeprep.read.tobii.studio`,
:mod:`~gazeprep.read.tobii.sdk`) turns its file into the sample frame of :data:`SAMPLE_SCHEMA`
(gaze rows only; event and other-sensor rows counted in the notes) and calls :func:`finish`.

- **Viewing**: a contiguous run of samples of one session on one image (media). Each viewing
  with an image is a trial (``1``, ``2``... in file order) and a track; onsets count from its
  first sample. Samples while no media was shown belong to no image: the detector does not
  see them, and Tobii fixations on them are dropped as ``no_image``. A file without media
  columns (or whose media columns are all empty) is one image: the screen (``--image-rect``
  when given), named after the file, trial null.
- **Placement**: ``x = (X - media X) / media width`` with the media's position and size on the
  screen (DACS px) of the fixation's first sample; outside 0-1: ``outside_image``.
- **Image size**: the ``--images`` file; else the export's original media size; else the size
  it was shown at (media width/height, or the screen / ``--image-rect``).
- **Fixations**: ``--detector auto`` takes Tobii's own (its per-sample ``Eye movement type`` /
  ``GazeEventType`` and index) when the export has them, else I-VT; the choice and the filter
  that made them are in the file's notes (``detector``, ``fixations_from``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.limits import MAX_COORD_PX, MAX_SIDE_PX, rect_problem
from gazeprep.read.recorded import RecordingFacts
from gazeprep.read.result import (
    MAX_DROPS_LISTED,
    FileResult,
    Recording,
    Series,
    conform,
    empty_reader_frame,
    images_lookup,
    sample_interval,
)
from gazeprep.read.vendor import NUMBERS_EXPECTED, check_samples, number_problems

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions

F = pl.Float64
#: The sample frame a dialect hands to :func:`finish` (3D columns optional).
SAMPLE_SCHEMA: dict[str, Any] = {
    "line": pl.Int64, "t": F, "x": F, "y": F, "pupil": F, "session": pl.String,
    "image": pl.String, "mx": F, "my": F, "mw": F, "mh": F, "iw": F, "ih": F,
    "kind": pl.String, "index": F, "fx": F, "fy": F, "fdur": F,
}
#: Eye position and gaze point (mm, one frame) for angular velocity, when the export has them.
MM_COLUMNS = ("ex", "ey", "ez", "gx", "gy", "gz")
#: Tobii's label of a fixation sample.
FIXATION = "Fixation"
#: Address space numba and its kernels take once loaded (measured 0.27 GiB: the import 0.17,
#: the first call 0.10; the detector's kernels 1 MB more), which the table's memory check
#: does not see.
KERNELS_SPACE = 320 << 20
#: Memory (address space, resident) a Tobii export needs per byte, its samples' frames and the
#: detector's series included: under ``RLIMIT_AS``, I-VT on a 45 MiB Pro Lab export failed
#: with 1.3 GiB left (more than 29 times its size) where a 42 MiB one ran.
MEMORY_PER_BYTE = (36, 12)


def average_eyes(left: np.ndarray, right: np.ndarray, lvalid: np.ndarray,
                 rvalid: np.ndarray, eye: str) -> np.ndarray:
    """Tobii's eye selection: ``L``/``R`` one eye; else the mean of the eyes.

    Where only one eye is valid, the mean is that eye shifted by half the last difference
    between the eyes seen before it (the first seen after it at the start): the eyes'
    estimates differ by a steady offset (often a degree or more), and a mean that jumped to
    one eye whenever the other dropped out for a sample would look like a saccade to I-VT.

    Parameters
    ----------
    left, right : float arrays (n, k)
        The same quantity per eye.
    lvalid, rvalid : bool arrays (n,)
        Validity per eye.
    eye : str
        ``"L"``, ``"R"`` or ``"auto"`` (average).
    """
    nan = np.full_like(left, np.nan)
    lv = lvalid & np.isfinite(left).all(axis=1)
    rv = rvalid & np.isfinite(right).all(axis=1)
    if eye == "L":
        return np.where(lv[:, None], left, nan)
    if eye == "R":
        return np.where(rv[:, None], right, nan)
    both = lv & rv
    offset = np.zeros_like(left)
    if both.any():
        idx = np.where(both, np.arange(both.size), -1)
        last = np.maximum.accumulate(idx)
        last[last < 0] = np.flatnonzero(both)[0]
        offset = (right - left)[last] / 2
    return np.where(both[:, None], (left + right) / 2, np.where(
        lv[:, None], left + offset, np.where(rv[:, None], right - offset, nan)))


def load_detector_first(path: str, opts: IngestOptions) -> None:
    """Under a tight ``RLIMIT_AS``, load numba (which the detector's kernels run on) before a
    large export is read, so that the table's memory check
    (:func:`gazeprep.read.delimited.read_bytes`) counts what it takes: loaded after it, it
    left too little room and the process was killed by an allocation failure (numba and
    polars abort) instead of ending in one line.

    Raises
    ------
    GazeprepError
        Too little address space left even for the kernels.
    """
    import os
    import sys

    from gazeprep.contract._checks import human_bytes, memory_left

    if opts.detector == "tracker" or "numba" in sys.modules:
        return
    space = memory_left()[0]
    if space is None or MEMORY_PER_BYTE[0] * os.stat(path).st_size + KERNELS_SPACE <= space:
        return
    if space < 2 * KERNELS_SPACE:
        raise GazeprepError(f"finding fixations needs about {human_bytes(KERNELS_SPACE)} of "
                            "memory (address space) for its kernels, but this process can use "
                            f"only {human_bytes(max(space, 0))} more; expected more memory "
                            "(or --detector tracker)", file=path)
    # numba's import and first call take the room (a read-stage kernel: the detector's own
    # add 1 MB more); the detector is a later stage, not imported from here.
    from gazeprep.read.asc._kernels import split_lines

    split_lines(np.frombuffer(b"MSG\t1 a\nEND\t2\n", np.uint8))


def file_screen(screen: tuple[float, float] | None, opts: IngestOptions, path: str,
                what: str) -> tuple[float, float] | None:
    """The export's recording resolution ``screen`` (from ``what``), when ``--screen-px`` does
    not replace it.

    Raises
    ------
    GazeprepError
        A resolution that is no screen (0 x 0, over 1e6 px), naming where it came from.
    """
    if screen is None or opts.screen_px is not None:
        return screen
    problem = rect_problem((0.0, 0.0, *screen))
    if problem:
        raise GazeprepError(f"{what}: {screen[0]:g} x {screen[1]:g} is no screen size "
                            f"({problem}); expected the screen in pixels (or pass --screen-px)",
                            file=path)
    return screen


def check_eye(opts: IngestOptions, path: str) -> str:
    """The eye option for Tobii exports: ``auto`` (average, Tobii's default), ``L`` or ``R``."""
    if opts.eye == "both":
        raise GazeprepError("--eye both is not available for Tobii exports; expected --eye "
                            "auto (average of the eyes, Tobii's default), L or R", file=path)
    return opts.eye


def _checked_times(res: FileResult, s: pl.DataFrame, lenient: bool) -> pl.DataFrame:
    """Refuse (lenient: skip and list) samples without a time, and time going backwards within
    a session."""
    for _ in range(2):
        bad = s.select(
            pl.when(pl.col("t").is_nan()).then(pl.lit("the sample has no time"))
            .when((pl.col("t").diff() < 0) & (pl.col("session") == pl.col("session").shift(1)))
            .then(pl.format("time {} ms is earlier than the previous sample's ({} ms)",
                            pl.col("t"), pl.col("t").shift(1)))
            .otherwise(None).alias("why")).to_series()
        if bad.null_count() == bad.len():
            return s
        i = int(bad.is_not_null().arg_max())
        if not lenient:
            raise GazeprepError(f"{bad[i]}; expected a time on every gaze sample, never "
                                "decreasing within a recording", file=res.path,
                                line=int(s["line"][i]))
        lines = s.filter(bad.is_not_null())["line"].to_list()
        for ln, why in list(zip(lines, bad.drop_nulls().to_list(), strict=True))[:20]:
            res.error(GazeprepError(why, file=res.path, line=ln))
        res.notes["bad_samples_skipped"] = res.notes.get("bad_samples_skipped", 0) + len(lines)
        s = s.filter(bad.is_null())
    return s


def _check_index(res: FileResult, s: pl.DataFrame) -> None:
    """Refuse a fixation index that is not a whole number from 0 to 2**53: one such sample
    split its fixation in three without a word."""
    i = s["index"]
    bad = (i.is_finite() & ((i != i.floor()) | (i < 0) | (i > 2.0**53))).fill_null(False)
    if bad.any():
        k = int(bad.arg_max())
        raise GazeprepError(f"fixation index {i[k]!r} is not a whole number from 0 to 2**53; "
                            "expected Tobii's event index", file=res.path,
                            line=int(s["line"][k]))


def _viewings(s: pl.DataFrame, media: bool) -> pl.DataFrame:
    """Add ``view`` (contiguous session x image runs), its ``trial`` label and ``t0``."""
    key = pl.col("session") + pl.lit("\x00") + pl.col("image").fill_null("\x01")
    s = s.with_columns((key != key.shift(1)).fill_null(True).cum_sum().alias("view"))
    firsts = s.group_by("view", maintain_order=True).agg(
        pl.col("t").first().alias("t0"), pl.col("image").first().alias("_img"))
    on_image = firsts["_img"].is_not_null()
    trial = (on_image.cast(pl.Int64).cum_sum().cast(pl.String) if media
             else pl.Series([None] * firsts.height, dtype=pl.String))
    firsts = firsts.with_columns(pl.when(on_image).then(trial).otherwise(None).alias("trial"))
    return s.join(firsts.drop("_img"), on="view", how="left", maintain_order="left")


def finish(res: FileResult, s: pl.DataFrame, opts: IngestOptions, *, media: bool,
           screen: tuple[float, float], filter_name: str | None) -> FileResult | Recording:
    """The file's FileResult (Tobii's fixations) or TobiiRecording (samples for the detector).

    Parameters
    ----------
    res : FileResult
        The file's result so far (format, notes).
    s : polars.DataFrame
        Gaze samples, :data:`SAMPLE_SCHEMA` (+ :data:`MM_COLUMNS`), in file order.
    opts : IngestOptions
        ``detector``, ``lenient``, ``min_duration``, ``images``, ``image_rect``.
    media : bool
        Whether the export names the media shown (else the screen is the image).
    screen : (width, height)
        Screen (px).
    filter_name : str or None
        Tobii's fixation filter, when the export names it.
    """
    s = _checked_times(res, s, opts.lenient)
    _check_index(res, s)
    res.n_samples = int((s["x"].is_finite() & s["y"].is_finite()).sum())
    s = _viewings(s, media)
    labelled = bool((s["kind"] == FIXATION).any())
    detector = opts.detector
    if detector == "auto":
        detector = "tracker" if labelled else "ivt"
    res.notes["detector"] = detector
    if detector == "tracker":
        if not labelled:
            raise GazeprepError("no Tobii fixations in the file (no sample labelled Fixation "
                                "with an index); expected an export with the fixation filter "
                                "applied, or --detector ivt|idt", file=res.path)
        res.notes["fixations_from"] = f"Tobii: {filter_name or 'fixation filter of the export'}"
        rec = TobiiRecording(res, "tracker", screen, s, opts, media)
        return rec.keep(_vendor_fixations(s))
    check_samples(s.filter(pl.col("image").is_not_null()) if media else s, res.path,
                  "time")
    rec = TobiiRecording(res, detector, screen, s, opts, media)
    rec.filter_name = filter_name
    res.notes["fixations_from"] = f"gazeprep {detector}" + (
        " (--preset tobii)" if opts.preset == "tobii" and detector == "ivt" else "")
    return rec


def _vendor_fixations(s: pl.DataFrame) -> pl.DataFrame:
    """One candidate per Tobii fixation: a run of consecutive samples labelled Fixation with
    one index.

    Start: the first sample; duration: the export's event duration, else last - first + one
    sample interval; position: the export's fixation point, else the mean gaze; image and
    media rectangle: of the first sample on an image."""
    dt = sample_interval(s["t"].to_numpy())
    on = pl.col("image").is_not_null()
    key = pl.struct("session", "kind", "index")
    fix = s.with_columns((key != key.shift(1)).fill_null(True).cum_sum().alias("_run")).filter(
        (pl.col("kind") == FIXATION) & pl.col("index").is_finite())
    g = fix.group_by("_run", maintain_order=True).agg(
        pl.col("session").first(),
        pl.col("line").first(), pl.col("t").first().alias("start"),
        pl.col("t").last().alias("end"), pl.col("fdur").max(),
        pl.col("fx").drop_nans().first(), pl.col("fy").drop_nans().first(),
        pl.col("x").drop_nans().mean().alias("xm"), pl.col("y").drop_nans().mean().alias("ym"),
        pl.col("pupil").drop_nans().mean(),
        pl.col("image").drop_nulls().first(),
        *(pl.col(c).filter(on).first().alias(c) for c in ("mx", "my", "mw", "mh", "iw", "ih",
                                                          "trial", "t0")),
        pl.col("trial").first().alias("_trial0"), pl.col("t0").first().alias("_t00"),
    )
    return g.select(
        "session", "line", "start", "pupil", "image", "mx", "my", "mw", "mh", "iw", "ih",
        pl.coalesce("trial", "_trial0").alias("trial"),
        (pl.col("start") - pl.coalesce("t0", "_t00")).alias("onset"),
        pl.when(pl.col("fdur").is_finite()).then("fdur")
        .otherwise(pl.col("end") - pl.col("start") + dt).alias("duration"),
        pl.when(pl.col("fx").is_finite()).then("fx").otherwise("xm").alias("sx"),
        pl.when(pl.col("fy").is_finite()).then("fy").otherwise("ym").alias("sy"),
    )


class TobiiRecording(Recording):
    """The gaze samples of a Tobii export, one :class:`~gazeprep.read.result.Series` per
    viewing on an image (see the module notes), and the placement of fixations on the images.

    ``labels``: Tobii's per-sample label (``Eye movement type``) of each series, and
    ``filter_name`` the filter that made them, for checking a detector against Tobii's own
    filter (``pipelines/bench_ivt_tobii.py``).
    """

    filter_name: str | None = None

    def __init__(self, res: FileResult, detector: str, screen: tuple[float, float],
                 s: pl.DataFrame, opts: IngestOptions, media: bool):
        self.result, self.detector, self.screen_px = res, detector, screen
        self.opts, self.media = opts, media
        self.series: list[Series] = []
        self.labels: list[np.ndarray] = []
        self.views: list[dict] = []
        mm = all(c in s.columns for c in MM_COLUMNS)
        on = s.filter(pl.col("image").is_not_null()) if media else s
        for _, v in on.group_by("view", maintain_order=True):
            se = Series(v["t"].to_numpy(), v["x"].to_numpy(), v["y"].to_numpy(),
                        v["pupil"].to_numpy())
            if mm:
                se.eye_mm = v.select("ex", "ey", "ez").to_numpy()
                se.gaze_mm = v.select("gx", "gy", "gz").to_numpy()
            self.series.append(se)
            self.labels.append(v["kind"].to_numpy())
            self.views.append(v.row(0, named=True) | {"lines": v["line"].to_numpy()})
        res.quality_input = _facts(res, self.series, [v["trial"] for v in self.views])

    def place(self, found: list[dict[str, np.ndarray]]) -> FileResult:
        """The file's fixations from the detections of each series."""
        rows = []
        for v, d in zip(self.views, found, strict=True):
            n = d["first"].size
            rows.append(pl.DataFrame({
                "session": [v["session"]] * n, "line": v["lines"][d["first"]],
                "start": d["start"], "pupil": d["pupil"], "image": [v["image"]] * n,
                **{k: np.full(n, v[k], np.float64) for k in ("mx", "my", "mw", "mh", "iw",
                                                               "ih")},
                "trial": [v["trial"]] * n, "onset": d["start"] - v["t0"],
                "duration": d["duration"], "sx": d["x"], "sy": d["y"]},
                schema_overrides={"image": pl.String, "trial": pl.String,
                                  "session": pl.String}))
        return self.keep(pl.concat(rows) if rows else None)

    def keep(self, cand: pl.DataFrame | None) -> FileResult:
        """:func:`keep` with this recording's result, options and fixation counts."""
        return keep(self.result, cand, self.opts, self.media, self.result.quality_input.fixations)


def keep(res: FileResult, cand: pl.DataFrame | None, opts: IngestOptions, media: bool,
         counts: Counter) -> FileResult:
    """Place candidate fixations on their images; drop and count those off any image, outside
    it or too short; the result's fixations.

    Parameters
    ----------
    cand : polars.DataFrame or None
        One row per candidate: ``session, trial, image, line, start`` (ms), ``onset``,
        ``duration`` (ms), ``sx, sy`` (screen px), ``pupil``, the media rectangle ``mx, my,
        mw, mh`` and original size ``iw, ih``.
    counts : Counter
        ``(trial, eye, kept or reason)`` counts for gaze quality.
    """
    if cand is None or not cand.height:
        res.fixations = empty_reader_frame()
        res.check_balance()
        return res
    res.rows_read += cand.height
    bad = _bad_numbers(cand)
    if bad.is_not_null().any():
        i = int(bad.is_not_null().arg_max())
        if not opts.lenient:
            raise GazeprepError(f"{bad[i]}; expected {NUMBERS_EXPECTED} and a media size in "
                                f"(0, {MAX_SIDE_PX}] px", file=res.path,
                                line=int(cand["line"][i]))
    cand = cand.with_columns(((pl.col("sx") - pl.col("mx")) / pl.col("mw")).alias("nx"),
                             ((pl.col("sy") - pl.col("my")) / pl.col("mh")).alias("ny"))
    why = cand.select(
        pl.when(pl.col("image").is_null()).then(pl.lit("no_image"))
        .when(bad.is_not_null()).then(pl.lit("bad_value"))
        .when(~(pl.col("sx").is_finite() & pl.col("sy").is_finite()))
        .then(pl.lit("no_position"))
        .when(~(pl.col("nx").is_between(0, 1) & pl.col("ny").is_between(0, 1)))
        .then(pl.lit("outside_image"))
        .when(pl.col("duration") < opts.min_duration).then(pl.lit("short"))
        .otherwise(None)).to_series()
    tally = cand.select("trial", why.fill_null("kept").alias("r"), "line")
    for trial, reason, n in tally.group_by("trial", "r").len().rows():
        counts[(trial, "", reason)] += n
    for reason, part in tally.filter(pl.col("r") != "kept").group_by("r", maintain_order=True):
        _drops(res, reason[0], part["line"])
    kept = cand.filter(why.is_null())
    eye = opts.eye if opts.eye in ("L", "R") else ""
    res.fixations = conform(
        kept.join(_sizes(res, kept, opts, media), on="image", how="left",
                  maintain_order="left").select(
            "image", "session", "trial", pl.lit(eye).alias("eye"), pl.col("nx").alias("x"),
            pl.col("ny").alias("y"), pl.col("onset").alias("onset_ms"),
            pl.col("duration").alias("duration_ms"), pl.col("pupil").fill_nan(None),
            "width", "height", pl.lit(Path(res.path).name).alias("source"),
            pl.col("start").alias("order"), "line"))
    res.check_balance()
    return res


def _bad_numbers(cand: pl.DataFrame) -> pl.Series:
    """Per candidate on an image, why its duration, onset, pupil size or media rectangle
    cannot be used (null if they can): an inf duration or a media 0 px wide would make a
    table that looks right."""
    def size(c: str) -> pl.Expr:  # NaN: not in the export
        return pl.col(c).is_nan() | pl.col(c).is_between(0, MAX_SIDE_PX, closed="right")

    media = pl.all_horizontal(*(size(c) for c in ("mw", "mh", "iw", "ih")),
                              *(pl.col(c).is_nan() | (pl.col(c).abs() <= MAX_COORD_PX)
                                for c in ("mx", "my")))
    numbers = number_problems(cand.select(
        pl.when(pl.col("image").is_null()).then(pl.lit("no_image")).otherwise(None)
        .alias("drop"), pl.col("duration").alias("duration_ms"),
        pl.col("onset").alias("onset_ms"), "pupil"), {})
    return cand.select(
        pl.when(pl.col("image").is_null()).then(None).when(numbers.is_not_null())
        .then(numbers).when(~media)
        .then(pl.format("media {} x {} px at ({}, {}) px, original size {} x {}, is no image "
                        "rectangle", "mw", "mh", "mx", "my", "iw", "ih"))
        .otherwise(None).alias("bad")).to_series()


def _drops(res: FileResult, reason: str, lines: pl.Series) -> None:
    """Count every drop of one reason; list the first :data:`MAX_DROPS_LISTED` (as
    :meth:`FileResult.drop` does one by one)."""
    listed = max(0, MAX_DROPS_LISTED - res.dropped[reason])
    for ln in lines.head(listed).to_list():
        res.drop(reason, ln)
    res.dropped[reason] += max(0, lines.len() - listed)


def _sizes(res: FileResult, kept: pl.DataFrame, opts: IngestOptions,
           media: bool) -> pl.DataFrame:
    """Pixel size per image (see the module notes), recorded in ``res.images``."""
    rows = []
    for image, iw, ih, mw, mh in kept.group_by("image", maintain_order=True).agg(
            pl.col("iw", "ih", "mw", "mh").drop_nans().first()).rows():
        size, problems = images_lookup(opts, image)
        source = "--images file" if size else "unknown"
        if size is None and opts.images is None:
            pick = (iw, ih) if iw and ih else (mw, mh)
            size = (int(round(pick[0])), int(round(pick[1])))
            source = ("report columns" if media else
                      "--image-rect" if opts.image_rect is not None else "screen")
        res.image(image, size, source, problems)
        rows.append((image, *(size or (None, None))))
    return pl.DataFrame(rows, schema={"image": pl.String, "width": pl.Int32,
                                      "height": pl.Int32}, orient="row")


def _facts(res: FileResult, series: list[Series], labels: list[str | None]) -> RecordingFacts:
    """Gaze quality's facts: one window per viewing, from its first sample to one sample
    interval after its last, at the measured rate."""
    n = [se.t.size for se in series]
    t = np.concatenate([se.t for se in series]) if series else np.zeros(0)
    dt = sample_interval(t)
    xy = [np.concatenate([getattr(se, k) for se in series])[None] if series
          else np.zeros((1, 0)) for k in ("x", "y")]
    return RecordingFacts(
        session=Path(res.path).stem, labels=labels,
        start=np.array([se.t[0] for se in series], np.float64),
        end=np.array([se.t[-1] + dt for se in series], np.float64), t=t, x=xy[0], y=xy[1],
        eyes=("",), rate=np.full(len(series), np.nan),
        window=np.repeat(np.arange(len(series)), n))


def no_media(s: pl.DataFrame, rect: tuple[float, float, float, float], name: str
             ) -> pl.DataFrame:
    """The samples of an export without media: all on one image, ``name``, at ``rect``."""
    return s.with_columns(pl.lit(name).alias("image"),
                          *(pl.lit(v, F).alias(k) for k, v in zip(("mx", "my", "mw", "mh"),
                                                                  rect, strict=True)))
