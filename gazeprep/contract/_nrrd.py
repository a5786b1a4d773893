"""NRRD volumes (``.nrrd``, detached ``.nhdr``): pynrrd parses the header, the data is read here.

pynrrd's own data reader opens whatever path ``data file`` names (``../secret``, ``/etc/...``)
and inflates gzip/bzip2 data whole before comparing it with the header's sizes. Here the data
file must lie beside the header (:func:`~gazeprep.contract._checks.file_beside`), the sizes are
checked against the file (raw: its length; gzip: deflate's largest ratio) and the memory left
before anything is allocated, and decompression stops at the size the header gives.
Multi-file data (``data file: LIST``, format strings ``img%03d.raw 1 10 1``) is refused.
"""

from __future__ import annotations

import bz2
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazeprep.contract._checks import (
    DEFLATE_MAX_RATIO,
    check_claim,
    check_memory,
    file_beside,
    human_bytes,
)
from gazeprep.contract.errors import InputError, require

_CHUNK = 1 << 20
_GZIP, _BZIP2 = ("gzip", "gz"), ("bzip2", "bz2")
_TEXT = ("ascii", "text", "txt")


@dataclass(frozen=True)
class NrrdLayout:
    """Where an NRRD file's samples are and what the header claims about them."""

    header: dict
    sizes: tuple[int, ...]
    dtype: np.dtype
    data: Path
    offset: int
    encoding: str
    byte_skip: int
    line_skip: int

    @property
    def nbytes(self) -> int:
        """Bytes of the decoded samples (what the sizes and the type claim)."""
        return int(np.prod(self.sizes, dtype=object)) * self.dtype.itemsize


def nrrd_layout(path: Path) -> NrrdLayout:
    """Parse and check an NRRD header: its data file, its sizes against that file.

    Raises
    ------
    InputError
        The header cannot be parsed, names a file outside its folder or several files, uses an
        unknown encoding, or claims more samples than the data can hold.
    """
    nrrd = require("nrrd", "NRRD")
    try:
        with open(path, "rb") as fh:
            header = nrrd.read_header(fh)
            offset = fh.tell()
        dtype = nrrd.reader._determine_datatype(header)
        sizes = tuple(int(s) for s in header["sizes"])
        skips = [int(header.get(f"{k}skip", header.get(f"{k} skip", 0))) for k in ("byte", "line")]
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad input file
        raise InputError(f"cannot read the NRRD header ({type(exc).__name__}: {exc})",
                         file=path) from exc
    if not sizes or min(sizes) < 1 or len(sizes) != int(header.get("dimension", len(sizes))):
        raise InputError(f"sizes {' '.join(map(str, sizes))}: expected one positive size per "
                         f"dimension", file=path)
    data = _data_file(header, path)
    if data != path:
        offset = 0
    encoding = str(header.get("encoding", "raw")).lower()
    if encoding not in ("raw", *_GZIP, *_BZIP2, *_TEXT):
        raise InputError(f"encoding {encoding!r}: expected raw, gzip, bzip2 or ascii", file=path)
    if skips[0] < -1 or skips[1] < 0 or (skips[0] == -1 and encoding != "raw"):
        raise InputError(f"byte skip {skips[0]}, line skip {skips[1]}: expected >= 0 (byte skip "
                         f"-1 only with raw encoding)", file=path)
    lay = NrrdLayout(header, sizes, dtype, data, offset, encoding, *skips)
    _check_sizes(lay, path)
    return lay


def _data_file(header: dict, path: Path) -> Path:
    """The file the samples are in: the header's own, or its ``data file`` beside it."""
    named = header.get("data file", header.get("datafile"))
    if named is None:
        return path
    named = str(named).strip()
    words = named.split()
    if words[:1] == ["LIST"] or (len(words) >= 4 and "%" in words[0]):
        raise InputError(f"data file {named!r}: data split over several files (LIST or a "
                         f"format string) is not supported; expected one data file", file=path)
    return file_beside(path, named, "data file")


def _check_sizes(lay: NrrdLayout, path: Path) -> None:
    """Refuse sizes the data cannot hold: raw bytes, text numbers, deflate's ratio."""
    stored = lay.data.stat().st_size - lay.offset
    what = f"the header (sizes {' '.join(map(str, lay.sizes))}, type {lay.dtype})"
    if lay.encoding == "raw":
        check_claim(lay.nbytes + max(lay.byte_skip, 0), stored, path, what)
    elif lay.encoding in _TEXT:  # a number and a separator: 2 bytes at least
        check_claim(lay.nbytes // lay.dtype.itemsize * 2 - 1, stored, path, what)
    elif lay.encoding in _GZIP:
        check_claim(lay.nbytes + lay.byte_skip, stored * DEFLATE_MAX_RATIO, path,
                    f"{what}, gzip-compressed,")


def read_nrrd(path: Path) -> np.ndarray:
    """The samples of an NRRD file, axes in the header's order (pynrrd's ``index_order='F'``)."""
    lay = nrrd_layout(path)
    check_memory(lay.nbytes, path, f"the volume ({' x '.join(map(str, lay.sizes))} {lay.dtype})")
    count = lay.nbytes // lay.dtype.itemsize
    with open(lay.data, "rb") as fh:
        fh.seek(lay.offset)
        _skip_lines(fh, lay.line_skip)
        if lay.encoding in _GZIP + _BZIP2:
            flat = np.frombuffer(_inflate(fh, lay, path), lay.dtype, count)
        else:
            if lay.byte_skip == -1:
                fh.seek(-lay.nbytes, 2)
            else:
                fh.seek(lay.byte_skip, 1)
            sep = " " if lay.encoding in _TEXT else ""
            flat = np.fromfile(fh, lay.dtype, count, sep=sep)
    if flat.size != count:
        raise InputError(f"the data holds {flat.size} samples but the header's sizes "
                         f"{' '.join(map(str, lay.sizes))} give {count}", file=path)
    return flat.reshape(lay.sizes[::-1]).T


def _skip_lines(fh, n: int) -> None:
    """Skip ``n`` lines, reading at most one chunk at a time."""
    while n > 0:
        chunk = fh.read(_CHUNK)
        if not chunk:
            return
        at = -1
        while n > 0:
            at = chunk.find(b"\n", at + 1)
            if at < 0:
                break
            n -= 1
        if n == 0:
            fh.seek(at + 1 - len(chunk), 1)


def _inflate(fh, lay: NrrdLayout, path: Path) -> bytearray:
    """Decompress exactly the bytes the header claims, no more; the byte skip (counted in
    decompressed bytes) is inflated a chunk at a time and dropped."""
    out = bytearray(lay.nbytes)
    view, got, skip = memoryview(out), 0, lay.byte_skip
    gz = lay.encoding in _GZIP
    dec = zlib.decompressobj(zlib.MAX_WBITS | 16) if gz else bz2.BZ2Decompressor()
    try:
        while got < lay.nbytes and not dec.eof:
            hungry = not dec.unconsumed_tail if gz else dec.needs_input
            fresh = fh.read(_CHUNK) if hungry else b""
            chunk = dec.unconsumed_tail + fresh if gz else fresh
            piece = dec.decompress(chunk, min(skip, _CHUNK) if skip else lay.nbytes - got)
            if not piece and hungry and not fresh:  # the file ended, nothing pending
                break
            if skip:
                skip -= len(piece)
                continue
            view[got:got + len(piece)] = piece
            got += len(piece)
    except (OSError, zlib.error, EOFError) as exc:
        raise InputError(f"cannot decompress the {lay.encoding} data ({exc})", file=path) from exc
    if got < lay.nbytes:
        raise InputError(f"the {lay.encoding} data inflates to "
                         f"{human_bytes(got + lay.byte_skip - skip)} but the header claims "
                         f"{human_bytes(lay.nbytes + lay.byte_skip)}; expected a header that "
                         f"matches its data", file=path)
    return out
