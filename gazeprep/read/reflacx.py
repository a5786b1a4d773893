"""Reader for REFLACX reading folders (``--format reflacx``): chest X-rays read on an EyeLink.

The data set has one folder per reading, ``main_data/<reading id>/``, whose ``fixations.csv``
holds EyeLink's own fixations (``timestamp_start_fixation``, ``timestamp_end_fixation`` in s
from the reading's start; ``x_position``, ``y_position`` in pixels of the image, also written
``average_x_position``...; the pupil area), and a metadata table ``metadata_phase_<N>.csv``
(``id``, ``dicom_id``, ``image_size_x``, ``image_size_y``, ``eye_tracking_data_discarded``...)
beside the reading folders or one folder up, which names each reading's image.

Each reading is one track: image = its ``dicom_id``, session = the reading id, no trial, so the
several readings of one image stay separate tracks. Duration = end - start; onset = start.
Positions are divided by the image size of the metadata (else ``--images``); fixations outside
the image are dropped as ``outside_image``, those of a reading the metadata marks as discarded
as ``discarded_by_dataset``. Walking a folder, ingest reads each ``fixations.csv`` once and
lists the files it skips with the reason (:func:`companions`): ``gaze.csv`` (the same reading's
samples), the reading's other files, the metadata tables.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gazeprep.errors import GazeprepError
from gazeprep.limits import size_problem
from gazeprep.read.delimited import check_unique, read_table
from gazeprep.read.result import FileResult, images_lookup
from gazeprep.read.vendor import (
    candidates,
    check_order,
    companion,
    finish,
    image_name,
    numbers,
    read_rows,
    vendor_fixations,
)

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

ALIASES = {
    "start": ("timestamp_start_fixation",),
    "end": ("timestamp_end_fixation",),
    "x": ("x_position", "average_x_position"),
    "y": ("y_position", "average_y_position"),
    "pupil": ("pupil_area_normalized", "average_pupil_area_normalized"),
}
#: Columns of the metadata table that are read (each must appear once).
META_COLUMNS = ("id", "dicom_id", "image_size_x", "image_size_y", "eye_tracking_data_discarded")
#: Files of a reading folder that hold no fixations.
READING_FILES = ("anomaly_location_ellipses.csv", "chest_bounding_box.csv", "transcription.txt",
                 "timestamps_transcription.csv")


def sniff(probe: Probe) -> bool:
    """A header with REFLACX's fixation or sample columns, or its metadata table."""
    h = {c.strip().lower() for c in probe.header}
    return ("timestamp_start_fixation" in h or "timestamp_sample" in h
            or {"id", "dicom_id", "eye_tracking_data_discarded"} <= h)


def _kind(path: Path) -> str | None:
    """``fixations``, ``gaze``, ``metadata`` or None: what a REFLACX file is, from its header."""
    from gazeprep.read.probe import Probe

    try:
        h = {c.strip().lower() for c in Probe.of(path).header}
    except (OSError, GazeprepError):
        return None
    if "timestamp_start_fixation" in h:
        return "fixations"
    if "timestamp_sample" in h:
        return "gaze"
    return "metadata" if {"id", "dicom_id"} <= h else None


def companions(files: list[Path]) -> dict[Path, str]:
    """Files of a folder walk that are not read, with the reason (see the module notes)."""
    skip: dict[Path, str] = {}
    readings = {f.parent for f in files if f.name == "fixations.csv" and _kind(f) == "fixations"}
    for f in files:
        if f.name.startswith("metadata_phase") and _kind(f) == "metadata":
            skip[f] = "REFLACX metadata table, read with the readings it names"
        elif f.parent in readings and f.name == "gaze.csv":
            skip[f] = "REFLACX gaze samples; the fixations.csv beside it is read"
        elif f.parent in readings and f.name in READING_FILES:
            skip[f] = "REFLACX reading file without gaze"
    return skip


def _metadata(folder: Path) -> dict[str, dict]:
    """Reading id -> its metadata row, from every ``metadata_phase_*.csv`` in ``folder``
    (read once per version of the tables: thousands of readings share them)."""
    tables = [companion(p, "REFLACX metadata table")
              for p in sorted(folder.glob("metadata_phase*.csv"))]
    return _read_metadata(tuple((p, p.stat().st_mtime_ns, p.stat().st_size) for p in tables))


@cache
def _read_metadata(tables: tuple) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for p, _, _ in tables:
        t = read_table(str(p), "REFLACX metadata table")
        check_unique(t.header, META_COLUMNS, str(p))
        cols = {c.strip().lower(): c for c in t.df.columns}
        if not {"id", "dicom_id"} <= set(cols):
            raise GazeprepError(f"metadata table lacks id or dicom_id; found {t.header}",
                                file=p, line=1)
        rows = t.df.rename({v: k for k, v in cols.items()}).iter_rows(named=True)
        for row, line in zip(rows, t.lines.tolist(), strict=True):
            out.setdefault(str(row["id"]).strip(), row | {"_table": p, "_line": line})
    return out


def _reading(path: Path) -> dict:
    """The metadata row of the reading whose folder holds ``path``."""
    rid = path.parent.name
    tried = []
    for folder in (path.parent.parent, path.parent.parent.parent):
        if any(folder.glob("metadata_phase*.csv")):
            tried.append(str(folder))
            row = _metadata(folder).get(rid)
            if row is not None:
                return row
    where = ", ".join(tried) or f"{path.parent.parent} or the folder above it"
    raise GazeprepError(f"reading {rid!r} is in no metadata_phase_<N>.csv ({where}); expected "
                        "the REFLACX metadata table naming its dicom_id", file=path)


def read(path: str, opts: IngestOptions) -> FileResult:
    """Read one REFLACX reading's ``fixations.csv`` (see the module notes).

    Raises
    ------
    GazeprepError
        A gaze.csv or metadata table named alone, a missing column or metadata row, a number
        that is not one, a start going backwards, an image whose size is unknown.
    """
    p = Path(path)
    res = FileResult(path=str(path), format="reflacx")
    table = read_rows(str(path), "REFLACX fixations.csv")
    low = {c.strip().lower(): c for c in table.header}
    if "timestamp_start_fixation" not in low:
        raise GazeprepError("not a REFLACX fixations.csv (no timestamp_start_fixation column); "
                            "expected main_data/<reading id>/fixations.csv (a gaze.csv is read "
                            "through the fixations.csv beside it)", file=path, line=1)
    cols = {}
    for key, names in ALIASES.items():
        found = next((low[n] for n in names if n in low), None)
        if found is None and key != "pupil":
            raise GazeprepError(f"fixations.csv lacks column {names[0]}; expected "
                                f"{', '.join(a[0] for a in ALIASES.values())}", file=path,
                                line=1)
        if found is not None:
            cols[key] = found
    check_unique(table.header, cols.values(), res.path)
    v = numbers(table.df, cols, table.lines, res.path, required=("start", "end"))
    check_order(v["start"].to_numpy(), v["line"].to_numpy(), res.path,
                "timestamp_start_fixation")
    meta = _reading(p)
    name = image_name(meta["dicom_id"], str(meta["_table"]), meta["_line"], "dicom_id")
    size = _size(res, name, meta, opts)
    vendor_fixations(res, opts, f"EyeLink's fixations as REFLACX exports them (image from "
                     f"{meta['_table'].name})", "REFLACX's gaze.csv is not read")
    discarded = str(meta.get("eye_tracking_data_discarded", "")).strip().lower() == "true"
    start, end = v["start"].to_numpy() * 1000.0, v["end"].to_numpy() * 1000.0
    w, h = (np.nan, np.nan) if size is None else size
    return finish(res, candidates(
        image=name, session=p.parent.name, trial=None, eye="",
        x=v["x"].fill_null(np.nan).to_numpy() / w, y=v["y"].fill_null(np.nan).to_numpy() / h,
        onset_ms=start, duration_ms=end - start,
        pupil=v["pupil"] if "pupil" in v.columns else None,
        width=None if size is None else size[0], height=None if size is None else size[1],
        order=start, line=v["line"],
        drop=["discarded_by_dataset" if discarded else None] * v.height,
        detail="eye_tracking_data_discarded in the metadata" if discarded else None), opts,
        {"duration_ms": f"{cols['end']} - {cols['start']}",
         "onset_ms": f"column {cols['start']}", "pupil": f"column {cols.get('pupil')}"})


def _size(res: FileResult, name: str, meta: dict, opts: IngestOptions) -> tuple[int, int]:
    """The image's pixel size: the metadata's ``image_size_x/y``, else ``--images``.

    Raises
    ------
    GazeprepError
        A metadata size that is not a whole number of pixels (naming the table, its line and
        the column), or no size at all.
    """
    given = [meta.get(k) for k in ("image_size_x", "image_size_y")]
    if all(v is not None and str(v).strip() for v in given):
        try:
            w, h = (float(v) for v in given)
        except ValueError:
            w = h = float("nan")
        problem = size_problem(w, h)
        if problem:
            raise GazeprepError(f"image_size_x/y {given[0]!r}, {given[1]!r} of reading "
                                f"{meta['id']!r}: {problem}; expected the image's size in "
                                "pixels", file=meta["_table"], line=meta["_line"])
        size = (int(w), int(h))
        res.image(name, size, "metadata table", images_lookup(opts, name)[1]
                  if opts.images and opts.image_size(name) is None else [])
        return size
    size, problems = images_lookup(opts, name)
    if size is None:
        raise GazeprepError(f"no size for image {name!r}: the metadata has no image_size_x/y "
                            "and --images does not hold it; expected one of them", file=res.path)
    res.image(name, size, "--images file", problems)
    return size
