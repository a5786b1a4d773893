"""The ingest stage: find input files, read each with its reader, write the gaze dataset.

Output (``--out``, a folder): ``fixations.parquet``, ``tracks.parquet`` (zstd) and ``ingest.json``
(see DESIGN §1), the names in :data:`OUTPUT_FILES`. Only those are ever replaced: other files in
the folder are the user's. They are replaced all at once through :mod:`gazeprep.outputs`, so an
interrupted run leaves the previous output or the new one, never a mix; ``ingest.json`` (renamed
last) records the sha256 of the two Parquet files, which readers check.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gazeprep.errors import GazeprepError
from gazeprep.tracks import FileResult, image_id, size_text

VERSION = 1
FORMATS = ("auto", "asc", "fixreport", "samples")
DETECTORS = ("auto", "tracker", "ivt", "idt")
#: Extensions picked up when walking a directory (other files there are ignored).
INPUT_EXTENSIONS = (".asc", ".csv", ".tsv", ".txt", ".xls")
#: Every file ingest writes into ``--out``, the commit record (``ingest.json``) last. A rerun
#: replaces these and nothing else.
OUTPUT_FILES = ("fixations.parquet", "tracks.parquet", "ingest.json")
#: The file that describes the set (sha256 of the others); renamed into place last.
RECORD = "ingest.json"


@dataclass
class IngestOptions:
    """Every ingest parameter (recorded in ``ingest.json``).

    Parameters
    ----------
    format : str
        ``auto``, ``asc``, ``fixreport`` or ``samples``.
    detector : str
        ``auto`` (tracker events when the file has EFIX lines, else I-VT), ``tracker``, ``ivt``,
        ``idt``.
    eye : str
        ``auto`` (monocular: that eye; binocular: the ``eye_used`` message if any, else left),
        ``L``, ``R`` or ``both`` (each eye its own track, session ``<stem>:L`` / ``<stem>:R``).
    images : str or None
        Folder with the images, looked up by file stem (= id) to get their pixel size.
    image_rect : tuple of 4 floats or None
        ``X Y W H``: where the image lies on screen (screen pixels), when the log does not say.
    min_duration : float
        Fixations shorter than this (ms) are dropped and counted.
    coords : str
        Fixation reports: ``auto``, ``normalised`` or ``pixels``.
    lenient : bool
        Record malformed lines/files in ``ingest.json`` and go on instead of failing.
    ivt_velocity : float
        I-VT: a sample is part of a fixation below this speed (deg/s, or px/s with ``units="px"``).
    ivt_window : float
        I-VT: speed measured over this window (ms) centred on each sample, against noise.
    idt_dispersion : float
        I-DT: maximal (max x - min x) + (max y - min y) of a fixation window (deg, or px).
    idt_window : float
        I-DT: minimal fixation window (ms).
    units : str
        ``deg`` (thresholds in degrees; needs the screen geometry) or ``px``.
    screen_size_cm, screen_px : tuple of 2 floats or None
        Physical screen size (cm) and resolution (px); default resolution from GAZE_COORDS.
    distance_cm : float
        Eye-screen distance (cm).
    max_gap : float
        Detectors never bridge a gap between valid samples longer than this (ms).
    merge_gap, merge_distance : float
        After I-VT/I-DT, merge consecutive fixations at most ``merge_gap`` ms apart whose
        positions differ by at most ``merge_distance`` (deg, or px with ``units="px"``);
        default 75 ms and 0.5 deg, as in Tobii's I-VT filter (Olsson 2007): without it I-DT
        splits a fixation whose first window opens in the previous saccade's tail.
        ``merge_gap = 0`` disables merging.
    """

    format: str = "auto"
    detector: str = "auto"
    eye: str = "auto"
    images: str | None = None
    image_rect: tuple[float, float, float, float] | None = None
    min_duration: float = 50.0
    coords: str = "auto"
    lenient: bool = False
    ivt_velocity: float = 30.0
    ivt_window: float = 20.0
    idt_dispersion: float = 1.0
    idt_window: float = 100.0
    units: str = "deg"
    screen_size_cm: tuple[float, float] | None = (53.0, 30.0)
    screen_px: tuple[float, float] | None = None
    distance_cm: float = 60.0
    max_gap: float = 75.0
    merge_gap: float = 75.0
    merge_distance: float = 0.5
    sample_columns: dict[str, str] = field(default_factory=dict)
    sample_rate: float | None = None
    time_unit: str = "ms"
    _sizes: dict[str, tuple[int, int] | None] = field(default_factory=dict, repr=False)
    _image_paths: dict[str, Path] | None = field(default=None, repr=False)

    def params(self) -> dict[str, Any]:
        """The parameters as JSON-able values."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def has_image(self, image: str) -> bool:
        """Whether ``--images`` holds a file for id ``image`` (False without ``--images``)."""
        if self.images is None:
            return False
        if self._image_paths is None:
            self._image_paths = index_images(self.images)
        return image in self._image_paths

    def image_size(self, image: str) -> tuple[int, int] | None:
        """``(width, height)`` in pixels of image ``image`` found in ``--images``, else None.

        Only the file header is read (``PIL.Image.open(...).size``, PIL being scikit-image's
        own image dependency), and only names inside ``--images`` are ever opened.
        """
        if self.images is None:
            return None
        if image not in self._sizes:
            if self._image_paths is None:
                self._image_paths = index_images(self.images)
            p = self._image_paths.get(image)
            self._sizes[image] = None if p is None else read_image_size(p)
        return self._sizes[image]


def index_images(folder: str | Path) -> dict:
    """Id -> :class:`~gazeprep.contract.images.ImageRef` of the images in ``folder``.

    The same lookup ``render`` uses, with the default image options (volume slices along the
    last axis, counted from 0).
    """
    from gazeprep.images import index_folder

    return index_folder(folder)


def read_image_size(ref) -> tuple[int, int]:
    """``(width, height)`` of an indexed image from its header, without decoding the pixels."""
    from gazeprep.contract.images import image_size
    from gazeprep.limits import size_problem

    height, width = image_size(ref)
    problem = size_problem(width, height)
    if problem:
        raise GazeprepError(f"{problem} (header says {width} x {height})", file=ref.path)
    return width, height


def find_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders (recursively, known extensions, hidden files skipped) into files.

    Raises
    ------
    GazeprepError
        For a path that does not exist or a folder without any input file.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in INPUT_EXTENSIONS
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            if not found:
                raise GazeprepError(
                    f"folder holds no input file; expected files ending in "
                    f"{', '.join(INPUT_EXTENSIONS)}", file=p)
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise GazeprepError("no such file or folder", file=p)
    seen: set[Path] = set()
    return [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]


def detect_format(path: Path) -> str:
    """``asc``, ``fixreport`` or ``samples`` from the extension and the first lines.

    Raises
    ------
    GazeprepError
        Binary files (EDF included) and text that matches no known layout.
    """
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if path.suffix.lower() == ".edf" or head.startswith(b"SR_RESEARCH"):
        raise GazeprepError("binary EyeLink EDF; convert it to ASC first (edf2asc)", file=path)
    if not head.strip():
        raise GazeprepError("empty file; expected an EyeLink ASC, a fixation report or a "
                            "sample CSV/TSV", file=path)
    if path.suffix.lower() == ".asc":
        if b"\x00" in head:
            raise GazeprepError("binary file; expected a text EyeLink ASC", file=path, line=1)
        return "asc"
    from gazeprep.delimited import decode_text, header_fields, sniff_separator
    from gazeprep.fixreport import resolve_columns
    from gazeprep.samples import looks_like_samples

    # BOM and UTF-16 handled as the readers handle them; binary content is refused there.
    text = decode_text(head, str(path), head=True, what="an EyeLink ASC, a fixation report or a "
                       "sample CSV/TSV").data.decode("utf-8", "replace")
    first = text.lstrip().split("\n", 1)[0]
    if first.startswith("**") or any(
        ln.startswith(("MSG\t", "MSG ", "START\t", "EFIX ")) for ln in text.splitlines()[:200]
    ):
        return "asc"
    names = [c.strip() for c in header_fields(first, sniff_separator(first))]
    try:
        resolve_columns(names, str(path))
        return "fixreport"
    except GazeprepError:
        pass
    if looks_like_samples(names):
        return "samples"
    raise GazeprepError(
        f"unknown format (header {names[:8]}); expected an EyeLink ASC, a fixation report with "
        "CURRENT_FIX_X/Y/DURATION and IMAGE columns, or a sample file with time,x,y columns "
        "(or pass --format)", file=path, line=1)


def read_file(path: Path, opts: IngestOptions) -> FileResult:
    """Read one input file with the reader for its format."""
    fmt = opts.format if opts.format != "auto" else detect_format(path)
    if fmt == "fixreport":
        from gazeprep.fixreport import read_fixreport

        return read_fixreport(str(path), opts)
    if fmt == "asc":
        from gazeprep.asc import read_asc

        return read_asc(str(path), opts)
    if fmt == "samples":
        from gazeprep.samples import read_samples

        return read_samples(str(path), opts)
    raise GazeprepError(f"unknown --format {fmt!r}; expected one of {', '.join(FORMATS)}")


@dataclass
class IngestSummary:
    """What a run did: per-file results and the output folder."""

    results: list[FileResult]
    out: Path
    n_fixations: int
    n_tracks: int
    n_images: int
    report: dict
    notes: list[str] = field(default_factory=list)


def run_ingest(
    paths: Iterable[str | Path],
    out: str | Path,
    opts: IngestOptions,
    on_file: Callable[[Path, FileResult | None], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Read every input, build the fixation/track tables and write them atomically to ``out``.

    Parameters
    ----------
    paths : iterable of str or Path
        Files and folders (walked recursively).
    out : str or Path
        Output folder: its :data:`OUTPUT_FILES` are replaced, nothing else in it is touched.
    opts : IngestOptions
        Parameters.
    on_file, on_start : callable, optional
        Progress hooks: called with the file count, then after each file.

    Returns
    -------
    IngestSummary
    """
    from gazeprep.tracks import build_fixations, build_tracks

    t0 = time.perf_counter()
    files = find_inputs(paths)
    out = Path(out)
    notes = prepare_out(out, files)
    if on_start:
        on_start(len(files))
    results: list[FileResult] = []
    for f in files:
        try:
            res = read_file(f, opts)
        except GazeprepError as exc:
            if not opts.lenient:
                if exc.file is None:
                    exc.file = str(f)
                raise
            res = FileResult(path=str(f), format=opts.format)
            res.error(exc)
        results.append(res)
        if on_file:
            on_file(f, res)
    fix = build_fixations(results)
    tracks = build_tracks(fix)
    report = make_report(results, opts, fix.height, tracks.height,
                         fix["image"].n_unique(), time.perf_counter() - t0)
    write_outputs(out, fix, tracks, report, notes)
    return IngestSummary(results, out, fix.height, tracks.height,
                         fix["image"].n_unique(), report, notes)


def make_report(results: list[FileResult], opts: IngestOptions, n_fix: int, n_tracks: int,
                n_images: int, seconds: float) -> dict:
    """The ``ingest.json`` document (its ``images`` section: :func:`image_entries`)."""
    dropped: Counter = Counter()
    for r in results:
        dropped.update(r.dropped)
    images = image_entries(results)
    return {
        "version": VERSION,
        "inputs": [r.report() for r in results],
        "totals": {
            "files": len(results),
            "files_failed": sum(1 for r in results if r.errors and r.rows_read == 0),
            "samples": sum(r.n_samples for r in results),
            "rows_read": sum(r.rows_read for r in results),
            "rows_kept": sum(r.rows_kept for r in results),
            "rows_dropped": sum(r.rows_dropped for r in results),
            "dropped": dict(sorted(dropped.items())),
            "errors": sum(len(r.errors) for r in results),
            "anomalies": sum(len(r.anomalies) for r in results),
            "fixations": n_fix,
            "tracks": n_tracks,
            "images": n_images,
            "images_with_problems": sum(1 for e in images if e["problems"]),
            "seconds": round(seconds, 3),
        },
        "images": images,
        "drops": [d for r in results for d in r.drops],
        "params": opts.params(),
    }


def image_entries(results: list[FileResult]) -> list[dict]:
    """One entry per image id named by any input, sorted by id.

    Each entry: ``id``, ``width``, ``height`` (pixels, null when unknown), ``size_from`` (one of
    :data:`gazeprep.tracks.SIZE_SOURCES`), ``problems`` (e.g. ``not in --images``, ``name not
    valid UTF-8, decoded as Latin-1``, sizes that differ) and ``files`` (input file names). The
    size is the first input's; an input that says otherwise adds a problem.
    """
    out: dict[str, dict] = {}
    sizes: dict[str, list[tuple[str, str]]] = {}
    for r in results:
        name = Path(r.path).name
        for image, e in r.images.items():
            o = out.setdefault(image, {**e, "problems": [], "files": []})
            o["files"].append(name)
            o["problems"] = sorted(set(o["problems"]) | set(e["problems"]))
            sizes.setdefault(image, []).append((name, size_text(e)))
    for image, by_file in sizes.items():
        if len({size for _, size in by_file}) > 1:
            out[image]["problems"].append("size differs between inputs: " + ", ".join(
                f"{name} {size}" for name, size in by_file))
    return [out[k] for k in sorted(out)]


def owned(name: str) -> bool:
    """Whether ``name`` (a path relative to ``--out``) is a file ingest writes."""
    return name in OUTPUT_FILES


def is_ingest_record(path: Path) -> bool:
    """Whether ``path`` is an ``ingest.json`` written by gazeprep ingest."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(doc, dict) and {"version", "inputs", "totals", "params"} <= set(doc)


def prepare_out(out: Path, inputs: list[Path]) -> list[str]:
    """Check ``out`` before anything is read or written; recover leftovers of interrupted runs.

    Returns
    -------
    list of str
        One line per leftover found and what was done with it.

    Raises
    ------
    GazeprepError
        ``out`` is a file, an input lies inside ``out``, or ``out`` holds a file named like an
        output that gazeprep ingest did not write.
    """
    from gazeprep.outputs import recover

    if out.exists() and not out.is_dir():
        raise GazeprepError("--out exists and is not a folder", file=out)
    root = out.resolve()
    for f in inputs:
        if root == f.resolve() or root in f.resolve().parents:
            raise GazeprepError(f"input file lies inside --out {out}; choose an --out folder "
                                "that holds no input", file=f)
    notes = _legacy_leftovers(out)
    if out.is_dir():
        note = recover(out, owned)
        if note:
            notes.append(note)
        present = [n for n in OUTPUT_FILES if os.path.lexists(out / n)]
        if present and not is_ingest_record(out / RECORD):
            raise GazeprepError(
                f"holds {', '.join(present)} not written by gazeprep ingest (no ingest.json of "
                "a previous run); refusing to replace it: choose another --out", file=out)
    return notes


def _legacy_leftovers(out: Path) -> list[str]:
    """Folders that gazeprep <= 0.1 left beside ``out`` when killed while swapping folders.

    It renamed the previous ``out`` (with any user files in it) to ``.<name>.old-<pid>`` and the
    new output from ``.<name>.tmp-<pid>``. An old copy is renamed back when ``out`` is missing,
    else only reported (it may hold user files); a temporary copy holding only ingest outputs
    is deleted.
    """
    notes: list[str] = []
    if not out.parent.is_dir():
        return notes
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(old|tmp)-\d+$")
    found = sorted((p for p in out.parent.iterdir() if pattern.match(p.name) and p.is_dir()),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    for p in found:
        kind = pattern.match(p.name).group(1)
        if kind == "old" and not out.exists():
            p.rename(out)
            notes.append(f"{out}: restored from {p.name}, where an interrupted run of an older "
                         "gazeprep had moved it")
        elif kind == "tmp" and {f.name for f in p.iterdir()} <= set(OUTPUT_FILES):
            shutil.rmtree(p)
            notes.append(f"{p}: removed the unfinished output of an interrupted older run")
        else:
            notes.append(f"{p}: left by an interrupted run of an older gazeprep (it holds a "
                         "previous output and any files that were in it); check it and delete it")
    return notes


def write_outputs(out: Path, fix, tracks, report: dict, notes: list[str] | None = None) -> None:
    """Replace the :data:`OUTPUT_FILES` in ``out`` all at once (see :mod:`gazeprep.outputs`).

    ``report`` gains ``outputs``: the sha256 and size of the two Parquet files, which readers
    check against the files they open. Call :func:`prepare_out` first.
    """
    from gazeprep.outputs import transaction

    with transaction(out, owned, notes) as st:
        recorded = {}
        for name, df in (("fixations.parquet", fix), ("tracks.parquet", tracks)):
            path = st.file(name)
            df.write_parquet(path, compression="zstd")
            st.add(name)
            recorded[name] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
        report["outputs"] = recorded
        st.file(RECORD).write_text(json.dumps(report, indent=1, default=str) + "\n")
        st.add(RECORD)
        st.commit(RECORD)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["IngestOptions", "run_ingest", "detect_format", "find_inputs", "image_id"]
