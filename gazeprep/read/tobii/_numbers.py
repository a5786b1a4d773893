"""Numbers in Tobii exports: decimal commas, units in headers, truncated files.

Tobii software writes numbers in the locale of the computer that exported them: ``10,00`` with
a decimal comma, ``10.00`` with a point, never both in one file. A file where both appear was
edited or concatenated from two exports: that is an error naming the first line that differs
(reading it either way would misread one half by a factor of 10 to 1000).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError

if TYPE_CHECKING:
    from gazeprep.read.delimited import Table

#: A time unit in a header (``[ms]``, ``[μs]`` with U+03BC or U+00B5, ``[us]``, ``[s]``) -> ms.
UNIT_MS = {"ms": 1.0, "\u03bcs": 1e-3, "\u00b5s": 1e-3, "us": 1e-3, "s": 1000.0}
_BRACKET = re.compile(r"^(.*?)\s*[\[(]([^\])]*)[\])]\s*$")


def split_unit(name: str) -> tuple[str, str | None]:
    """``"Recording timestamp [ms]"`` -> ``("Recording timestamp", "ms")`` (Tobii Studio writes
    ``"GazePointX (ADCSpx)"``); no unit: None."""
    m = _BRACKET.match(name.strip())
    return (m.group(1), m.group(2).strip()) if m else (name.strip(), None)


def _unit(u: str | None) -> str | None:
    return None if u is None else u.replace("\u00b5", "\u03bc").lower()


def find(header: list[str], name: str, unit: str | None = "") -> str | None:
    """The column of ``header`` called ``name`` (case aside) with the bracketed ``unit``
    (``""``: any unit or none; ``μs`` matches ``µs`` and ``us`` too)."""
    want = _unit(unit)
    for h in header:
        base, u = split_unit(h)
        if base.lower() != name.lower():
            continue
        u = _unit(u)
        if not want or u == want or (want == "\u03bcs" and u == "us"):
            return h
    return None


def decimal_mark(df: pl.DataFrame, cols: list[str], lines: np.ndarray, path: str) -> str:
    """``","`` or ``"."``: the decimal separator the numeric columns ``cols`` use.

    Raises
    ------
    GazeprepError
        Both separators in one file (naming the first line that uses the rarer one).
    """
    cols = [c for c in dict.fromkeys(cols) if c in df.columns]
    if not cols or not df.height:
        return "."
    comma = df.select(pl.any_horizontal([pl.col(c).str.contains(",", literal=True)
                                         for c in cols]).fill_null(False)).to_series()
    point = df.select(pl.any_horizontal([pl.col(c).str.contains(".", literal=True)
                                         for c in cols]).fill_null(False)).to_series()
    n_comma, n_point = int(comma.sum()), int(point.sum())
    if n_comma and n_point:
        rare, other = (comma, "','") if n_comma < n_point else (point, "'.'")
        line = int(lines[int(np.argmax(rare.to_numpy()))])
        mark = "','" if other == "'.'" else "'.'"
        raise GazeprepError(
            f"mixed decimal separators: this line writes {mark} where {max(n_comma, n_point)} "
            f"other rows write {other}; expected one decimal separator in the whole file "
            "(one export, one locale)", file=path, line=line)
    return "," if n_comma else "."


def to_numbers(df: pl.DataFrame, spec: dict[str, str | None], mark: str, lines: np.ndarray,
               path: str, missing: tuple[str, ...] = ("",)) -> pl.DataFrame:
    """Float64 columns named by the keys of ``spec`` from the text columns it names (None: all
    NaN); empty or ``missing`` text is NaN.

    Raises
    ------
    GazeprepError
        Text that is not a number, naming the line and the column.
    """
    exprs = []
    for key, col in spec.items():
        if col is None:
            exprs.append(pl.lit(float("nan"), pl.Float64).alias(key))
            continue
        s = pl.col(col).str.strip_chars()
        if mark == ",":
            s = s.str.replace(",", ".", literal=True)
        miss = s.is_null() | s.is_in(list(missing))
        # Null (not NaN) where the text is not a number: found below in one pass.
        exprs.append(pl.when(miss).then(float("nan")).otherwise(
            s.cast(pl.Float64, strict=False)).alias(key))
    out = df.select(exprs) if exprs else pl.DataFrame()
    bad = out.select(pl.any_horizontal(pl.all().is_null()).fill_null(False)).to_series() \
        if out.width else pl.Series([], dtype=pl.Boolean)
    if bad.any():
        i = int(bad.arg_max())
        key = next(k for k in out.columns if out[k][i] is None)
        point = "a decimal comma" if mark == "," else "a decimal point"
        raise GazeprepError(f"{spec[key]} = '{df[spec[key]][i]}' is not a number; expected a "
                            f"number (with {point}) or an empty field", file=path,
                            line=int(lines[i]))
    return out


def truncated_row(path: str, table: Table) -> GazeprepError | None:
    """The error for a file whose last row has fewer fields than the header (cut mid-row: a
    copy or an export that did not finish; a reader that went on would make up the missing
    fields), else None. The caller raises it, or with ``--lenient`` drops that row."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 65536))
        tail = fh.read()
    rows = [r for r in tail.split(b"\n") if r.strip(b"\r\t ;,")]
    if not rows or not table.lines.size:
        return None
    got, want = rows[-1].rstrip(b"\r").count(table.sep.encode()) + 1, len(table.header)
    if got >= want:
        return None
    return GazeprepError(
        f"the last row has {got} fields, the header {want}: the file ends in the middle of a "
        "row (truncated copy or unfinished export?); expected complete rows (--lenient skips "
        "that row)", file=path, line=int(table.lines[-1]))


def complete_rows(path: str, table: Table, res, lenient: bool
                  ) -> tuple[pl.DataFrame, np.ndarray]:
    """The table's rows and lines, refusing a truncated last row (:func:`truncated_row`) or,
    with ``lenient``, dropping it and recording the error on ``res``."""
    cut = truncated_row(path, table)
    if cut is None:
        return table.df, table.lines
    if not lenient:
        raise cut
    res.error(cut)
    return table.df.head(-1), table.lines[:-1]


def image_ids(names: pl.Series) -> pl.Series:
    """The image id (:func:`~gazeprep.read.result.image_id`) of each media name; null where
    no media was shown (empty) or the name has no usable stem."""
    from gazeprep.read.result import image_id

    uniq = [n for n in names.unique().to_list() if n]
    ids = [image_id(n) or None for n in uniq]
    return names.replace_strict(uniq, ids, default=None, return_dtype=pl.String).alias("image")


def stem(path: str) -> str:
    """The session name of a file: its stem."""
    return Path(path).stem
