"""Numbers and names in Tobii exports: units in headers, decimal commas, media names.

Tobii software writes numbers in the locale of the computer that exported them: ``10,00`` with
a decimal comma, ``10.00`` with a point, never both in one file (:func:`to_numbers`; a file
where both appear was edited or concatenated from two exports: an error naming the line).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl

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


def to_numbers(df: pl.DataFrame, spec: dict[str, str | None], lines: np.ndarray,
               path: str) -> pl.DataFrame:
    """Float64 columns named by the keys of ``spec`` from the text columns it names (None: all
    NaN), by :func:`gazeprep.read.vendor.numbers` (decimal comma or point, never both); a
    missing value is NaN.

    Raises
    ------
    GazeprepError
        Text that is not a number or mixed decimal separators, naming the line and column.
    """
    from gazeprep.read.vendor import numbers

    present = {k: c for k, c in spec.items() if c is not None}
    if not present:
        return pl.DataFrame({k: np.full(df.height, np.nan) for k in spec})
    nan = pl.lit(float("nan"), pl.Float64)
    return numbers(df, present, lines, path).select(
        (pl.col(k).fill_null(nan) if k in present else nan).alias(k) for k in spec)


def image_ids(names: pl.Series, lines: np.ndarray, path: str) -> pl.Series:
    """The image id (:func:`~gazeprep.read.result.image_id`) of each media name; null where
    no media was shown (empty).

    Raises
    ------
    GazeprepError
        A name with no usable id (``..``, ``dir/``, over 240 bytes, a control character),
        naming its first line and the column.
    """
    from gazeprep.read.result import image_id
    from gazeprep.read.vendor import image_name

    uniq = [n for n in names.unique().to_list() if n]
    ids = [image_id(n) or None for n in uniq]
    bad = [n for n, i in zip(uniq, ids, strict=True) if i is None]
    if bad:
        row = int((names == bad[0]).arg_max())
        image_name(bad[0], path, int(lines[row]), f"column {names.name!r}:")
    return names.replace_strict(uniq, ids, default=None, return_dtype=pl.String).alias("image")


def stem(path: str) -> str:
    """The session name of a file: its stem."""
    return Path(path).stem
