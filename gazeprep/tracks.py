"""Stage 3 of ingest: the readers' fixations -> numbered fixations and ordered gaze tracks.

:func:`build_fixations` concatenates the readers' kept fixations (:data:`READER_SCHEMA`),
orders each track by its ``order`` key and numbers it (``fixations.parquet``,
:data:`FIXATION_SCHEMA`); :func:`build_tracks` folds each track into one row of list columns
(``tracks.parquet``).

A track is one viewing: the fixations of one ``(image, session, trial)`` (:data:`TRACK_KEY`).
The same image shown in two trials of one session makes two tracks, never one whose onsets
restart in the middle (its reverse-truncated tail would be the second viewing's by accident).
Where a reader knows no trial (a report without a trial column) ``trial`` is null and the
track is the image's whole session.
"""

from __future__ import annotations

import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.read.result import (
    FIXATION_SCHEMA,
    TRACK_KEY,
    FileResult,
    conform,
    empty_reader_frame,
)


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
