"""Stage 3 of ingest: fixations -> ordered gaze tracks, and the gaze dataset on disk.

:func:`build_fixations` concatenates the readers' kept fixations
(:data:`~gazeprep.read.result.READER_SCHEMA`), orders each track by its ``order`` key and
numbers it (``fixations.parquet``, :data:`~gazeprep.read.result.FIXATION_SCHEMA`);
:func:`build_tracks` folds each track into one row of list columns (``tracks.parquet``).
The ingest output is the files :data:`OUTPUT_FILES`; :func:`read_tracks` reads its tracks back
as :class:`Track` arrays for render and show, checked (the file is often edited by hand).

A track is one viewing: the fixations of one ``(image, session, trial)`` (:data:`TRACK_KEY`).
The same image shown in two trials of one session makes two tracks, never one whose onsets
restart in the middle (its reverse-truncated tail would be the second viewing's by accident).
Where a reader knows no trial (a report without a trial column) ``trial`` is null and the
track is the image's whole session.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.limits import MAX_DURATION_MS
from gazeprep.read.result import (
    FIXATION_SCHEMA,
    TRACK_KEY,
    FileResult,
    conform,
    empty_reader_frame,
)

#: Every file ingest writes into its ``--out``, the commit record (``ingest.json``) last. A
#: rerun replaces these and nothing else.
OUTPUT_FILES = ("fixations.parquet", "tracks.parquet", "quality.parquet", "ingest.json")
#: The file that describes the set (sha256 of the others); renamed into place last.
RECORD = "ingest.json"


def owned(name: str) -> bool:
    """Whether ``name`` (a path relative to the ingest output folder) is a file ingest writes."""
    return name in OUTPUT_FILES


@dataclass
class Track:
    """One ordered gaze track: one viewing (image, session, trial) of one image.

    Parameters
    ----------
    x, y : ndarray of float, shape (n,)
        Normalised fixation coordinates in temporal order.
    duration_ms : ndarray of float, shape (n,)
        Fixation durations in ms.
    """

    x: np.ndarray
    y: np.ndarray
    duration_ms: np.ndarray


def build_fixations(results: list[FileResult]) -> pl.DataFrame:
    """Concatenate readers' kept fixations and number each track in temporal order.

    Parameters
    ----------
    results : list of FileResult
        Reader outputs.

    Returns
    -------
    polars.DataFrame
        Columns :data:`FIXATION_SCHEMA`, tracks in order of first appearance, fixations of a track
        by ``order`` (then input order), ``index`` 0-based within the track.

    Raises
    ------
    GazeprepError
        If one track ``(image, session, trial)`` comes from two different files: their orders
        would not be comparable, and silently interleaving them would corrupt the track.
    """
    frames = [conform(r.fixations) for r in results if r.fixations is not None]
    df = pl.concat(frames, how="vertical") if frames else empty_reader_frame()
    key = list(TRACK_KEY)
    clash = (
        df.group_by(key)
        .agg(pl.col("source").n_unique().alias("n"), pl.col("source").unique().alias("files"))
        .filter(pl.col("n") > 1)
        .sort(key)
    )
    if clash.height:
        row = clash.row(0, named=True)
        raise GazeprepError(
            f"track (image={row['image']!r}, session={row['session']!r}, trial={row['trial']!r})"
            f" comes from several files {sorted(row['files'])}; expected each (image, session, "
            "trial) in one file (rename a session or ingest the files separately)",
            file=sorted(row["files"])[0],
        )
    df = df.with_row_index("_row")
    first = df.group_by(key).agg(pl.col("_row").min().alias("_first"))
    df = (
        df.join(first, on=key, how="left", nulls_equal=True)
        .sort(["_first", "order", "_row"])
        .with_columns(pl.int_range(pl.len()).over(key).cast(pl.Int32).alias("index"))
    )
    return df.select([pl.col(k).cast(v) for k, v in FIXATION_SCHEMA.items()])


def build_tracks(fix: pl.DataFrame) -> pl.DataFrame:
    """One row per track ``(image, session, trial)``: the ordered track as list columns.

    Parameters
    ----------
    fix : polars.DataFrame
        Output of :func:`build_fixations` (already ordered by ``index`` within each track).

    Returns
    -------
    polars.DataFrame
        ``image, session, trial`` (trial null where unknown), ``x, y, duration_ms, onset_ms``
        (lists), ``n_fixations`` (int32), ``total_duration_ms`` (float64), ``width, height``
        (int32, nullable); tracks in order of first appearance.
    """
    return (
        fix.sort("index", maintain_order=True)
        .group_by(*TRACK_KEY, maintain_order=True)
        .agg(
            pl.col("x"),
            pl.col("y"),
            pl.col("duration_ms"),
            pl.col("onset_ms"),
            pl.len().cast(pl.Int32).alias("n_fixations"),
            pl.col("duration_ms").cast(pl.Float64).sum().alias("total_duration_ms"),
            pl.col("width").first(),
            pl.col("height").first(),
        )
        .select(
            pl.col("image"),
            pl.col("session"),
            pl.col("trial"),
            pl.col("x").cast(pl.List(pl.Float32)),
            pl.col("y").cast(pl.List(pl.Float32)),
            pl.col("duration_ms").cast(pl.List(pl.Float32)),
            pl.col("onset_ms").cast(pl.List(pl.Float64)),
            pl.col("n_fixations"),
            pl.col("total_duration_ms"),
            pl.col("width").cast(pl.Int32),
            pl.col("height").cast(pl.Int32),
        )
    )


def track_problem(xs: np.ndarray, ys: np.ndarray, ds: np.ndarray) -> str | None:
    """Why one track cannot be rendered (its first bad fixation), or None.

    Every x and y must be a number in [0, 1] (normalised image coordinates), every duration a
    number in 0..MAX_DURATION_MS, and the three lists equally long. ``tracks.parquet`` is
    checked again at render because people edit it by hand: a NaN x would otherwise draw a
    fixation at the image's left edge, and x = 1e30 used to crash the render.
    """
    if not len(xs) == len(ys) == len(ds):
        return (f"lists of unequal length: x {len(xs)}, y {len(ys)}, duration_ms {len(ds)} "
                "fixations; expected one x, y and duration per fixation")
    for name, v, lo, hi in (("x", xs, 0.0, 1.0), ("y", ys, 0.0, 1.0),
                            ("duration_ms", ds, 0.0, MAX_DURATION_MS)):
        bad = np.flatnonzero(~((v >= lo) & (v <= hi)))  # NaN fails both comparisons
        if bad.size:
            k = int(bad[0])
            return (f"fixation {k}: {name} = {float(v[k])!r} is not a number in "
                    f"[{lo:g}, {hi:g}]; expected the ingest output (normalised positions, "
                    "durations in ms)")
    return None


def read_tracks(gaze_dir: str | Path, notes: list[str] | None = None,
                exclude: set[tuple[str, str | None]] | None = None
                ) -> tuple[dict[str, list[Track]], dict]:
    """Read ``tracks.parquet`` of an ingest output, checked against its ``ingest.json``.

    An ingest that was interrupted while replacing its files is finished first (see
    :mod:`gazeprep.outputs`), and the sha256 that ``ingest.json`` records for
    ``tracks.parquet`` and ``fixations.parquet`` must match the files: a set that is half
    replaced, or changed since ingest, is refused instead of used.

    Parameters
    ----------
    gaze_dir : str or Path
        Ingest output folder (holds ``tracks.parquet``).
    notes : list of str, optional
        Receives one line when leftovers of an interrupted ingest were recovered.
    exclude : set of (session, trial), optional
        Tracks left out (e.g. flagged by gaze quality); ``identity`` then records
        ``tracks_left_out``, their number.

    Returns
    -------
    tracks : dict of str to list of Track
        Per image id, all its tracks: one per session and trial, sorted by session, then trial
        (tracks.parquet from before the ``trial`` column: one per session).
    identity : dict
        Content hashes of the ingest files, recorded in the cache.
    """
    import io

    from gazeprep.outputs import recover, sha256_file

    gaze_dir = Path(gaze_dir)
    if gaze_dir.is_dir():
        note = recover(gaze_dir, owned)
        if note and notes is not None:
            notes.append(note)
    path = gaze_dir / "tracks.parquet"
    if not path.is_file():
        raise GazeprepError("no tracks.parquet here: run `gazeprep ingest` first", file=gaze_dir)
    data = path.read_bytes()  # hashed and parsed from the same bytes
    identity = {"path": str(gaze_dir), "tracks_sha256": hashlib.sha256(data).hexdigest()}
    for extra in ("fixations.parquet", "ingest.json"):
        if (gaze_dir / extra).is_file():
            identity[extra.replace(".", "_") + "_sha256"] = sha256_file(gaze_dir / extra)
    _check_recorded_hashes(gaze_dir, identity)
    need = {"image", "session", "x", "y", "duration_ms"}
    try:
        df = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - polars raises several types for a bad file
        raise GazeprepError(f"not a readable Parquet file ({type(exc).__name__})",
                            file=path) from exc
    missing = need - set(df.columns)
    if missing:
        raise GazeprepError(f"tracks.parquet lacks columns {sorted(missing)}", file=path)
    for c in ("x", "y", "duration_ms"):
        dtype = df.schema[c]
        if not (isinstance(dtype, (pl.List, pl.Array)) and dtype.inner.is_numeric()):
            raise GazeprepError(f"column {c} must hold a list of numbers per track (found "
                                f"{dtype}); expected the ingest output", file=path)
    out: dict[str, list[Track]] = {}
    # one track per (image, session, trial); a fixed order keeps the render key stable
    key = [c for c in ("image", "session", "trial") if c in df.columns]
    left_out = 0
    for row in df.sort(key, maintain_order=True).iter_rows(named=True):
        if exclude and (row["session"], row.get("trial")) in exclude:
            left_out += 1
            continue
        xs, ys, ds = (np.asarray(row[c] or [], dtype=np.float64) for c in ("x", "y", "duration_ms"))
        problem = track_problem(xs, ys, ds)
        if problem:
            raise GazeprepError(f"image {row['image']}, session {row['session']}, {problem}",
                                file=path)
        out.setdefault(str(row["image"]), []).append(Track(xs, ys, ds))
    if exclude is not None:
        identity["tracks_left_out"] = left_out
    return out, identity


def _check_recorded_hashes(gaze_dir: Path, identity: dict) -> None:
    """Compare the Parquet files with the sha256 that ``ingest.json`` recorded for them."""
    record = gaze_dir / "ingest.json"
    if not record.is_file():
        return  # tracks written by other means (tests, older gazeprep): nothing to check
    try:
        recorded = json.loads(record.read_text()).get("outputs") or {}
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise GazeprepError("ingest.json is not readable JSON; run `gazeprep ingest` again",
                            file=record) from exc
    for name, key in (("tracks.parquet", "tracks_sha256"),
                      ("fixations.parquet", "fixations_parquet_sha256")):
        want = (recorded.get(name) or {}).get("sha256")
        have = identity.get(key)
        if want is not None and want != have:
            raise GazeprepError(
                f"{name} does not match the sha256 that ingest.json records for it (changed "
                "since ingest, or left half replaced); run `gazeprep ingest` again",
                file=gaze_dir / name)
