"""Delimited text tables (fixation reports, sample files) as spreadsheet programs write them.

What is accepted, so that an export opened and re-saved in Excel reads like the original:

- a UTF-8 byte-order mark (Excel's "CSV UTF-8") is dropped;
- UTF-16 with a byte-order mark (Excel's "Unicode Text") is decoded; UTF-16 without one is an
  error that says how to re-save the file (guessing the byte order could misread it);
- lines that are not valid UTF-8 (a report written in cp1252/Latin-1) are decoded as Latin-1,
  byte for byte, and listed, so that ``l\\xe9sion.png`` becomes ``lésion.png``, never a
  replacement character;
- CRLF or LF line ends; blank rows, whitespace-only rows and rows of empty fields (what Excel
  leaves after deleting rows) are skipped and counted;
- rows with extra *empty* trailing fields (a trailing tab or comma) are read; an extra non-empty
  field is an error naming its line;
- quoted fields with separators, quotes or line breaks inside.

What is refused before any table is built (:func:`read_bytes`), each in one line naming the
file: a named pipe, device or folder (opening one could wait for ever or never end); a file
the memory left to the process cannot parse (:data:`MEMORY_PER_BYTE` times its size); a line
longer than :data:`MAX_LINE_BYTES` (a file without line breaks, a header of a million
columns: no export writes such lines, and parsing one would exhaust memory); a quoted field
that never closes (naming the line where it opens).

A column the reader uses that appears twice in the header (case and surrounding spaces ignored)
is an error naming it: picking one of the two silently could read the wrong numbers.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gazeprep.errors import GazeprepError

if TYPE_CHECKING:
    import polars as pl

#: Byte-order marks and what they mean (checked in order).
BOMS = (
    (b"\xef\xbb\xbf", "utf-8", "UTF-8 (byte-order mark)"),
    (b"\xff\xfe", "utf-16-le", "UTF-16 (byte-order mark)"),
    (b"\xfe\xff", "utf-16-be", "UTF-16 (byte-order mark)"),
)
#: Longest line of a text table (bytes): a 1-MiB line is far beyond any export's widest row.
MAX_LINE_BYTES = 1 << 20
#: Memory ingest needs per byte of a table, beyond what it holds when it opens the file:
#: (address space, resident). Measured on a 46 MB Gazepoint CSV of a million rows: under
#: ``RLIMIT_AS`` it fails with 1.1 GiB of address space left and runs with 1.3 GiB (24 to 28
#: times its size); its resident memory peaks 0.46 GB above the start (10 times).
MEMORY_PER_BYTE = (28, 12)
RESAVE = ("re-save it as 'CSV UTF-8 (Comma delimited)' in Excel, or convert it with "
          "`iconv -f UTF-16LE -t UTF-8`")


@dataclass
class Decoded:
    """A text file as UTF-8 bytes, line for line as on disk.

    ``encoding`` names what was converted (None for plain UTF-8); ``latin1_lines`` are the
    1-based lines that were not valid UTF-8 and were decoded as Latin-1.
    """

    data: bytes
    encoding: str | None = None
    latin1_lines: list[int] = field(default_factory=list)


def _utf16_without_bom(raw: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when ``raw`` looks like BOM-less UTF-16 text, else None."""
    head = raw[:4096]
    half = len(head) // 2
    if half < 2:
        return None
    even, odd = head[0:2 * half:2].count(0), head[1:2 * half:2].count(0)
    if odd > 0.4 * half and even == 0:
        return "utf-16-le"
    if even > 0.4 * half and odd == 0:
        return "utf-16-be"
    return None


def decode_text(raw: bytes, path: str, *, head: bool = False,
                what: str = "a text table (CSV or TSV)") -> Decoded:
    """UTF-8 bytes of a text table, whatever Excel saved it as (see the module notes).

    Parameters
    ----------
    raw : bytes
        File content (or its first bytes when ``head``).
    path : str
        For error messages.
    head : bool
        ``raw`` is only the start of the file: a character cut at the end is tolerated and no
        per-line Latin-1 pass is made (detection only needs the header).
    what : str
        What the file should be, for the error messages.

    Raises
    ------
    GazeprepError
        Binary content, BOM-less UTF-16 (with how to re-save it), undecodable UTF-16.
    """
    out = Decoded(raw)
    for bom, codec, label in BOMS:
        if raw.startswith(bom):
            out.encoding = label
            body = raw[len(bom):]
            if codec == "utf-8":
                out.data = body
            else:
                try:
                    text = body[: len(body) // 2 * 2].decode(codec, "replace" if head else "strict")
                except UnicodeDecodeError as exc:
                    raise GazeprepError(f"not valid {label} text (byte {exc.start + 2}); "
                                        f"expected UTF-8 or UTF-16: {RESAVE}", file=path) from exc
                out.data = text.encode("utf-8")
            break
    if b"\x00" in out.data[:65536]:
        codec = _utf16_without_bom(out.data)
        if codec:
            raise GazeprepError(f"UTF-16 text without a byte-order mark ({codec}?); expected "
                                f"UTF-8: {RESAVE}", file=path, line=1)
        raise GazeprepError(f"binary file; expected {what}", file=path, line=1)
    if head or out.data.isascii():  # ASCII is UTF-8, and far quicker to tell
        return out
    try:
        out.data.decode("utf-8")
    except UnicodeDecodeError:
        lines = out.data.split(b"\n")
        for i, ln in enumerate(lines):
            try:
                ln.decode("utf-8")
            except UnicodeDecodeError:
                lines[i] = ln.decode("latin-1").encode("utf-8")
                out.latin1_lines.append(i + 1)
        out.data = b"\n".join(lines)
    return out


def read_bytes(path: str, what: str, memory_per_byte: tuple[int, int] = MEMORY_PER_BYTE
               ) -> bytes:
    """The bytes of a regular file, refused in one line when they cannot be a text table.

    Raises
    ------
    GazeprepError
        Not a regular file (a named pipe is opened without waiting for a writer), more than
        the process's memory can parse, or a line over :data:`MAX_LINE_BYTES`.
    """
    from gazeprep.contract._checks import human_bytes, memory_left

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise GazeprepError(f"cannot open ({exc.strerror}); expected a readable {what}",
                            file=path) from exc
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise GazeprepError(f"not a regular file (a named pipe, device or folder); "
                                f"expected a {what}", file=path)
        for factor, left in zip(memory_per_byte, memory_left(), strict=True):
            if left is not None and factor * st.st_size > left:
                raise GazeprepError(f"a {human_bytes(st.st_size)} file needs about "
                                    f"{human_bytes(factor * st.st_size)} of memory to parse, but "
                                    f"this process can use only {human_bytes(max(left, 0))} "
                                    "more; expected a smaller file (split it) or more memory",
                                    file=path)
        try:
            raw = fh.read()
        except MemoryError:
            raise GazeprepError(f"ran out of memory reading this {human_bytes(st.st_size)} "
                                "file; expected a smaller file or more memory",
                                file=path) from None
    _check_line_lengths(raw, path, what)
    return raw


def is_blank(data: bytes) -> bool:
    """Whether ``data`` is empty or only whitespace (``not data.strip()`` without copying a
    file's worth of bytes)."""
    return not data or data.isspace()


def _check_line_lengths(raw: bytes, path: str, what: str) -> None:
    """Refuse the first line longer than :data:`MAX_LINE_BYTES`.

    Such a line holds one of the offsets ``k * MAX_LINE_BYTES``: only the lines at those
    offsets are measured (a few dozen ``find`` calls for a large file, where scanning every
    line end was a pass over the file)."""
    for at in range(0, len(raw), MAX_LINE_BYTES):
        start = raw.rfind(b"\n", 0, at) + 1
        end = raw.find(b"\n", at)
        end = len(raw) if end < 0 else end
        if end - start > MAX_LINE_BYTES:
            raise GazeprepError(
                f"line is longer than {MAX_LINE_BYTES >> 20} MiB ({end - start} bytes or more); "
                f"expected a {what} with one row per line", file=path,
                line=raw.count(b"\n", 0, start) + 1)


def records(text: bytes, sep: str, path: str) -> Iterator[tuple[int, list[str]]]:
    """``(first line, fields)`` of each CSV record of ``text`` (quoted line breaks kept).

    Raises
    ------
    GazeprepError
        A quoted field that never closes (it runs past the csv module's field limit),
        naming the line where its record starts.
    """
    reader = csv.reader(io.StringIO(text.decode("utf-8"), newline=""), delimiter=sep)
    prev = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise GazeprepError(f"a field of this row never ends ({exc}): a quote opened here "
                                "is not closed; expected a closing quote (\") in the same row",
                                file=path, line=prev + 1) from None
        yield prev + 1, row
        prev = reader.line_num


def sniff_separator(header: str) -> str:
    """Tab, semicolon or comma: whichever splits the header line into the most fields."""
    return max(("\t", ";", ","), key=lambda s: (header.count(s), s == ","))


def header_fields(line: str, sep: str) -> list[str]:
    """Column names of a header line, quotes removed (as the CSV reader sees them)."""
    return next(csv.reader([line.rstrip("\r\n")], delimiter=sep), [])


def _key(name: str) -> str:
    return name.strip().strip('"').upper()


def check_unique(header: list[str], used: Iterable[str], path: str, line: int = 1) -> None:
    """Refuse a header that names a column the reader uses more than once.

    Names compare case-insensitively and without surrounding spaces, as the readers match them.

    Raises
    ------
    GazeprepError
        Naming the first such column, its positions and the header's ``line``.
    """
    keys = [_key(h) for h in header]
    wanted = {_key(u) for u in used}
    for i, k in enumerate(keys):
        pos = [j for j, kk in enumerate(keys) if kk == k]
        if k in wanted and len(pos) > 1 and pos[0] == i:
            spelled = ", ".join(repr(header[j]) for j in pos)
            raise GazeprepError(
                f"column {header[i].strip()!r} appears more than once in the header (fields "
                f"{', '.join(str(j + 1) for j in pos)}: {spelled}); expected each column name "
                "once (rename or delete the extra column)", file=path, line=line)


@dataclass
class Table:
    """A delimited file read as all-string columns.

    ``df`` has one row per data row (blank rows removed); ``lines`` the 1-based file line of
    each row; ``header`` the column names as written (duplicates kept); ``notes`` what was
    converted or skipped (for ``ingest.json``); ``latin1_lines`` as in :class:`Decoded`;
    ``preamble`` the text before the header (``skip_lines``); ``short`` (with
    ``count_fields``) the index in ``df`` of each row with fewer fields than the header and
    ``fields`` its field count.
    """

    df: pl.DataFrame
    lines: np.ndarray
    header: list[str]
    sep: str
    notes: dict = field(default_factory=dict)
    latin1_lines: list[int] = field(default_factory=list)
    preamble: str = ""
    short: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    fields: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _row_lines(text: bytes, sep: str, n_rows: int, path: str) -> np.ndarray:
    """1-based file line where each data row starts (exact with quoted line breaks too)."""
    last = text[text.rfind(b"\n") + 1:]
    n = text.count(b"\n") - (last in (b"", b"\r"))
    if n == n_rows and b'"' not in text:
        return np.arange(2, n_rows + 2, dtype=np.int64)
    starts = [start for start, _ in records(text, sep, path)]
    rows = np.asarray(starts[1:], dtype=np.int64)
    return rows if rows.size == n_rows else np.arange(2, n_rows + 2, dtype=np.int64)


def _short_rows(text: bytes, sep: str, n_cols: int, lines: np.ndarray, maybe: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Rows (indices into ``lines``) with fewer than ``n_cols`` fields, and their counts.

    polars fills the missing fields of a short row with nulls, which would pass for empty
    cells: a file cut mid-row, a lost separator. Only the rows of ``maybe`` (a null where
    the last field should be) are counted: one by one when they are few, else every line's
    separators in one vectorised pass. A file that quotes fields has the rows short of
    separators checked again with :mod:`csv` (a quoted separator or line break).
    """
    rows = np.flatnonzero(maybe)
    data = np.frombuffer(text, np.uint8)
    bounds = np.concatenate(([0], np.flatnonzero(data == 10) + 1, [data.size]))
    at = lines[rows] - 1
    if rows.size * 20 < lines.size:
        b = sep.encode()
        seps = np.array([text.count(b, bounds[i], bounds[i + 1]) for i in at.tolist()],
                        dtype=np.int64)
    else:  # separators before each line's start, by binary search: per line, the difference
        seps = np.diff(np.searchsorted(np.flatnonzero(data == ord(sep)), bounds))[at]
    short = seps < n_cols - 1
    cand, fields = rows[short], seps[short] + 1
    if cand.size and b'"' in text:
        split = text.split(b"\n")
        fields = np.array([len(next(csv.reader([split[i].decode("utf-8", "replace")],
                                               delimiter=sep), [])) for i in at[short]],
                          dtype=np.int64)
        cand, fields = cand[fields < n_cols], fields[fields < n_cols]
    return cand, fields


def _ragged(text: bytes, sep: str, n_cols: int, path: str, offset: int = 0) -> int:
    """Rows with more fields than the header: error unless the extra fields are all empty.

    Returns the number of such rows (all with only empty extras).
    """
    n = 0
    for i, (start, row) in enumerate(records(text, sep, path)):
        if i == 0 or len(row) <= n_cols:
            continue
        if any(v.strip() for v in row[n_cols:]):
            raise GazeprepError(
                f"row has {len(row)} fields, the header {n_cols}; expected the same number of "
                "fields on every line (a separator inside a value must be quoted)",
                file=path, line=start + offset)
        n += 1
    return n


def _blank(df: pl.DataFrame) -> pl.Series:
    """Rows whose fields are all empty or whitespace; only rows whose first field is blank
    are looked at in full (in a sample table, almost none)."""
    import polars as pl

    if not df.width:
        return pl.Series([True] * df.height)

    def empty(c: str) -> pl.Expr:
        return pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")

    first = df.select(empty(df.columns[0])).to_series()
    if not first.any():
        return first
    if df.width == 1:
        return first
    rest = df.filter(first).select(pl.all_horizontal([empty(c) for c in df.columns[1:]]))
    return first.scatter(np.flatnonzero(first.to_numpy()), rest.to_series())


def read_table(path: str, what: str = "table", *, skip_lines: int = 0,
               pick: Callable[[list[str]], list[str]] | None = None,
               count_fields: bool = False,
               memory_per_byte: tuple[int, int] = MEMORY_PER_BYTE) -> Table:
    """Read a delimited text file as all-string columns (see the module notes).

    Parameters
    ----------
    path : str
        CSV/TSV file (comma, tab or semicolon separated; sniffed from the header).
    what : str
        What the file should be, for error messages ("fixation report", ...).
    skip_lines : int
        Lines before the header (a ``Key: value`` block), kept in ``Table.preamble``; row
        line numbers still count from the file's first line.
    pick : callable, optional
        ``pick(header) -> names``: parse only these columns (the others are not converted,
        which matters for exports of a hundred columns); blank rows are then those whose
        picked fields are all empty.
    count_fields : bool
        Find the rows with fewer fields than the header (``Table.short``).
    memory_per_byte : (int, int)
        What reading and using the table needs per byte of file (:data:`MEMORY_PER_BYTE`; a
        reader whose later steps need more says so).

    Raises
    ------
    GazeprepError
        Empty, binary or unparseable file, naming the line where possible.
    """
    import polars as pl

    raw = read_bytes(path, what, memory_per_byte)
    if is_blank(raw):
        raise GazeprepError(f"empty file; expected a header line and {what} rows", file=path)
    dec = decode_text(raw, path, what=f"a text {what} (CSV or TSV)")
    text, preamble = dec.data, b""
    if skip_lines:
        cut = 0
        for _ in range(skip_lines):
            cut = text.index(b"\n", cut) + 1
        text, preamble = text[cut:], text[:cut]
    first = text.split(b"\n", 1)[0].decode("utf-8")
    sep = sniff_separator(first)
    notes = {"encoding": dec.encoding} if dec.encoding else {}
    if dec.latin1_lines:
        notes["latin1_lines"] = {"count": len(dec.latin1_lines), "first": dec.latin1_lines[:20]}

    header = header_fields(first, sep)
    # Picked columns by position (a CRLF file's last name ends in '\r' for polars), renamed
    # to the names as written.
    columns = sorted({header.index(c) for c in pick(header)}) if pick else None
    # A short row lacks the last named column (polars fills it with null): only the rows
    # with a null there are counted; that column is parsed for this alone if not picked.
    named = max((i for i, h in enumerate(header) if h.strip()), default=len(header) - 1)
    extra = count_fields and columns is not None and named not in columns
    parsed = sorted([*columns, named]) if extra else columns
    maybe = np.zeros(0, bool)

    def parse(ragged: bool) -> pl.DataFrame:
        nonlocal maybe
        df = pl.read_csv(text, separator=sep, infer_schema=False, encoding="utf8",
                         truncate_ragged_lines=ragged, columns=parsed)
        if count_fields and df.width:
            at = named if parsed is None else parsed.index(named)
            maybe = df[:, at].is_null().to_numpy()
            if extra:
                df = df.drop(df.columns[at])
        return df if columns is None else df.rename(dict(zip(
            df.columns, [header[i] for i in columns], strict=True)))

    try:
        df = parse(False)
    except pl.exceptions.PolarsError as exc:
        n = _ragged(text, sep, len(header), path, skip_lines)
        if not n:
            raise GazeprepError(
                f"cannot parse as a {'tab' if sep == chr(9) else repr(sep)}-separated {what} "
                f"({str(exc).splitlines()[0]}); expected one row per line, same number of "
                "fields on every line", file=path) from exc
        notes["trailing_empty_fields"] = n
        df = parse(True)
    lines = _row_lines(text, sep, df.height, path)
    short = fields = np.zeros(0, np.int64)
    if maybe.any():
        short, fields = _short_rows(text, sep, named + 1, lines, maybe)
    lines = lines + skip_lines
    blank = _blank(df)
    if blank.any():
        notes["blank_rows_skipped"] = int(blank.sum())
        keep = ~blank
        df, lines = df.filter(keep), lines[keep.to_numpy()]
        if short.size:  # a row of empty fields is blank, not short
            new = np.cumsum(keep.to_numpy()) - 1
            kept = keep.to_numpy()[short]
            short, fields = new[short[kept]], fields[kept]
    return Table(df, lines, header, sep, notes,
                 dec.latin1_lines, preamble.decode("utf-8"), short, fields)
