"""The ingest stage: find -> read -> detect -> tracks -> quality -> write the gaze dataset.

:func:`run_ingest` finds the input files (:func:`gazeprep.read.find_inputs`), reads each with
the reader of its format and detects the fixations of sample files (:func:`ingest_file`:
:mod:`gazeprep.read`, :mod:`gazeprep.detect`), computes each recording's gaze quality
(:func:`add_quality`: :mod:`gazeprep.quality`), builds the fixation and track tables
(:mod:`gazeprep.tracks`) and writes them with :func:`make_report`'s ``ingest.json``
(:func:`write_outputs`).

Output (``--out``, a folder): ``fixations.parquet``, ``tracks.parquet``, ``quality.parquet``
(zstd) and ``ingest.json`` (see DESIGN §1), the names in :data:`OUTPUT_FILES`. Only those are
ever replaced: other files in the folder are the user's. They are replaced all at once
(:func:`gazeprep.outputs.replace_whole`: the folder is built beside the old one, the user's
files hard-linked into it, and swapped in with one rename), so polars, pandas or DuckDB reading
the folder see the previous output or the new one, never a mix, and an interrupted run leaves
one of them; ``ingest.json`` records the sha256 of the Parquet files, which readers check.

Calling this module, ``gazeprep.ingest(...)``, runs :func:`gazeprep.api.ingest` (the Python
API).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gazeprep.detect import detect_recording
from gazeprep.errors import GazeprepError
from gazeprep.jobs import (
    check_jobs,
    keep_traceback,
    numba_threads,
    ordered,
    process_pool,
    restore_traceback,
)
from gazeprep.read import find_inputs, read
from gazeprep.read.options import IngestOptions
from gazeprep.read.parallel import PRELOAD, use_workers
from gazeprep.read.result import FileResult, Recording, size_text
from gazeprep.tracks import OUTPUT_FILES, RECORD, build_fixations, build_tracks, owned

#: Version of the ``ingest.json`` document.
VERSION = 1


def ingest_file(path: str | Path, opts: IngestOptions) -> FileResult:
    """One input file's fixations: read it (stage 1) and, for a file of samples, detect its
    fixations (stage 2) and place them on the images (the reader's ``place`` step); then its
    gaze quality (:func:`add_quality`)."""
    got = read(path, opts)
    if isinstance(got, Recording):
        got = got.place(detect_recording(got, opts))
    add_quality(got, opts)
    return got


def add_quality(res: FileResult, opts: IngestOptions) -> None:
    """Replace the reader's ``quality_input`` by the file's rows of ``quality.parquet``
    (``res.quality``, a frame: far smaller than the rows as objects, which matters when
    thousands of files are read).

    Files without samples (fixation reports) have no rows. Validation messages of an unknown
    form are anomalies (``unknown_validation``), the first 20 listed.
    """
    from gazeprep.quality import Thresholds, file_quality, quality_frame

    facts, res.quality_input = res.quality_input, None
    if facts is None:
        return
    rows, unknown = file_quality(facts, Thresholds.of(opts))
    res.quality = quality_frame(rows)
    for line, text in unknown[:20]:
        res.anomaly("unknown_validation", line, text[:80])
    if unknown:
        counts = res.notes.setdefault("anomaly_counts", {})
        counts["unknown_validation"] = len(unknown)


def _ingest_or_error(path: Path, opts: IngestOptions) -> FileResult | GazeprepError:
    """:func:`ingest_file`, its error returned rather than raised (a worker's errors reach the
    caller in input order, as a serial run raises them)."""
    try:
        return ingest_file(path, opts)
    except GazeprepError as exc:
        return keep_traceback(exc)


def _read_all(files: list[Path], opts: IngestOptions, jobs: int
              ) -> Iterator[FileResult | GazeprepError]:
    """Every file's :func:`_ingest_or_error`, in input order: in this process, or on ``jobs``
    worker processes when there are several files worth it
    (:func:`gazeprep.read.parallel.use_workers`)."""
    if not use_workers(files, jobs):
        with numba_threads(jobs):  # the ASC parser's parallel kernels
            for f in files:
                yield _ingest_or_error(f, opts)
        return
    with process_pool(min(jobs, len(files)), PRELOAD) as pool:
        for got in ordered(pool, _ingest_or_error, [(f, opts) for f in files], ahead=2 * jobs):
            yield restore_traceback(got)


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
    jobs: int | None = None,
    overwrite: bool = False,
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
    jobs : int, optional
        Files read side by side, by worker processes (default: every usable core). The
        output does not depend on it: results are merged in input order.
    overwrite : bool
        Replace outputs that ingest did not write or that were edited since (else refused).

    Returns
    -------
    IngestSummary
    """
    t0 = time.perf_counter()
    skipped: list[str] = []
    files = find_inputs(paths, skipped)
    out = Path(out)
    notes = skipped + prepare_out(out, files, overwrite)
    if on_start:
        on_start(len(files))
    results: list[FileResult] = []
    for f, got in zip(files, _read_all(files, opts, check_jobs(jobs)), strict=True):
        res = got
        if isinstance(got, GazeprepError):
            if not opts.lenient:
                if got.file is None:
                    got.file = str(f)
                raise got
            res = FileResult(path=str(f), format=opts.format)
            res.error(got)
        results.append(res)
        if on_file:
            on_file(f, res)
    notes += trial_label_ids(results) + whole_screen_notes(results)
    fix = build_fixations(results)
    tracks = build_tracks(fix)
    quality = quality_table(results)
    report = make_report(results, opts, fix.height, tracks.height,
                         fix["image"].n_unique(), time.perf_counter() - t0)
    report["quality"] = quality_report(quality, opts)
    if skipped:
        report["skipped_inputs"] = skipped
    write_outputs(out, fix, tracks, report, notes, quality)
    return IngestSummary(results, out, fix.height, tracks.height,
                         fix["image"].n_unique(), report, notes)


def whole_screen_notes(results: list[FileResult]) -> list[str]:
    """One terminal note per file placed on the whole screen for want of ``--image-rect``."""
    return [f"{res.path}: {res.notes['image_rect']}"
            for res in results if "image_rect" in res.notes]


def trial_label_ids(results: list[FileResult]) -> list[str]:
    """Image ids made from TRIALID texts: prefixed with their recording's name where several
    recordings give the same one (trial "1" of two recordings is not one image), and one note
    saying so (empty when no id came from a trial label).
    """
    import polars as pl

    files: dict[str, set[str]] = {}
    for res in results:
        for i in res.trial_image_ids:
            files.setdefault(i, set()).add(res.path)
    if not files:
        return []
    shared = {i for i, paths in files.items() if len(paths) > 1}
    kept = sorted({i for res in results if res.fixations is not None
                   for i in set(res.fixations["image"].unique().to_list()) & res.trial_image_ids})
    if not kept:  # no image at all: nothing to check
        return []
    for res in results:
        rename = {i: f"{Path(res.path).stem}_{i}" for i in res.trial_image_ids & shared}
        if rename and res.fixations is not None:
            res.fixations = res.fixations.with_columns(pl.col("image").replace(rename))
            res.images = {rename.get(k, k): {**v, "id": rename.get(k, k)}
                          for k, v in res.images.items()}
    note = (f"image ids come from {len(kept)} TRIALID text(s) (e.g. {kept[0]!r}): these "
            "recordings name no image (no !V IMGLOAD, no image TRIAL_VAR), so check that the "
            "trial labels are the image file names")
    if shared:
        note += (f"; {len(shared)} label(s) come from several recordings and were prefixed with "
                 f"the recording's name, e.g. {sorted(shared)[0]!r} -> "
                 f"'<recording>_{sorted(shared)[0]}'")
    return [note]


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


def quality_table(results: list[FileResult]):
    """``quality.parquet``: the quality rows of every file, in input order."""
    import polars as pl

    from gazeprep.quality import quality_frame

    frames = [r.quality for r in results if r.quality is not None]
    return pl.concat(frames) if frames else quality_frame([])


def quality_report(frame, opts: IngestOptions) -> dict:
    """The ``quality`` section of ``ingest.json``: thresholds, what each flag reason means,
    counts of rows (trial x eye) and trials flagged, and one summary per session."""
    from dataclasses import asdict

    import polars as pl

    from gazeprep.quality import REASONS, Thresholds, session_summary

    flagged = frame.filter(pl.col("flagged"))
    return {
        "thresholds": asdict(Thresholds.of(opts)),
        "reasons": REASONS,
        "rows": frame.height,
        "rows_flagged": flagged.height,
        "trials_flagged": flagged.select("session", "trial").unique().height,
        "sessions": session_summary(frame),
    }


def image_entries(results: list[FileResult]) -> list[dict]:
    """One entry per image id named by any input, sorted by id.

    Each entry: ``id``, ``width``, ``height`` (pixels, null when unknown), ``size_from`` (one of
    :data:`gazeprep.read.result.SIZE_SOURCES`), ``problems`` (e.g. ``not in --images``, ``name not
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


def is_ingest_record(path: Path) -> bool:
    """Whether ``path`` is an ``ingest.json`` written by gazeprep ingest."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(doc, dict) and {"version", "inputs", "totals", "params"} <= set(doc)


def edited_outputs(out: Path) -> list[str]:
    """The outputs in ``out`` that differ from what ingest wrote (by the sha256s of its record).

    A file the record does not list, while it lists others, is not ingest's either. A record
    of an older version without sha256s vouches for every output.
    """
    from gazeprep.outputs import sha256_file

    try:
        recorded = json.loads((out / RECORD).read_text()).get("outputs")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return []
    if not isinstance(recorded, dict):
        return []
    return [n for n in OUTPUT_FILES if n != RECORD and os.path.lexists(out / n)
            and (not (out / n).is_file() or (recorded.get(n) or {}).get("sha256")
                 != sha256_file(out / n))]


def prepare_out(out: Path, inputs: list[Path], overwrite: bool = False) -> list[str]:
    """Check ``out`` before anything is read or written; recover leftovers of interrupted runs.

    Returns
    -------
    list of str
        One line per leftover found and what was done with it.

    Raises
    ------
    GazeprepError
        ``out`` is a file, an input lies inside ``out``, or ``out`` holds a file named like an
        output that gazeprep ingest did not write or that changed since (unless ``overwrite``).
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
        if overwrite:
            return notes
        if present and not is_ingest_record(out / RECORD):
            raise GazeprepError(
                f"holds {', '.join(present)} not written by gazeprep ingest (no ingest.json of "
                "a previous run); refusing to replace it: choose another --out (or pass "
                "--overwrite to replace them)", file=out)
        edited = edited_outputs(out)
        if edited:
            raise GazeprepError(
                f"{', '.join(edited)} changed since gazeprep ingest wrote them (their sha256 "
                "differs from the one ingest.json records): refusing to replace your edits; "
                "move them away or choose another --out, or pass --overwrite to replace them",
                file=out)
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


def write_outputs(out: Path, fix, tracks, report: dict, notes: list[str] | None = None,
                  quality=None) -> None:
    """Replace the :data:`OUTPUT_FILES` in ``out`` all at once (see :mod:`gazeprep.outputs`).

    ``report`` gains ``outputs``: the sha256 and size of the Parquet files, which readers
    check against the files they open. ``quality``: the ``quality.parquet`` frame (None: no
    rows). Call :func:`prepare_out` first.
    """
    from gazeprep.contract.files import naming_full_disk
    from gazeprep.outputs import replace_whole, sha256_file
    from gazeprep.quality import quality_frame

    quality = quality_frame([]) if quality is None else quality
    with (replace_whole(out, owned, RECORD, [] if notes is None else notes) as root,
          naming_full_disk(out)):
        recorded = {}
        for name, df in (("fixations.parquet", fix), ("tracks.parquet", tracks),
                         ("quality.parquet", quality)):
            path = root / name
            df.write_parquet(path, compression="zstd")
            recorded[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        report["outputs"] = recorded
        (root / RECORD).write_text(json.dumps(report, indent=1, default=str) + "\n")


__all__ = ["IngestSummary", "add_quality", "edited_outputs", "ingest_file", "make_report",
           "prepare_out", "quality_report", "quality_table", "run_ingest", "write_outputs"]


from gazeprep.contract.entry import make_callable  # noqa: E402

make_callable(__name__, "gazeprep.api:ingest")
