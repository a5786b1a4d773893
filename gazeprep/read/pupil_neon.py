"""Reader for Pupil Labs Neon / Pupil Cloud exports (``--format pupil-neon``).

- Timeseries export: ``fixations.csv`` (``recording id, fixation id, start timestamp [ns],
  end timestamp [ns], duration [ms], fixation x [px], fixation y [px]``...) and ``gaze.csv``
  (``recording id, timestamp [ns], gaze x [px], gaze y [px], worn``...), in pixels of the scene
  camera. The "image" is the recording's scene video (id = the recording id), 1600 x 1200 px
  (Neon's scene camera) unless ``--images`` holds an image of that id.
- Marker Mapper / Reference Image Mapper enrichments: the same files mapped onto the surface
  or the reference image, which **is the image**, its id the enrichment folder's name:
  ``fixation detected on surface`` (or ``... in reference image``), ``fixation x
  [normalized]`` (origin top-left, outside 0-1 off the surface) or ``fixation x [px]`` (pixels
  of the reference image: its size from ``--images``, else the ``reference_image.*`` beside).

Fixations are Pupil Cloud's own (``detector: tracker``), read when the folder has them; one
not detected on the surface is dropped as ``outside_image``. A ``gaze.csv`` alone (one
recording) goes to our I-VT / I-DT (samples not ``worn`` are missing). Session = recording
id, one track per (image, recording); onsets count from the recording's first fixation (first
sample) in the file. Walking a folder, ingest reads the fixations (else the gaze) once and
lists the other files of the export it skips, with the reason (:func:`companions`).
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

#: Neon's scene camera (px).
SCENE = (1600, 1200)
_X = re.compile(r"^(fixation x|gaze x|gaze position (on surface|in reference image) x) "
                r"\[(px|normalized)\]$")
_DETECTED = re.compile(r"^(fixation|gaze) detected (on surface|in reference image)$")


def kind_of(header: list[str]) -> str | None:
    """``fixations`` or ``gaze`` for a Neon / Pupil Cloud file's header, else None."""
    h = {c.strip() for c in header}
    if "recording id" not in h:
        return None
    if "start timestamp [ns]" in h and "fixation id" in h:
        return "fixations"
    return "gaze" if "timestamp [ns]" in h and any(_X.match(c) for c in h) else None


def sniff(probe: Probe) -> bool:
    """A Neon / Pupil Cloud ``fixations.csv`` or ``gaze.csv`` header."""
    return kind_of(probe.header) is not None


def companions(files: list[Path]) -> dict[Path, str]:
    """The files of a Pupil Cloud export folder that a walk does not read, with the reason."""
    from gazeprep.read.probe import Probe

    kinds: dict[Path, str | None] = {}
    for f in files:
        try:
            kinds[f] = kind_of(Probe.of(f).header) if f.name in ("fixations.csv",
                                                                   "gaze.csv") else None
        except (OSError, GazeprepError):
            kinds[f] = None
    main = {}
    for f, k in kinds.items():
        if k == "fixations" or (k == "gaze" and main.get(f.parent) is None):
            main[f.parent] = f
    return {f: ("Neon gaze samples; the fixations.csv beside it is read" if k == "gaze" else
                "Pupil Cloud export file without fixations or gaze")
            for f, k in kinds.items() if f.parent in main and main[f.parent] != f}


def read(path: str, opts: IngestOptions):
    """Read a Neon / Pupil Cloud fixation or gaze file (see the module notes).

    Raises
    ------
    GazeprepError
        Not such a file, a missing column, text where a number must be, times going back
        within a recording, reference-image pixels without the image's size.
    """
    p = Path(path)
    table = read_rows(str(path), "Pupil Cloud export")
    kind = kind_of(table.header)
    if kind is None:
        raise GazeprepError("not a Neon / Pupil Cloud fixations.csv or gaze.csv; expected "
                            "'recording id' and 'start timestamp [ns]' / 'timestamp [ns]' "
                            f"with x/y columns; found {table.header}", file=path, line=1)
    res = FileResult(path=str(path), format="pupil-neon")
    res.notes.update(table.notes)
    xcol = next(c for c in table.header if _X.match(c.strip()))
    ycol = xcol.replace(" x [", " y [")
    det = next((c for c in table.header if _DETECTED.match(c.strip())), None)
    if ycol not in table.header:
        raise GazeprepError(f"column {xcol!r} but no {ycol!r}; expected both", file=path,
                            line=1)
    cols = {"t": "start timestamp [ns]" if kind == "fixations" else "timestamp [ns]",
            "x": xcol, "y": ycol}
    if kind == "fixations":
        cols |= {"end": "end timestamp [ns]"} if "end timestamp [ns]" in table.header else {
            "duration": "duration [ms]"}
    require(table.header, cols.values(), res.path, f"Pupil Cloud {kind} file")
    check_unique(table.header, cols.values(), res.path)
    v = numbers(table.df, cols, table.lines, res.path, required=("t",))
    rec = table.df["recording id"].str.strip_chars().fill_null("")
    on = (table.df[det].str.strip_chars().str.to_lowercase() == "true").fill_null(False) \
        if det else pl.Series([True] * v.height)
    worn = table.df["worn"].str.strip_chars().is_in(["0", "0.0", "false", "False"]) \
        if "worn" in table.header else pl.Series([False] * v.height)
    v = v.with_columns(rec.alias("rec"), on.alias("on"), worn.fill_null(False).alias("off"))
    for r in v["rec"].unique(maintain_order=True).to_list():
        part = v.filter(pl.col("rec") == r)
        check_order(part["t"].to_numpy(), part["line"].to_numpy(), res.path, cols["t"])
    scale = _scale(res, p, det, xcol, opts)
    if kind == "gaze":
        return _gaze(res, v, det, scale, p, opts)
    return _fixations(res, v, det, scale, p, opts)


def _scale(res: FileResult, p: Path, det: str | None, xcol: str,
           opts: IngestOptions) -> tuple[float, float] | None:
    """Divisors that bring x, y to 0-1 of the image (None: already normalised)."""
    if xcol.endswith("[normalized]"):
        return None
    if det is None:  # the scene camera
        return None
    name = image_name(p.parent.name, res.path, what="the enrichment folder's name")
    size, problems = images_lookup(opts, name)
    if size is None:
        size = _reference_size(p.parent)
        if size is not None:
            res.image(name, size, "reference image", problems)
    else:
        res.image(name, size, "--images file", problems)
    if size is None:
        raise GazeprepError(f"{xcol!r} is in pixels of the reference image {name!r}, whose "
                            "size is unknown; expected --images DIR holding it, or the "
                            "reference_image.* beside", file=res.path, line=1)
    return float(size[0]), float(size[1])


def _reference_size(folder: Path) -> tuple[int, int] | None:
    """The size of the ``reference_image.*`` a Reference Image Mapper export holds."""
    from PIL import Image

    for f in sorted(folder.glob("reference_image.*")):
        try:
            with Image.open(companion(f, "reference image")) as im:
                return im.size
        except OSError:
            continue
    return None


def _image(res: FileResult, p: Path, det: str | None, v: pl.DataFrame,
           opts: IngestOptions, record: bool = True) -> tuple[list[str], dict]:
    """Image id per row (the recording's scene video, or the enrichment's surface) and each
    image's size, recorded in ``res.images``."""
    rec = v["rec"]
    if det is None:  # the id of a recording's first row, refused when it is no usable id
        ids: dict[str, str] = {}
        for r, line in zip(rec.to_list(), v["line"].to_list(), strict=True):
            if r not in ids:
                ids[r] = image_name(r, res.path, line, "recording id")
        names = [ids[r] for r in rec.to_list()]
    else:
        names = [image_name(p.parent.name, res.path, what="the enrichment folder's name")
                 ] * rec.len()
    sizes = {}
    for n in dict.fromkeys(names):
        size, problems = images_lookup(opts, n)
        if det is None and size is None and opts.images is None:
            size, src = SCENE, "screen"
            res.notes["scene_px"] = f"assumed Neon's {SCENE[0]} x {SCENE[1]} scene camera"
        else:
            src = "--images file" if size else "unknown"
        if record and n not in res.images:
            res.image(n, size, src, problems)
        sizes[n] = size or (None, None)
    return names, sizes


def _fixations(res: FileResult, v: pl.DataFrame, det: str | None, scale, p: Path,
               opts: IngestOptions) -> FileResult:
    """Pupil Cloud's fixations, normalised, those off the surface dropped."""
    names, sizes = _image(res, p, det, v, opts)
    x, y = v["x"].fill_null(np.nan).to_numpy(), v["y"].fill_null(np.nan).to_numpy()
    if scale is not None:
        x, y = x / scale[0], y / scale[1]
        sizes = {n: (int(scale[0]), int(scale[1])) for n in sizes}
    elif det is None:
        x = x / np.array([sizes[n][0] or SCENE[0] for n in names], float)
        y = y / np.array([sizes[n][1] or SCENE[1] for n in names], float)
    t = v["t"].to_numpy() / 1e6
    dur = (v["end"].to_numpy() / 1e6 - t) if "end" in v.columns else v["duration"].to_numpy()
    t0 = v.select(pl.col("t").min().over("rec")).to_series().to_numpy() / 1e6
    vendor_fixations(res, opts, "Pupil Cloud's fixations (fixations.csv)",
                     "name the gaze.csv beside it to detect on its samples")
    off = ~v["on"].to_numpy()
    return finish(res, candidates(
        image=names, session=v["rec"], trial=None, eye="", x=x, y=y, onset_ms=t - t0,
        duration_ms=dur, pupil=None, width=[sizes[n][0] for n in names],
        height=[sizes[n][1] for n in names], order=t, line=v["line"],
        drop=np.where(off, "outside_image", None).tolist(),
        detail=np.where(off, f"not {det}", None).tolist() if det else None), opts,
        {"duration_ms": "column end timestamp [ns] - start timestamp [ns]" if "end" in v.columns
         else "column duration [ms]", "onset_ms": "column start timestamp [ns]"})


def _gaze(res: FileResult, v: pl.DataFrame, det: str | None, scale, p: Path,
          opts: IngestOptions):
    """The gaze samples of one recording for the detector, the image spread over the
    screen geometry (``--screen-px``) for the thresholds in degrees."""
    from gazeprep.read.samples import SampleRecording

    if v["rec"].n_unique() > 1:
        raise GazeprepError("gaze of several recordings in one file; expected one recording "
                            "per gaze.csv for our detector (or read Pupil Cloud's "
                            "fixations.csv)", file=res.path)
    detector = "ivt" if opts.detector == "auto" else opts.detector
    if detector == "tracker":
        raise GazeprepError("a gaze file carries no fixations; expected --detector ivt or idt, "
                            "or the fixations.csv of the export", file=res.path)
    res.notes["detector"] = detector
    names, sizes = _image(res, p, det, v, opts, record=False)
    x, y = v["x"].fill_null(np.nan).to_numpy(), v["y"].fill_null(np.nan).to_numpy()
    if scale is not None:
        x, y = x / scale[0], y / scale[1]
    elif det is None:
        w, h = sizes[names[0]] if names else SCENE
        x, y = x / (w or SCENE[0]), y / (h or SCENE[1])
    off = v["off"].to_numpy()
    res.notes["not_worn_samples"] = int(off.sum())
    screen, rect = screen_rect(res, opts)
    frame = pl.DataFrame({
        "t": v["t"].to_numpy() / 1e6, "x": rect[0] + np.where(off, np.nan, x) * rect[2],
        "y": rect[1] + np.where(off, np.nan, y) * rect[3], "pupil": np.full(v.height, np.nan),
        "image": names, "line": v["line"]})
    check_samples(frame, res.path, "timestamp [ns]")
    res.n_samples = frame.height
    return SampleRecording(res, detector, screen, frame, False, rect, opts, set())
