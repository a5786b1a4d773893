"""What a reader makes of one input file: the fixation schema, :class:`FileResult` and, for
files of gaze samples, the :class:`Recording` handed to the detector.

Every reader (ASC, fixation report, sample CSV) ends in a :class:`FileResult` whose
``fixations`` frame has the columns of :data:`FIXATION_SCHEMA` except ``index``, plus an
``order`` sort key (float64) and the 1-based source ``line``
(:data:`READER_SCHEMA`). :func:`gazeprep.tracks.build_fixations` concatenates them, orders each
track by ``order`` and numbers it.

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

import numpy as np
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
                "metadata table", "reference image", "unknown")
NOT_IN_IMAGES = "not in --images"
LATIN1_NAME = "name not valid UTF-8, decoded as Latin-1"

#: Longest image id, in UTF-8 bytes: a file name's limit (NAME_MAX) less room for an ending.
MAX_ID_BYTES = 240

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
    quality_input : RecordingFacts or None
        What gaze quality is computed from (readers of samples; see
        :mod:`gazeprep.read.recorded`); ingest replaces it by ``quality``, the file's rows of
        ``quality.parquet`` (a polars DataFrame; None for files without samples).
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
    #: Image ids made from TRIALID texts (the recording names no image): ingest warns, and
    #: prefixes them with the recording when two recordings give the same one.
    trial_image_ids: set[str] = field(default_factory=set)
    quality_input: Any = None
    quality: Any = None

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


@dataclass
class Series:
    """One series of gaze samples a fixation detector runs on (one eye, one viewing...).

    Parameters
    ----------
    t : float64 array (n,)
        Sample times (ms).
    x, y : float64 arrays (n,)
        Screen position (px); NaN = missing.
    pupil : float64 array (n,)
        Pupil size; NaN = missing.
    dt : float, optional
        Sample interval (ms); None: the detector takes the median step of ``t``.
    eye_mm, gaze_mm : float64 arrays (n, 3), optional
        Eye position and gaze point (mm, one frame of reference), when the file has them:
        the true visual angle between samples for ``--preset tobii``.
    """

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    pupil: np.ndarray
    dt: float | None = None
    eye_mm: np.ndarray | None = None
    gaze_mm: np.ndarray | None = None


def sample_interval(t: np.ndarray) -> float:
    """Typical sample interval (ms): the median positive time step (1.0 when unknown)."""
    d = np.diff(t[np.isfinite(t)])
    d = d[d > 0]
    return float(np.median(d)) if d.size else 1.0


class Recording:
    """A file of gaze samples, read, whose fixations are still to be detected.

    A sample-based reader returns one instead of a :class:`FileResult`: ingest runs the
    detector (:func:`gazeprep.detect.detect_recording`) on every :attr:`series`, then hands
    the detections, one dict per series, to :meth:`place`, which maps them to image
    coordinates and returns the file's :class:`FileResult`. So readers never import the
    detectors.

    Attributes
    ----------
    result : FileResult
        The file's result so far (samples counted, anomalies, notes).
    detector : str
        ``"ivt"`` or ``"idt"``: the detector the options chose for this file.
    screen_px : (width, height)
        The screen the samples are on (px), for degree thresholds.
    series : list of Series
        What the detector runs on.
    """

    result: FileResult
    detector: str
    screen_px: tuple[float, float]
    series: list[Series]

    def place(self, found: list[dict[str, np.ndarray]]) -> FileResult:
        """The file's fixations from the detections of each series (``first``, ``last``,
        ``start``, ``duration``, ``x``, ``y``, ``pupil``: :func:`gazeprep.detect.detect`)."""
        raise NotImplementedError


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
        The stem; empty when nothing usable is left, or when the stem could not be a file
        name (over :data:`MAX_ID_BYTES` bytes, a control character): the caller treats that
        as bad input.
    """
    base = name.strip().strip('"').replace("\\", "/").rsplit("/", 1)[-1]
    stem = Path(base).stem if "." in base[1:] else base
    if stem in ("", ".", "..") or len(stem.encode("utf-8", "replace")) > MAX_ID_BYTES:
        return ""
    # A control character (a NUL, a line break) cannot be in a file name or an id file line.
    return "" if any(c < " " or "\x7f" <= c <= "\x9f" for c in stem) else stem
