"""The cache contract: what ``gazeprep render`` writes and ``gradseg`` reads, in one place.

One Zarr v3 group per cache (format version 4). The *row arrays* are uint8 with one sample per
row (axis 0), one sample per chunk, :data:`SHARD_SAMPLES` samples per shard file:

========  ==========================  =======================================================
array     dimensions                  values
========  ==========================  =======================================================
image     (sample, rgb, y, x)         RGB pixels (grey images repeated to 3 channels)
maps      (sample, level, y, x)       track maps: index k is level k + 1 (1 = whole track, L = tail)
heatmap   (sample, band, y, x)        GazeMedSeg baseline heatmap
pseudo    (sample, band, y, x)        0/1 pseudo-mask
mask      (sample, band, y, x)        0/1 ground truth, only when render was given masks
========  ==========================  =======================================================

``maps``, ``heatmap`` and ``image`` hold ``round(UNIT_SCALE * x)`` of values x in [0, 1] and
say so in their attributes (``scale`` = 1 / UNIT_SCALE, ``units``, ``long_name``). They carry
no CF ``scale_factor`` on purpose: xarray would decode the uint8 arrays to float64, 8 times
their size (a JSON attribute is a double); in xarray they stay uint8 (divide by
``UNIT_SCALE`` for [0, 1]). ``pseudo`` and ``mask`` hold 0/1 (``flag_values``).

The *sample arrays* hold one value (or pair) per sample, dimension ``sample``
(:data:`SAMPLE_ARRAYS`): ``sample`` (the image ids, a string array: xarray's ``sample``
coordinate), ``orig_size`` (original (height, width) in pixels), ``spacing`` (the original
image's pixel spacing in mm between rows and between columns; NaN when the file gives none),
``has_mask`` and ``n_fixations``. Every array carries ``dimension_names``, and the group's
``zarr.json`` holds the consolidated metadata of every array (labels included), so
``xarray.open_zarr(path)`` opens a cache as a Dataset (``group="labels"``: the labels arrays).
The cache's own readers ignore that copy and read each array's own ``zarr.json``.

Group attributes: ``format``, ``format_version``, ``size`` (S), ``levels`` (L),
``row_crc32c`` (per row array, the CRC32C of every row), ``params`` (every render parameter),
``ingest`` (identity of the gaze it was rendered from), ``complete`` (false while a render is
unfinished).

This module is the contract's single home: gazeprep's writer builds the group from these names
(:func:`create_row_array`, :func:`create_sample_arrays`), gradseg's toy caches are written with
:func:`write_cache` and gradseg's reader checks a group with :func:`validate`. It lives on
gazeprep's side because gazeprep defines the format and must stay free of torch, and it imports
nothing from the rest of either package, so gradseg can depend on it alone.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from gazeprep.contract.errors import InputError
from gazeprep.contract.ids import check_file_names

FORMAT = "gazeprep-maps"
#: 4: dimension names, CF attributes and per-sample arrays; 3: CRC32C per chunk and per row;
#: 2: uint8 maps; 1: float16 maps. Others are refused by name.
FORMAT_VERSION = 4
#: A stored uint8 v of ``maps``, ``heatmap`` and ``image`` stands for v / UNIT_SCALE.
UNIT_SCALE = 255
#: Array name -> channels (None: the number of levels L).
ARRAYS: dict[str, int | None] = {"image": 3, "maps": None, "heatmap": 1, "pseudo": 1, "mask": 1}
#: Arrays every cache has (``mask`` only when render was given masks).
REQUIRED = ("image", "maps", "heatmap", "pseudo")
#: Arrays holding 0/1 masks (resampled bilinearly, then thresholded at 0.5).
BINARY = frozenset({"pseudo", "mask"})
#: Arrays holding round(UNIT_SCALE x) of values x in [0, 1].
UNIT = frozenset({"image", "maps", "heatmap"})
#: Samples per shard file.
SHARD_SAMPLES = 32
#: The folder an interrupted render leaves inside the cache while it swaps files in.
STAGING = ".gazeprep-staging"
#: The marker of a staged swap that was committed but not finished.
COMMITTED = "COMMITTED"
#: The axis names of every row array (Zarr v3 ``dimension_names``, which xarray uses). Arrays
#: with different channel counts need different channel dimensions.
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "image": ("sample", "rgb", "y", "x"),
    "maps": ("sample", "level", "y", "x"),
    **{name: ("sample", "band", "y", "x") for name in ("heatmap", "pseudo", "mask")},
}
_UNIT_ATTRS = {"units": "1", "scale": 1.0 / UNIT_SCALE,
               "comment": f"stored as round({UNIT_SCALE} x) of values x in [0, 1]"}
_MASK_ATTRS = {"flag_values": [0, 1], "flag_meanings": "background foreground"}
#: Attributes of every row array (no CF ``scale_factor``: see the module notes).
ATTRIBUTES: dict[str, dict] = {
    "image": {"long_name": "image, RGB", **_UNIT_ATTRS},
    "maps": {"long_name": "gaze-track map; index k along 'level' is level k + 1 "
                          "(level 1 = the whole track, level L = its shortest tail)",
             **_UNIT_ATTRS},
    "heatmap": {"long_name": "gaze heatmap (GazeMedSeg)", **_UNIT_ATTRS},
    "pseudo": {"long_name": "pseudo-mask from gaze", **_MASK_ATTRS},
    "mask": {"long_name": "ground-truth mask", **_MASK_ATTRS},
}
#: The sample array holding the image ids (xarray's ``sample`` coordinate).
ID_ARRAY = "sample"


@dataclass(frozen=True)
class SampleArray:
    """One per-sample array: dtype, values per sample (None: one), fill value, attributes."""

    dtype: str
    width: int | None
    fill: object
    attrs: dict

    @property
    def dimensions(self) -> tuple[str, ...]:
        """``("sample",)`` or ``("sample", "hw")`` for a (height, width) pair."""
        return ("sample",) if self.width is None else ("sample", "hw")


#: The per-sample arrays, by name (every cache has all of them).
SAMPLE_ARRAYS: dict[str, SampleArray] = {
    ID_ARRAY: SampleArray("str", None, "", {"long_name": "image id (file stem)"}),
    "orig_size": SampleArray("int32", 2, 0, {"long_name": "original image size (height, width)",
                                             "units": "pixel"}),
    "spacing": SampleArray("float64", 2, math.nan, {
        "long_name": "original pixel spacing (between rows, between columns); NaN: unknown",
        "units": "mm"}),
    "has_mask": SampleArray("bool", None, False, {"long_name": "has a ground-truth mask"}),
    "n_fixations": SampleArray("int32", None, 0, {"long_name": "fixations rendered"}),
}


def channels(name: str, levels: int) -> int:
    """Channels of array ``name`` in a cache with ``levels`` track-map levels."""
    c = ARRAYS[name]
    return levels if c is None else c


@dataclass
class CacheLayout:
    """What a reader needs to know about a validated cache.

    Attributes
    ----------
    path : Path
        The group's folder.
    ids : list of str
        Image id of each sample, in array order (N).
    size : int
        Side S of the stored square images (pixels).
    levels : int
        Number L of track-map levels.
    arrays : tuple of str
        The row arrays present (``mask`` only with masks).
    has_mask : list of bool
        Whether sample i has a ground-truth mask (all False without a ``mask`` array).
    orig_size : list of (int, int)
        Original (height, width) of each image in pixels.
    spacing : list of (float, float) or None
        Original pixel spacing (between rows, between columns) in mm; None where unknown.
    n_fixations : list of int
        Fixations rendered into each sample's maps.
    attrs : dict
        All group attributes.
    """

    path: Path
    ids: list[str]
    size: int
    levels: int
    arrays: tuple[str, ...]
    has_mask: list[bool]
    orig_size: list[tuple[int, int]] = field(default_factory=list)
    spacing: list[tuple[float, float] | None] = field(default_factory=list)
    n_fixations: list[int] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)

    @property
    def mask_available(self) -> bool:
        """Whether any sample carries a ground-truth mask."""
        return any(self.has_mask)

    def checksums(self, name: str) -> list[int]:
        """Recorded CRC32C of every row of array ``name``."""
        return self.attrs["row_crc32c"][name]

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape array ``name`` must have: (N, C, S, S), or (N,) / (N, 2) for sample arrays."""
        n = len(self.ids)
        if name in SAMPLE_ARRAYS:
            width = SAMPLE_ARRAYS[name].width
            return (n,) if width is None else (n, width)
        return (n, channels(name, self.levels), self.size, self.size)

    def positions(self, ids: list[str]) -> list[int]:
        """Array positions of ``ids``; unknown ids are an error listing a few of them."""
        where = {k: i for i, k in enumerate(self.ids)}
        missing = [k for k in ids if k not in where]
        if missing:
            raise InputError(f"{len(missing)} id(s) not in the cache, e.g. {missing[:5]}",
                             file=self.path)
        return [where[k] for k in ids]


def check_attrs(attrs: dict, path: Path, require_complete: bool = True) -> None:
    """Refuse a group that is not a complete cache of this format version (one line each)."""
    if attrs.get("format") != FORMAT:
        raise InputError(f"attribute format is {attrs.get('format')!r}, expected {FORMAT!r}: "
                         "not a cache written by gazeprep render", file=path)
    if attrs.get("format_version") != FORMAT_VERSION:
        raise InputError(f"cache format version {attrs.get('format_version')!r}, expected "
                         f"{FORMAT_VERSION} (written by another gazeprep): render it again",
                         file=path)
    if require_complete and attrs.get("complete") is not True:
        raise InputError("cache is incomplete (a render was interrupted or failed): run "
                         "`gazeprep render` again", file=path)


def validate(path: str | Path, require_complete: bool = True) -> CacheLayout:
    """Open a cache's group read-only, check it against the contract and describe it.

    Parameters
    ----------
    path : str or Path
        Folder of the Zarr v3 group written by ``gazeprep render``.
    require_complete : bool
        Refuse a cache whose render did not finish.

    Returns
    -------
    CacheLayout

    Raises
    ------
    InputError
        Missing folder, not a Zarr group, not a gazeprep cache, another format version, an
        unfinished render or swap, or an array of the wrong shape, type or checksum list.

    Examples
    --------
    >>> layout = validate("data/maps.zarr")  # doctest: +SKIP
    >>> layout.shape("maps")  # doctest: +SKIP
    (880, 4, 256, 256)
    """
    p = Path(path)
    if not p.exists():
        raise InputError("cache not found (render one with `gazeprep render`)", file=p)
    if (p / STAGING / COMMITTED).is_file():
        raise InputError("an interrupted gazeprep render left this cache half swapped; run "
                         "`gazeprep render` again to finish it", file=p)
    check_links_inside(p)
    group = _open_group(p)
    attrs = dict(group.attrs)
    check_attrs(attrs, p, require_complete)
    try:
        size, levels = int(attrs["size"]), int(attrs["levels"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"attributes size/levels missing or invalid: {exc}", file=p) from exc
    table = read_sample_table(p, group)
    present = tuple(k for k in ARRAYS if (p / k / "zarr.json").is_file())
    layout = CacheLayout(p, table[ID_ARRAY].tolist(), size, levels, present, [], attrs=attrs)
    for name in REQUIRED:
        if name not in present:
            raise InputError(f"array {name!r} missing", file=p)
    for name in present:
        _check_array(group[name], name, layout)
    layout.has_mask = [bool(b) and "mask" in present for b in table["has_mask"]]
    layout.orig_size = [(int(h), int(w)) for h, w in table["orig_size"]]
    layout.spacing = [(float(r), float(c)) if math.isfinite(r) and math.isfinite(c) else None
                      for r, c in table["spacing"]]
    layout.n_fixations = [int(v) for v in table["n_fixations"]]
    return layout


def check_links_inside(p: Path) -> None:
    """Refuse a cache holding a link (file or folder) to anything outside its folder: what a
    cache someone shared holds must not make us read the user's other files."""
    root = os.path.realpath(p)
    for folder, dirs, files in os.walk(p):
        for name in dirs + files:
            entry = os.path.join(folder, name)
            if os.path.islink(entry):
                target = os.path.realpath(entry)
                if os.path.commonpath([root, target]) != root:
                    raise InputError("links outside the cache; a cache's files must be inside "
                                     "its folder (copy them in, or render the cache again)",
                                     file=entry)


def _open_group(p: Path):
    import zarr

    try:
        return zarr.open_group(str(p), mode="r", zarr_format=3, use_consolidated=False)
    except Exception as exc:  # noqa: BLE001 - zarr raises several types for a non-group
        raise InputError(f"not a Zarr v3 group ({type(exc).__name__}); expected a cache "
                         "written by gazeprep render", file=p) from exc


def _check_array(array, name: str, layout: CacheLayout) -> None:
    """Shape, dtype and checksum list of one row array against the layout."""
    import numpy as np

    want = layout.shape(name)
    if tuple(array.shape) != want:
        raise InputError(f"array {name!r} has shape {tuple(array.shape)}, expected {want}",
                         file=layout.path)
    if array.dtype != np.uint8:
        raise InputError(f"array {name!r} is {array.dtype}, expected uint8", file=layout.path)
    sums = (layout.attrs.get("row_crc32c") or {}).get(name)
    if not isinstance(sums, list) or len(sums) != want[0]:
        raise InputError(f"attribute row_crc32c[{name!r}] missing or not {want[0]} values",
                         file=layout.path)


def read_sample_table(path: str | Path, group=None) -> dict:
    """Every sample array of the cache at ``path``, checked for shape, as NumPy arrays.

    Returns
    -------
    dict of str to ndarray
        ``sample`` (N,) str, ``orig_size`` (N, 2) int, ``spacing`` (N, 2) float (mm, NaN
        unknown), ``has_mask`` (N,) bool, ``n_fixations`` (N,) int.

    Raises
    ------
    InputError
        An array is missing, unreadable, or not N long (N: the length of ``sample``).
    """
    import numpy as np

    p = Path(path)
    group = _open_group(p) if group is None else group
    table: dict = {}
    for name, spec in SAMPLE_ARRAYS.items():
        if not (p / name / "zarr.json").is_file():
            raise InputError(f"array {name!r} missing", file=p)
        _check_claimed_length(group, name, p)
        try:
            values = np.asarray(group[name][...])
        except Exception as exc:  # noqa: BLE001 - any decode failure: a damaged array
            raise InputError(f"array {name!r} cannot be read ({type(exc).__name__}); render "
                             "the cache again", file=p) from exc
        n = len(table.get(ID_ARRAY, values))
        want = (n,) if spec.width is None else (n, spec.width)
        if values.shape != want:
            raise InputError(f"array {name!r} has shape {values.shape}, expected {want}",
                             file=p)
        table[name] = values.astype(object if spec.dtype == "str" else spec.dtype)
    check_file_names(table[ID_ARRAY], p)
    return table


def _check_claimed_length(group, name: str, path: Path) -> None:
    """Refuse a sample array whose ``zarr.json`` claims more rows than memory can hold (its
    missing chunks would be filled in), before reading it."""
    from gazeprep.contract._checks import check_memory

    try:
        shape = tuple(int(v) for v in group[name].shape)
    except Exception:  # noqa: BLE001 - the read below names a damaged array
        return
    cells = 1
    for v in shape:
        cells *= v
    check_memory(cells * 8, path, f"array {name!r} (shape {shape} in its zarr.json)")


def sample_table(ids: list[str]) -> dict:
    """A sample table for ``ids`` with every other value at its fill (see SAMPLE_ARRAYS)."""
    import numpy as np

    n = len(ids)
    table = {}
    for name, spec in SAMPLE_ARRAYS.items():
        shape = (n,) if spec.width is None else (n, spec.width)
        table[name] = np.full(shape, spec.fill, dtype=object if spec.dtype == "str"
                              else spec.dtype)
    table[ID_ARRAY][:] = ids
    return table


def create_row_array(group, name: str, n: int, size: int, levels: int, shard: int):
    """Create the empty row array ``name`` (N, C, S, S) of a cache in ``group``."""
    from gazeprep.contract.zarr_io import create_rows_array

    return create_rows_array(group, name, n, (channels(name, levels), size, size), "uint8",
                             shard, dimension_names=DIMENSIONS[name],
                             attributes=ATTRIBUTES[name])


def create_sample_arrays(group, table: dict) -> dict:
    """Create every sample array in ``group`` (one chunk each) holding ``table``'s values."""
    from gazeprep.contract.zarr_io import compressors, pipeline

    n = len(table[ID_ARRAY])
    arrays = {}
    with pipeline():
        for name, spec in SAMPLE_ARRAYS.items():
            shape = (n,) if spec.width is None else (n, spec.width)
            a = group.create_array(name, shape=shape, dtype=spec.dtype,
                                   chunks=(max(1, n), *shape[1:]),
                                   compressors=compressors(), fill_value=spec.fill,
                                   overwrite=True, dimension_names=spec.dimensions,
                                   attributes=spec.attrs)
            if n:
                a[...] = table[name]
            arrays[name] = a
    return arrays


def write_cache(path: str | Path, rows: dict, table: dict, attrs: dict,
                shard: int = SHARD_SAMPLES) -> None:
    """Write a whole cache in one go (toy data, tests): row arrays, sample arrays, attributes.

    Parameters
    ----------
    path : str or Path
        Zarr group folder to create (replaced).
    rows : dict of str to ndarray
        Every row array to store, uint8 (N, C, S, S); ``maps`` gives L.
    table : dict of str to ndarray
        The sample arrays (:func:`sample_table`).
    attrs : dict
        Extra group attributes (``params``, ``ingest``, ``complete``...). ``format``,
        ``format_version``, ``size``, ``levels`` and ``row_crc32c`` are set here.
    shard : int
        Samples per shard.
    """
    import zarr

    from gazeprep.contract.zarr_io import consolidate, row_checksums

    n, levels, size = rows["maps"].shape[:3]
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    for name, data in rows.items():
        create_row_array(group, name, n, size, levels, shard)[...] = data
    create_sample_arrays(group, table)
    group.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION, "size": int(size),
                        "levels": int(levels), "complete": True,
                        "row_crc32c": {k: row_checksums(v) for k, v in rows.items()}, **attrs})
    consolidate(path)
