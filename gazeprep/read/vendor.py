"""Machinery the readers of other trackers' exports share (SMI, Pupil Labs, Gazepoint, REFLACX).

- :func:`numbers`: the numeric columns of a table, decimal comma or point (never both in one
  file), each bad value an error naming file, line and column;
- :func:`screen_rect`: the screen and the image's rectangle on it (``--screen-px``,
  ``--image-rect``), as for sample files;
- :func:`shown_size`: an image's pixel size (``--images``, else the size it was shown at);
- :func:`finish`: candidate fixations in 0-1 of their image -> the file's
  :class:`~gazeprep.read.result.FileResult`, every drop counted by reason with its line
  (``invalid`` and the like decided by the reader, then ``outside_image`` and ``short``);
- :func:`pick_eye`: which eye of a binocular export is read (``--eye``);
- :func:`image_name`: an image id from a name the file gives, refused when none is usable;
- :func:`companion`: a file a reader finds beside its input (a metadata table, a reference
  image), used only when it is a regular file lying, links followed, in its folder;
- :func:`check_samples`: sample times and positions handed to the detector, within
  :mod:`gazeprep.limits`.

Numbers that would make a silently wrong table are refused naming file, line and column
(``--lenient``: dropped as ``bad_value``): a duration that is not a number, negative or over a
day, an onset more than a day from its viewing's start (a clock that jumps), a pupil size
beyond float32.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.limits import (
    MAX_COORD_PX,
    MAX_DURATION_MS,
    coarse_times,
    rect_problem,
    time_problem,
)
from gazeprep.read.result import (
    MAX_ID_BYTES,
    FileResult,
    conform,
    image_id,
    images_lookup,
    sample_interval,
)

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions

#: Text meaning "no value" in the exports (Pupil writes empty cells, SMI ``-``).
MISSING = ("", "-", ".", "NA", "NAN", "N/A", "NONE")
#: Short rows listed one by one in ``ingest.json`` with ``--lenient`` (all are dropped).
MAX_ERRORS_LISTED = 20
#: The screen assumed when neither the file nor ``--screen-px`` gives one.
DEFAULT_SCREEN = (1920.0, 1080.0)
_COMMA = r"^[+-]?\d+,\d+$"
_POINT = r"^[+-]?\d*\.\d+([eE][+-]?\d+)?$"
#: Largest pupil size a float32 column holds.
_MAX_PUPIL = float(np.finfo(np.float32).max)
NUMBERS_EXPECTED = ("a duration from 0 to one day, an onset within a day of its viewing's start "
                    "and a pupil size within float32 (--lenient drops such a fixation)")


def numbers(df: pl.DataFrame, cols: dict[str, str], lines: np.ndarray, path: str,
            required: tuple[str, ...] = ()) -> pl.DataFrame:
    """Float64 columns named by the keys of ``cols`` (plus ``line``), parsed from text.

    Empty cells and :data:`MISSING` are null. A file writes its decimals with a point or, in
    tab- and semicolon-separated exports, a comma: both in one file is refused, since the
    locale cannot be both.

    Raises
    ------
    GazeprepError
        Text that is not a number (or +-inf), a missing value in a
        ``required`` column, or mixed decimal separators: naming file, line and column.
    """
    raw = df.select([pl.col(c).alias(k) for k, c in cols.items()])
    val = raw.select(pl.all().cast(pl.Float64, strict=False))

    def unparsed_columns() -> list[str]:
        return [k for k in cols if val[k].null_count() > raw[k].null_count()]

    def recast(names: list[str]) -> pl.DataFrame:
        return val.with_columns(raw.select(pl.col(names).cast(pl.Float64, strict=False)))

    redo = unparsed_columns()  # only these columns are looked at again
    if redo:  # spaces or quotes around numbers
        raw = raw.with_columns(pl.col(redo).str.strip_chars(' "\r'))
        val = recast(redo)
        redo = unparsed_columns()
    unparsed = dict.fromkeys(redo, True)
    if redo:  # the slow path: missing markers, decimal commas, text
        comma = raw.select(pl.any_horizontal(pl.col(redo).str.contains(_COMMA).fill_null(False))
                           ).to_series()
        if comma.any():
            _check_decimals(raw, comma, lines, path)
            raw = raw.with_columns(pl.col(redo).str.replace(",", ".", literal=True))
            val = recast(redo)
    for k in cols:
        bad = val[k].is_infinite().fill_null(False)
        if unparsed.get(k):
            bad = bad | (val[k].is_null() & raw[k].is_not_null()
                         & ~raw[k].str.to_uppercase().is_in(list(MISSING)))
        if k in required:
            bad = bad | val[k].is_null() | val[k].is_nan()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            got = raw[k][i]
            what = "missing" if got is None or got.upper() in MISSING else f"{got!r}"
            raise GazeprepError(f"column {cols[k]!r} is {what}; expected a finite number",
                                file=path, line=int(lines[i]))
    return val.with_columns(pl.Series("line", lines, pl.Int64))


def _check_decimals(raw: pl.DataFrame, comma: pl.Series, lines: np.ndarray, path: str) -> None:
    """Refuse a decimal point in a file whose other rows write decimal commas."""
    point = raw.select(pl.any_horizontal(pl.all().str.contains(_POINT).fill_null(False))
                       ).to_series()
    if not point.any():
        return
    c, p = (int(np.flatnonzero(m.to_numpy())[0]) for m in (comma, point))
    first, later = sorted((c, p))
    here = "comma" if later == c else "point"
    other = "point" if here == "comma" else "comma"
    raise GazeprepError(
        f"mixed decimal separators: a decimal {here} here, a decimal {other} on line "
        f"{int(lines[first])}; expected one decimal separator in the whole file",
        file=path, line=int(lines[later]))


def read_rows(path: str, what: str, lenient: FileResult | None = None, **kwargs):
    """:func:`~gazeprep.read.delimited.read_table` (``kwargs`` passed on), refusing rows with
    fewer fields than the header (a file cut short, a lost separator): polars would fill them
    with nulls, which would pass for missing values.

    Parameters
    ----------
    lenient : FileResult, optional
        ``--lenient``: drop such rows instead, each recorded as an error of this result.

    Raises
    ------
    GazeprepError
        Naming the first short row's line, its field count and the header's.
    """
    from gazeprep.read.delimited import read_table

    table = read_table(path, what, count_fields=True, **kwargs)
    if not table.short.size:
        return table
    n, last = len(table.header), table.df.height - 1
    errors = [GazeprepError(
        f"row has {k} fields, the header {n}"
        f"{' (the file ends in the middle of a row)' if i == last else ''}; expected a value "
        "(or an empty field) for every column", file=path, line=int(table.lines[i]))
        for i, k in zip(table.short.tolist(), table.fields.tolist(), strict=True)]
    if lenient is None:
        raise errors[0]
    for err in errors[:MAX_ERRORS_LISTED]:
        lenient.error(err)
    keep = np.ones(table.df.height, bool)
    keep[table.short] = False
    table.df, table.lines = table.df.filter(pl.Series(keep)), table.lines[keep]
    table.short = table.fields = np.zeros(0, np.int64)
    return table


def _num(v: float) -> str:
    """A number as written (shortest round-trip form, no trailing ``.0``)."""
    return repr(float(v)).removesuffix(".0")


def require(header: list[str], names, path: str, what: str) -> None:
    """Refuse a header that lacks one of the column ``names`` a reader uses.

    Raises
    ------
    GazeprepError
        Naming the missing columns (line 1) and what the file should be.
    """
    missing = [n for n in names if n not in header]
    if missing:
        raise GazeprepError(f"{what} lacks column(s) {', '.join(missing)}; expected "
                            f"{', '.join(names)}; found {header}", file=path, line=1)


def check_order(t: np.ndarray, lines: np.ndarray, path: str, what: str,
                group: np.ndarray | None = None) -> None:
    """Refuse a time going backwards (``t`` in file order; NaN skipped); with ``group``, only
    within runs of equal values (a recording whose clock restarts per session).

    Raises
    ------
    GazeprepError
        Naming the line whose time is earlier than the one before it.
    """
    ok = np.isfinite(t)
    tt, ll = t[ok], lines[ok]
    back = np.diff(tt) < 0
    if group is not None:
        g = np.asarray(group)[ok]
        back &= g[1:] == g[:-1]
    back = np.flatnonzero(back)
    if back.size:
        i = int(back[0]) + 1
        raise GazeprepError(f"{what} {_num(tt[i])} is earlier than the previous row's "
                            f"({_num(tt[i - 1])}); expected times that never go backwards",
                            file=path, line=int(ll[i]))


def screen_rect(res: FileResult, opts: IngestOptions,
                screen: tuple[float, float] | None = None, *,
                note_whole_screen: bool = False) -> tuple[tuple, tuple]:
    """The screen (px) and the image's rectangle on it ``(x, y, w, h)``.

    The screen is ``--screen-px``, else the file's (``screen``), else :data:`DEFAULT_SCREEN`
    (noted in the report); the image lies at ``--image-rect``, else covers the screen (noted
    as ``image_rect`` with ``note_whole_screen``: a file whose positions are always in screen
    pixels, where that default is rarely right).
    """
    if opts.screen_px is not None:
        screen = tuple(opts.screen_px)
    elif screen is None:
        screen = DEFAULT_SCREEN
        res.notes["screen_px"] = f"assumed {screen[0]:g} x {screen[1]:g} (pass --screen-px)"
    rect = tuple(opts.image_rect) if opts.image_rect is not None else (0.0, 0.0, *screen)
    if note_whole_screen and opts.image_rect is None:
        res.notes["image_rect"] = (f"screen pixels and no --image-rect: the image is taken to "
                                   f"cover the whole screen, 0 0 {screen[0]:g} {screen[1]:g} "
                                   "(pass --image-rect X Y W H where it lay)")
    problem = rect_problem(tuple(float(v) for v in rect))
    if problem:
        raise GazeprepError(f"--image-rect / --screen-px is not a usable image rectangle "
                            f"({problem})", file=res.path)
    return screen, rect


def shown_size(res: FileResult, name: str, rect: tuple, opts: IngestOptions,
               problems: list[str]) -> tuple[int, int] | None:
    """Pixel size of image ``name``: its ``--images`` file; without ``--images``, the size it
    was shown at (``--image-rect`` or the screen). Recorded in ``res.images``."""
    size, missing = images_lookup(opts, name)
    if size is not None:
        source = "--images file"
    elif opts.images is not None:
        source = "unknown"
    else:
        size = (int(round(rect[2])), int(round(rect[3])))
        source = "--image-rect" if opts.image_rect is not None else "screen"
    res.image(name, size, source, problems + missing)
    return size


def pick_eye(res: FileResult, eyes: list[str], opts: IngestOptions) -> list[str]:
    """The eyes read of those an export has (``"L"``, ``"R"``): ``--eye L|R|both``; ``auto``:
    the left one when present, else the right (as for a binocular EyeLink file), noted.

    Raises
    ------
    GazeprepError
        ``--eye L`` or ``R`` asking for an eye the file does not have.
    """
    if opts.eye == "both":
        return eyes
    if opts.eye in ("L", "R"):
        if opts.eye not in eyes:
            raise GazeprepError(f"--eye {opts.eye}, but the file has only "
                                f"{', '.join(eyes) or 'no eye'}; expected --eye auto or one of "
                                "those", file=res.path)
        return [opts.eye]
    if len(eyes) > 1:
        res.notes["eye"] = f"{eyes[0]} of {', '.join(eyes)} (--eye auto; --eye both for each)"
    return eyes[:1]


def vendor_fixations(res: FileResult, opts: IngestOptions, what: str, samples: str) -> None:
    """Record that the file's fixations are the vendor's (``notes.detector: tracker``).

    Raises
    ------
    GazeprepError
        ``--detector ivt`` or ``idt``: the file holds fixations, not samples to detect on
        (``samples`` says where the samples are).
    """
    if opts.detector in ("ivt", "idt"):
        raise GazeprepError(f"holds {what}, no samples for --detector {opts.detector}; expected "
                            f"--detector auto or tracker ({samples})", file=res.path)
    res.notes["detector"] = "tracker"
    res.notes["fixations"] = what


def session_of(stem: str, eye: str, eyes: list[str]) -> str:
    """The session of a track: the file's stem, ``<stem>:<eye>`` when each eye is read."""
    return f"{stem}:{eye}" if len(eyes) > 1 else stem


def image_name(name: str | None, path: str, line: int | None = None,
               what: str = "image name") -> str:
    """The image id of ``name`` (:func:`~gazeprep.read.result.image_id`).

    Raises
    ------
    GazeprepError
        No usable id: empty, a path without a file name, a control character, too long.
    """
    got = image_id(name or "")
    if not got:
        shown = (name or "")[:60] + ("..." if len(name or "") > 60 else "")
        raise GazeprepError(f"{what} {shown!r} gives no image id (empty, a path without a file "
                            f"name, a control character or over {MAX_ID_BYTES} bytes); expected "
                            "an image file name", file=path, line=line)
    return got


def companion(path: Path, what: str) -> Path:
    """``path`` resolved, when it is a regular file that lies, links followed, in the folder
    where it was found (never a named pipe, which would block, nor a link out of the folder).

    Raises
    ------
    GazeprepError
        Naming ``path``; the message does not depend on what a link points to.
    """
    real = path.resolve()
    if not real.is_relative_to(path.parent.resolve()):
        raise GazeprepError(f"{what} is a link to a file outside its folder; expected the file "
                            "itself in this folder (copy it here)", file=path)
    try:
        mode = real.stat().st_mode
    except OSError as exc:
        raise GazeprepError(f"cannot read {what} ({exc.strerror}); expected a readable file",
                            file=path) from exc
    if not stat.S_ISREG(mode):
        raise GazeprepError(f"{what} is not a regular file (a named pipe, device or folder); "
                            "expected a file", file=path)
    return real


def check_samples(frame: pl.DataFrame, path: str, time_col: str) -> None:
    """Refuse sample times (``t``, ms) and positions (``x``, ``y``, screen px) the detector
    cannot use: a time that is not finite, beyond 2**53 ms or too coarse for the sampling
    interval, a position beyond +-:data:`~gazeprep.limits.MAX_COORD_PX`.

    Raises
    ------
    GazeprepError
        Naming the first such sample's line and the column.
    """
    t = frame["t"].to_numpy()
    bad = ~np.isfinite(t) | coarse_times(t, sample_interval(t))
    with np.errstate(invalid="ignore"):
        far = [np.abs(frame[k].to_numpy()) > MAX_COORD_PX for k in ("x", "y")]
    first = np.flatnonzero(bad | far[0] | far[1])
    if not first.size:
        return
    i = int(first[0])
    if bad[i]:
        why = f"column {time_col!r}: {time_problem(float(t[i]), sample_interval(t))}"
    else:
        k = "x" if far[0][i] else "y"
        why = (f"{k} {_num(frame[k][i])} px on screen is beyond +-{MAX_COORD_PX:g} px; expected "
               "a position column in the units the reader documents")
    raise GazeprepError(why, file=path, line=int(frame["line"][i]))


def number_problems(cand: pl.DataFrame, columns: dict[str, str]) -> pl.Series:
    """Per candidate the reader did not flag, why its duration, onset or pupil is unusable."""
    def src(k: str) -> str:
        return f" ({columns[k]})" if k in columns else ""

    d, o, p = pl.col("duration_ms"), pl.col("onset_ms"), pl.col("pupil")
    return cand.select(
        pl.when(pl.col("drop").is_not_null()).then(None)
        .when(d.is_null() | ~d.is_finite())
        .then(pl.format(f"duration {{}} ms{src('duration_ms')} is not a finite number", d))
        .when(d < 0).then(pl.format(f"duration {{}} ms{src('duration_ms')} is negative", d))
        .when(d > MAX_DURATION_MS)
        .then(pl.format(f"duration {{}} ms{src('duration_ms')} is over a day", d))
        .when(o.is_null() | ~o.is_finite() | (o.abs() > MAX_DURATION_MS))
        .then(pl.format(f"onset {{}} ms{src('onset_ms')} is not within a day of the start "
                        "of its viewing (a time that jumps)", o))
        .when(p.is_not_null() & ~p.is_nan() & (p.abs() > _MAX_PUPIL))
        .then(pl.format(f"pupil size {{}}{src('pupil')} does not fit a float32", p))
        .otherwise(None).alias("bad")).to_series()


def finish(res: FileResult, cand: pl.DataFrame, opts: IngestOptions,
           columns: dict[str, str] | None = None) -> FileResult:
    """The file's fixations from its candidates; drops counted by reason with their lines.

    Parameters
    ----------
    res : FileResult
        The file's result so far; its images are recorded by the caller.
    cand : polars.DataFrame
        One row per candidate fixation: ``image, session, trial, eye, x, y`` (0-1 of the
        image), ``onset_ms, duration_ms, pupil, width, height, order, line`` and ``drop``
        (a reason the reader decided, e.g. ``invalid``, else null) with ``detail``.
    opts : IngestOptions
        ``min_duration``, ``lenient``.
    columns : dict, optional
        Where ``duration_ms``, ``onset_ms`` and ``pupil`` come from (``"column 'Duration'"``),
        for the messages.

    Returns
    -------
    FileResult
        ``res`` with its fixations; candidates the reader flagged are dropped under their
        reason, then those outside their image (``outside_image``), then those shorter than
        ``--min-duration`` (``short``).

    Raises
    ------
    GazeprepError
        A duration, onset or pupil size that is not usable (see the module notes), naming
        its line, unless ``--lenient``.
    """
    res.rows_read += cand.height
    bad = number_problems(cand, columns or {})
    if bad.is_not_null().any():
        i = int(np.flatnonzero(bad.is_not_null().to_numpy())[0])
        if not opts.lenient:
            raise GazeprepError(f"{bad[i]}; expected {NUMBERS_EXPECTED}", file=res.path,
                                line=int(cand["line"][i]))
        cand = cand.with_columns(pl.when(bad.is_not_null()).then(pl.lit("bad_value"))
                                 .otherwise(pl.col("drop")).alias("drop"),
                                 pl.coalesce(bad, pl.col("detail")).alias("detail"))
    far = pl.col("x").abs().is_between(0, MAX_COORD_PX) & pl.col("y").abs().is_between(
        0, MAX_COORD_PX)
    why = cand.select(
        pl.when(pl.col("drop").is_not_null()).then(pl.col("drop"))
        .when(pl.col("x").is_null() | pl.col("y").is_null() | pl.col("x").is_nan()
              | pl.col("y").is_nan()).then(pl.lit("invalid"))
        .when(~far | ~(pl.col("x").is_between(0, 1) & pl.col("y").is_between(0, 1)))
        .then(pl.lit("outside_image"))
        .when(pl.col("duration_ms") < opts.min_duration).then(pl.lit("short"))
        .otherwise(None).alias("why")).to_series()
    flagged = cand.with_columns(why).filter(pl.col("why").is_not_null())
    for reason, line, detail, dur in flagged.select("why", "line", "detail",
                                                    "duration_ms").iter_rows():
        res.drop(reason, line, detail or (f"{dur:g} ms" if reason == "short" else None))
    res.fixations = conform(cand.filter(why.is_null()).with_columns(
        pl.lit(Path(res.path).name).alias("source")))
    res.check_balance()
    return res


def candidates(**cols) -> pl.DataFrame:
    """A candidate frame for :func:`finish` from equal-length columns (scalars broadcast)."""
    n = max((len(v) for v in cols.values() if isinstance(v, np.ndarray | list | pl.Series)),
            default=0)
    schema = {"image": pl.String, "session": pl.String, "trial": pl.String, "eye": pl.String,
              "x": pl.Float64, "y": pl.Float64, "onset_ms": pl.Float64,
              "duration_ms": pl.Float64, "pupil": pl.Float64, "width": pl.Int32,
              "height": pl.Int32, "order": pl.Float64, "line": pl.Int64, "drop": pl.String,
              "detail": pl.String}
    data = {}
    for k, dtype in schema.items():
        v = cols.get(k)
        if isinstance(v, np.ndarray | list | pl.Series):
            data[k] = pl.Series(k, v).cast(dtype, strict=False)
        elif n:  # the one value, repeated (no list of n Python objects)
            data[k] = pl.Series(k, [v], dtype).new_from_index(0, n)
        else:
            data[k] = pl.Series(k, [], dtype)
    return pl.DataFrame(data)
