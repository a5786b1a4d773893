"""Stage 1 of ingest: input files -> what each file holds, one reader per format.

The data flow of ``gazeprep ingest`` (:mod:`gazeprep.ingest` runs it), one way::

    find_inputs -> read (this package)  -> detect (gazeprep.detect) -> place -> tracks -> write
                   FileResult ----------------------------------------------^
                   Recording: samples ----> fixations per series ---> Recording.place

A reader is a module with two functions, registered in :func:`readers` under its ``--format``
name:

- ``sniff(probe) -> bool``: whether the file (its first bytes, :class:`~gazeprep.read.probe.
  Probe`) is in this format; ``--format auto`` asks each reader in turn (:func:`sniff_format`);
- ``read(path, opts) -> FileResult | Recording``: a file that holds fixations (a fixation
  report, an ASC file read with the tracker's events) gives its
  :class:`~gazeprep.read.result.FileResult`; a file of gaze samples (ASC with ``--detector
  ivt|idt``, sample CSV/TSV) gives a :class:`~gazeprep.read.result.Recording`: its sample
  series, which ingest hands to the detector (stage 2), and a ``place`` step that maps the
  detected fixations to image coordinates and returns the FileResult.

So no reader imports :mod:`gazeprep.detect`: detection is the next stage, and placement stays
with the reader that knows the file's screen, trials and images. Readers take every parameter
from :class:`~gazeprep.read.options.IngestOptions` and put their results in the types of
:mod:`gazeprep.read.result`.

This package is imported by the command line: the readers (polars, numba) are imported when
:func:`readers` is first called, never at import.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from gazeprep.errors import GazeprepError

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.result import FileResult, Recording

#: Extensions picked up when walking a directory (other files there are ignored).
INPUT_EXTENSIONS = (".edf", ".asc", ".csv", ".tsv", ".txt", ".xls")


@cache
def readers() -> dict[str, ModuleType]:
    """The registry: ``--format`` name -> reader module, in the order ``auto`` tries them."""
    from gazeprep.read import (
        asc,
        edf_reader,
        fixreport,
        gazepoint,
        pupil,
        pupil_neon,
        reflacx,
        samples,
        smi,
    )
    from gazeprep.read.tobii import prolab, sdk, studio

    return {"edf": edf_reader, "asc": asc, "smi-begaze": smi, "pupil-core": pupil,
            "pupil-neon": pupil_neon, "gazepoint": gazepoint, "reflacx": reflacx,
            "tobii-prolab": prolab, "tobii-studio": studio, "tobii-sdk": sdk,
            "fixreport": fixreport, "samples": samples}


def sniff_format(path: Path) -> str:
    """The format of ``path``: the first reader of :func:`readers` whose ``sniff`` says yes.

    Raises
    ------
    GazeprepError
        Empty files, binary files other than EDF and text that no reader recognises.
    """
    from gazeprep.read.probe import Probe

    probe = Probe.of(path)
    if not probe.head.strip():
        raise GazeprepError("empty file; expected an EyeLink EDF or ASC, a fixation report or "
                            "a sample CSV/TSV", file=path)
    for name, reader in readers().items():
        if reader.sniff(probe):
            return name
    raise GazeprepError(
        f"unknown format (header {probe.header[:8]}); expected an EyeLink EDF or ASC, a fixation "
        "report with CURRENT_FIX_X/Y/DURATION and IMAGE columns, a sample file with time,x,y "
        "columns, or a Tobii (Pro Lab, Studio, Pro SDK), SMI BeGaze, Pupil Labs, Gazepoint or "
        "REFLACX export (or pass --format)",
        file=path, line=1)


def read(path: str | Path, opts: IngestOptions) -> FileResult | Recording:
    """Read one input file with the reader of ``opts.format`` (``auto``: :func:`sniff_format`).

    Returns
    -------
    FileResult or Recording
        See the module notes.
    """
    from gazeprep.read.options import FORMAT_CHOICES

    path = Path(path)
    fmt = opts.format if opts.format != "auto" else sniff_format(path)
    reader = readers().get(fmt)
    if reader is None:
        raise GazeprepError(f"unknown --format {fmt!r}; expected one of "
                            f"{', '.join(FORMAT_CHOICES)}")
    import numpy as np

    # Arithmetic on hostile numbers (1e308 s * 1000) may overflow: every result is checked
    # afterwards (gazeprep.limits), so numpy's warnings would only add lines to stderr.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return reader.read(str(path), opts)


def find_inputs(paths: Iterable[str | Path], notes: list[str] | None = None) -> list[Path]:
    """Expand folders (recursively, known extensions, hidden files skipped) into files.

    A folder holding ``x.edf`` and ``x.asc`` side by side (an EDF and, usually, its
    ``edf2asc`` text, perhaps edited) gives the ``.asc`` only, as before EDF files were read:
    ``notes`` (when given) receives one line per EDF skipped. An EDF named on the command line
    is always read.

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
            files += _without_companions(_without_converted_edf(found, notes), notes)
        elif p.is_file():
            files.append(p)
        elif p.exists():  # reading a named pipe would wait for a writer, a device never end
            raise GazeprepError("not a regular file (a named pipe or device); expected an input "
                                "file or folder", file=p)
        else:
            raise GazeprepError("no such file or folder", file=p)
    seen: set[Path] = set()
    return [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]


def _without_companions(found: list[Path], notes: list[str] | None) -> list[Path]:
    """``found`` less the files a reader reads through another one or that hold no gaze (a
    Pupil export's ``blinks.csv``, a REFLACX reading's ``gaze.csv`` beside its
    ``fixations.csv``...): each reader with a ``companions(files) -> {path: reason}`` says
    which; ``notes`` receives one line per file skipped, with the reason."""
    skip: dict[Path, str] = {}
    for reader in readers().values():
        pick = getattr(reader, "companions", None)
        if pick is not None:
            skip |= {p: why for p, why in pick(found).items() if p not in skip}
    if notes is not None:
        notes += [f"{f}: skipped, {skip[f]}" for f in found if f in skip]
    return [f for f in found if f not in skip]


def _without_converted_edf(found: list[Path], notes: list[str] | None) -> list[Path]:
    """``found`` less every ``.edf`` with a ``.asc`` of the same stem in its folder."""
    asc = {(f.parent, f.stem) for f in found if f.suffix.lower() == ".asc"}
    keep = []
    for f in found:
        if f.suffix.lower() == ".edf" and (f.parent, f.stem) in asc:
            if notes is not None:
                notes.append(f"{f}: skipped, the ASC beside it ({f.stem}.asc) is read; name the "
                             ".edf itself to read it instead")
            continue
        keep.append(f)
    return keep

