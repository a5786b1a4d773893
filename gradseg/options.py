"""Checks and shared pieces of the command-line options (no heavy imports: ``--help`` is instant).

Numbers are checked up front (usage error, exit 2, stating the limit); the image options of
``eval`` and ``predict`` default to how the checkpoint's cache was rendered.
"""

from __future__ import annotations

import math
from pathlib import Path

import typer

from gazeprep.contract.tables import print_table as show_table
from gradseg.settings import MAP_ORDERS, METHODS, VAL_TARGETS

#: The choices of ``--method``, ``--map-order``, ``--val-target`` (from gradseg.settings).
METHOD_NAMES, MAP_ORDER_NAMES, VAL_TARGET_NAMES = METHODS, MAP_ORDERS, VAL_TARGETS
#: Help panel of FGI's options.
FGI_PANEL = "FGI (--method fgi, gradtrack+fgi; defaults: FGI's values)"


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           hi_open: bool = False):
    """Callback refusing a number that is not finite or outside the interval (usage error,
    exit 2, stating the limit); typer's min/max alone let NaN and infinity through."""
    bounds = " and ".join(
        ([f"{'>' if lo_open else '>='} {lo:g}"] if lo is not None else [])
        + ([f"{'<' if hi_open else '<='} {hi:g}"] if hi is not None else []))

    def check(value):
        if value is None:
            return value
        ok = math.isfinite(value)
        ok = ok and (lo is None or (value > lo if lo_open else value >= lo))
        ok = ok and (hi is None or (value < hi if hi_open else value <= hi))
        if not ok:
            raise typer.BadParameter(f"{value:g} is not a finite number {bounds}")
        return value
    return check


DEVICE_METAVAR = "auto|cpu|cuda|cuda:N|mps"
DEVICE_HELP = "auto (CUDA when there is one, else CPU) | cpu | cuda | cuda:N | mps."


def device_choice(text: str) -> str:
    """Callback: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (usage error otherwise)."""
    kind, _, index = text.partition(":")
    if text in ("auto", "cpu", "cuda", "mps") or (kind == "cuda" and index.isdigit()):
        return text
    raise typer.BadParameter(f"{text!r} is not one of auto, cpu, cuda, cuda:N (N a GPU index), "
                             "mps")


def thresholds(text: str) -> str:
    """Callback: comma-separated numbers in (0, 1)."""
    try:
        vals = [float(t) for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"expected comma-separated numbers, got {text!r}") from exc
    if not vals or not all(0 < v < 1 for v in vals):
        raise typer.BadParameter(f"{text!r}: expected one or more numbers in (0, 1)")
    return text


def block_sides(text: str | None) -> tuple[int, int] | None:
    """Callback: ``MIN,MAX`` block sides in pixels, 1 <= MIN <= MAX <= 1024."""
    if text is None:
        return None
    try:
        lo, hi = (int(t) for t in text.split(","))
    except ValueError as exc:
        raise typer.BadParameter(f"expected MIN,MAX (two integers), got {text!r}") from exc
    if not 1 <= lo <= hi <= 1024:
        raise typer.BadParameter(f"{text!r}: expected 1 <= MIN <= MAX <= 1024")
    return lo, hi


def ids_option(path: Path | None) -> list[str] | None:
    """The ids of an ``--ids`` / ``--test-ids`` file, or None."""
    from gradseg.data.split import read_ids_file

    return None if path is None else read_ids_file(path)


# --- reading image and mask files (eval --images/--masks, predict) --------------------------
# Each defaults to what the checkpoint's cache was rendered with (config "image_options"),
# else to gazeprep render's default; see gazeprep.contract.images for the rules.
WINDOW_HELP = ("8-bit window for images that are not 8-bit: CENTER,WIDTH, auto (the DICOM "
               "file's window, else the 0.5-99.5th percentiles of the volume) or minmax "
               "(default: as the cache was rendered).")
SLICE_AXIS_HELP = "NIfTI/NRRD slice axis 0-2 (default: as the cache was rendered, else 2)."
SLICE_BASE_HELP = ("First k in the ids <stem>_<k> of slices and frames, 0 or 1 (default: as "
                   "the cache was rendered, else 0).")
FLIP_HELP = "NIfTI/NRRD stored rows first: slice k is data[:, :, k], not its transpose."
LABEL_HELP = ("Masks: foreground is this label value, 0-65535 (default: as rendered, else "
              "nonzero). A label no mask holds is an error; JPEG masks (lossy) are refused.")
MODEL_HELP = ("Network that predicts: student (default; every method's one network), teacher "
              "or ensemble (fgi, gradtrack+fgi; a teacher trained with text needs --text).")
TEXT_HELP = ("Text cues for --model teacher|ensemble: a Parquet table (image, embedding) or a "
             "folder of <id>.npy (docs: Train).")
TEXT_MISSING_HELP = "An image without a text cue: error, or zero (an all-zero cue)."


def image_options(config: dict, window: str | None, slice_axis: int | None,
                  slice_base: int | None, flip: bool | None, label: int | None):
    """The checkpoint's image options with the ones given on the command line replacing them."""
    from dataclasses import replace

    from gazeprep.contract.images import ImageOptions, parse_window

    try:
        opts = ImageOptions.from_dict(config.get("image_options"))
        given = {"slice_axis": slice_axis, "slice_base": slice_base, "flip": flip,
                 "label": label}
        opts = replace(opts, **{k: v for k, v in given.items() if v is not None})
        if window is not None:
            opts = replace(opts, window=parse_window(window))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--window") from exc
    return opts


def print_table(title: str, summary: dict) -> None:
    """A two-column table of a summary dict on stdout."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("item")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    show_table(table)


def fgi_help(key: str, text: str) -> str:
    """The help of FGI's option ``key``: ``text`` and FGI's default, read from
    :class:`~gradseg.settings.fgi.FGIConfig` (so the two never drift apart)."""
    from gradseg.settings.fgi import FGIConfig

    value = getattr(FGIConfig(), key)
    if isinstance(value, tuple):
        value = ",".join(str(v) for v in value)
    elif isinstance(value, float):
        value = f"{value:g}"
    return f"{text} (FGI: {value})."


def fgi_sets(items: list[str] | None) -> dict:
    """``--set fgi.KEY=VALUE`` items as FGI settings, each value of its default's type.

    Raises
    ------
    typer.BadParameter
        Not ``fgi.KEY=VALUE``, an unknown key (the nearest known one named) or a value that is
        not of the setting's type.
    """
    import difflib

    from gradseg.settings.fgi import FGIConfig

    defaults, out = FGIConfig(), {}
    for item in items or []:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or section != "fgi" or not dot:
            raise typer.BadParameter(f"{item!r}: expected fgi.KEY=VALUE", param_hint="'--set'")
        if name not in FGIConfig.own_names():
            near = difflib.get_close_matches(name, FGIConfig.own_names(), n=1)
            hint = f" (did you mean fgi.{near[0]}?)" if near else ""
            raise typer.BadParameter(f"unknown FGI setting {name!r}{hint}", param_hint="'--set'")
        out[name] = _typed(value, getattr(defaults, name), item)
    return out


def _typed(text: str, default, item: str):
    """``text`` as the type of ``default`` (a tuple of ints as ``MIN,MAX``)."""
    try:
        if isinstance(default, bool):
            return {"true": True, "false": False}[text.lower()]
        if isinstance(default, tuple):
            return tuple(int(v) for v in text.split(","))
        if isinstance(default, int) or default is None:
            return int(text)
        if isinstance(default, float):
            return float(text)
        return text
    except (KeyError, ValueError) as exc:
        raise typer.BadParameter(f"{item!r}: {text!r} is not a {type(default).__name__}",
                                 param_hint="'--set'") from exc


#: The record `gazeprep split` writes beside its id files.
SPLIT_RECORD = "split.json"


def split_val_ids(test_ids: str | Path | None, log) -> list[str]:
    """The validation ids of the `gazeprep split` folder ``--test-ids`` comes from (its
    ``val.txt``), said in one line; none when it comes from no split or the split has none."""
    if test_ids is None:
        return []
    folder = Path(test_ids).parent
    val = folder / "val.txt"
    if not (folder / SPLIT_RECORD).is_file() or not val.is_file():
        return []
    ids = ids_option(val) or []
    if ids:
        log(f"train: validation on the {len(ids)} ids of {val} (the split --test-ids comes "
            "from; --val-ids or --val-fraction to choose otherwise)")
    return ids
