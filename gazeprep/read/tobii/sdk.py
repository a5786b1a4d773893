"""Reader for sample dumps of the Tobii Pro SDK and Titta (``--format tobii-sdk``).

One row per sample with the field names of the SDK's ``GazeData``: ``device_time_stamp`` (μs,
the tracker's clock; else ``system_time_stamp``), ``left_gaze_point_on_display_area`` as a tuple
cell ``(x, y)`` in 0-1 of the display area (origin top-left), ``(nan, nan)`` when lost,
``left_gaze_point_validity`` (1 = valid), ``left_pupil_diameter`` (mm), and the eye position
and gaze point in the user coordinate system (``left_gaze_origin_in_user_coordinate_system``,
``left_gaze_point_in_user_coordinate_system``, ``(x, y, z)`` mm, for the true visual angle of
``--preset tobii``); the same for the right eye. Titta's split columns (``..._x``, ``..._y``,
``..._z``; ``..._valid``, ``..._in_user_coordinates``) read the same. Tab, semicolon or comma
separated; leading pandas index columns and any other column are ignored.

The display area is the screen (``--screen-px``, else 1920 x 1080, noted); the image is the
screen or ``--image-rect``, named after the file. A dump has no fixations: I-VT (default) or
I-DT finds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from gazeprep.errors import GazeprepError
from gazeprep.read.delimited import check_unique
from gazeprep.read.result import FileResult
from gazeprep.read.tobii._common import (
    MEMORY_PER_BYTE,
    MM_COLUMNS,
    average_eyes,
    check_eye,
    finish,
    load_detector_first,
    no_media,
)
from gazeprep.read.tobii._numbers import to_numbers
from gazeprep.read.vendor import read_rows, screen_rect

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe

#: key -> (field stem without the eye, number of components).
FIELDS = {
    "disp": (("gaze_point_on_display_area",), 2),
    "gaze": (("gaze_point_in_user_coordinate_system", "gaze_point_in_user_coordinates"), 3),
    "orig": (("gaze_origin_in_user_coordinate_system", "gaze_origin_in_user_coordinates"), 3),
    "valid": (("gaze_point_validity", "gaze_point_valid"), 1),
    "pupil": (("pupil_diameter",), 1),
}
TIMES = ("device_time_stamp", "system_time_stamp")


def sniff(probe: Probe) -> bool:
    """Whether the header names SDK fields: a time stamp and a display-area gaze point."""
    h = {c.strip().lower() for c in probe.header}
    return bool(h & set(TIMES)) and any(c.startswith("left_gaze_point_on_display_area")
                                        or c.startswith("right_gaze_point_on_display_area")
                                        for c in h)


def _locate(header: list[str]) -> dict[str, tuple[str, int | None] | None]:
    """``"<eye>_<key>_<i>"`` -> (column, tuple position or None for a scalar column)."""
    by = {c.strip().lower(): c for c in header}
    out: dict[str, tuple[str, int | None] | None] = {}
    for eye in ("left", "right"):
        for key, (stems, n) in FIELDS.items():
            for i in range(n):
                out[f"{eye}_{key}_{i}"] = None
                for st in stems:
                    name = f"{eye}_{st}"
                    if n == 1 and name in by:
                        out[f"{eye}_{key}_{i}"] = (by[name], None)
                    elif name in by:
                        out[f"{eye}_{key}_{i}"] = (by[name], i)
                    elif f"{name}_{'xyz'[i]}" in by:
                        out[f"{eye}_{key}_{i}"] = (by[f"{name}_{'xyz'[i]}"], None)
                    if out[f"{eye}_{key}_{i}"]:
                        break
    out["time"] = next(((by[t], None) for t in TIMES if t in by), None)
    return out


def read(path: str, opts: IngestOptions):
    """Read one SDK / Titta dump: its samples, for I-VT / I-DT.

    Raises
    ------
    GazeprepError
        No time stamp or display-area gaze column, a malformed tuple cell or number, a
        truncated last row, time going backwards.
    """
    res = FileResult(path=str(path), format="tobii-sdk")
    eye = check_eye(opts, path)
    load_detector_first(str(path), opts)
    if opts.detector == "tracker":
        raise GazeprepError("Tobii Pro SDK dumps carry no fixation events; expected "
                            "--detector ivt or idt", file=path)
    where: dict = {}

    def pick(header: list[str]) -> list[str]:
        where.update(_locate(header))
        used = [c for c in dict.fromkeys(v[0] for v in where.values() if v)]
        check_unique(header, used, str(path))
        return used

    table = read_rows(str(path), "Tobii Pro SDK dump", res if opts.lenient else None,
                      pick=pick, memory_per_byte=MEMORY_PER_BYTE)
    res.notes.update(table.notes)
    if where["time"] is None or not (where["left_disp_0"] or where["right_disp_0"]):
        raise GazeprepError("Tobii Pro SDK dump lacks 'device_time_stamp' (or "
                            "'system_time_stamp') or '<eye>_gaze_point_on_display_area'; "
                            f"expected the SDK's GazeData field names; found {table.header}",
                            file=path, line=1)
    df, lines = table.df, table.lines
    parts = _components(df, where, lines, str(path))
    num = to_numbers(parts, {c: c for c in parts.columns}, lines, str(path))
    screen, rect = screen_rect(res, opts)
    name = Path(path).stem
    s = _samples(num, lines, eye, screen, name)
    s = no_media(s, rect, name)
    return finish(res, s, opts, media=False, screen=screen, filter_name=None)


def _components(df: pl.DataFrame, where: dict, lines: np.ndarray, path: str) -> pl.DataFrame:
    """One text column per located component (tuple cells split).

    Raises
    ------
    GazeprepError
        A tuple cell without its parentheses or with the wrong number of components.
    """
    exprs, checks = [], []
    for key, loc in where.items():
        if loc is None:
            continue
        col, i = loc
        if i is None:
            exprs.append(pl.col(col).alias(key))
            continue
        cell = pl.col(col).str.strip_chars()
        body = cell.str.strip_prefix("(").str.strip_suffix(")").str.split(",")
        exprs.append(body.list.get(i, null_on_oob=True).str.strip_chars().alias(key))
        n = 2 if "disp" in key else 3
        checks.append(pl.when(cell.is_not_null() & (cell != "") & (
            ~cell.str.starts_with("(") | ~cell.str.ends_with(")") | (body.list.len() != n)))
            .then(pl.format(f"{col} = '{{}}' is not a tuple of {n} numbers", cell))
            .otherwise(None))
    if checks:
        bad = df.select(pl.coalesce(checks).alias("w")).to_series()
        if bad.null_count() < bad.len():
            i = int(bad.is_not_null().arg_max())
            raise GazeprepError(f"{bad[i]}; expected a cell like '(0.5, 0.5)' or "
                                "'(nan, nan)'", file=path, line=int(lines[i]))
    return df.select(exprs)


def _samples(num: pl.DataFrame, lines: np.ndarray, eye: str, screen: tuple[float, float],
             name: str) -> pl.DataFrame:
    """The sample frame of :mod:`gazeprep.read.tobii._common` (display area -> screen px)."""
    n = num.height

    def arr(side: str, key: str, k: int) -> np.ndarray:
        cols = [f"{side}_{key}_{i}" for i in range(k)]
        return np.column_stack([num[c].to_numpy() if c in num.columns else np.full(n, np.nan)
                                for c in cols])

    def valid(side: str) -> np.ndarray:
        c = f"{side}_valid_0"
        return np.ones(n, bool) if c not in num.columns else num[c].to_numpy() == 1

    lv, rv = valid("left"), valid("right")
    disp = average_eyes(arr("left", "disp", 2), arr("right", "disp", 2), lv, rv, eye)
    pupil = average_eyes(arr("left", "pupil", 1), arr("right", "pupil", 1), lv, rv, eye)
    nan = np.full(n, np.nan)
    out = pl.DataFrame({
        "line": lines, "t": num["time"] * 1e-3, "x": disp[:, 0] * screen[0],
        "y": disp[:, 1] * screen[1], "pupil": pupil[:, 0], "session": name, "image": None,
        "mx": nan, "my": nan, "mw": nan, "mh": nan, "iw": nan, "ih": nan, "kind": None,
        "index": nan, "fx": nan, "fy": nan, "fdur": nan},
        schema_overrides={"image": pl.String, "kind": pl.String})
    orig = average_eyes(arr("left", "orig", 3), arr("right", "orig", 3), lv, rv, eye)
    gaze = average_eyes(arr("left", "gaze", 3), arr("right", "gaze", 3), lv, rv, eye)
    if np.isfinite(orig).any() and np.isfinite(gaze).any():
        out = out.with_columns(*(pl.Series(k, v) for k, v in zip(
            MM_COLUMNS, (*orig.T, *gaze.T), strict=True)))
    return out
