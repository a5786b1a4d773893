"""Fixation and track tables: the ingest output schema and the per-file read result.

Every reader (ASC, fixation report, sample CSV) returns a :class:`FileResult` whose ``fixations``
frame has the columns of :data:`FIXATION_SCHEMA` except ``index``, plus an ``order`` sort key
(float64) and the 1-based source ``line``. :func:`build_fixations` concatenates them, orders
each track by ``order`` and numbers it; :func:`build_tracks` folds each track into one row of
list columns.

A track is one viewing: the fixations of one ``(image, session, trial)`` (:data:`TRACK_KEY`).
The same image shown in two trials of one session makes two tracks, never one whose onsets
restart in the middle (its reverse-truncated tail would be the second viewing's by accident).
Where a reader knows no trial (a report without a trial column) ``trial`` is null and the
track is the image's whole session.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from gazeprep.errors import GazeprepError

#: Column -> dtype of ``fixations.parquet`` (the on-disk contract).
FIXATION_SCHEMA: dict[str, Any] = {
    "image": pl.String,
    "session": pl.String,
    "trial": pl.String,
    "eye": pl.String,
    "index": pl.Int32,
    "x": pl.Float32,
    "y": pl.Float32,
    "onset_ms": pl.Float64,
    "duration_ms": pl.Float32,
    "pupil": pl.Float32,
    "width": pl.Int32,
    "height": pl.Int32,
    "source": pl.String,
}

#: Columns a reader produces: the contract minus ``index``, plus a sort key and the source line.
READER_SCHEMA: dict[str, Any] = {
    **{k: v for k, v in FIXATION_SCHEMA.items() if k != "index"},
    "order": pl.Float64,
    "line": pl.Int64,
}

#: The columns that identify one track (one viewing of one image).
TRACK_KEY = ("image", "session", "trial")

#: Where an image's pixel size came from (``size_from`` in ``ingest.json``'s ``images``).
SIZE_SOURCES = ("report columns", "--images file", "IMGLOAD w h", "--image-rect", "screen",
                "unknown")
NOT_IN_IMAGES = "not in --images"
LATIN1_NAME = "name not valid UTF-8, decoded as Latin-1"

#: How many individual drops ``ingest.json`` lists per file and reason (all are counted).
MAX_DROPS_LISTED = 1000


@dataclass
class FileResult:
    """What one reader made of one input file.

    Parameters
    ----------
    path : str
        The input file.
    format : str
        ``"asc"``, ``"fixreport"`` or ``"samples"``.
    fixations : polars.DataFrame
        Kept fixations, columns :data:`READER_SCHEMA`.
    rows_read : int
        Candidate fixations seen (report rows, EFIX events or detected fixations).
    n_samples : int
        Gaze samples read (0 for fixation reports).
    """

    path: str
    format: str
    fixations: pl.DataFrame | None = None
    rows_read: int = 0
    n_samples: int = 0
    dropped: Counter = field(default_factory=Counter)
    drops: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    anomalies: list[dict] = field(default_factory=list)
    notes: dict = field(default_factory=dict)
    images: dict[str, dict] = field(default_factory=dict)

    def drop(self, reason: str, line: int | None, detail: str | None = None) -> None:
        """Count one dropped candidate and list it (up to :data:`MAX_DROPS_LISTED` per reason)."""
        self.dropped[reason] += 1
        if self.dropped[reason] <= MAX_DROPS_LISTED:
            entry: dict[str, Any] = {"file": self.path, "line": line, "reason": reason}
            if detail:
                entry["detail"] = detail
            self.drops.append(entry)

    def error(self, exc: GazeprepError) -> None:
        """Record an error that ``--lenient`` skipped over."""
        self.errors.append(
            {"file": exc.file or self.path, "line": exc.line, "message": exc.message}
        )

    def anomaly(self, kind: str, line: int | None, detail: str) -> None:
        """Record something odd but survivable in the input (kept in ``ingest.json``)."""
        self.anomalies.append({"file": self.path, "line": line, "kind": kind, "detail": detail})

    def image(self, image: str, size: tuple[int, int] | None, size_from: str,
              problems: Iterable[str] = ()) -> None:
        """Record an image id this file names: its pixel size, where that came from, problems.

        Parameters
        ----------
        image : str
            Image id.
        size : (width, height) or None
            Pixels, None when unknown.
        size_from : str
            One of :data:`SIZE_SOURCES`.
        problems : iterable of str
            E.g. :data:`NOT_IN_IMAGES`, :data:`LATIN1_NAME`.
        """
        new = {"id": image, "width": size[0] if size else None,
               "height": size[1] if size else None, "size_from": size_from, "problems": []}
        e = self.images.setdefault(image, new)
        if e is not new and size_text(e) != size_text(new):
            problems = [*problems, f"size differs within the file: {size_text(e)} and "
                        f"{size_text(new)}"]
        e["problems"] = sorted(set(e["problems"]) | set(problems))

    @property
    def rows_kept(self) -> int:
        """Number of fixations kept."""
        return 0 if self.fixations is None else self.fixations.height

    @property
    def rows_dropped(self) -> int:
        """Number of candidates dropped, all reasons together."""
        return sum(self.dropped.values())

    def check_balance(self) -> None:
        """Enforce rows read = rows kept + rows dropped (a bug otherwise, never bad input)."""
        if self.rows_read != self.rows_kept + self.rows_dropped:
            raise RuntimeError(
                f"{self.path}: internal accounting error: read {self.rows_read} != kept "
                f"{self.rows_kept} + dropped {self.rows_dropped}"
            )

    def report(self) -> dict[str, Any]:
        """The file's entry in ``ingest.json``."""
        return {
            "path": self.path,
            "format": self.format,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_dropped": self.rows_dropped,
            "dropped": dict(sorted(self.dropped.items())),
            "samples": self.n_samples,
            "errors": self.errors,
            "anomalies": self.anomalies,
            **({"notes": self.notes} if self.notes else {}),
        }


def size_text(e: dict) -> str:
    """``"640 x 480 (--images file)"``: an image entry's size and its source."""
    size = "unknown size" if e["width"] is None else f"{e['width']} x {e['height']}"
    return f"{size} ({e['size_from']})"


def images_lookup(opts: Any, image: str) -> tuple[tuple[int, int] | None, list[str]]:
    """``(width, height)`` of ``image`` in ``--images`` and, when ``--images`` lacks it, the
    problem :data:`NOT_IN_IMAGES`; ``(None, [])`` without ``--images``."""
    size = opts.image_size(image)
    if size is None and opts.images is not None:
        return None, [NOT_IN_IMAGES]
    return size, []


def latin1_names(names: pl.DataFrame, latin1_lines: Iterable[int]) -> set[str]:
    """Ids (column ``image``) read from a line decoded as Latin-1 and holding a non-ASCII
    character: their names were not valid UTF-8 (column ``line`` = file line)."""
    lines = list(latin1_lines)
    if not lines or not names.height:
        return set()
    hit = names.filter(pl.col("line").is_in(lines) & pl.col("image").str.contains(r"[^\x00-\x7f]"))
    return set(hit["image"].to_list())


def empty_reader_frame() -> pl.DataFrame:
    """A zero-row frame with :data:`READER_SCHEMA`."""
    return pl.DataFrame(schema=READER_SCHEMA)


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Cast and order a reader's frame to :data:`READER_SCHEMA` (missing columns become null)."""
    cols = []
    for name, dtype in READER_SCHEMA.items():
        if name in df.columns:
            cols.append(pl.col(name).cast(dtype))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    return df.select(cols)


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


def image_id(name: str) -> str:
    """The id of an image named in a log or report: its file stem, never a path.

    ``"../../x.png"``, ``"C:\\\\stim\\\\x.png"`` and ``"x"`` all give ``"x"``, so an id can never
    make anything read or write outside the folders the user named.

    Parameters
    ----------
    name : str
        Image file name as written in the input.

    Returns
    -------
    str
        The stem; empty when nothing usable is left (the caller treats that as bad input).
    """
    base = name.strip().strip('"').replace("\\", "/").rsplit("/", 1)[-1]
    stem = Path(base).stem if "." in base[1:] else base
    return "" if stem in ("", ".", "..") else stem
