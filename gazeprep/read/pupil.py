"""Reader for Pupil Labs Core exports from Pupil Player (``--format pupil-core``).

Files (``<recording>/exports/<NNN>/``):

- ``surfaces/fixations_on_surface_<name>.csv`` (``fixation_id, start_timestamp`` s,
  ``duration`` ms, ``x_norm, y_norm``, ``on_surf``; one row per fixation and world frame) and
  ``surfaces/gaze_positions_on_surface_<name>.csv`` (``gaze_timestamp, x_norm, y_norm,
  on_surf, confidence``): gaze mapped onto a surface. **The surface is the image**, its id
  ``<name>``. A surface file is read when the export has one: the scene-camera files of that
  export are then skipped (they are the same gaze, in the scene camera's picture).
- ``fixations.csv`` (``id, start_timestamp, duration, norm_pos_x, norm_pos_y``...) and
  ``gaze_positions.csv`` (``gaze_timestamp, confidence, norm_pos_x, norm_pos_y``...): gaze in the
  scene camera's picture, the "image" then being the recording (its id the session's).

Pupil's normalised coordinates have their origin **bottom-left**: y is flipped (0 = top in
gazeprep). Fixations (Pupil's own, ``detector: tracker``) are read when the export has them;
one fixation per ``fixation_id`` (its rows averaged, those on the surface); one never on the
surface (``on_surf`` False) is dropped as ``outside_image``. Without a fixation file the gaze
samples go to our I-VT / I-DT: a sample below Pupil's default minimum confidence (0.6) is
missing, the surface (or scene picture) spread over the screen geometry (``--screen-px``) for
the thresholds in degrees. Times are Pupil seconds; onsets count from the first gaze sample of
the matching gaze file beside the fixations (else the first fixation).

Walking a folder, ingest reads one file per surface (or per export) and lists every other file
of a Pupil export it skips, with the reason (:func:`companions`). The session is the recording
folder's name (with its parent's when it is a bare number like ``000``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.read.delimited import check_unique
from gazeprep.read.result import FileResult
from gazeprep.read.vendor import (
    candidates,
    check_order,
    check_samples,
    companion,
    finish,
    image_name,
    numbers,
    read_rows,
    require,
    screen_rect,
    vendor_fixations,
)

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

SURFACE = re.compile(r"^(fixations|gaze_positions)_on_surface_(.+)\.csv$")
#: Pupil's default minimum data confidence.
MIN_CONFIDENCE = 0.6
#: Header columns that tell each kind of file.
KINDS = {
    "surface_fixations": {"fixation_id", "x_norm", "y_norm", "on_surf"},
    "surface_gaze": {"gaze_timestamp", "x_norm", "y_norm", "on_surf"},
    "fixations": {"id", "start_timestamp", "duration", "norm_pos_x", "norm_pos_y"},
    "gaze": {"gaze_timestamp", "norm_pos_x", "norm_pos_y"},
}


def kind_of(header: list[str]) -> str | None:
    """Which Pupil Core file a header is (a key of :data:`KINDS`), else None."""
    h = {c.strip() for c in header}
    return next((k for k, need in KINDS.items() if need <= h), None)


def sniff(probe: Probe) -> bool:
    """A header of a Pupil Player fixation or gaze file (scene camera or surface)."""
    return kind_of(probe.header) is not None


def _kind(path: Path) -> str | None:
    from gazeprep.read.probe import Probe

    try:
        return kind_of(Probe.of(path).header)
    except (OSError, GazeprepError):
        return None


def companions(files: list[Path]) -> dict[Path, str]:
    """Files of a Pupil export that a folder walk does not read, with the reason."""
    # Only the names Player gives its gaze files are opened (a walk may see thousands).
    kinds = {f: _kind(f) for f in files
             if f.name in ("fixations.csv", "gaze_positions.csv") or SURFACE.match(f.name)}
    exports = {(f.parent.parent if f.parent.name == "surfaces" else f.parent)
               for f, k in kinds.items() if k}
    surfaced = {f.parent.parent for f, k in kinds.items() if k == "surface_fixations"
                or k == "surface_gaze"}
    fixed = {(f.parent, _surface(f)) for f, k in kinds.items()
             if k in ("fixations", "surface_fixations")}
    skip: dict[Path, str] = {}
    for f in files:
        export = f.parent.parent if f.parent.name == "surfaces" else f.parent
        if export not in exports:
            continue
        k = kinds.get(f)
        if k in ("fixations", "gaze") and export in surfaced:
            skip[f] = "Pupil scene-camera gaze; this export's surface files are read"
        elif k in ("gaze", "surface_gaze") and (f.parent, _surface(f)) in fixed:
            skip[f] = "Pupil gaze samples; the fixations file beside it is read"
        elif k is None:
            skip[f] = "Pupil export file without gaze fixations or samples"
    return skip


def _surface(path: Path) -> str | None:
    m = SURFACE.match(path.name)
    return m.group(2) if m else None


def session_of(path: Path) -> str:
    """The recording folder's name (``<parent>_<name>`` when the name is a bare number)."""
    parts = path.parent.parts
    if "exports" in parts:
        rec = Path(*parts[: len(parts) - parts[::-1].index("exports") - 1])
    else:
        rec = path.parent.parent if path.parent.name == "surfaces" else path.parent
    return f"{rec.parent.name}_{rec.name}" if rec.name.isdigit() else rec.name


def read(path: str, opts: IngestOptions):
    """Read a Pupil Player fixation or gaze file (see the module notes).

    Returns
    -------
    FileResult or SampleRecording
        Fixations, or the gaze samples for the detector.

    Raises
    ------
    GazeprepError
        Not a Pupil file, a missing column, text where a number must be, times going back.
    """
    p = Path(path)
    table = read_rows(str(path), "Pupil Player export")
    kind = kind_of(table.header)
    if kind is None:
        raise GazeprepError(f"not a Pupil Player fixation or gaze file; expected the columns "
                            f"of one of {', '.join(' '.join(sorted(v)) for v in KINDS.values())}"
                            f"; found {table.header}", file=path, line=1)
    res = FileResult(path=str(path), format="pupil-core")
    res.notes.update(table.notes)
    surface = _surface(p) if kind.startswith("surface") else None
    name = image_name(*((surface, path, None, "surface name") if surface else
                        (session_of(p), path, None, "recording folder name")))
    if kind in ("gaze", "surface_gaze"):
        return _gaze(res, table, kind, name, opts)
    return _fixations(res, table, kind, name, p, opts)


def _fixations(res: FileResult, table, kind: str, name: str, p: Path,
               opts: IngestOptions) -> FileResult:
    """Pupil's fixations: one per id, normalised (y flipped), off-surface ones dropped."""
    surf = kind == "surface_fixations"
    cols = ({"id": "fixation_id", "start": "start_timestamp", "duration": "duration",
             "x": "x_norm", "y": "y_norm"} if surf else
            {"id": "id", "start": "start_timestamp", "duration": "duration",
             "x": "norm_pos_x", "y": "norm_pos_y"})
    require(table.header, cols.values(), res.path, "Pupil fixation file")
    check_unique(table.header, cols.values(), res.path)
    v = numbers(table.df, cols, table.lines, res.path, required=("id", "start", "duration"))
    on = (table.df["on_surf"].str.strip_chars().str.to_lowercase() == "true") if surf else \
        pl.Series([True] * v.height)
    v = v.with_columns(on.fill_null(False).alias("on"))
    f = v.group_by("id", maintain_order=True).agg(
        pl.col("line").first(), pl.col("start").first(), pl.col("duration").first(),
        pl.col("x").filter(pl.col("on")).mean(), pl.col("y").filter(pl.col("on")).mean(),
        pl.col("on").any())
    check_order(f["start"].to_numpy(), f["line"].to_numpy(), res.path, "start_timestamp")
    t0 = _first_gaze(p, f["start"].min() if f.height else 0.0)
    vendor_fixations(res, opts, "Pupil Player's fixations (one per fixation id)",
                     "name the gaze_positions*.csv file to detect on its samples")
    size = _size(res, name, opts)
    start = f["start"].to_numpy() * 1000.0
    return finish(res, candidates(
        image=name, session=session_of(p), trial=None, eye="",
        x=f["x"].fill_null(np.nan).to_numpy(), y=1.0 - f["y"].fill_null(np.nan).to_numpy(),
        onset_ms=start - t0 * 1000.0, duration_ms=f["duration"], pupil=None,
        width=size[0] if size else None, height=size[1] if size else None, order=start,
        line=f["line"], drop=np.where(f["on"].to_numpy(), None, "outside_image").tolist(),
        detail=None if not surf else "off the surface (on_surf False)"), opts,
        {"duration_ms": "column duration", "onset_ms": "column start_timestamp"})


def _first_gaze(p: Path, default: float) -> float:
    """The first gaze time (s) of the gaze file matching fixation file ``p``, else
    ``default``: when the gaze (and the image) began.

    Raises
    ------
    GazeprepError
        The gaze file is there but is no regular file in this folder (:func:`companion`).
    """
    from gazeprep.read.probe import Probe

    m = SURFACE.match(p.name)
    gaze = p.with_name(f"gaze_positions_on_surface_{m.group(2)}.csv" if m else
                       "gaze_positions.csv")
    if not gaze.is_symlink() and not gaze.exists():
        return default
    # Its first lines only: the head a format probe reads.
    text = Probe.of(companion(gaze, "the gaze file beside the fixations")).text
    try:
        head, row = (ln.strip().split(",") for ln in text.split("\n", 2)[:2])
        return float(row[head.index("gaze_timestamp")])
    except (ValueError, IndexError):
        return default


def _size(res: FileResult, name: str, opts: IngestOptions) -> tuple[int, int] | None:
    """The image's size from ``--images`` (Pupil's files do not say it), else unknown."""
    from gazeprep.read.result import images_lookup

    size, problems = images_lookup(opts, name)
    res.image(name, size, "--images file" if size else "unknown", problems)
    return size


def _gaze(res: FileResult, table, kind: str, name: str, opts: IngestOptions):
    """Gaze samples for the detector: the surface (or scene picture) spread over the screen."""
    from gazeprep.read.samples import SampleRecording

    x, y = ("x_norm", "y_norm") if kind == "surface_gaze" else ("norm_pos_x", "norm_pos_y")
    cols = {"t": "gaze_timestamp", "x": x, "y": y}
    if "confidence" in table.header:
        cols["c"] = "confidence"
    require(table.header, cols.values(), res.path, "Pupil gaze file")
    check_unique(table.header, cols.values(), res.path)
    v = numbers(table.df, cols, table.lines, res.path, required=("t",))
    v = v.unique("t", keep="first", maintain_order=True)
    check_order(v["t"].to_numpy(), v["line"].to_numpy(), res.path, "gaze_timestamp")
    if "c" in v.columns:
        _check_confidence(v, res.path)
    low = (v["c"] < MIN_CONFIDENCE).fill_null(False) if "c" in v.columns else \
        pl.Series([False] * v.height)
    res.notes["low_confidence_samples"] = int(low.sum())
    detector = "ivt" if opts.detector == "auto" else opts.detector
    if detector == "tracker":
        raise GazeprepError("a gaze file carries no fixations; expected --detector ivt or idt, "
                            "or Pupil's fixations file", file=res.path)
    res.notes["detector"] = detector
    screen, rect = screen_rect(res, opts)
    bad = low.to_numpy()
    xs = np.where(bad, np.nan, v["x"].fill_null(np.nan).to_numpy())
    ys = np.where(bad, np.nan, 1.0 - v["y"].fill_null(np.nan).to_numpy())
    frame = pl.DataFrame({"t": v["t"].to_numpy() * 1000.0, "x": rect[0] + xs * rect[2],
                          "y": rect[1] + ys * rect[3], "pupil": np.full(v.height, np.nan),
                          "line": v["line"]}).with_columns(pl.lit(name, pl.String).alias("image"))
    check_samples(frame, res.path, "gaze_timestamp")
    res.n_samples = frame.height
    return SampleRecording(res, detector, screen, frame, False, rect, opts, set())


def _check_confidence(v: pl.DataFrame, path: str) -> None:
    """Refuse a confidence outside 0-1 (NaN included): Pupil writes 0 to 1, and another
    number means another column or a damaged file, which the 0.6 threshold would misread.

    Raises
    ------
    GazeprepError
        Naming the first such sample's line.
    """
    bad = (v["c"].is_nan() | (v["c"] < 0) | (v["c"] > 1)).fill_null(False).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GazeprepError(f"column 'confidence' is {v['c'][i]!r}; expected a confidence from "
                            "0 to 1 (or an empty cell)", file=path, line=int(v["line"][i]))
